"""Register events, the record data they carry, and a record's status derived from them.

A :class:`RegisterEvent` is what an office anchors: one legal-status event (an ST.61/ST.87 key
event code) on one record, with the record data the event establishes. Its JSON document
(:meth:`RegisterEvent.to_document`) is what gets canonicalised and hashed; reading one back
(:meth:`RegisterEvent.from_document`) is strict, so every accepted document round-trips to
exactly the same JSON and therefore the same hash.

Record data follows WIPO ST.96 element names, in snake_case (``ST96_ELEMENT_NAMES`` maps each
field to its element). A record's status is never asserted by an office: it is derived from the
event history by the catalogue's status effects, in :mod:`ipchain.register.history` (which
depends on this module, not the other way round).

Every value validates itself on construction, naming the offending field (relative to itself);
:meth:`RegisterEvent.from_document` reports the full dotted path, e.g.
``record_data.nice_classes[0].class_number``. Documents are read by
:mod:`ipchain.register.documents`, field by field, naming the first problem of a bad one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, TypeVar

from ipchain.errors import InvalidInputError, InvalidRecordKeyError
from ipchain.register.catalog import (
    EventCode,
    IpType,
    RecordKey,
    event_catalog,
    event_code,
    is_country_code,
    is_locarno_class,
    is_nice_class,
    is_vienna_code,
)
from ipchain.register.documents import ABSENT, member, read_object, read_record_key, to_json
from ipchain.register.documents import invalid as _invalid
from ipchain.register.documents import relocated as _relocated

SCHEMA: Final = "ipchain/register-event/v1"
"""The ``schema`` member of every register event document."""

MARK_FEATURE_CATEGORIES: Final = (
    "Word",
    "Stylized characters",
    "Figurative",
    "Combined",
    "Three dimensional",
    "Colour",
    "Sound",
    "Hologram",
    "Olfactory",
    "Motion",
    "Position",
    "Pattern",
    "Multimedia",
    "Other",
)
"""Values of ST.96 ``MarkFeatureCategory`` accepted in record data."""

ST96_ELEMENT_NAMES: Final[Mapping[str, str]] = {
    "Party.name": "EntityName / PersonFullName",
    "Party.country_code": "CountryCode",
    "Party.address": "PostalAddressText",
    "Party.identifier": "PartyIdentifier (ApplicantIdentifier, RepresentativeIdentifier)",
    "LocalizedText.language_code": "@languageCode",
    "NiceClass.class_number": "ClassNumber (GoodsServicesClassification, Nice)",
    "NiceClass.nice_edition": "NiceEditionIdentifier",
    "NiceClass.descriptions": "GoodsServicesDescriptionText (one per @languageCode)",
    "ImageFile.file_name": "FileName",
    "DesignView.view_number": "ViewNumber",
    "DesignView.title": "ViewTitleText",
    "TrademarkData.mark_verbal_element_text": "MarkVerbalElementText",
    "TrademarkData.mark_feature_category": "MarkFeatureCategory",
    "TrademarkData.mark_image": "MarkImage",
    "TrademarkData.vienna_codes": "MarkImageCategory / ViennaClassification CategoryCode",
    "TrademarkData.nice_classes": "GoodsServicesBag / GoodsServicesClassification",
    "DesignData.locarno_classes": "LocarnoClassification / ClassNumber",
    "DesignData.product_indications": "ProductIndication / IndicationProductText",
    "DesignData.views": "DesignRepresentationSheet / View",
    "DesignData.designers": "DesignerBag / Designer",
    "*.applicants": "ApplicantBag / Applicant",
    "*.representatives": "RepresentativeBag / Representative",
    "*.application_date": "ApplicationDate",
    "*.registration_date": "RegistrationDate",
    "*.registration_number": "RegistrationNumber",
    "*.expiry_date": "ExpiryDate",
    "*.international_registration_number": "InternationalRegistrationNumber",
    "RegisterEvent.event_code": "KeyEventCode (ST.61 / ST.87)",
    "RegisterEvent.national_code": "NationalEventCode",
    "RegisterEvent.national_text": "NationalEventDescriptionText",
    "RegisterEvent.event_date": "EventDate",
    "RegisterEvent.effective_date": "EventEffectiveDate",
    "(derived) replay_history().status": "MarkCurrentStatusCode / DesignCurrentStatusCode",
}
"""Each field's WIPO ST.96 element (or the ST.61/ST.87 item for event fields)."""

