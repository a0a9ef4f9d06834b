"""A first filing's priority document (issue 12): printable HTML, or PDF, stating the filing as
anchored, its chain position, its verification against the chain and a QR code of its proof
bundle — what an office of second filing needs instead of a certified paper copy."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated, Literal

import segno
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, Template, select_autoescape

from api.deps import BaseUrl, RecordNumber, RecordOffice, RecordType, Service
from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import Problem
from ipchain.errors import InvalidInputError
from ipchain.register.catalog import RecordKey
from ipchain.verification.priority_document import priority_document

router = APIRouter(tags=["records"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}


@cache
def _template() -> Template:
    environment = Environment(autoescape=select_autoescape(default=True), auto_reload=False)
    source = resources.files("api").joinpath("templates/priority_document.html")
    return environment.from_string(source.read_text("utf-8"))


def _no_fetch(url: str, *args: object, **kwargs: object) -> dict[str, object]:
    """WeasyPrint's URL fetcher: the document embeds everything it shows (its QR code is
    inline SVG), so it fetches nothing — a value from a document, however it is written,
    never makes the node open a URL."""
    raise ValueError(f"the priority document fetches no resources ({url[:60]})")


@router.get(
    "/records/{office}/{ip_type}/{number}/priority-document",
    summary="A first filing's priority document (HTML or PDF)",
    response_class=HTMLResponse,
    responses={
        200: {
            "content": {"text/html": {}, "application/pdf": {}},
            "description": "The priority document, printable.",
        },
        404: _PROBLEM,
        422: _PROBLEM,
        502: _PROBLEM,
        503: _PROBLEM,
    },
)
def get_priority_document(
    office: RecordOffice,
    ip_type: RecordType,
    number: RecordNumber,
    request: Request,
    service: Service,
    base: BaseUrl,
    format: Annotated[Literal["html", "pdf"], Query(description="html (default) or pdf.")] = "html",
) -> Response:
    """The record as a first filing: its data as anchored (office, number, filing date,
    applicants, mark, classes), where its filing event is on the chain, whether its stored
    history verifies against the chain now, the priority claims the register holds against
    it, and a QR code of its proof bundle's URL, which anyone checks offline against the
    chain (``ipchain verify``)."""
    try:
        key = str(RecordKey.parse(f"{office}/{ip_type}/{number}"))
    except InvalidInputError as error:
        raise InvalidInputError(str(error), field="record_key") from None
    document = priority_document(
        service.queries,
        service.verifier,
        key,
        service.node.deployment.address("RegisterLedger"),
    )
    origin = str(request.base_url).rstrip("/")
    bundle_url = f"{origin}{base}/records/{key}/proof"
    qr_svg = segno.make(bundle_url, error="m").svg_inline(scale=3, border=2)
    html = _template().render(doc=document, bundle_url=bundle_url, qr_svg=qr_svg, base_url=origin)
    filename = key.replace("/", "-") + ".priority"
    if format == "pdf":
        # Imported here: WeasyPrint loads Debian's pango when imported, which a node that
        # never prints a PDF need not have (`make run` on a fresh machine).
        import weasyprint

        pdf = weasyprint.HTML(string=html, url_fetcher=_no_fetch).write_pdf()
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{filename}.pdf"'},
        )
    return HTMLResponse(html)
