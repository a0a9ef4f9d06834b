"""Strict JSON reading and writing of the frozen dataclasses in :mod:`ipchain.register.models`.

Each dataclass gets a reader table, built once from its type hints: per field, whether it is
required and how its JSON member converts (dates, record keys, arrays, nested objects; other
values pass as they are). Value checks are left to the constructors, which know the rules and
run for values built by hand too; the errors they raise are placed under the object's path.

Two readers share the tables and accept exactly the same documents:

* :func:`read_object` reads fields in declaration order and reports the **first** problem in
  that order, named by its dotted path (``record_data.nice_classes[0].class_number``);
* :func:`read_quickly` visits only the members a document holds and builds no paths. It
  raises :class:`NotQuickError` (or whatever a constructor raises) at the first problem it
  meets, in no particular order: callers then run :func:`read_object` for the error to report.
  Documents are almost always valid, so the careful reader runs only for bad ones.
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

Converter = Callable[[Any, str], Any]
"""Turns a JSON member into a field value, given the member's dotted path for errors."""


class NotQuickError(Exception):
    """:func:`read_quickly` met a problem; :func:`read_object` will say which."""


def invalid(field: str, reason: str) -> InvalidInputError:
    """An :class:`InvalidInputError` for ``field``, its message starting with the field."""
    return InvalidInputError(f"{field}: {reason}", field=field)


def relocated(error: InvalidInputError, prefix: str) -> InvalidInputError:
    """The same error with its field placed under ``prefix`` (``record_data`` ...)."""
    if not prefix:
        return error
    inner = error.field or ""
    reason = str(error).removeprefix(f"{inner}: ") if inner else str(error)
    field = f"{prefix}.{inner}" if inner else prefix
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
    """Conversion for :func:`read_object`; None passes the JSON value as it is."""
    convert_quickly: Converter | None
    """The same conversion for :func:`read_quickly`."""
    omitted: object
    """The field's default other than None (``links=()``), which a document must omit rather
    than spell out; ``ABSENT`` when there is none."""


@dataclass(frozen=True, slots=True)
class _ObjectReader:
    """The reader table of one dataclass."""

    fields: tuple[_FieldReader, ...]
    """Its fields, in declaration order (the order errors are reported in)."""
    by_name: Mapping[str, _FieldReader]
    """The same, by name."""
    names: frozenset[str]
    """Every field name."""
    required: tuple[str, ...]
    """Names of the fields without a default."""


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
                convert=_converter(hints[field.name], quickly=False),
                convert_quickly=_converter(hints[field.name], quickly=True),
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
            by_name={field.name: field for field in fields},
            names=frozenset(field.name for field in fields),
            required=tuple(field.name for field in fields if field.required),
        )
    return reader


def _converter(kind: Any, *, quickly: bool) -> Converter | None:
    """How to read a member of type ``kind`` (a field's type hint)."""
    kind = _without_none(kind)
    if kind is date:
        return read_date
    if kind is RecordKey:
        return read_record_key
    if typing.get_origin(kind) is tuple:
        item = _converter(typing.get_args(kind)[0], quickly=quickly)
        return functools.partial(_read_array_quickly if quickly else _read_array, item)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return functools.partial(read_quickly if quickly else read_object, kind)
    return None


def _without_none(kind: Any) -> Any:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        remaining = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(remaining) == 1:
            return remaining[0]
    return kind


# --- reading ---------------------------------------------------------------------------------


def _path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def member(raw: Mapping[str, Any], name: str, path: str, *, required: bool = False) -> Any:
    """The raw member, or ``ABSENT``; JSON null is refused (an unset field is omitted)."""
    value = raw.get(name, ABSENT)
    if value is ABSENT:
        if required:
            raise invalid(_path(path, name), "is required")
    elif value is None:
        raise invalid(_path(path, name), "must not be null (omit it instead)")
    return value