_SHORT_TEXT: Final = 1_000
_LONG_TEXT: Final = 100_000
_HASH = re.compile(r"0x[0-9a-f]{64}")
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")
_NICE_EDITION = re.compile(r"[0-9]{1,2}-[0-9]{4}")
_NATIONAL_CODE = re.compile(r"[A-Za-z0-9._-]{1,16}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


# --- validation helpers ----------------------------------------------------------------------


def _check_text(value: object, field: str, max_length: int = _SHORT_TEXT) -> None:
    if not isinstance(value, str):
        raise _invalid(field, "must be a string")
    if not value or value != value.strip():
        raise _invalid(field, "must be non-empty, without leading or trailing spaces")
    if len(value) > max_length:
        raise _invalid(field, f"is longer than {max_length} characters")
    if _CONTROL.search(value):
        raise _invalid(field, "contains control characters")


def _check_optional_text(value: object, field: str, max_length: int = _SHORT_TEXT) -> None:
    if value is not None:
        _check_text(value, field, max_length)


def _check_date(value: object, field: str) -> None:
    if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
        raise _invalid(field, "must be a date")


def _check_hash(value: object, field: str) -> None:
    if not isinstance(value, str) or _HASH.fullmatch(value) is None:
        raise _invalid(field, "must be 0x followed by 64 lower-case hex digits")


def _check_items(
    value: object, field: str, item_type: type | tuple[type, ...], *, allow_empty: bool
) -> tuple[Any, ...] | None:
    if value is None:
        return None
    if not isinstance(value, tuple):
        raise _invalid(field, "must be a tuple")
    if not value and not allow_empty:
        raise _invalid(field, "must not be empty (omit it instead)")
    for index, item in enumerate(value):
        if not isinstance(item, item_type):
            raise _invalid(f"{field}[{index}]", "has the wrong type")
    return value


# --- parties and small values ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    """An applicant, holder, representative or designer."""

    name: str
    """Full name of the person or legal entity."""
    country_code: str
    """ISO 3166-1 alpha-2 code of the country of nationality, incorporation or residence."""
    address: str | None = None
    """Postal address as one text."""
    identifier: str | None = None
    """The party's identifier at the office (e.g. an applicant or representative number)."""
    attestation_uid: str | None = None
    """UID of an on-chain identity attestation vouching for the party (0x + 64 hex)."""

    def __post_init__(self) -> None:
        _check_text(self.name, "name")
        if not isinstance(self.country_code, str) or not is_country_code(self.country_code):
            raise _invalid("country_code", f"{self.country_code!r:.20} is not an ISO 3166-1 code")
        _check_optional_text(self.address, "address")
        _check_optional_text(self.identifier, "identifier")
        if self.attestation_uid is not None:
            _check_hash(self.attestation_uid, "attestation_uid")


@dataclass(frozen=True, slots=True)
class LocalizedText:
    """A text in one language."""

    language_code: str
    """ISO 639-1 code, lower case (``en``, ``de``, ``ru``)."""
    text: str
    """The text."""

    def __post_init__(self) -> None:
        if not isinstance(self.language_code, str) or not _LANGUAGE_CODE.fullmatch(
            self.language_code
        ):
            raise _invalid("language_code", "must be two lower-case letters (ISO 639-1)")
        _check_text(self.text, "text", _LONG_TEXT)


def _check_languages(texts: tuple[LocalizedText, ...], field: str) -> None:
    seen: set[str] = set()
    for index, text in enumerate(texts):
        if text.language_code in seen:
            raise _invalid(f"{field}[{index}].language_code", "language given twice")
        seen.add(text.language_code)


@dataclass(frozen=True, slots=True)
class NiceClass:
    """One Nice class of a trademark with its goods or services."""

    class_number: int
    """Nice class number, 1 to 45."""
    descriptions: tuple[LocalizedText, ...]
    """The goods or services of the class, at most one text per language."""
    nice_edition: str | None = None
    """Nice edition and version the class follows (``12-2025``)."""

    def __post_init__(self) -> None:
        if not is_nice_class(self.class_number):
            raise _invalid("class_number", f"{self.class_number!r:.20} is not a Nice class 1-45")
        _check_items(self.descriptions, "descriptions", LocalizedText, allow_empty=False)
        if self.descriptions is None:
            raise _invalid("descriptions", "is required")
        _check_languages(self.descriptions, "descriptions")
        if self.nice_edition is not None and (
            not isinstance(self.nice_edition, str) or not _NICE_EDITION.fullmatch(self.nice_edition)
        ):
            raise _invalid("nice_edition", "must be edition-year, e.g. 12-2025")


@dataclass(frozen=True, slots=True)
class ImageFile:
    """An image file, identified by name and pinned by its SHA-256."""

    file_name: str
    """File name as filed (no directories)."""
    sha256: str
    """SHA-256 of the file's bytes, 0x + 64 lower-case hex digits."""

    def __post_init__(self) -> None:
        _check_text(self.file_name, "file_name", 255)
        if "/" in self.file_name or "\\" in self.file_name:
            raise _invalid("file_name", "must be a bare file name, without directories")
        _check_hash(self.sha256, "sha256")


@dataclass(frozen=True, slots=True)
class DesignView:
    """One view of a design's representation sheet."""

    view_number: int
    """Position of the view, 1 for the first."""
    file_name: str
    """File name of the view's image (no directories)."""
    sha256: str
    """SHA-256 of the image file's bytes, 0x + 64 lower-case hex digits."""
    title: str | None = None
    """What the view shows (``Front view``, ``Perspective``)."""

    def __post_init__(self) -> None:
        if type(self.view_number) is not int or self.view_number < 1:
            raise _invalid("view_number", "must be a positive integer")
        ImageFile(self.file_name, self.sha256)
        _check_optional_text(self.title, "title")


@dataclass(frozen=True, slots=True)
class RecordLink:
    """A link from this record to another record or to an outside number."""

    relation: str
    """Kind of link from the catalogue (``priority``, ``madrid-designation``, ``seniority`` ...)."""
    record_key: RecordKey | None = None
    """The linked record, at this or any other office."""
    external_number: str | None = None
    """The linked right's number when it has no record key here (exactly one of the two)."""
    link_date: date | None = None
    """The date the link refers to (priority date, designation date)."""

    def __post_init__(self) -> None:
        relation = self.relation
        if not isinstance(relation, str) or relation not in event_catalog().link_relations:
            raise _invalid("relation", f"{self.relation!r:.40} is not a known link relation")
        if (self.record_key is None) == (self.external_number is None):
            raise _invalid("record_key", "give exactly one of record_key and external_number")
        if self.record_key is not None and not isinstance(self.record_key, RecordKey):
            raise _invalid("record_key", "must be a RecordKey")
        _check_optional_text(self.external_number, "external_number", 100)
        _check_date(self.link_date, "link_date")


# --- record data -----------------------------------------------------------------------------


def _check_common(data: TrademarkData | DesignData) -> None:
    _check_items(data.applicants, "applicants", Party, allow_empty=False)
    _check_items(data.representatives, "representatives", Party, allow_empty=True)
    for name in ("application_date", "registration_date", "expiry_date"):
        _check_date(getattr(data, name), name)
    _check_optional_text(data.registration_number, "registration_number", 50)
    _check_optional_text(
        data.international_registration_number, "international_registration_number", 50
    )
    start = data.application_date
    if start is not None and data.registration_date is not None and data.registration_date < start:
        raise _invalid("registration_date", "is before the application date")
    if start is not None and data.expiry_date is not None and data.expiry_date <= start:
        raise _invalid("expiry_date", "is not after the application date")


_Data = TypeVar("_Data", "TrademarkData", "DesignData")


def _merged(current: _Data, update: RecordData) -> _Data:
    if type(update) is not type(current):
        raise _invalid("record_data", "mixes trademark and design data")
    changes = {
        field.name: getattr(update, field.name)
        for field in dataclasses.fields(update)
        if getattr(update, field.name) is not None
    }
    return dataclasses.replace(current, **changes)


@dataclass(frozen=True, slots=True)
class TrademarkData:
    """Trademark record data. Every field is optional: an event carries the fields it
    establishes (None: not established by it); a filing carries at least the minimum."""

    mark_verbal_element_text: str | None = None
    """The words of the mark."""
    mark_feature_category: str | None = None
    """Kind of mark (``Word``, ``Figurative``, ``Combined`` ...), see MARK_FEATURE_CATEGORIES."""
    mark_image: ImageFile | None = None
    """The mark's image, for marks with figurative elements."""
    vienna_codes: tuple[str, ...] | None = None
    """Vienna classification of the figurative elements (``26.04.04``)."""
    nice_classes: tuple[NiceClass, ...] | None = None
    """Goods and services, by Nice class in ascending order."""
    applicants: tuple[Party, ...] | None = None
    """Applicants, or holders once registered."""
    representatives: tuple[Party, ...] | None = None
    """Representatives; an empty tuple records that there is none any more."""
    application_date: date | None = None
    """Filing date."""
    registration_date: date | None = None
    """Date of registration."""
    registration_number: str | None = None
    """Registration number, when the office gives one different from the application's."""
    expiry_date: date | None = None
    """Date the current term of protection ends."""
    international_registration_number: str | None = None
    """Madrid international registration number, for marks with a Madrid link."""

    def __post_init__(self) -> None:
        _check_optional_text(self.mark_verbal_element_text, "mark_verbal_element_text")
        category = self.mark_feature_category
        if category is not None and category not in MARK_FEATURE_CATEGORIES:
            raise _invalid("mark_feature_category", f"{category!r:.40} is not an ST.96 category")
        if self.mark_image is not None and not isinstance(self.mark_image, ImageFile):
            raise _invalid("mark_image", "must be an ImageFile")
        for index, code in enumerate(
            _check_items(self.vienna_codes, "vienna_codes", str, allow_empty=True) or ()
        ):
            if not is_vienna_code(code):
                raise _invalid(f"vienna_codes[{index}]", f"{code!r:.20} is not a Vienna code")
        classes = _check_items(self.nice_classes, "nice_classes", NiceClass, allow_empty=False)
        numbers = [nice_class.class_number for nice_class in classes or ()]
        for index in range(1, len(numbers)):
            if numbers[index] <= numbers[index - 1]:
                raise _invalid(f"nice_classes[{index}].class_number", "classes must ascend")
        _check_common(self)

    def check_complete(self) -> None:
        """Raise unless the data is enough to start a record: a verbal element, or a
        feature category other than Word."""
        if self.mark_verbal_element_text is None and self.mark_feature_category in (None, "Word"):
            raise _invalid(
                "mark_verbal_element_text",
                "a new trademark record needs a verbal element or a non-word feature category",
            )

    def merged_with(self, update: RecordData) -> TrademarkData:
        """This data with every field ``update`` establishes replaced by its value (``update``
        must be trademark data too)."""
        return _merged(self, update)


@dataclass(frozen=True, slots=True)
class DesignData:
    """Industrial design record data (one design per record). Every field is optional: an
    event carries the fields it establishes; a filing carries at least the minimum."""

    locarno_classes: tuple[str, ...] | None = None
    """Locarno class and subclass of the products, ``CC-SS`` (``06-01``)."""
    product_indications: tuple[LocalizedText, ...] | None = None
    """The products the design is applied to, at most one text per language."""
    views: tuple[DesignView, ...] | None = None
    """The representation sheet, views numbered 1, 2, ... in order."""
    applicants: tuple[Party, ...] | None = None
    """Applicants, or holders once registered."""
    designers: tuple[Party, ...] | None = None
    """Designers; empty when they waived being named."""
    representatives: tuple[Party, ...] | None = None
    """Representatives; an empty tuple records that there is none any more."""
    application_date: date | None = None
    """Filing date."""
    registration_date: date | None = None
    """Date of registration."""
    registration_number: str | None = None
    """Registration number, when the office gives one different from the application's."""
    expiry_date: date | None = None
    """Date the current term of protection ends."""
    international_registration_number: str | None = None
    """Hague international registration number, for designs with a Hague link."""

    def __post_init__(self) -> None:
        for index, code in enumerate(
            _check_items(self.locarno_classes, "locarno_classes", str, allow_empty=False) or ()
        ):
            if not is_locarno_class(code):
                raise _invalid(f"locarno_classes[{index}]", f"{code!r:.20} is not Locarno CC-SS")
        indications = _check_items(
            self.product_indications, "product_indications", LocalizedText, allow_empty=False
        )
        _check_languages(indications or (), "product_indications")
        views = _check_items(self.views, "views", DesignView, allow_empty=False) or ()
        for index, view in enumerate(views):
            if view.view_number != index + 1:
                raise _invalid(f"views[{index}].view_number", f"must be {index + 1} (in order)")
        _check_items(self.designers, "designers", Party, allow_empty=True)
        _check_common(self)

    def check_complete(self) -> None:
        """Raise unless the data is enough to start a record: Locarno class and product."""
        if not self.locarno_classes:
            raise _invalid("locarno_classes", "a new design record needs a Locarno class")
        if not self.product_indications:
            raise _invalid("product_indications", "a new design record needs a product")

    def merged_with(self, update: RecordData) -> DesignData:
        """This data with every field ``update`` establishes replaced by its value (``update``
        must be design data too)."""
        return _merged(self, update)


RecordData = TrademarkData | DesignData
"""Record data of either IP type."""


# --- the register event ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterEvent:
    """One legal-status event on one record, as an office anchors it."""

    record_key: RecordKey
    """The record the event is about."""
    event_code: str
    """ST.61 (trademarks) or ST.87 (designs) key event code, e.g. ``A10``."""
    event_date: date
    """Date the event happened at the office."""
    record_data: RecordData | None = None
    """Record data the event establishes (full for a filing, partial for later events)."""
    links: tuple[RecordLink, ...] = ()
    """Links to other records (priority claims, designations, seniority ...)."""
    national_code: str | None = None
    """The office's own code for the event."""
    national_text: str | None = None
    """The office's own description of the event, in its language."""
    effective_date: date | None = None
    """Date the event takes legal effect, when it differs from the event date."""
    office_reference: str | None = None
    """The office's reference for the event (decision, request or journal number)."""

    def __post_init__(self) -> None:
        if not isinstance(self.record_key, RecordKey):
            raise InvalidRecordKeyError("record_key: must be a RecordKey", field="record_key")
        ip_type = self.record_key.ip_type
        code = event_code(self.event_code)
        if not code.applies_to(ip_type):
            raise _invalid("event_code", f"{code.code} does not apply to {ip_type.value} records")
        _check_date(self.event_date, "event_date")
        if self.event_date is None:
            raise _invalid("event_date", "is required")
        _check_date(self.effective_date, "effective_date")
        expected = TrademarkData if ip_type is IpType.TRADEMARK else DesignData
        if self.record_data is not None and not isinstance(self.record_data, expected):
            raise _invalid("record_data", f"a {ip_type.value} record needs {expected.__name__}")
        if code.requires_complete_data:
            if self.record_data is None:
                raise _invalid("record_data", f"{code.code} starts a record and needs its data")
            try:
                self.record_data.check_complete()
            except InvalidInputError as error:
                raise _relocated(error, "record_data") from None
        _check_items(self.links, "links", RecordLink, allow_empty=True)
        for index, link in enumerate(self.links):
            self._check_link(index, link)
        if self.national_code is not None and (
            not isinstance(self.national_code, str)
            or not _NATIONAL_CODE.fullmatch(self.national_code)
        ):
            raise _invalid("national_code", "must be 1-16 letters, digits, '.', '_' or '-'")
        _check_optional_text(self.national_text, "national_text")
        _check_optional_text(self.office_reference, "office_reference", 100)

    def _check_link(self, index: int, link: RecordLink) -> None:
        relation = event_catalog().link_relations[link.relation]
        ip_type = self.record_key.ip_type
        if ip_type not in relation.ip_types:
            raise _invalid(
                f"links[{index}].relation", f"{link.relation} does not apply to {ip_type.value}"
            )
        if link.record_key == self.record_key:
            raise _invalid(f"links[{index}].record_key", "a record cannot link to itself")
        if (
            link.record_key is not None
            and relation.same_ip_type
            and link.record_key.ip_type != ip_type
        ):
            raise _invalid(
                f"links[{index}].record_key", f"{link.relation} links need {ip_type.value}"
            )

    @property
    def code_info(self) -> EventCode:
        """The catalogue entry of the event code."""
        return event_code(self.event_code)

    def to_document(self) -> dict[str, Any]:
        """The JSON document that is canonicalised and anchored (plain JSON types only)."""
        document: dict[str, Any] = {"schema": SCHEMA}
        document.update(to_json(self))
        return document

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> RegisterEvent:
        """Read a register event document strictly; errors name the dotted field path."""
        if not isinstance(document, Mapping):
            raise _invalid("document", "must be a JSON object")
        if member(document, "schema", "", required=True) != SCHEMA:
            raise _invalid("schema", f"must be {SCHEMA!r}")
        key = read_record_key(member(document, "record_key", "", required=True), "record_key")
        # The record key says which kind of record data to expect.
        data_type = TrademarkData if key.ip_type is IpType.TRADEMARK else DesignData
        data = member(document, "record_data", "")
        try:
            record_data = None if data is ABSENT else read_object(data_type, data)
        except InvalidInputError as error:
            raise _relocated(error, "record_data") from None
        given = {"record_key": key, "record_data": record_data}
        event: RegisterEvent = read_object(cls, document, given, _EVENT_MEMBERS)
        return event


_EVENT_MEMBERS: Final = frozenset({"schema", *(f.name for f in dataclasses.fields(RegisterEvent))})
