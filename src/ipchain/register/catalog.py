"""Identifiers of the register and the standards catalogues they are checked against.

* :class:`OfficeCode` — a WIPO ST.3 two-letter code (``EM``, ``RU``, ``AU``, ``WO``, ``MT`` ...).
* :class:`IpType` — ``TM`` (trademark) or ``DS`` (industrial design).
* :class:`RecordKey` — ``{office}/{ip_type}/{application_number}``, the key a record's history
  is anchored under (``recordId = keccak256(utf8(key))``), with its WIPO ST.13 form.
* :class:`EventCode` and :class:`RecordStatus` — the ST.61 (trademarks) and ST.87 (designs)
  key event codes, which share the ST.27 category letters, and the status effects ipchain's
  register state machine gives them.

The catalogues are versioned JSON files in ``ipchain/data/catalog/``, not code: an office reads
(and a maintainer corrects) the standards' content there. They are loaded once, checked for
internal consistency, and cached.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Final

from ipchain.errors import (
    InvalidRecordKeyError,
    UnknownEventCodeError,
    UnknownOfficeError,
)

MAX_RECORD_KEY_LENGTH: Final = 64
"""Longest record key in bytes; RegisterLedger.MAX_RECORD_KEY_LENGTH rejects longer ones."""

ST13_LENGTH: Final = 17
"""Length of an ST.13 application number: office (2) + IP type (2) + year (4) + serial (9)."""

_OFFICE_CODE = re.compile(r"[A-Z]{2}")
_APPLICATION_NUMBER = re.compile(r"[A-Z0-9]+")
# Separators offices print inside application numbers ("018 123 456", "2023-012345",
# "29/123,456", "202330123456.7"); the normalised number keeps only letters and digits.
_NUMBER_SEPARATORS = re.compile(r"[\s/\-.,]")
_EVENT_CODE = re.compile(r"[A-Z][0-9]{2}")
_LOCARNO_CLASS = re.compile(r"([0-9]{2})-([0-9]{2})")
_VIENNA_CODE = re.compile(r"([0-9]{2})\.[0-9]{2}\.[0-9]{2}")


class IpType(StrEnum):
    """The kind of IP right a record is about, as written in record keys."""

    TRADEMARK = "TM"
    DESIGN = "DS"


_IP_TYPE_VALUES: Final = frozenset(ip_type.value for ip_type in IpType)


class OfficeCode(str):
    """A WIPO ST.3 code: exactly two upper-case ASCII letters. Being a ``str``, it goes
    anywhere text does (JSON, SQL, contract ``bytes2``)."""

    __slots__ = ()

    def __new__(cls, code: str) -> OfficeCode:
        if not isinstance(code, str) or _OFFICE_CODE.fullmatch(code) is None:
            raise UnknownOfficeError(
                f"office code {code!r:.40} is not two upper-case letters (WIPO ST.3)",
                field="office",
            )
        return super().__new__(cls, code)


@dataclass(frozen=True, slots=True, order=True)
class RecordKey:
    """The key of one trademark or design record: ``EM/TM/018123456``.

    Build it from parts (already normalised) or with :meth:`parse` from any spelling an
    office prints (``em/tm/018 123-456``).
    """

    office: OfficeCode
    """The ST.3 code of the office that keeps the record (and alone may write to it)."""
    ip_type: IpType
    """Trademark or industrial design."""
    application_number: str
    """The office's application number, normalised: upper-case letters and digits only."""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "office", OfficeCode(self.office))
        except UnknownOfficeError as error:
            raise InvalidRecordKeyError(str(error), field="record_key") from None
        if self.ip_type not in _IP_TYPE_VALUES:
            raise InvalidRecordKeyError(
                f"IP type {self.ip_type!r:.20} is neither TM nor DS", field="record_key"
            )
        object.__setattr__(self, "ip_type", IpType(self.ip_type))
        number = self.application_number
        if not isinstance(number, str) or _APPLICATION_NUMBER.fullmatch(number) is None:
            raise InvalidRecordKeyError(
                f"application number {number!r:.80} must be upper-case letters and digits only"
                " (normalise it with RecordKey.parse)",
                field="record_key",
            )
        length = len(str(self))
        if length > MAX_RECORD_KEY_LENGTH:
            raise InvalidRecordKeyError(
                f"record key is {length} bytes, longer than {MAX_RECORD_KEY_LENGTH}",
                field="record_key",
            )

    @classmethod
    def parse(cls, text: str) -> RecordKey:
        """Read ``office/type/number`` in any case, removing separators from the number.

        Only the first two slashes separate the parts, so numbers printed with slashes
        (``CH/TM/52345/2023``) normalise too.
        """
        if not isinstance(text, str):
            raise InvalidRecordKeyError("a record key must be text", field="record_key")
        parts = text.strip().split("/", 2)
        if len(parts) != 3:
            raise InvalidRecordKeyError(
                f"record key {text!r:.80} is not office/type/number (e.g. EM/TM/018123456)",
                field="record_key",
            )
        office, ip_type, number = (part.strip().upper() for part in parts)
        if _OFFICE_CODE.fullmatch(office) is None:
            raise InvalidRecordKeyError(
                f"record key {text!r:.80}: office {office!r:.20} is not two letters (WIPO ST.3)",
                field="record_key",
            )
        if ip_type not in _IP_TYPE_VALUES:
            raise InvalidRecordKeyError(
                f"record key {text!r:.80}: IP type {ip_type!r:.20} is neither TM nor DS",
                field="record_key",
            )
        number = _NUMBER_SEPARATORS.sub("", number)
        if not number:
            raise InvalidRecordKeyError(
                f"record key {text!r:.80} has no application number", field="record_key"
            )
        return cls(OfficeCode(office), IpType(ip_type), number)

    def __str__(self) -> str:
        return f"{self.office}/{self.ip_type.value}/{self.application_number}"

    def st13(self) -> str | None:
        """The 17-character WIPO ST.13 form (``EM500000018123456``), or None when it cannot
        be derived: the office is not in the catalogue, has no ST.13-compatible number format
        for this IP type, or this number does not match that format."""
        office = find_office(self.office)
        number_format = None if office is None else office.number_formats.get(self.ip_type)
        if number_format is None or not number_format.st13:
            return None
        match = number_format.pattern.fullmatch(self.application_number)
        if match is None:
            return None
        serial = match.group("serial")
        year = match.groupdict().get("year") or "0000"
        if not serial.isdigit() or len(serial) > 9 or not year.isdigit():
            return None
        type_code = office_catalog().st13_ip_type_codes[self.ip_type]
        return f"{self.office}{type_code}{year}{serial.zfill(9)}"


