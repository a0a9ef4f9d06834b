"""Links between records checked across offices at submission (issue 12): a priority claim
must name a first filing the register holds, with the claimed date, filed by the same
applicant for goods or products the first filing covers, within the Paris Convention's six
months.

What is checked, by relation:

* **every link naming a record key** — when the linked record's office is a member of the
  consortium, the record must be in this node's index (``link-target-missing`` otherwise);
  when it is not a member, or the record was anchored hash-only so its data cannot be read,
  the link is accepted as ``link-unverifiable`` with that reason.
* **priority** (trademarks and designs, Paris Convention Art. 4) — on top of that:

  - ``link_date`` must be the first filing's filing date (``link-date-mismatch``);
  - the claiming application must be filed after the first filing and within six months of
    it (``link-out-of-window``): the first filing's day is not counted (Art. 4C(2)), so the
    period ends on the same day of the sixth month after it, or on that month's last day
    when it has no such day (a filing of 31 August: 28/29 February); a period ending on a day
    the office of second filing is closed is extended to its next working day (Art. 4C(3));
  - an applicant of the claim must be an applicant of the first filing or a later holder of
    it (``link-applicant-mismatch``): names compared case-folded with white space collapsed.
    Successors in title are the applicants of the first filing's later events (a recorded
    transfer replaces them); a successor the register never recorded is refused — the
    office must record the transfer first;
  - its Nice classes (trademarks) or Locarno classes (designs) must be among the first
    filing's (``link-classes-not-covered``), compared by class number, not by goods terms.

The office calendars (:func:`office_closed`) say which days each office is closed: Saturdays
and Sundays, and the dates listed for it in ``data/catalog/office_closures.json``.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ipchain.errors import InvalidInputError, NotFoundError
from ipchain.register.catalog import office_closures
from ipchain.register.indexing import merge_record_data
from ipchain.register.models import RegisterEvent
from ipchain.register.queries import RegisterQueries

PRIORITY_MONTHS: Final = 6
"""Paris Convention Art. 4C(1): six months for industrial designs and trademarks."""

VERIFIED: Final = "link-verified"
UNVERIFIABLE: Final = "link-unverifiable"


FAILURES: Final = frozenset(
    {
        "link-target-missing",
        "link-date-mismatch",
        "link-out-of-window",
        "link-applicant-mismatch",
        "link-classes-not-covered",
    }
)
"""Results that refuse a link at submission, and fail a verification."""


class LinkCheckError(InvalidInputError):
    """A link that fails its check: ``result`` says which (``link-date-mismatch`` ...)."""

    def __init__(self, result: str, message: str, field: str) -> None:
        super().__init__(f"{result}: {message}", field=field)
        self.result = result


@dataclass(frozen=True, slots=True)
class LinkCheck:
    """The outcome of one link of an event."""

    link: int
    """Index of the link in the event's ``links``."""
    relation: str
    """Its relation."""
    record_key: str | None
    """The linked record (None for an outside number)."""
    result: str
    """``link-verified``, ``link-unverifiable``, or one of :data:`FAILURES`."""
    reason: str
    """What was checked, or why it could not be, or what failed."""
    field: str = ""
    """The link's member the failure is about (``record_key``, ``link_date``), if one."""

    @property
    def failed(self) -> bool:
        """Whether the link fails its check."""
        return self.result in FAILURES

    def to_json(self) -> dict[str, Any]:
        """As stored with the outbox row and shown on the submission and verification."""
        return {
            "link": self.link,
            "relation": self.relation,
            "record_key": self.record_key,
            "result": self.result,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class FirstFiling:
    """What the register says of a linked record, for the checks."""

    filing_date: datetime.date | None
    """Its filing date (None when its data does not state one)."""
    applicants: frozenset[str]
    """Normalised names of its applicants and of every later holder."""
    classes: frozenset[str]
    """Its Nice class numbers or Locarno classes, as text."""
    readable: bool
    """False when it was anchored hash-only: nothing but hashes to check against."""

    @classmethod
    def of(cls, documents: Sequence[Mapping[str, Any] | None]) -> FirstFiling:
        """A record as its (untrusted, parsed) documents describe it, oldest first: the
        filing date and classes of its merged data, the applicants of every event."""
        merged = merge_record_data(documents) or {}
        filing = merged.get("application_date")
        try:
            filing_date = datetime.date.fromisoformat(filing) if isinstance(filing, str) else None
        except ValueError:
            filing_date = None
        applicants = {
            _name(party["name"])
            for document in documents
            for party in _parties(document)
            if isinstance(party.get("name"), str)
        }
        nice = merged.get("nice_classes")
        locarno = merged.get("locarno_classes")
        classes = {
            str(item["class_number"])
            for item in (nice if isinstance(nice, list) else [])
            if isinstance(item, dict) and isinstance(item.get("class_number"), int)
        } | {
            code for code in (locarno if isinstance(locarno, list) else []) if isinstance(code, str)
        }
        readable = any(document is not None for document in documents)
        return cls(filing_date, frozenset(applicants), frozenset(classes), readable)


# --- calendars and the priority period --------------------------------------------------------


def office_closed(office: str, day: datetime.date) -> bool:
    """Whether ``office`` is closed on ``day``: weekends, and its listed closing days."""
    return day.weekday() >= 5 or day in office_closures().get(office, frozenset())


def priority_period_end(
    first_filing: datetime.date, office: str, closed: Callable[[str, datetime.date], bool]
) -> datetime.date:
    """Last day on which ``office`` may receive an application claiming the priority of a
    first filing of ``first_filing`` (Paris Convention Art. 4C(2) and (3))."""
    month_index = first_filing.month - 1 + PRIORITY_MONTHS
    year, month = first_filing.year + month_index // 12, month_index % 12 + 1
    last = min(first_filing.day, calendar.monthrange(year, month)[1])
    end = datetime.date(year, month, last)
    while closed(office, end):
        end += datetime.timedelta(days=1)
    return end


def _name(text: str) -> str:
    return " ".join(text.casefold().split())


# --- the rule -----------------------------------------------------------------------------


def judge_link(
    event: RegisterEvent,
    position: int,
    *,
    member: bool,
    first: FirstFiling | None,
    claimed_on: datetime.date | None,
    closed: Callable[[str, datetime.date], bool] = office_closed,
) -> LinkCheck:
    """The one rule for link ``position`` of ``event``, whoever applies it (the submission
    against the index, verification against the chain as of the claiming block): ``member``
    says whether the linked record's office is a member, ``first`` what the register holds
    of the linked record (None: nothing), ``claimed_on`` the claiming application's filing
    date."""
    link = event.links[position]
    if link.record_key is None:
        return LinkCheck(
            position, link.relation, None, UNVERIFIABLE, "an outside number, not a record"
        )
    target = str(link.record_key)

    def outcome(result: str, reason: str, field: str = "") -> LinkCheck:
        return LinkCheck(position, link.relation, target, result, reason, field)

    if not member:
        return outcome(UNVERIFIABLE, f"{link.record_key.office} is not a member office")
    if first is None:
        return outcome(
            "link-target-missing",
            f"{target} is not in the register (its office is a member)",
            "record_key",
        )
    if not first.readable:
        return outcome(UNVERIFIABLE, f"{target} was anchored hash-only: its data is withheld")
    if link.relation != "priority":
        return outcome(VERIFIED, f"{target} is in the register")
    if first.filing_date is None or link.link_date != first.filing_date:
        stated = "has no filing date" if first.filing_date is None else "was filed on"
        return outcome(
            "link-date-mismatch",
            f"{target} {stated} {first.filing_date or ''}, not {link.link_date}".replace("  ", " "),
            "link_date",
        )
    if claimed_on is None:
        return outcome(
            "link-out-of-window",
            "the claiming application's filing date is unknown (give record_data.application_date)",
        )
    office = event.record_key.office
    end = priority_period_end(first.filing_date, office, closed)
    if not first.filing_date < claimed_on <= end:
        return outcome(
            "link-out-of-window",
            f"filed {claimed_on}: the priority of {first.filing_date} runs to {end} at {office}",
        )
    data = event.record_data
    claimants = {_name(party.name) for party in getattr(data, "applicants", None) or ()}
    if claimants and not claimants & first.applicants:
        return outcome(
            "link-applicant-mismatch", f"no applicant of the claim filed {target} or holds it since"
        )
    missing = _classes(data) - first.classes
    if missing:
        return outcome(
            "link-classes-not-covered",
            f"{target} does not cover class {', '.join(sorted(missing))}",
        )
    return outcome(
        VERIFIED,
        f"priority of {target} filed {first.filing_date}: date, six-month period, applicant "
        "and classes checked",
    )


def claimed_filing_date(
    event: RegisterEvent, earlier: Sequence[Mapping[str, Any] | None]
) -> datetime.date | None:
    """The filing date of the application ``event`` belongs to: its own
    ``record_data.application_date``, else the one its record's earlier documents state."""
    own = getattr(event.record_data, "application_date", None)
    return own if isinstance(own, datetime.date) else FirstFiling.of(earlier).filing_date


# --- at submission ------------------------------------------------------------------------


class LinkChecker:
    """Checks the links of submitted events against this node's index of the register and the
    consortium's members (``members`` gives the ST.3 codes of the active member offices),
    and refuses the first that fails."""

    def __init__(
        self,
        queries: RegisterQueries,
        members: Callable[[], frozenset[str]],
        closed: Callable[[str, datetime.date], bool] = office_closed,
    ) -> None:
        self.queries = queries
        self.members = members
        self.closed = closed

    def check(self, events: Sequence[RegisterEvent], prefix: str) -> list[tuple[LinkCheck, ...]]:
        """Each event's link checks, in order; :class:`LinkCheckError` naming
        ``{prefix}links[j]`` (``prefix`` formatted with the event's index) for the first link
        that fails. A record filed earlier in the same request counts as in the register."""
        if not any(event.links for event in events):
            return [() for _ in events]
        members = self.members()
        outcomes = []
        earlier: dict[str, list[Mapping[str, Any] | None]] = {}  # this request's documents
        for index, event in enumerate(events):
            where = prefix.format(index)
            key = str(event.record_key)
            checks = []
            claimed_on = None
            if event.links:  # the claiming application's date, read once for all its links
                claimed_on = claimed_filing_date(
                    event, self._stored_documents(key) + earlier.get(key, [])
                )
            for position, link in enumerate(event.links):
                target = None if link.record_key is None else str(link.record_key)
                first = None
                if target is not None:
                    documents = self._stored_documents(target) + earlier.get(target, [])
                    first = FirstFiling.of(documents) if documents else None
                check = judge_link(
                    event,
                    position,
                    member=link.record_key is None or link.record_key.office in members,
                    first=first,
                    claimed_on=claimed_on,
                    closed=self.closed,
                )
                if check.failed:
                    field = f"{where}{'.' if where else ''}links[{position}]"
                    raise LinkCheckError(
                        check.result,
                        check.reason,
                        f"{field}.{check.field}" if check.field else field,
                    )
                checks.append(check)
            outcomes.append(tuple(checks))
            earlier.setdefault(key, []).append(event.to_document())
        return outcomes

    def check_json(
        self, events: Sequence[RegisterEvent], prefix: str
    ) -> list[list[dict[str, Any]]]:
        """:meth:`check` with each outcome as its JSON object (what the submission keeps)."""
        return [[check.to_json() for check in checks] for checks in self.check(events, prefix)]

    def _stored_documents(self, record_key: str) -> list[Mapping[str, Any] | None]:
        try:
            return [event.document for event in self.queries.record_events(record_key)]
        except NotFoundError:
            return []


def _parties(document: Mapping[str, Any] | None) -> Iterable[Mapping[str, Any]]:
    data = None if document is None else document.get("record_data")
    parties = data.get("applicants") if isinstance(data, dict) else None
    return (
        [party for party in parties if isinstance(party, dict)] if isinstance(parties, list) else []
    )


def _classes(data: object) -> set[str]:
    nice = getattr(data, "nice_classes", None) or ()
    locarno = getattr(data, "locarno_classes", None) or ()
    return {str(item.class_number) for item in nice} | set(locarno)


__all__ = [
    "FAILURES",
    "PRIORITY_MONTHS",
    "FirstFiling",
    "LinkCheck",
    "LinkCheckError",
    "LinkChecker",
    "claimed_filing_date",
    "judge_link",
    "office_closed",
    "priority_period_end",
]
