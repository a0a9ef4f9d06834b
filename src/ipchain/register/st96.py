"""WIPO ST.96 XML out and in (issue 12): a record as ``tmk:Trademark`` or ``dgn:Design``, and
an office's ST.96 register file as the register events that make those records.

The elements are a subset of ST.96 (modelled on version 7.0), declared in ipchain's own XSDs
(``data/st96/``: the official ones were not reachable when this was written); docs/st96.md
lists each element with the ST.96 component it mirrors. Incoming XML is parsed without DTDs,
entities or network access and each record is validated against the subset schema before it
is read, so an unknown element, a wrong namespace or a truncated file is an
:class:`~ipchain.errors.InvalidInputError` naming the element and its line.

A record's status has no ST.96 event history here, so an imported record is written as the
shortest history that leads to it (:data:`STATUS_EVENTS`): its filing (with all its data),
then the registration (with the registration data) when it was registered, then the event that
set its current status, dated with ``MarkCurrentStatusDate``. Export reads the same things
back, so import → anchor → export gives the same XML.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import IO, Any, Final

from lxml import etree

from ipchain.errors import InvalidInputError
from ipchain.register.catalog import RecordKey, event_catalog
from ipchain.register.models import SCHEMA
from ipchain.register.queries import EventView, LinkView, RecordView, RegisterQueries

COM: Final = "http://www.wipo.int/standards/XMLSchema/ST96/Common"
TMK: Final = "http://www.wipo.int/standards/XMLSchema/ST96/Trademark"
DGN: Final = "http://www.wipo.int/standards/XMLSchema/ST96/Design"
_NSMAP: Final = {"com": COM, "tmk": TMK, "dgn": DGN}

STATUS_EVENTS: Final[Mapping[str, tuple[str, ...]]] = {
    "filed": (),
    "examination": ("D10",),
    "published": ("Q10",),
    "opposed": ("Q10", "E10"),
    "refused": ("B20",),
    "withdrawn": ("B10",),
    "registered": ("F10",),
    "under-review": ("F10", "L10"),
    "expired": ("F10", "H10"),
    "surrendered": ("F10", "H20"),
    "invalidated": ("F10", "L10", "L20"),
    "terminated": ("N10",),
}
"""The events after the filing that lead an imported record to its status."""


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


@cache
def _schema(kind: str) -> etree.XMLSchema:
    path = resources.files("ipchain") / "data" / "st96" / f"{kind}.xsd"
    with resources.as_file(path) as file:
        return etree.XMLSchema(etree.parse(str(file)))


# --- export -----------------------------------------------------------------------------------


def _text(parent: etree._Element, namespace: str, name: str, value: object) -> etree._Element:
    element = etree.SubElement(parent, _q(namespace, name))
    element.text = str(value)
    return element


def _parties(parent: etree._Element, namespace: str, bag: str, item: str, parties: object) -> None:
    listed = [p for p in parties if isinstance(p, dict)] if isinstance(parties, list) else []
    if not listed:
        return
    holder = etree.SubElement(parent, _q(namespace, bag))
    for party in listed:
        element = etree.SubElement(holder, _q(namespace, item))
        if party.get("identifier"):
            _text(element, COM, "PartyIdentifier", party["identifier"])
        _text(element, COM, "NationalityCode", party.get("country_code", ""))
        contact = etree.SubElement(element, _q(COM, "Contact"))
        name = etree.SubElement(contact, _q(COM, "Name"))
        _text(name, COM, "EntityName", party.get("name", ""))
        if party.get("address"):
            address = etree.SubElement(
                etree.SubElement(contact, _q(COM, "PostalAddressBag")), _q(COM, "PostalAddress")
            )
            _text(address, COM, "PostalAddressText", party["address"])


def _status_date(history: Sequence[EventView]) -> datetime.date | None:
    catalogue = event_catalog().codes
    for event in reversed(history):
        code = catalogue.get(event.event_code)
        if code is not None and (code.sets_status is not None or code.requires_complete_data):
            return event.event_date
    return None


def record_element(
    record: RecordView, history: Sequence[EventView], links: Sequence[LinkView]
) -> etree._Element:
    """``record`` as a ``tmk:Trademark`` or ``dgn:Design`` element (its current data, status,
    and the priorities its events claim)."""
    trademark = record.ip_type == "TM"
    ns = TMK if trademark else DGN
    data = record.data
    root = etree.Element(_q(ns, "Trademark" if trademark else "Design"), nsmap=_NSMAP)
    _text(root, COM, "RegistrationOfficeCode", record.office)
    number = etree.SubElement(root, _q(COM, "ApplicationNumber"))
    _text(number, COM, "ApplicationNumberText", record.application_number)
    _text(root, COM, "FilingDate", record.filing_date or "")
    if data.get("registration_number"):
        _text(root, COM, "RegistrationNumber", data["registration_number"])
    if record.registration_date is not None:
        _text(root, COM, "RegistrationDate", record.registration_date)
    if record.expiry_date is not None:
        _text(root, COM, "ExpiryDate", record.expiry_date)
    prefix = "Mark" if trademark else "Design"
    _text(root, ns, f"{prefix}CurrentStatusCode", record.status or "filed")
    status_date = _status_date(history)
    if status_date is not None:
        _text(root, ns, f"{prefix}CurrentStatusDate", status_date)
    if trademark:
        _mark(root, data)
    else:
        _design(root, data)
    _parties(root, ns, "ApplicantBag", "Applicant", data.get("applicants"))
    if not trademark:
        _parties(root, ns, "DesignerBag", "Designer", data.get("designers"))
    _parties(root, ns, "RepresentativeBag", "Representative", data.get("representatives"))
    priorities = [link for link in links if link.direction == "outgoing"]
    priorities = [link for link in priorities if link.relation == "priority" and link.link_date]
    if priorities:
        bag = etree.SubElement(root, _q(ns, "PriorityClaimBag"))
        for link in priorities:
            claim = etree.SubElement(bag, _q(COM, "PriorityClaim"))
            if link.record_key is not None:
                key = RecordKey.parse(link.record_key)
                country, claimed = str(key.office), key.application_number
            else:
                country, _, claimed = (link.external_number or "").partition(" ")
            _text(claim, COM, "PriorityCountryCode", country)
            _text(claim, COM, "PriorityNumber", claimed)
            _text(claim, COM, "PriorityDate", link.link_date)
    return root


def _mark(root: etree._Element, data: Mapping[str, Any]) -> None:
    text, category = data.get("mark_verbal_element_text"), data.get("mark_feature_category")
    codes = data.get("vienna_codes")
    if text or category or codes:
        representation = etree.SubElement(root, _q(TMK, "MarkRepresentation"))
        if category:
            _text(representation, TMK, "MarkFeatureCategory", category)
        if text:
            reproduction = etree.SubElement(representation, _q(TMK, "MarkReproduction"))
            word = etree.SubElement(reproduction, _q(TMK, "WordMarkSpecification"))
            _text(word, TMK, "MarkVerbalElementText", text)
        if isinstance(codes, list) and codes:
            image = etree.SubElement(
                etree.SubElement(representation, _q(TMK, "MarkImageBag")), _q(TMK, "MarkImage")
            )
            bag = etree.SubElement(
                etree.SubElement(image, _q(TMK, "MarkImageCategory")), _q(TMK, "CategoryCodeBag")
            )
            for code in codes:
                _text(bag, TMK, "CategoryCode", code)
    classes = data.get("nice_classes")
    if isinstance(classes, list) and classes:
        goods = etree.SubElement(
            etree.SubElement(root, _q(TMK, "GoodsServicesBag")), _q(TMK, "GoodsServices")
        )
        bag = etree.SubElement(goods, _q(TMK, "ClassDescriptionBag"))
        for item in classes:
            description = etree.SubElement(bag, _q(TMK, "ClassDescription"))
            _text(description, TMK, "ClassNumber", item["class_number"])
            for text_item in item.get("descriptions", []):
                element = _text(description, TMK, "GoodsServicesDescriptionText", text_item["text"])
                element.set(_q(COM, "languageCode"), text_item["language_code"])


def _design(root: etree._Element, data: Mapping[str, Any]) -> None:
    classes = data.get("locarno_classes")
    if isinstance(classes, list) and classes:
        bag = etree.SubElement(root, _q(DGN, "LocarnoClassificationBag"))
        for code in classes:
            classification = etree.SubElement(bag, _q(DGN, "LocarnoClassification"))
            _text(classification, DGN, "LocarnoClassNumber", code)
    indications = data.get("product_indications")
    if isinstance(indications, list) and indications:
        bag = etree.SubElement(root, _q(DGN, "IndicationProductBag"))
        for item in indications:
            element = _text(bag, DGN, "IndicationProductText", item["text"])
            element.set(_q(COM, "languageCode"), item["language_code"])


def export_records(elements: Sequence[etree._Element], ip_type: str) -> bytes:
    """A ``tmk:TrademarkBag`` or ``dgn:DesignBag`` of record elements, as UTF-8 XML, valid
    under the subset schema (checked: an export ipchain cannot read back is a bug)."""
    trademark = ip_type == "TM"
    bag = etree.Element(
        _q(TMK, "TrademarkBag") if trademark else _q(DGN, "DesignBag"), nsmap=_NSMAP
    )
    bag.extend(elements)
    _schema("Trademark" if trademark else "Design").assertValid(bag)
    return bytes(etree.tostring(bag, xml_declaration=True, encoding="UTF-8", pretty_print=True))


# --- import -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportedRecord:
    """One record of an ST.96 file, as the register events that make it."""

    record_key: str
    """The record."""
    documents: tuple[dict[str, Any], ...]
    """Its events as register event documents, oldest first."""
    line: int
    """Line of its element in the file."""


def read_st96(source: str | IO[bytes]) -> Iterator[ImportedRecord]:
    """The records of an ST.96 register file (a ``tmk:TrademarkBag`` or ``dgn:DesignBag``),
    one at a time, streamed; :class:`InvalidInputError` naming the element and line for the
    first record that is not valid."""
    wanted = (_q(TMK, "Trademark"), _q(DGN, "Design"))
    parser = etree.iterparse(
        source,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    try:
        root_seen = False
        for event, element in parser:
            if event == "start" and not root_seen:
                root_seen = True
                if element.tag not in (_q(TMK, "TrademarkBag"), _q(DGN, "DesignBag")):
                    raise InvalidInputError(
                        f"line {element.sourceline}: the root element is {element.tag}, not "
                        f"tmk:TrademarkBag or dgn:DesignBag (namespaces {TMK}, {DGN})",
                        field="/",
                    )
                continue
            if event != "end" or element.tag not in wanted:
                continue
            kind = "Trademark" if element.tag == wanted[0] else "Design"
            schema = _schema(kind)
            try:
                valid = schema.validate(element)
            except etree.XMLSchemaValidateError:  # e.g. an entity reference left unexpanded
                raise InvalidInputError(
                    f"line {element.sourceline}: {kind} holds what the schema cannot read "
                    "(entity references are not expanded)",
                    field=kind,
                ) from None
            if not valid:
                error = schema.error_log.last_error
                raise InvalidInputError(
                    f"line {error.line}: {error.message}", field=error.path or kind
                )
            yield _record(element, kind)
            element.clear(keep_tail=True)
    except etree.XMLSyntaxError as error:
        raise InvalidInputError(f"not well-formed XML: {error}", field="/") from None


def _find(element: etree._Element, path: str) -> str | None:
    found = element.find(path, _NSMAP)
    return None if found is None or found.text is None else found.text.strip()


def _parties_of(element: etree._Element, path: str) -> list[dict[str, Any]]:
    parties = []
    for party in element.findall(path, _NSMAP):
        item: dict[str, Any] = {
            "name": _find(party, "com:Contact/com:Name/com:EntityName"),
            "country_code": _find(party, "com:NationalityCode"),
        }
        address = _find(
            party, "com:Contact/com:PostalAddressBag/com:PostalAddress/com:PostalAddressText"
        )
        if address:
            item["address"] = address
        identifier = _find(party, "com:PartyIdentifier")
        if identifier:
            item["identifier"] = identifier
        parties.append(item)
    return parties


def _record(element: etree._Element, kind: str) -> ImportedRecord:
    trademark = kind == "Trademark"
    ns, ip_type = ("tmk", "TM") if trademark else ("dgn", "DS")
    office = _find(element, "com:RegistrationOfficeCode") or ""
    number = _find(element, "com:ApplicationNumber/com:ApplicationNumberText") or ""
    try:
        key = str(RecordKey.parse(f"{office}/{ip_type}/{number}"))
    except InvalidInputError as error:
        raise InvalidInputError(
            f"line {element.sourceline}: {error}", field=f"{ns}:{kind}/com:ApplicationNumber"
        ) from None
    filed = _find(element, "com:FilingDate") or ""
    prefix = "Mark" if trademark else "Design"
    status = _find(element, f"{ns}:{prefix}CurrentStatusCode") or "filed"
    status_date = _find(element, f"{ns}:{prefix}CurrentStatusDate") or filed
    data: dict[str, Any] = {"application_date": filed}
    if trademark:
        text = _find(
            element,
            "tmk:MarkRepresentation/tmk:MarkReproduction/tmk:WordMarkSpecification/tmk:MarkVerbalElementText",
        )
        category = _find(element, "tmk:MarkRepresentation/tmk:MarkFeatureCategory")
        if text:
            data["mark_verbal_element_text"] = text
        if category:
            data["mark_feature_category"] = category
        codes = [
            code.text.strip()
            for code in element.findall(
                "tmk:MarkRepresentation/tmk:MarkImageBag/tmk:MarkImage/tmk:MarkImageCategory/"
                "tmk:CategoryCodeBag/tmk:CategoryCode",
                _NSMAP,
            )
            if code.text
        ]
        if codes:
            data["vienna_codes"] = codes
        classes = []
        for description in element.findall(
            "tmk:GoodsServicesBag/tmk:GoodsServices/tmk:ClassDescriptionBag/tmk:ClassDescription",
            _NSMAP,
        ):
            classes.append(
                {
                    "class_number": int(_find(description, "tmk:ClassNumber") or 0),
                    "descriptions": [
                        {
                            "language_code": text_element.get(_q(COM, "languageCode")),
                            "text": text_element.text or "",
                        }
                        for text_element in description.findall(
                            "tmk:GoodsServicesDescriptionText", _NSMAP
                        )
                    ],
                }
            )
        if classes:
            data["nice_classes"] = classes
    else:
        locarno = [
            code.text.strip()
            for code in element.findall(
                "dgn:LocarnoClassificationBag/dgn:LocarnoClassification/dgn:LocarnoClassNumber",
                _NSMAP,
            )
            if code.text
        ]
        if locarno:
            data["locarno_classes"] = locarno
        indications = [
            {"language_code": item.get(_q(COM, "languageCode")), "text": item.text or ""}
            for item in element.findall(
                "dgn:IndicationProductBag/dgn:IndicationProductText", _NSMAP
            )
        ]
        if indications:
            data["product_indications"] = indications
        designers = _parties_of(element, "dgn:DesignerBag/dgn:Designer")
        if designers:
            data["designers"] = designers
    data["applicants"] = _parties_of(element, f"{ns}:ApplicantBag/{ns}:Applicant")
    representatives = _parties_of(element, f"{ns}:RepresentativeBag/{ns}:Representative")
    if representatives:
        data["representatives"] = representatives
    links = []
    for claim in element.findall(f"{ns}:PriorityClaimBag/com:PriorityClaim", _NSMAP):
        country = _find(claim, "com:PriorityCountryCode") or ""
        claimed = _find(claim, "com:PriorityNumber") or ""
        link: dict[str, Any] = {
            "relation": "priority",
            "link_date": _find(claim, "com:PriorityDate"),
        }
        try:
            link["record_key"] = str(RecordKey.parse(f"{country}/{ip_type}/{claimed}"))
        except InvalidInputError:
            link["external_number"] = f"{country} {claimed}"
        links.append(link)
    filing: dict[str, Any] = {
        "schema": SCHEMA,
        "record_key": key,
        "event_code": "A10",
        "event_date": filed,
        "record_data": data,
    }
    if links:
        filing["links"] = links
    documents = [filing]
    registration = {
        name: value
        for name, value in (
            ("registration_number", _find(element, "com:RegistrationNumber")),
            ("registration_date", _find(element, "com:RegistrationDate")),
            ("expiry_date", _find(element, "com:ExpiryDate")),
        )
        if value
    }
    for code in STATUS_EVENTS[status]:
        event: dict[str, Any] = {"schema": SCHEMA, "record_key": key, "event_code": code}
        if code == "F10":
            # Registered now: the registration set the status, on the status date; later
            # statuses have their own date, and the registration is dated by its data.
            last = STATUS_EVENTS[status][-1] == "F10"
            event["event_date"] = (
                status_date if last else registration.get("registration_date", status_date)
            )
            if registration:
                event["record_data"] = registration
        else:
            event["event_date"] = status_date
        documents.append(event)
    if not STATUS_EVENTS[status] and registration:
        documents[0]["record_data"].update(registration)
    return ImportedRecord(key, tuple(documents), element.sourceline or 0)


def export_record(queries: RegisterQueries, record_key: str) -> bytes:
    """One record of the index as an ST.96 bag of one, UTF-8 XML;
    :class:`~ipchain.errors.NotFoundError` when the index has no event of it."""
    record = queries.get_record(record_key)
    element = record_element(
        record, queries.record_events(record_key), queries.record_links(record_key)
    )
    return export_records([element], record.ip_type)


__all__ = [
    "COM",
    "DGN",
    "STATUS_EVENTS",
    "TMK",
    "ImportedRecord",
    "export_record",
    "export_records",
    "read_st96",
    "record_element",
]