# --- statuses and event codes ----------------------------------------------------------------


class RecordStatus(StrEnum):
    """A record's status, derived from its event history (never asserted by an office)."""

    FILED = "filed"
    EXAMINATION = "examination"
    PUBLISHED = "published"
    OPPOSED = "opposed"
    REGISTERED = "registered"
    UNDER_REVIEW = "under-review"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    EXPIRED = "expired"
    SURRENDERED = "surrendered"
    INVALIDATED = "invalidated"
    TERMINATED = "terminated"

    @property
    def phase(self) -> str:
        """``pending`` (application), ``in-force`` (registered right) or ``ended``."""
        return event_catalog().status_phases[self]

    @property
    def is_ended(self) -> bool:
        """True when the application or right is no longer alive."""
        return self.phase == "ended"


@dataclass(frozen=True, slots=True)
class EventCode:
    """One key event code of the catalogue, with its effect on a record's status."""

    code: str
    """Category letter and two digits, e.g. ``A10``."""
    category: str
    """The ST.27 category letter (``A`` application filed ... ``Y`` correction)."""
    ip_types: frozenset[IpType]
    """The IP types the code applies to."""
    standards: tuple[str, ...]
    """The standards defining the code: ``WIPO ST.61`` (trademarks), ``WIPO ST.87`` (designs)."""
    name: str
    """English description."""
    requires_status: frozenset[RecordStatus | None]
    """Statuses the record must be in for the event to make sense; None: no events yet."""
    sets_status: RecordStatus | None
    """The record's status after the event; None leaves it unchanged."""
    restores_previous_status: bool
    """True when the event returns the record to its status before its last status change."""
    requires_complete_data: bool
    """True when the event starts a record and must carry its minimum record data."""

    def applies_to(self, ip_type: IpType) -> bool:
        """Whether the code may be used for records of this IP type."""
        return ip_type in self.ip_types

    def allows(self, status: RecordStatus | None) -> bool:
        """Whether the event may follow a record in ``status`` (None: no events yet)."""
        return status in self.requires_status


