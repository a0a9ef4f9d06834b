"""Strict JSON reading and writing of the frozen dataclasses in :mod:`ipchain.register.models`.

Each dataclass gets a reader table, built once from its type hints: per field, whether it is
required and how its JSON member converts (dates, record keys, arrays, nested objects; other
values pass as they are). Value checks are left to the constructors, which know the rules and
run for values built by hand too; the errors they raise are placed under the object's path.

There is one reader, :func:`read_object`. It reads fields in declaration order and reports the
**first** problem in that order, named by its dotted path
(``record_data.nice_classes[0].class_number``): a missing or null member, a member of the wrong
JSON type, then a member that is not a field, then whatever the constructor refuses. Paths are
built only for the error, on its way out, so a valid document costs one pass and no string
formatting (about 17-20 µs for a demo event, most of it the constructors' checks; as fast as
the quick pass that used to run before the careful one).

Why not pydantic (a dependency already): a ``TypeAdapter`` over these dataclasses read valid
demo documents only about 15% faster (the constructors' checks stay in Python), before any of
the glue needed to keep the errors callers and tests rely on, at nearly every step: the
exception classes (:class:`InvalidRecordKeyError`, :class:`UnknownEventCodeError` ...) and
their messages; JSON null refused for optional fields rather than read as None; dates only as
``YYYY-MM-DD`` (pydantic also takes timestamps and zero-time datetimes) and no ``"9"`` for 9;
record data typed by the record key rather than by its own members (a design's data holding
only the common fields validates as trademark data); defaults such as ``links=()`` to be
omitted; and the first problem in field order, with ``record_data`` read before the event's
other fields, where pydantic reports all problems in its own order.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from ipchain.errors import InvalidInputError, InvalidRecordKeyError
from ipchain.register.catalog import IpType, OfficeCode, RecordKey

ABSENT: Final = object()
"""What :func:`member` returns for a member the object does not hold."""

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NORMALISED_KEY = re.compile(r"([A-Z]{2})/(TM|DS)/([A-Z0-9]+)")
_IP_TYPES: Final = {ip_type.value: ip_type for ip_type in IpType}

Converter = Callable[[Any], Any]
"""Turns a JSON member into a field value. Its errors name fields relative to the member (no
field: the member itself); the reader places them under the member's path."""


def invalid(field: str, reason: str) -> InvalidInputError:
    """An :class:`InvalidInputError` for ``field``, its message starting with the field."""
    return InvalidInputError(f"{field}: {reason}", field=field)


def _failure(kind: type[InvalidInputError], field: str, reason: str) -> InvalidInputError:
    """An error of ``kind`` for ``field``, or for the value itself when ``field`` is empty."""
    return kind(f"{field}: {reason}", field=field) if field else kind(reason)


def relocated(error: InvalidInputError, prefix: str) -> InvalidInputError:
    """The same error with its field placed under ``prefix`` (``record_data``, ``[2]`` ...)."""
    if not prefix:
        return error
    inner = error.field or ""
    if not inner:
        field, reason = prefix, str(error)
    else:
        reason = str(error).removeprefix(f"{inner}: ")
        field = f"{prefix}{inner}" if inner.startswith("[") else f"{prefix}.{inner}"
    return type(error)(f"{field}: {reason}", field=field)


# --- reader tables ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FieldReader:
    """How one field of a dataclass is read from its JSON member."""

    name: str
    """Field and member name."""
    required: bool
    """True when the field has no default."""
    convert: Converter | None
    """Conversion of the JSON member; None passes the JSON value as it is."""
    omitted: object
    """The field's default other than None (``links=()``), which a document must omit rather
    than spell out; ``ABSENT`` when there is none."""


@dataclass(frozen=True, slots=True)
class _ObjectReader:
    """The reader table of one dataclass."""

    fields: tuple[_FieldReader, ...]
    """Its fields, in declaration order (the order errors are reported in)."""
    names: frozenset[str]
    """Every field name."""


_READERS: dict[type, _ObjectReader] = {}


def _reader(cls: type) -> _ObjectReader:
    """The reader table of a dataclass, built on first use."""
    reader = _READERS.get(cls)
    if reader is None:
        hints = typing.get_type_hints(cls)
        fields = tuple(
            _FieldReader(
                name=field.name,
                required=field.default is dataclasses.MISSING,
                convert=_converter(hints[field.name]),
                omitted=(
                    ABSENT
                    if field.default is dataclasses.MISSING or field.default is None
                    else field.default
                ),
            )
            for field in dataclasses.fields(cls)
        )
        reader = _READERS[cls] = _ObjectReader(
            fields=fields,
            names=frozenset(field.name for field in fields),
        )
    return reader


