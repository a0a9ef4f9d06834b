"""Submissions: the status resource of submitted events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from api.deps import AuthenticatedOffice, BaseUrl, Service
from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import Problem, Submission

router = APIRouter(tags=["submissions"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}

SubmissionId = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="The id the submission's 202 returned (a UUID).",
    ),
]


@router.get(
    "/submissions/{submission_id}",
    response_model=Submission,
    summary="A submission and its outcome",
    responses={401: _PROBLEM, 404: _PROBLEM, 422: _PROBLEM},
)
async def get_submission(
    submission_id: SubmissionId, service: Service, office: AuthenticatedOffice, base: BaseUrl
) -> Submission:
    """``pending`` until every event is on the chain, then ``anchored`` with each event's
    entry hash, transaction and block (``indexed`` once this node's queries show them), or
    ``failed`` with the reason. Only the submitting office sees its submissions."""
    view = await run_in_threadpool(service.submissions.get, office, submission_id.lower())
    return Submission.of(view, base)