@dataclass(frozen=True, slots=True)
class LinkRelation:
    """A kind of link from one record to another (priority claim, designation ...)."""

    relation: str
    """Name used in documents, e.g. ``priority``."""
    ip_types: frozenset[IpType]
    """IP types of the records that may carry such a link."""
    same_ip_type: bool
    """True when the linked record must be of the same IP type."""
    description: str
    """What the link means."""


@dataclass(frozen=True, slots=True)
class EventCatalog:
    """The loaded ``event_codes.json``."""

    version: str
    """``catalog_version`` of the data file."""
    standards: Mapping[str, str]
    """Standard identifier (``WIPO ST.61``) to its full name."""
    categories: Mapping[str, str]
    """ST.27 category letter to its meaning."""
    codes: Mapping[str, EventCode]
    """Every key event code, by code."""
    status_phases: Mapping[RecordStatus, str]
    """Each status's phase: ``pending``, ``in-force`` or ``ended``."""
    link_relations: Mapping[str, LinkRelation]
    """Every link relation, by name."""

    def get(self, code: str) -> EventCode:
        """The catalogue entry for ``code``; :class:`UnknownEventCodeError` if there is none."""
        entry = self.codes.get(code) if isinstance(code, str) else None
        if entry is None:
            raise UnknownEventCodeError(
                f"event code {code!r:.20} is not in the ST.61/ST.87 catalogue "
                f"(version {self.version})",
                field="event_code",
            )
        return entry


def event_code(code: str) -> EventCode:
    """The catalogue entry for an event code (``A10``)."""
    return event_catalog().get(code)


@cache
def event_catalog() -> EventCatalog:
    """Load and check ``event_codes.json`` (once)."""
    data = _load_json("event_codes.json")
    categories: dict[str, str] = dict(data["categories"])
    groups: dict[str, list[str]] = data["status_groups"]
    phases = {RecordStatus(entry["status"]): entry["phase"] for entry in data["statuses"]}
    _check(set(phases) == set(RecordStatus), "statuses must list every RecordStatus once")

    def expand(names: list[str]) -> frozenset[RecordStatus | None]:
        statuses: set[RecordStatus | None] = set()
        for name in names:
            if name == "none":
                statuses.add(None)
            elif name in groups:
                statuses.update(RecordStatus(status) for status in groups[name])
            else:
                statuses.add(RecordStatus(name))
        return frozenset(statuses)

    standard_of = {IpType.TRADEMARK: "WIPO ST.61", IpType.DESIGN: "WIPO ST.87"}
    codes: dict[str, EventCode] = {}
    for entry in data["codes"]:
        code = entry["code"]
        ip_types = frozenset(IpType(ip_type) for ip_type in entry["ip_types"])
        sets_status = entry["sets_status"]
        _check(_EVENT_CODE.fullmatch(code) is not None, f"{code}: not a letter and two digits")
        _check(code not in codes, f"{code}: listed twice")
        _check(entry["category"] == code[0] and code[0] in categories, f"{code}: bad category")
        _check(bool(ip_types), f"{code}: no IP types")
        _check(
            tuple(entry["standards"]) == tuple(standard_of[t] for t in IpType if t in ip_types),
            f"{code}: standards must be ST.61 for TM and ST.87 for DS",
        )
        codes[code] = EventCode(
            code=code,
            category=code[0],
            ip_types=ip_types,
            standards=tuple(entry["standards"]),
            name=entry["name"],
            requires_status=expand(entry["requires_status"]),
            sets_status=None if sets_status in (None, "@previous") else RecordStatus(sets_status),
            restores_previous_status=sets_status == "@previous",
            requires_complete_data=bool(entry["requires_complete_data"]),
        )
    relations = {
        entry["relation"]: LinkRelation(
            relation=entry["relation"],
            ip_types=frozenset(IpType(ip_type) for ip_type in entry["ip_types"]),
            same_ip_type=bool(entry["same_ip_type"]),
            description=entry["description"],
        )
        for entry in data["link_relations"]
    }
    return EventCatalog(
        version=data["catalog_version"],
        standards=dict(data["standards"]),
        categories=categories,
        codes=codes,
        status_phases=phases,
        link_relations=relations,
    )


