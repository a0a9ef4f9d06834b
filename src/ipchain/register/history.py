"""A record's status and current data, derived from its history of register events.

A record's status is never asserted by an office: each event code's catalogue entry says which
statuses it may follow and which status it leaves (``event_codes.json``), and replaying a
record's events in order gives where it stands. Record data is merged the same way, later
events overriding the fields they establish.

:mod:`ipchain.register.models` re-exports every name here, so ``from ipchain.register.models import
replay_history`` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ipchain.errors import InvalidInputError, StateTransitionError
from ipchain.register.catalog import RecordKey, RecordStatus

if TYPE_CHECKING:  # models imports this module, so the names are for the type checker only
    from ipchain.register.models import RecordData, RegisterEvent


@dataclass(frozen=True, slots=True)
class RecordState:
    """Where a record stands after some prefix of its history."""

    record_key: RecordKey | None = None
    """The record (None before its first event)."""
    status: RecordStatus | None = None
    """Current status (None before the first event)."""
    earlier_statuses: tuple[RecordStatus, ...] = ()
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
        check_transition(self.status, event)
        code = event.code_info
        status, earlier = self.status, self.earlier_statuses
        if code.restores_previous_status:
            if not earlier:
                raise StateTransitionError(
                    f"{code.code}: the record has no earlier status to return to",
                    field="event_code",
                )
            status, earlier = earlier[-1], earlier[:-1]
        elif code.sets_status is not None and code.sets_status != status:
            earlier = earlier if status is None else (*earlier, status)
            status = code.sets_status
        data = self.record_data
        if event.record_data is not None:
            data = event.record_data if data is None else data.merged_with(event.record_data)
        return RecordState(event.record_key, status, earlier, data, self.event_count + 1)


def check_transition(current_status: RecordStatus | None, event: RegisterEvent) -> None:
    """Raise :class:`StateTransitionError` unless ``event`` may follow a record in
    ``current_status`` (None: the record has no events yet)."""
    code = event.code_info
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


def derive_status(events: Sequence[RegisterEvent]) -> RecordStatus:
    """A record's current status, derived only from its event history."""
    status = replay_history(events).status
    if status is None:
        raise InvalidInputError("a record's status needs at least one event", field="events")
    return status


def current_record_data(events: Sequence[RegisterEvent]) -> RecordData | None:
    """A record's current data: every event's data merged in order (None if none had any)."""
    return replay_history(events).record_data


__all__ = [
    "RecordState",
    "check_transition",
    "current_record_data",
    "derive_status",
    "replay_history",
]