def _converter(kind: Any) -> Converter | None:
    """How to read a member of type ``kind`` (a field's type hint)."""
    kind = _without_none(kind)
    if kind is date:
        return read_date
    if kind is RecordKey:
        return read_record_key
    if typing.get_origin(kind) is tuple:
        return functools.partial(_read_array, _converter(typing.get_args(kind)[0]))
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return functools.partial(read_object, kind)
    return None


def _without_none(kind: Any) -> Any:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        remaining = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(remaining) == 1:
            return remaining[0]
    return kind


# --- reading ---------------------------------------------------------------------------------
#
# Paths are built only for an error: each level that catches one places it under its member
# (``relocated``) on the way out, so a valid document costs no string formatting.


def member(raw: Mapping[str, Any], name: str, path: str, *, required: bool = False) -> Any:
    """The raw member, or ``ABSENT``; JSON null is refused (an unset field is omitted)."""
    value = raw.get(name, ABSENT)
    if value is ABSENT:
        if required:
            raise invalid(f"{path}.{name}" if path else name, "is required")
    elif value is None:
        raise invalid(f"{path}.{name}" if path else name, "must not be null (omit it instead)")
    return value


def read_object(
    cls: type[Any],
    raw: Any,
    given: Mapping[str, Any] | None = None,
    known: frozenset[str] | None = None,
) -> Any:
    """Read a dataclass's fields (except those ``given``) from the JSON object ``raw`` and build
    it; the first problem in field order is raised, its field relative to ``raw`` (none when
    ``raw`` is not an object). ``known`` are the member names allowed (default: the fields)."""
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise InvalidInputError("must be a JSON object")
    reader = _READERS.get(cls) or _reader(cls)
    members: dict[str, Any] = {} if given is None else dict(given)
    for field in reader.fields:
        name = field.name
        if name in members:
            continue
        value = raw.get(name, ABSENT)
        if value is ABSENT:
            if field.required:
                raise invalid(name, "is required")
            continue
        if value is None:
            raise invalid(name, "must not be null (omit it instead)")
        if field.convert is not None:
            try:
                value = field.convert(value)
            except InvalidInputError as error:
                raise relocated(error, name) from None
        if field.omitted is not ABSENT and value == field.omitted:
            raise invalid(name, "must not be empty (omit it instead)")
        members[name] = value
    known = reader.names if known is None else known
    if not known.issuperset(raw):
        unknown = sorted(set(raw) - known)
        raise invalid(unknown[0], f"is not a field of {cls.__name__}")
    return cls(**members)  # its errors name its own fields, which is where they belong


def _read_array(convert: Converter | None, raw: Any) -> tuple[Any, ...]:
    if not isinstance(raw, list):
        raise InvalidInputError("must be a JSON array")
    if convert is None:
        return tuple(raw)
    items: list[Any] = []
    try:
        for item in raw:
            items.append(convert(item))
    except InvalidInputError as error:
        raise relocated(error, f"[{len(items)}]") from None
    return tuple(items)


def read_date(raw: Any, field: str = "") -> date:
    """A date written YYYY-MM-DD (errors for ``field``, or for the value itself)."""
    if not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw):
        raise _failure(InvalidInputError, field, "must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _failure(InvalidInputError, field, f"{raw} is not a calendar date") from None


def read_record_key(raw: object, field: str = "") -> RecordKey:
    """A record key written in its normal form (``EM/TM/018123456``); errors for ``field``, or
    for the value itself."""
    if not isinstance(raw, str):
        raise _failure(InvalidRecordKeyError, field, "must be a string")
    try:
        # A key written in normal form (as it must be) needs no parsing, only its checks.
        normal = _NORMALISED_KEY.fullmatch(raw)
        if normal is not None:
            office, ip_type, number = normal.groups()
            return RecordKey(OfficeCode(office), _IP_TYPES[ip_type], number)
        key = RecordKey.parse(raw)
    except InvalidInputError as error:
        raise _failure(InvalidRecordKeyError, field, str(error)) from None
    if str(key) != raw:
        raise _failure(InvalidRecordKeyError, field, f"not normalised, write {key}")
    return key


# --- writing ---------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """Dataclasses to objects without their unset fields; dates to YYYY-MM-DD; keys to text.

    None is never written, nor a default such as ``links=()``: a document holds one spelling
    of each event, which is what keeps its hash stable.
    """
    if isinstance(value, RecordKey):
        return str(value)
    if isinstance(value, tuple):
        return [to_json(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        document = {}
        for field in _reader(type(value)).fields:
            item = getattr(value, field.name)
            if item is not None and (field.omitted is ABSENT or item != field.omitted):
                document[field.name] = to_json(item)
        return document
    return value