# --- offices ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """An office's current application numbers for one IP type, after normalisation."""

    pattern: re.Pattern[str]
    """Full-match pattern with a ``serial`` group and an optional ``year`` group."""
    example: str
    """A normalised example number."""
    display_example: str
    """The same number as the office prints it (with separators)."""
    st13: bool
    """Whether the ST.13 form may be derived from numbers of this format."""


@dataclass(frozen=True, slots=True)
class OfficeInfo:
    """One office of the ST.3 catalogue."""

    code: OfficeCode
    """ST.3 code."""
    name: str
    """Official English name."""
    short_name: str
    """Usual abbreviation (``EUIPO``)."""
    kind: str
    """``national``, ``regional`` or ``international``."""
    number_formats: Mapping[IpType, NumberFormat]
    """Application number formats, for the IP types the office registers."""


@dataclass(frozen=True, slots=True)
class OfficeCatalog:
    """The loaded ``offices.json``."""

    version: str
    """``catalog_version`` of the data file."""
    offices: Mapping[str, OfficeInfo]
    """Every office, by ST.3 code."""
    st13_ip_type_codes: Mapping[IpType, str]
    """The ST.13 two-digit IP type code of each IP type."""


@cache
def office_catalog() -> OfficeCatalog:
    """Load and check ``offices.json`` (once)."""
    data = _load_json("offices.json")
    offices: dict[str, OfficeInfo] = {}
    for entry in data["offices"]:
        formats: dict[IpType, NumberFormat] = {}
        for ip_type, spec in entry["application_numbers"].items():
            pattern = re.compile(spec["pattern"])
            _check("serial" in pattern.groupindex, f"{entry['code']}: pattern without serial")
            _check(pattern.fullmatch(spec["example"]) is not None, f"{entry['code']}: example")
            formats[IpType(ip_type)] = NumberFormat(
                pattern=pattern,
                example=spec["example"],
                display_example=spec.get("display_example", spec["example"]),
                st13=bool(spec["st13"]),
            )
        code = OfficeCode(entry["code"])
        _check(code not in offices, f"{code}: listed twice")
        offices[code] = OfficeInfo(
            code=code,
            name=entry["name"],
            short_name=entry["short_name"],
            kind=entry["kind"],
            number_formats=formats,
        )
    type_codes = {IpType(key): value for key, value in data["st13"]["ip_type_codes"].items()}
    _check(set(type_codes) == set(IpType), "st13.ip_type_codes must cover TM and DS")
    return OfficeCatalog(
        version=data["catalog_version"], offices=offices, st13_ip_type_codes=type_codes
    )


def find_office(code: str) -> OfficeInfo | None:
    """The catalogue entry of an office, or None when the catalogue does not list it."""
    return office_catalog().offices.get(code)


def office_info(code: str) -> OfficeInfo:
    """The catalogue entry of an office; :class:`UnknownOfficeError` when it is not listed."""
    office = find_office(OfficeCode(code))
    if office is None:
        raise UnknownOfficeError(f"office {code} is not in the ST.3 catalogue", field="office")
    return office


