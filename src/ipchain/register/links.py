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
from ipchain.register.models import RegisterEvent
from ipchain.register.queries import RegisterQueries

PRIORITY_MONTHS: Final = 6
"""Paris Convention Art. 4C(1): six months for industrial designs and trademarks."""

VERIFIED: Final = "link-verified"
UNVERIFIABLE: Final = "link-unverifiable"


class LinkCheckError(InvalidInputError):
    """A link that fails its check: ``result`` says which (``link-date-mismatch`` ...)."""

    def __init__(self, result: str, message: str, field: str) -> None:
        super().__init__(f"{result}: {message}", field=field)
        self.result = result


@dataclass(frozen=True, slots=True)
class LinkCheck:
    """The outcome of one link of an accepted event."""

    link: int
    """Index of the link in the event's ``links``."""
    relation: str
    """Its relation."""
    record_key: str | None
    """The linked record (None for an outside number)."""
    result: str
    """``link-verified`` or ``link-unverifiable``."""
    reason: str
    """What was checked, or why it could not be."""

    def to_json(self) -> dict[str, Any]:
        """As stored with the outbox row and shown on the submission."""
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
    """Its filing date (None when its data cannot be read)."""
    applicants: frozenset[str]
    """Normalised names of its applicants and of every later holder."""
    classes: frozenset[str]
    """Its Nice class numbers or Locarno classes, as text."""
    readable: bool
    """False when it was anchored hash-only: nothing but hashes to check against."""


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


# --- the checker --------------------------------------------------------------------------


class LinkChecker:
    """Checks the links of submitted events against this node's index of the register and the
    consortium's members. ``members`` gives the ST.3 codes of the active member offices."""

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
        that fails."""
        if not any(event.links for event in events):
            return [() for _ in events]
        members = self.members()
        outcomes = []
        earlier: dict[str, list[RegisterEvent]] = {}  # this submission's, by record
        for index, event in enumerate(events):
            where = prefix.format(index)
            outcomes.append(
                tuple(
                    self._check_link(
                        event, position, members, earlier, f"{where}{'.' if where else ''}"
                    )
                    for position in range(len(event.links))
                )
            )
            earlier.setdefault(str(event.record_key), []).append(event)
        return outcomes

    def check_json(
        self, events: Sequence[RegisterEvent], prefix: str
    ) -> list[list[dict[str, Any]]]:
        """:meth:`check` with each outcome as its JSON object (what the submission keeps)."""
        return [[check.to_json() for check in checks] for checks in self.check(events, prefix)]

    def _check_link(
        self,
        event: RegisterEvent,
        position: int,
        members: frozenset[str],
        earlier: Mapping[str, Sequence[RegisterEvent]],
        where: str,
    ) -> LinkCheck:
        link = event.links[position]
        field = f"{where}links[{position}]"
        if link.record_key is None:
            return LinkCheck(
                position, link.relation, None, UNVERIFIABLE, "an outside number, not a record"
            )
        target = str(link.record_key)

        def outcome(result: str, reason: str) -> LinkCheck:
            return LinkCheck(position, link.relation, target, result, reason)

        if link.record_key.office not in members:
            return outcome(UNVERIFIABLE, f"{link.record_key.office} is not a member office")
        first = self._first_filing(target)
        if first is None and target in earlier:
            first = _submitted_filing(earlier[target])
        if first is None:
            raise LinkCheckError(
                "link-target-missing",
                f"{target} is not in the register (its office is a member)",
                f"{field}.record_key",
            )
        if not first.readable:
            return outcome(UNVERIFIABLE, f"{target} was anchored hash-only: its data is withheld")
        if link.relation != "priority":
            return outcome(VERIFIED, f"{target} is in the register")
        self._check_priority(event, position, first, target, field)
        return outcome(
            VERIFIED,
            f"priority of {target} filed {first.filing_date}: date, six-month period, "
            "applicant and classes checked",
        )

    def _check_priority(
        self, event: RegisterEvent, position: int, first: FirstFiling, target: str, field: str
    ) -> None:
        link = event.links[position]
        if first.filing_date is None:
            raise LinkCheckError(
                "link-date-mismatch", f"{target} has no filing date", f"{field}.link_date"
            )
        if link.link_date != first.filing_date:
            raise LinkCheckError(
                "link-date-mismatch",
                f"{target} was filed on {first.filing_date}, not {link.link_date}",
                f"{field}.link_date",
            )
        data = event.record_data
        claimed_on = getattr(data, "application_date", None) or self._filing_date(event)
        if claimed_on is None:
            raise LinkCheckError(
                "link-out-of-window",
                "the claiming application's filing date is unknown (give "
                "record_data.application_date)",
                field,
            )
        office = event.record_key.office
        end = priority_period_end(first.filing_date, office, self.closed)
        if not first.filing_date < claimed_on <= end:
            raise LinkCheckError(
                "link-out-of-window",
                f"filed {claimed_on}: the priority of {first.filing_date} runs to {end} at "
                f"{office}",
                field,
            )
        claimants = {_name(party.name) for party in getattr(data, "applicants", None) or ()}
        if claimants and not claimants & first.applicants:
            raise LinkCheckError(
                "link-applicant-mismatch",
                f"no applicant of the claim filed {target} or holds it since",
                field,
            )
        claimed = _classes(data)
        if claimed - first.classes:
            raise LinkCheckError(
                "link-classes-not-covered",
                f"{target} does not cover class {', '.join(sorted(claimed - first.classes))}",
                field,
            )

    def _filing_date(self, event: RegisterEvent) -> datetime.date | None:
        try:
            return self.queries.get_record(str(event.record_key)).filing_date
        except NotFoundError:
            return None

    def _first_filing(self, record_key: str) -> FirstFiling | None:
        try:
            record = self.queries.get_record(record_key)
            history = self.queries.record_events(record_key)
        except NotFoundError:
            return None
        applicants = {
            _name(str(party["name"]))
            for event in history
            for party in _parties(event.document)
            if isinstance(party.get("name"), str)
        }
        classes = {str(number) for number in record.nice_classes} | set(record.locarno_classes)
        readable = any(event.document for event in history)
        return FirstFiling(record.filing_date, frozenset(applicants), frozenset(classes), readable)


def _submitted_filing(history: Sequence[RegisterEvent]) -> FirstFiling:
    """A record filed earlier in the same submission, as its submitted events describe it."""
    filing_date = None
    applicants: set[str] = set()
    classes: set[str] = set()
    for event in history:
        data = event.record_data
        filing_date = filing_date or getattr(data, "application_date", None)
        applicants |= {_name(party.name) for party in getattr(data, "applicants", None) or ()}
        classes |= _classes(data)
    return FirstFiling(filing_date, frozenset(applicants), frozenset(classes), True)


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
    "PRIORITY_MONTHS",
    "FirstFiling",
    "LinkCheck",
    "LinkCheckError",
    "LinkChecker",
    "office_closed",
    "priority_period_end",
]