def read_object(
    cls: type[Any],
    raw: Any,
    path: str,
    given: Mapping[str, Any] | None = None,
    known: frozenset[str] | None = None,
) -> Any:
    """Read a dataclass's fields (except those ``given``) from the JSON object ``raw`` at
    ``path`` and build it. ``known`` are the member names allowed (default: the fields)."""
    if not isinstance(raw, Mapping):
        raise invalid(path or "document", "must be a JSON object")
    reader = _READERS.get(cls) or _reader(cls)
    members: dict[str, Any] = {} if given is None else dict(given)
    for field in reader.fields:
        name = field.name
        if name in members:
            continue
        value = raw.get(name, ABSENT)
        if value is ABSENT:
            if field.required:
                raise invalid(_path(path, name), "is required")
            continue
        if value is None:
            raise invalid(_path(path, name), "must not be null (omit it instead)")
        if field.convert is not None:
            value = field.convert(value, _path(path, name))
        if field.omitted is not ABSENT and value == field.omitted:
            raise invalid(_path(path, name), "must not be empty (omit it instead)")
        members[name] = value
    known = reader.names if known is None else known
    if not known.issuperset(raw):
        unknown = sorted(set(raw) - known)
        raise invalid(_path(path, unknown[0]), f"is not a field of {cls.__name__}")
    try:
        return cls(**members)
    except InvalidInputError as error:
        raise relocated(error, path) from None


def read_quickly(
    cls: type[Any],
    raw: Any,
    path: str = "",
    given: Mapping[str, Any] | None = None,
    known: frozenset[str] | None = None,
) -> Any:
    """What :func:`read_object` returns, for a valid ``raw``; for an invalid one, an exception
    that need not be the one :func:`read_object` reports (``path`` is not used)."""
    if type(raw) is not dict:
        raise NotQuickError
    reader = _READERS.get(cls) or _reader(cls)
    by_name = reader.by_name
    members: dict[str, Any] = {} if given is None else dict(given)
    for name, value in raw.items():
        field = by_name.get(name)
        if field is None or name in members:
            if known is not None and name in known:
                continue  # read by the caller
            raise NotQuickError
        if value is None:
            raise NotQuickError
        if field.convert_quickly is not None:
            value = field.convert_quickly(value, "")
        if field.omitted is not ABSENT and value == field.omitted:
            raise NotQuickError
        members[name] = value
    for name in reader.required:
        if name not in members:
            raise NotQuickError
    return cls(**members)


def _read_array(convert: Converter | None, raw: Any, path: str) -> tuple[Any, ...]:
    if not isinstance(raw, list):
        raise invalid(path, "must be a JSON array")
    if convert is None:
        return tuple(raw)
    return tuple([convert(item, f"{path}[{index}]") for index, item in enumerate(raw)])


def _read_array_quickly(convert: Converter | None, raw: Any, path: str) -> tuple[Any, ...]:
    if type(raw) is not list:
        raise NotQuickError
    if convert is None:
        return tuple(raw)
    return tuple([convert(item, "") for item in raw])


def read_date(raw: Any, path: str) -> date:
    """A date written YYYY-MM-DD."""
    if not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw):
        raise invalid(path, "must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid(path, f"{raw} is not a calendar date") from None


def read_record_key(raw: object, field: str) -> RecordKey:
    """A record key written in its normal form (``EM/TM/018123456``)."""
    if not isinstance(raw, str):
        raise InvalidRecordKeyError(f"{field}: must be a string", field=field)
    try:
        # A key written in normal form (as it must be) needs no parsing, only its checks.
        normal = _NORMALISED_KEY.fullmatch(raw)
        if normal is not None:
            office, ip_type, number = normal.groups()
            return RecordKey(OfficeCode(office), _IP_TYPES[ip_type], number)
        key = RecordKey.parse(raw)
    except InvalidInputError as error:
        raise InvalidRecordKeyError(f"{field}: {error}", field=field) from None
    if str(key) != raw:
        raise InvalidRecordKeyError(f"{field}: not normalised, write {key}", field=field)
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