# --- classifications and country codes -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Classifications:
    """The loaded Nice, Locarno, Vienna and country code lists."""

    nice_headings: Mapping[int, str]
    """Nice class number (1-45) to a short heading."""
    nice_edition: str
    """The Nice edition the headings follow."""
    locarno_headings: Mapping[str, str]
    """Locarno class (``06``) to a short heading."""
    locarno_classes: frozenset[str]
    """Every ``CC-SS`` class and subclass of the catalogue's Locarno edition."""
    vienna_categories: Mapping[str, str]
    """Vienna category (``26``) to a short heading."""
    country_codes: Mapping[str, str]
    """ISO 3166-1 alpha-2 country code to an English name."""


@cache
def classifications() -> Classifications:
    """Load ``nice.json``, ``locarno.json``, ``vienna.json`` and ``countries.json`` (once)."""
    nice = _load_json("nice.json")
    locarno = _load_json("locarno.json")
    vienna = _load_json("vienna.json")
    countries = _load_json("countries.json")
    nice_headings = {entry["class_number"]: entry["heading"] for entry in nice["classes"]}
    _check(sorted(nice_headings) == list(range(1, 46)), "Nice classes must be 1-45")
    return Classifications(
        nice_headings=nice_headings,
        nice_edition=nice["standard"],
        locarno_headings={entry["class"]: entry["heading"] for entry in locarno["classes"]},
        locarno_classes=frozenset(
            f"{entry['class']}-{subclass}"
            for entry in locarno["classes"]
            for subclass in entry["subclasses"]
        ),
        vienna_categories={e["category"]: e["heading"] for e in vienna["categories"]},
        country_codes={entry["code"]: entry["name"] for entry in countries["countries"]},
    )


def is_nice_class(number: object) -> bool:
    """Whether ``number`` is a Nice class number (an int from 1 to 45, not a bool)."""
    return type(number) is int and number in classifications().nice_headings


def is_locarno_class(code: str) -> bool:
    """Whether ``code`` is a ``CC-SS`` Locarno class and subclass of the catalogue."""
    return _LOCARNO_CLASS.fullmatch(code) is not None and code in classifications().locarno_classes


def is_vienna_code(code: str) -> bool:
    """Whether ``code`` is a Vienna code ``CC.DD.SS`` with a known category (01-29)."""
    match = _VIENNA_CODE.fullmatch(code)
    return match is not None and match.group(1) in classifications().vienna_categories


def is_country_code(code: str) -> bool:
    """Whether ``code`` is an ISO 3166-1 alpha-2 country code."""
    return code in classifications().country_codes


@cache
def office_closures() -> Mapping[str, frozenset[datetime.date]]:
    """The days each office is closed besides weekends (``office_closures.json``), by
    ST.3 code: what extends a priority period (Paris Convention Art. 4C(3))."""
    data = _load_json("office_closures.json")
    return {
        office: frozenset(datetime.date.fromisoformat(day) for day in days)
        for office, days in data["closures"].items()
    }


# --- loading ---------------------------------------------------------------------------------


def _load_json(name: str) -> Any:
    resource = resources.files("ipchain") / "data" / "catalog" / name
    return json.loads(resource.read_text(encoding="utf-8"))


def _check(condition: bool, problem: str) -> None:
    # A broken catalogue is a packaging bug, not bad input: fail loudly at load time.
    if not condition:
        raise RuntimeError(f"inconsistent ipchain catalogue: {problem}")


__all__ = [
    "MAX_RECORD_KEY_LENGTH",
    "ST13_LENGTH",
    "Classifications",
    "EventCatalog",
    "EventCode",
    "IpType",
    "LinkRelation",
    "NumberFormat",
    "OfficeCatalog",
    "OfficeCode",
    "OfficeInfo",
    "RecordKey",
    "RecordStatus",
    "classifications",
    "event_catalog",
    "event_code",
    "find_office",
    "is_country_code",
    "is_locarno_class",
    "is_nice_class",
    "is_vienna_code",
    "office_catalog",
    "office_closures",
    "office_info",
]
