"""A record's status and current data, derived from its history of register events.

A record's status is never asserted by an office: each event code's catalogue entry says which
statuses it may follow and which status it leaves (``event_codes.json``), and replaying a
record's events in order gives where it stands. Record data is merged the same way, later
events overriding the fields they establish.

The status machine is stated once, in :func:`next_status`, and read two ways:

* **strictly** (the default), for events an office submits: an event that cannot follow the
  record's status, or a code outside the catalogue, is an error;
* **leniently** (``strict=False``), for what the chain already holds: the index must show what
  offices anchored, foreign or odd as it may be. A code outside the catalogue leaves the status
  as it is, a transition the catalogue would refuse is applied all the same, and a return to an
  earlier status when there is none leaves the status as it is.

For a history the strict reading accepts, both give the same status.

This module depends on :mod:`ipchain.register.models` (events and record data), never the other
way round: import these names from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, overload

from ipchain.errors import InvalidInputError, StateTransitionError
from ipchain.register.catalog import EventCode, RecordKey, RecordStatus, event_catalog
from ipchain.register.models import RecordData, RegisterEvent

EarlierStatuses = tuple[RecordStatus, ...]
"""The status before each status change so far, most recent last (for ``@previous``)."""


@dataclass(frozen=True, slots=True)
class RecordState:
    """Where a record stands after some prefix of its history."""

    record_key: RecordKey | None = None
    """The record (None before its first event, and for a state replayed from codes alone)."""
    status: RecordStatus | None = None
    """Current status (None before the first event)."""
    earlier_statuses: EarlierStatuses = ()
    """The status before each status change so far, most recent last (for ``@previous``)."""
    record_data: RecordData | None = None
    """Record data merged from every event so far, later events overriding earlier ones."""
    event_count: int = 0
    """Number of events applied."""

    def after(self, event: RegisterEvent) -> RecordState:
        """The state once ``event`` is applied; :class:`StateTransitionError` if it makes no
        sense here."""
        if self.record_key is not None and event.record_key != self.record_key:
            raise InvalidInputError(
                f"record_key: event is for {event.record_key}, not {self.record_key}",
                field="record_key",
            )
        status, earlier = next_status(
            self.status, self.earlier_statuses, event.code_info, strict=True
        )
        data = self.record_data
        if event.record_data is not None:
            data = event.record_data if data is None else data.merged_with(event.record_data)
        return RecordState(event.record_key, status, earlier, data, self.event_count + 1)


def next_status(
    status: RecordStatus | None,
    earlier: EarlierStatuses,
    code: EventCode,
    *,
    strict: bool = True,
) -> tuple[RecordStatus | None, EarlierStatuses]:
    """The status (and earlier statuses) once an event of ``code`` follows a record in
    ``status`` (None: no events yet): the status machine, stated once.

    Strict: :class:`StateTransitionError` when the catalogue does not let ``code`` follow
    ``status``, or when it returns to an earlier status and there is none. Lenient: the event's
    effect is applied regardless, and a return to nothing leaves the status as it is.
    """
    if strict:
        _check_allowed(status, code)
    if code.restores_previous_status:
        if earlier:
            return earlier[-1], earlier[:-1]
        if strict:
            raise StateTransitionError(
                f"{code.code}: the record has no earlier status to return to",
                field="event_code",
            )
        return status, earlier
    if code.sets_status is not None and code.sets_status != status:
        return code.sets_status, earlier if status is None else (*earlier, status)
    return status, earlier


def check_transition(current_status: RecordStatus | None, event: RegisterEvent) -> None:
    """Raise :class:`StateTransitionError` unless ``event`` may follow a record in
    ``current_status`` (None: the record has no events yet)."""
    _check_allowed(current_status, event.code_info)


def _check_allowed(current_status: RecordStatus | None, code: EventCode) -> None:
    if code.allows(current_status):
        return
    allowed = sorted("not yet filed" if s is None else s.value for s in code.requires_status)
    where = "not yet filed" if current_status is None else current_status.value
    raise StateTransitionError(
        f"{code.code} ({code.name}) cannot follow a record that is {where}; "
        f"it needs one of: {', '.join(allowed)}",
        field="event_code",
    )


def replay_history(events: Sequence[RegisterEvent]) -> RecordState:
    """Apply a record's events in order, checking each transition."""
    state = RecordState()
    for event in events:
        state = state.after(event)
    return state


def replay_codes(codes: Iterable[str], *, strict: bool = True) -> RecordState:
    """A record's status, its earlier statuses and its event count from its event codes alone,
    in order (no record key, no record data).

    Strict: :class:`UnknownEventCodeError` for a code outside the catalogue and
    :class:`StateTransitionError` for an impossible transition. Lenient (``strict=False``):
    history is a fact; such codes and transitions are taken as the module docstring says.
    """
    status, earlier, count = _replay(codes, strict)
    return RecordState(status=status, earlier_statuses=earlier, event_count=count)


def _replay(codes: Iterable[str], strict: bool) -> tuple[RecordStatus | None, EarlierStatuses, int]:
    catalogue = event_catalog()
    known = catalogue.codes
    status: RecordStatus | None = None
    earlier: EarlierStatuses = ()
    count = 0
    for code in codes:
        count += 1
        info = catalogue.get(code) if strict else known.get(code)
        if info is not None:
            status, earlier = next_status(status, earlier, info, strict=strict)
    return status, earlier, count


@overload
def derive_status(codes: Iterable[str], *, strict: Literal[True] = ...) -> RecordStatus: ...
@overload
def derive_status(codes: Iterable[str], *, strict: bool) -> RecordStatus | None: ...
def derive_status(codes: Iterable[str], *, strict: bool = True) -> RecordStatus | None:
    """A record's current status, derived only from its event codes in order.

    Strict (the default): as :func:`replay_codes` raises, and :class:`InvalidInputError` for a
    history without events. Lenient (``strict=False``, the indexer's reading of what the chain
    holds): never raises; None when no event set a status.
    """
    status = _replay(codes, strict)[0]
    if status is None and strict:
        raise InvalidInputError("a record's status needs at least one event", field="events")
    return status


def current_record_data(events: Sequence[RegisterEvent]) -> RecordData | None:
    """A record's current data: every event's data merged in order (None if none had any)."""
    return replay_history(events).record_data


__all__ = [
    "EarlierStatuses",
    "RecordState",
    "check_transition",
    "current_record_data",
    "derive_status",
    "next_status",
    "replay_codes",
    "replay_history",
]
