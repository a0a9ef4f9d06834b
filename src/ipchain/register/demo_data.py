"""Deterministic, realistic demo register data for workshops, tests and benchmarks.

:func:`generate_demo_events` invents trademark and design records for a few offices and their
histories (filing, examination, publication, sometimes opposition, registration, renewals,
transfers, licences, refusals, withdrawals, expiries ...), in chronological order. The same
arguments always give the same events, byte for byte: everything comes from one seeded
``random.Random`` and a fixed "today" (``as_of``), never from the clock.

Every history is valid for the register state machine, application numbers follow each
office's format from the catalogue, and a few records link to other offices' records
(priority claims; Madrid and Hague designations when ``WO`` is among the offices). Design views
and mark images are synthetic PNG files (:func:`demo_image`) whose SHA-256 the data carries,
so a workshop can show a file matching, or not matching, what was anchored.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import random
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

from ipchain.register.catalog import IpType, OfficeCode, RecordKey, find_office
from ipchain.register.models import (
    DesignData,
    DesignView,
    ImageFile,
    LocalizedText,
    NiceClass,
    Party,
    RecordData,
    RecordLink,
    RegisterEvent,
    TrademarkData,
)

DEMO_SEED: Final = 59
"""Default seed (CWS Task 59)."""

DEMO_AS_OF: Final = date(2025, 6, 30)
"""Default "today" of the demo data: no event is dated later."""

FIRST_FILING: Final = date(2012, 1, 1)
"""Earliest filing date of a generated record."""

NICE_EDITION: Final = "12-2025"
"""Nice edition written on generated goods and services."""

# Goods and services per Nice class: English, German, French, Russian.
_GOODS: Final[dict[int, tuple[str, str, str, str]]] = {
    3: ("Cosmetics; perfumery; soaps", "Kosmetika; Parfümeriewaren; Seifen",
        "Cosmétiques; parfumerie; savons", "Косметика; парфюмерия; мыла"),
    5: ("Pharmaceutical preparations; dietary supplements",
        "Pharmazeutische Erzeugnisse; Nahrungsergänzungsmittel",
        "Produits pharmaceutiques; compléments alimentaires",
        "Фармацевтические препараты; биологически активные добавки"),
    9: ("Computer software; downloadable mobile applications; headphones",
        "Computersoftware; herunterladbare mobile Apps; Kopfhörer",
        "Logiciels; applications mobiles téléchargeables; casques d'écoute",
        "Программное обеспечение; загружаемые мобильные приложения; наушники"),
    12: ("Bicycles; electric vehicles; parts of vehicles",
         "Fahrräder; Elektrofahrzeuge; Fahrzeugteile",
         "Bicyclettes; véhicules électriques; pièces de véhicules",
         "Велосипеды; электромобили; части транспортных средств"),
    18: ("Handbags; travelling bags; umbrellas", "Handtaschen; Reisetaschen; Regenschirme",
         "Sacs à main; sacs de voyage; parapluies", "Сумки; дорожные сумки; зонты"),
    25: ("Clothing; footwear; headwear", "Bekleidungsstücke; Schuhwaren; Kopfbedeckungen",
         "Vêtements; chaussures; chapellerie", "Одежда; обувь; головные уборы"),
    28: ("Games; toys; sporting articles", "Spiele; Spielzeug; Sportartikel",
         "Jeux; jouets; articles de sport", "Игры; игрушки; спортивные товары"),
    30: ("Coffee; tea; cocoa; bread; pastries; confectionery",
         "Kaffee; Tee; Kakao; Brot; feine Backwaren; Süßwaren",
         "Café; thé; cacao; pain; pâtisseries; confiserie",
         "Кофе; чай; какао; хлеб; кондитерские изделия"),
    32: ("Beers; mineral waters; fruit juices", "Biere; Mineralwässer; Fruchtsäfte",
         "Bières; eaux minérales; jus de fruits", "Пиво; минеральные воды; фруктовые соки"),
    33: ("Wines; spirits", "Weine; Spirituosen", "Vins; spiritueux",
         "Вина; крепкие спиртные напитки"),
    35: ("Advertising; business management; retail services for clothing",
         "Werbung; Geschäftsführung; Einzelhandelsdienstleistungen mit Bekleidung",
         "Publicité; gestion des affaires commerciales; vente au détail de vêtements",
         "Реклама; управление бизнесом; розничная продажа одежды"),
    36: ("Insurance; financial services; real estate services",
         "Versicherungswesen; Finanzwesen; Immobilienwesen",
         "Assurances; services financiers; affaires immobilières",
         "Страхование; финансовая деятельность; операции с недвижимостью"),
    41: ("Education; providing of training; entertainment services",
         "Erziehung; Ausbildung; Unterhaltung", "Éducation; formation; divertissement",
         "Воспитание; обучение; организация досуга"),
    42: ("Software as a service [SaaS]; design and development of computer software",
         "Software as a Service [SaaS]; Entwurf und Entwicklung von Computersoftware",
         "Logiciel-service [SaaS]; conception et développement de logiciels",
         "Программное обеспечение как услуга [SaaS]; разработка программного обеспечения"),
    43: ("Restaurant services; hotel services", "Verpflegung von Gästen in Restaurants; Hotels",
         "Services de restaurants; services hôteliers", "Услуги ресторанов; услуги гостиниц"),
}  # fmt: skip
_SECTORS: Final = ((9, 42, 35), (25, 18, 35), (30, 43), (32, 33), (3, 5), (28, 41), (12,), (36,))
_LANGUAGES: Final = ("en", "de", "fr", "ru")

# Products per Locarno subclass, in the same four languages.
_PRODUCTS: Final[dict[str, tuple[str, str, str, str]]] = {
    "02-02": ("Garments", "Bekleidung", "Vêtements", "Одежда"),
    "02-04": ("Footwear", "Schuhwaren", "Chaussures", "Обувь"),
    "06-01": ("Chairs", "Stühle", "Chaises", "Стулья"),
    "06-03": ("Tables", "Tische", "Tables", "Столы"),
    "07-01": ("Plates", "Teller", "Assiettes", "Тарелки"),
    "09-01": ("Bottles", "Flaschen", "Bouteilles", "Бутылки"),
    "10-02": ("Wristwatches", "Armbanduhren", "Montres-bracelets", "Часы наручные"),
    "11-01": ("Jewellery", "Schmuck", "Bijoux", "Ювелирные изделия"),
    "12-08": ("Motor cars", "Kraftfahrzeuge", "Automobiles", "Автомобили"),
    "12-11": ("Bicycles", "Fahrräder", "Bicyclettes", "Велосипеды"),
    "14-03": ("Mobile phones", "Mobiltelefone", "Téléphones mobiles", "Мобильные телефоны"),
    "14-04": ("Graphical user interfaces", "Grafische Benutzeroberflächen",
              "Interfaces utilisateur graphiques", "Графические интерфейсы пользователя"),
    "21-01": ("Toys", "Spielzeug", "Jouets", "Игрушки"),
    "23-02": ("Taps", "Wasserhähne", "Robinets", "Смесители"),
    "26-05": ("Lamps", "Lampen", "Lampes", "Лампы"),
    "32-00": ("Logos", "Logos", "Logos", "Логотипы"),
}  # fmt: skip
_VIEW_TITLES: Final = ("Perspective", "Front view", "Rear view", "Left view", "Right view",
                       "Top view", "Bottom view")  # fmt: skip
_VIENNA: Final = ("01.01.01", "01.03.01", "03.01.08", "03.07.17", "05.03.13", "06.01.02",
                  "07.01.24", "24.01.03", "24.17.01", "25.01.15", "26.01.01", "26.01.16",
                  "26.04.04", "26.11.03", "27.05.01", "27.05.17", "29.01.12",
                  "29.01.13")  # fmt: skip

_SYLLABLES: Final = ("za", "ven", "lu", "mi", "ro", "ka", "tor", "bri", "so", "la", "nor",
                     "vi", "ex", "qui", "del", "ta", "mar", "zo", "fen", "ix", "ol", "tra",
                     "nu", "ber", "sil", "va", "on", "ar", "kel", "dia")  # fmt: skip
_CYRILLIC_SYLLABLES: Final = ("ва", "ле", "ро", "ми", "ка", "сла", "дар", "бор", "ни", "та",
                              "зор", "лу", "гра", "ве", "сто", "ян")  # fmt: skip
_BRAND_WORDS: Final = ("BREW", "LAB", "WEAR", "WORKS", "STUDIO", "NORTH", "PURE", "ONE")

# Per country: legal forms, cities, given names, family names.
_Names = tuple[str, ...]
_COUNTRIES: Final[dict[str, tuple[_Names, _Names, _Names, _Names]]] = {
    "DE": (("GmbH", "AG", "GmbH & Co. KG"), ("Berlin", "München", "Hamburg", "Köln"),
           ("Anna", "Lukas", "Marie", "Jonas"), ("Müller", "Schmidt", "Becker", "Vogt")),
    "FR": (("SAS", "SA", "SARL"), ("Paris", "Lyon", "Marseille", "Nantes"),
           ("Camille", "Louis", "Léa", "Hugo"), ("Martin", "Bernard", "Dubois", "Lefèvre")),
    "IT": (("S.r.l.", "S.p.A."), ("Milano", "Torino", "Firenze", "Bologna"),
           ("Giulia", "Marco", "Chiara", "Luca"), ("Rossi", "Bianchi", "Ricci", "Conti")),
    "ES": (("S.L.", "S.A."), ("Madrid", "Barcelona", "Valencia", "Sevilla"),
           ("Lucía", "Pablo", "Sofía", "Javier"), ("García", "López", "Martínez", "Ruiz")),
    "PL": (("sp. z o.o.", "S.A."), ("Warszawa", "Kraków", "Gdańsk"),
           ("Zofia", "Jakub", "Maja"), ("Nowak", "Kowalski", "Wiśniewska")),
    "SE": (("AB",), ("Stockholm", "Göteborg", "Malmö"), ("Elsa", "Oskar"), ("Lindqvist", "Berg")),
    "US": (("Inc.", "LLC", "Corp."), ("New York", "Austin", "Seattle", "Chicago"),
           ("Emily", "James", "Olivia", "Ethan"), ("Smith", "Johnson", "Carter", "Nguyen")),
    "CN": (("Co., Ltd.", "Technology Co., Ltd."), ("Shenzhen", "Hangzhou", "Shanghai"),
           ("Wei", "Jing", "Hao"), ("Wang", "Li", "Zhang", "Chen")),
    "GB": (("Ltd", "plc", "LLP"), ("London", "Manchester", "Bristol"),
           ("Amelia", "Oliver", "Isla"), ("Taylor", "Davies", "Evans")),
    "CH": (("AG", "SA"), ("Zürich", "Genève", "Basel"), ("Lea", "Noah"), ("Meier", "Favre")),
    "AU": (("Pty Ltd", "Limited"), ("Sydney", "Melbourne", "Brisbane", "Perth"),
           ("Charlotte", "Jack", "Mia", "William"), ("Wilson", "Brown", "O'Connor", "Walsh")),
    "NZ": (("Limited",), ("Auckland", "Wellington"), ("Aroha", "Liam"), ("Ngata", "Harris")),
    "JP": (("Co., Ltd.", "K.K."), ("Tokyo", "Osaka", "Kyoto"), ("Yui", "Haruto"),
           ("Sato", "Tanaka")),
    "RU": (("ООО", "АО"), ("Москва", "Санкт-Петербург", "Казань", "Новосибирск"),
           ("Анна", "Иван", "Мария", "Дмитрий"), ("Иванов", "Смирнова", "Кузнецов", "Попова")),
    "KZ": (("ТОО",), ("Алматы", "Астана"), ("Айгерим", "Нурлан"), ("Ахметов", "Сериккызы")),
    "MT": (("Ltd",), ("Valletta", "Sliema", "Birkirkara"), ("Maria", "Luke"),
           ("Borg", "Camilleri")),
}  # fmt: skip
_APPLICANT_COUNTRIES: Final = {
    "EM": ("DE", "DE", "FR", "IT", "ES", "PL", "SE", "US", "CN", "GB", "CH"),
    "AU": ("AU", "AU", "AU", "NZ", "US", "CN", "GB", "JP"),
    "RU": ("RU", "RU", "RU", "KZ", "CN", "DE", "US"),
    "WO": ("CN", "DE", "US", "FR", "CH", "JP", "IT"),
    "MT": ("MT", "MT", "GB", "IT"),
}
_OFFICE_LANGUAGE: Final = {"EM": "en", "AU": "en", "RU": "ru", "WO": "en", "MT": "en"}
# National texts some offices attach to their events, and IP Australia's short status codes.
_NATIONAL_TEXTS: Final[dict[str, dict[str, str]]] = {
    "EM": {"A10": "Application received", "Q10": "Application published",
           "E10": "Opposition pending", "F10": "Registered", "M10": "Registration renewed",
           "H10": "Registration expired", "B10": "Application withdrawn",
           "B20": "Application refused", "R10": "Transfer recorded",
           "L20": "Registration cancelled"},
    "AU": {"A10": "Filed", "D10": "Under examination", "D20": "Adverse report issued",
           "D30": "Accepted", "Q10": "Advertised", "E10": "Opposed",
           "F10": "Registered: Registered/Protected", "H10": "Removed - Not renewed",
           "B11": "Lapsed", "B20": "Refused", "M10": "Renewed"},
    "RU": {"A10": "Подана заявка", "D10": "Начата экспертиза",
           "D20": "Направлено уведомление о результатах проверки",
           "F10": "Зарегистрирован", "Q11": "Опубликованы сведения о регистрации",
           "M10": "Продлён срок действия", "H10": "Прекращено действие (не продлён)",
           "R10": "Зарегистрировано отчуждение исключительного права",
           "S10": "Зарегистрировано предоставление права использования",
           "B20": "Принято решение об отказе", "B10": "Заявка отозвана"},
}  # fmt: skip
_AU_NATIONAL_CODES: Final = {"A10": "FIL", "D10": "EXM", "D20": "ADV-RPT", "D30": "ACC",
                             "Q10": "ADV", "E10": "OPP", "F10": "REG", "H10": "REM",
                             "B11": "LAP", "B20": "REF", "M10": "REN"}  # fmt: skip
# Offices taking part in the Madrid (trademarks) and Hague (designs) systems, among those above.
_MADRID_MEMBERS: Final = frozenset(
    "EM AU RU US CN JP KR GB CH SG NZ IN MX BR CA DE FR ES IT BX".split()  # noqa: SIM905
)
_HAGUE_MEMBERS: Final = frozenset("EM RU US JP KR GB CH SG MX CA".split())  # noqa: SIM905

_TM, _DS = IpType.TRADEMARK, IpType.DESIGN
# Per office and IP type: the number of the n-th filing of a year (given the year and the
# years since 2012), and how many filings a year the format holds.
_Numbering = tuple[Callable[[int, int, int], str], int]
_NUMBERING: Final[dict[tuple[str, IpType], _Numbering]] = {
    ("EM", _TM): (lambda year, since, n: f"{10_500_000 + since * 700_000 + n:09d}", 700_000),
    ("EM", _DS): (lambda year, since, n: f"{1_950_000 + since * 1_050_000 + n:09d}0001", 1_050_000),
    ("AU", _TM): (lambda year, since, n: f"{1_480_000 + since * 75_000 + n}", 75_000),
    ("AU", _DS): (lambda year, since, n: f"{year}{10_000 + n:05d}", 90_000),
    ("RU", _TM): (lambda year, since, n: f"{year}7{n:05d}", 100_000),
    ("RU", _DS): (lambda year, since, n: f"{year}50{n:04d}", 10_000),
    ("WO", _TM): (lambda year, since, n: f"{1_110_000 + since * 65_000 + n}", 65_000),
    ("WO", _DS): (lambda year, since, n: f"DM{78_000 + since * 13_000 + n:06d}", 13_000),
    ("MT", _TM): (lambda year, since, n: f"{48_000 + since * 1_200 + n}", 1_200),
    ("MT", _DS): (lambda year, since, n: f"{100 + since * 60 + n}", 60),
}


def generate_demo_events(
    offices: Sequence[str] = ("EM", "AU", "RU"),
    records_per_office: int = 100,
    seed: int = DEMO_SEED,
    *,
    as_of: date = DEMO_AS_OF,
) -> list[RegisterEvent]:
    """Demo events for about ``records_per_office`` records at each office, oldest first.

    Events of one day keep the order of their record's history, so replaying the list in
    order replays every record's history in order.
    """
    generator = _Generator(random.Random(seed), as_of)
    # WIPO goes first so that designated offices can link to its international registrations.
    for office in sorted(dict.fromkeys(offices), key=lambda code: code != "WO"):
        generator.generate_office(OfficeCode(office), records_per_office)
    events = [event for record in generator.records for event in record.events]
    return sorted(events, key=lambda event: event.event_date)


def demo_image(name: str) -> bytes:
    """The synthetic 16 x 16 PNG the demo data calls ``name`` (``EM/DS/0123456780001#view1``,
    ``EM/TM/018123456#mark``); generated views and mark images carry its SHA-256. Stored
    uncompressed, so the bytes never depend on the zlib version."""
    seed = hashlib.sha256(name.encode("utf-8")).digest()
    ink, paper = seed[0:3], seed[3:6]
    # Diagonal stripes: row y is row 0 shifted, so five distinct rows make the picture.
    distinct = [
        b"\x00" + b"".join(ink if (x + shift) % 5 < 2 else paper for x in range(16))
        for shift in range(5)
    ]
    rows = b"".join(distinct[(y + seed[6]) % 5] for y in range(16))
    # A zlib stream holding one stored (uncompressed, final) deflate block.
    stream = (
        b"\x78\x01\x01"
        + struct.pack("<HH", len(rows), len(rows) ^ 0xFFFF)
        + rows
        + struct.pack(">I", zlib.adler32(rows))
    )
    header = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", stream)
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _image_hash(name: str) -> str:
    return "0x" + hashlib.sha256(demo_image(name)).hexdigest()


# --- generation ------------------------------------------------------------------------------


@dataclass
class _Record:
    """A record being generated: its key, data so far, events, and the date reached."""

    key: RecordKey
    filing: date
    data: RecordData
    day: date
    events: list[RegisterEvent] = field(default_factory=list)
    open: bool = True
    registered_on: date | None = None


@dataclass
class _Pool:
    """One office's records of one IP type in filing order, to pick link targets from in
    logarithmic time (the generator also serves benchmarks with millions of events)."""

    filings: list[date] = field(default_factory=list)
    records: list[_Record] = field(default_factory=list)

    def between(self, rng: random.Random, start: date, end: date) -> _Record | None:
        """A random record filed from ``start`` to ``end`` (inclusive), if there is one."""
        low = bisect.bisect_left(self.filings, start)
        high = bisect.bisect_right(self.filings, end)
        return self.records[rng.randrange(low, high)] if high > low else None


class _Generator:
    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.as_of = as_of
        self.records: list[_Record] = []
        self.pools: dict[tuple[str, IpType], _Pool] = {}
        self.numbers: set[tuple[str, str]] = set()
        self.serials: dict[tuple[str, IpType, int], int] = {}
        self.expected_per_year: dict[tuple[str, IpType], int] = {}
        self.registration_serials = {IpType.TRADEMARK: 460_000, IpType.DESIGN: 80_000}

    # --- records of one office ---

    def generate_office(self, office: OfficeCode, count: int) -> None:
        rng = self.rng
        span = (self.as_of - timedelta(days=20) - FIRST_FILING).days
        filings = sorted(FIRST_FILING + timedelta(days=rng.randrange(span)) for _ in range(count))
        years = span / 365.25
        self.expected_per_year[(office, IpType.TRADEMARK)] = int(count * 0.7 / years) + 1
        self.expected_per_year[(office, IpType.DESIGN)] = int(count * 0.3 / years) + 1
        design_file: tuple[str, int, date] | None = None  # EUIPO multiple design application
        for filing in filings:
            ip_type = IpType.TRADEMARK if rng.random() < 0.7 else IpType.DESIGN
            relation, source = self.pick_link_source(office, ip_type, filing)
            if relation in ("madrid-designation", "hague-designation"):
                assert source is not None
                self.generate_designation(office, relation, source)
                continue
            if office == "EM" and ip_type is IpType.DESIGN:
                if design_file and rng.random() < 0.3:
                    # Another design of the same multiple application: same file, same date.
                    file_number, index, filing = design_file
                    design_file = (file_number, index + 1, filing)
                    number = f"{file_number}{index + 1:04d}"
                    self.numbers.add((office, number))
                else:
                    number = self.application_number(office, ip_type, filing)
                    design_file = (number[:9], 1, filing)
            else:
                number = self.application_number(office, ip_type, filing)
            key = RecordKey(office, ip_type, number)
            links: tuple[RecordLink, ...] = ()
            if source is None:
                new_data = self.new_trademark if ip_type is IpType.TRADEMARK else self.new_design
                data = new_data(key)
            else:
                data = self.copy_data(key, source, international_number=None)
                # A design joining an earlier multiple application takes the file's date, which
                # may fall outside the priority period of the source picked for it: no claim.
                if source.filing < filing <= source.filing + timedelta(days=180):
                    links = (RecordLink("priority", source.key, link_date=source.filing),)
            record = self.start(key, filing, "A10", data, links=links)
            if record is not None:
                pool = self.pools.setdefault((office, ip_type), _Pool())
                pool.filings.append(filing)
                pool.records.append(record)

    def pick_link_source(
        self, office: str, ip_type: IpType, filing: date
    ) -> tuple[str | None, _Record | None]:
        """Now and then, an earlier record of another office that this one designates (an
        international registration) or claims priority from (filed 1 to 6 months earlier)."""
        rng = self.rng
        members = _MADRID_MEMBERS if ip_type is IpType.TRADEMARK else _HAGUE_MEMBERS
        international = self.pools.get(("WO", ip_type))
        if international and office in members and rng.random() < 0.08:
            registration = rng.choice(international.records)
            if registration.registered_on is not None:
                relation = (
                    "madrid-designation" if ip_type is IpType.TRADEMARK else "hague-designation"
                )
                return relation, registration
        others = [
            pool
            for (pool_office, pool_type), pool in self.pools.items()
            if pool_type is ip_type and pool_office not in (office, "WO")
        ]
        if others and rng.random() < 0.12:
            window = (filing - timedelta(days=180), filing - timedelta(days=30))
            earlier = rng.choice(others).between(rng, *window)
            if earlier is not None:
                return "priority", earlier
        return None, None

    def generate_designation(self, office: str, relation: str, source: _Record) -> None:
        """This office's part of a WIPO international registration, under the IR number
        (EUIPO writes W + the number for trademarks)."""
        ir_number = source.key.application_number
        number = (
            f"W{ir_number:0>8}"
            if office == "EM" and relation == "madrid-designation"
            else ir_number
        )
        if (office, number) in self.numbers:
            return
        self.numbers.add((office, number))
        key = RecordKey(OfficeCode(office), source.key.ip_type, number)
        assert source.registered_on is not None
        data = self.copy_data(key, source, international_number=ir_number)
        link = RecordLink(relation, source.key, link_date=source.registered_on)
        notified = source.registered_on + timedelta(days=self.rng.randint(10, 60))
        self.start(key, source.registered_on, "A12", data, links=(link,), on=notified)

    def application_number(self, office: str, ip_type: IpType, filing: date) -> str:
        """The office's next number of the filing year: numbers grow with the filing date,
        by random gaps sized so that a year's filings fit the office's format."""
        year = filing.year
        numbering = _NUMBERING.get((office, ip_type)) or self.generic_numbering(office, ip_type)
        format_number, capacity = numbering
        expected = self.expected_per_year.get((office, ip_type), 1)
        gap = max(1, capacity // (2 * expected + 1))
        serial = self.serials.get((office, ip_type, year), -1) + self.rng.randint(1, gap)
        self.serials[(office, ip_type, year)] = serial
        number = format_number(year, year - FIRST_FILING.year, serial)
        if serial >= capacity or (office, number) in self.numbers:
            number = f"{year}{serial:06d}"  # the format is full: fall back to year and serial
        self.numbers.add((office, number))
        return number

    def generic_numbering(self, office: str, ip_type: IpType) -> _Numbering:
        """Numbers shaped like the office's catalogue example: its year replaced by the filing
        year and its serial (but the leading series digit) by the count of filings."""
        info = find_office(office)
        number_format = None if info is None else info.number_formats.get(ip_type)
        if number_format is None:
            return (lambda year, since, n: f"{year}{n:06d}"), 1_000_000
        pattern, example = number_format.pattern, number_format.example
        match = pattern.fullmatch(example)
        assert match is not None
        serial_end = match.end("serial")
        width = serial_end - match.start("serial") - 1
        year_span = match.span("year") if "year" in pattern.groupindex else None
        # Without a year in the number, each year of filings takes its own slice of serials.
        per_year = 10**width if year_span else 10**width // 14

        def number(year: int, since: int, n: int) -> str:
            characters = list(example)
            serial = n if year_span else since * per_year + n
            characters[serial_end - width : serial_end] = f"{serial:0{width}d}"
            if year_span:
                characters[year_span[0] : year_span[1]] = str(year)
            candidate = "".join(characters)
            return candidate if pattern.fullmatch(candidate) else f"{year}{n:06d}"

        return number, per_year

    # --- histories ---

    def start(
        self,
        key: RecordKey,
        filing: date,
        code: str,
        data: RecordData,
        *,
        links: tuple[RecordLink, ...] = (),
        on: date | None = None,
    ) -> _Record | None:
        """File a record and generate its history; None when it would be filed after as_of."""
        data = dataclasses.replace(data, application_date=filing)
        record = _Record(key, filing, data, day=filing)
        if not self.add(record, code, on or filing, data, links=links):
            return None
        self.records.append(record)
        if self.rng.random() < 0.5:
            self.add(record, "U10", self.later(record, 0, 3))
        designation = code == "A12"
        if key.office == "WO":
            self.international_history(record)
        elif key.ip_type is IpType.TRADEMARK:
            self.trademark_history(record, designation=designation)
        else:
            self.design_history(record, designation=designation)
        return record

    def trademark_history(self, record: _Record, *, designation: bool) -> None:
        rng, office = self.rng, record.key.office
        if rng.random() < 0.04:
            self.add(record, rng.choice(("B10", "B11")), self.later(record, 10, 150))
            return
        self.add(record, "D10", self.later(record, 5, 40))
        if rng.random() < 0.25:
            self.add(record, "D20", self.later(record, 20, 90))
            if rng.random() < 0.3:
                self.add(record, "B20", self.later(record, 60, 200))
                if rng.random() < 0.4:
                    appeal = f"R {rng.randrange(100, 2999)}/{record.day.year}"
                    self.add(record, "V10", self.later(record, 20, 60), reference=appeal)
                    self.add(record, "V20", self.later(record, 120, 360))
                return
            self.add(record, "D21", self.later(record, 20, 60))
        if office in ("AU", "MT") or (office != "RU" and rng.random() < 0.5):
            self.add(record, "D30", self.later(record, 10, 60))
        if office != "RU":  # Rospatent publishes trademarks only once registered
            self.add(record, "Q10", self.later(record, 10, 60))
            if rng.random() < 0.1 and not self.opposition(record):
                return
        self.register(record, "F20" if designation else "F10", term_years=10)
        if office == "RU":
            self.add(record, "Q11", self.later(record, 10, 40))
        self.maintain(record, term_years=10, max_years=None)

    def opposition(self, record: _Record) -> bool:
        """An opposition against the published application; False when it refuses it."""
        rng = self.rng
        pools = [pool for (_, ip_type), pool in self.pools.items() if ip_type is IpType.TRADEMARK]
        before = record.filing - timedelta(days=1)
        earlier = rng.choice(pools).between(rng, FIRST_FILING, before) if pools else None
        links = () if earlier is None else (RecordLink("earlier-right", earlier.key),)
        reference = f"B {rng.randrange(2_000_000, 3_300_000)}"
        self.add(record, "E10", self.later(record, 20, 85), links=links, reference=reference)
        outcome = rng.choices(("E20", "E21", "E22", "E23"), (55, 25, 10, 10))[0]
        self.add(record, outcome, self.later(record, 150, 500))
        return outcome != "E21"

    def design_history(self, record: _Record, *, designation: bool) -> None:
        rng, office = self.rng, record.key.office
        deferred = office == "EM" and not designation and rng.random() < 0.1
        if deferred:
            self.add(record, "Q12", record.day)
        if office == "RU" or designation:
            self.add(record, "D10", self.later(record, 20, 90))
            if rng.random() < 0.2:
                self.add(record, "D20", self.later(record, 30, 120))
                if rng.random() < 0.25:
                    self.add(record, "B20", self.later(record, 60, 180))
                    return
                self.add(record, "D21", self.later(record, 20, 60))
        elif rng.random() < 0.03:
            self.add(record, "B10", self.later(record, 5, 40))
            return
        self.register(record, "F20" if designation else "F10", term_years=5)
        self.add(record, "Q11", self.later(record, *((880, 920) if deferred else (5, 40))))
        self.maintain(record, term_years=5, max_years=10 if office == "AU" else 25)

    def international_history(self, record: _Record) -> None:
        """WIPO's international registrations: registered on filing, then published."""
        term = 10 if record.key.ip_type is IpType.TRADEMARK else 5
        self.register(record, "F10", term_years=term)
        self.add(record, "Q11", self.later(record, 7, 45))
        self.maintain(record, term_years=term, max_years=None)

    def register(self, record: _Record, code: str, *, term_years: int) -> None:
        key = record.key
        international = key.office == "WO"
        when = self.later(record, 0, 2) if international else self.later(record, 20, 130)
        number = None
        if key.office == "RU":
            self.registration_serials[key.ip_type] += self.rng.randint(30, 120)
            number = str(self.registration_serials[key.ip_type])
        # A Community design and an international registration are registered as of their
        # filing date; other rights as of the decision.
        as_of_filing = key.office == "WO" or (key.office == "EM" and key.ip_type is IpType.DESIGN)
        registered = record.filing if as_of_filing else when
        data = self.update(
            record,
            registration_date=registered,
            registration_number=number,
            expiry_date=_add_years(record.filing, term_years),
        )
        if self.add(record, code, when, data):
            record.registered_on = registered

    def maintain(self, record: _Record, *, term_years: int, max_years: int | None) -> None:
        """Life after registration: transfers, licences, disputes, renewals or expiry."""
        rng = self.rng
        expiry = _add_years(record.filing, term_years)
        while record.open:
            while record.open and record.day < expiry - timedelta(days=300):
                roll = rng.random()
                if roll < 0.04:
                    holder = (self.party(record.key.office),)
                    self.add(
                        record,
                        "R10",
                        self.later(record, 30, 200),
                        self.update(record, applicants=holder),
                    )
                elif roll < 0.07:
                    self.add(record, "S10", self.later(record, 30, 200))
                elif roll < 0.09:
                    agent = (self.representative(record.key.office),)
                    self.add(
                        record,
                        "R30",
                        self.later(record, 30, 200),
                        self.update(record, representatives=agent),
                    )
                elif roll < 0.10:
                    reference = f"C {rng.randrange(10_000, 70_000)}"
                    self.add(record, "L10", self.later(record, 30, 200), reference=reference)
                    outcome = rng.choices(("L21", "L20", "L23"), (55, 35, 10))[0]
                    self.add(record, outcome, self.later(record, 120, 400))
                    if outcome == "L20":
                        return
                elif roll < 0.105:
                    self.add(record, "H20", self.later(record, 30, 200))
                    return
                else:
                    record.day += timedelta(days=365)  # a quiet year
            at_limit = max_years is not None and expiry >= _add_years(record.filing, max_years)
            if at_limit or rng.random() > 0.75:
                # Not renewed: removed once the six-month grace period has passed.
                self.add(record, "H10", expiry + timedelta(days=rng.randint(183, 200)))
                return
            renewed_on = max(record.day, expiry - timedelta(days=rng.randint(0, 180)))
            expiry = _add_years(expiry, term_years)
            self.add(record, "M10", renewed_on, self.update(record, expiry_date=expiry))

    def later(self, record: _Record, low: int, high: int) -> date:
        """A date ``low`` to ``high`` days after the record's last event."""
        return record.day + timedelta(days=self.rng.randint(low, high))

    def update(self, record: _Record, **fields: object) -> RecordData:
        """Partial record data of the record's type."""
        data_type = TrademarkData if record.key.ip_type is IpType.TRADEMARK else DesignData
        return data_type(**fields)  # type: ignore[arg-type]

    def add(
        self,
        record: _Record,
        code: str,
        when: date,
        data: RecordData | None = None,
        *,
        links: tuple[RecordLink, ...] = (),
        reference: str | None = None,
    ) -> bool:
        """Append an event on ``when``, unless that is after ``as_of``: then the history stops
        there (every prefix of a valid history is valid)."""
        if not record.open or when > self.as_of:
            record.open = False
            return False
        office = record.key.office
        national_text = _NATIONAL_TEXTS.get(office, {}).get(code)
        record.events.append(
            RegisterEvent(
                record_key=record.key,
                event_code=code,
                event_date=when,
                record_data=data,
                links=links,
                national_code=_AU_NATIONAL_CODES.get(code) if office == "AU" else None,
                national_text=national_text,
                office_reference=reference,
            )
        )
        record.day = when
        return True

    # --- record data ---

    def new_trademark(self, key: RecordKey) -> TrademarkData:
        rng = self.rng
        category = rng.choices(
            ("Word", "Combined", "Figurative", "Three dimensional", "Colour"), (50, 30, 14, 4, 2)
        )[0]
        has_words = category in ("Word", "Combined") or rng.random() < 0.4
        pictured = category != "Word"
        sector = rng.choice(_SECTORS)
        return TrademarkData(
            mark_verbal_element_text=self.brand(key.office) if has_words else None,
            mark_feature_category=category,
            mark_image=self.mark_image(key) if pictured else None,
            vienna_codes=tuple(sorted(rng.sample(_VIENNA, rng.randint(1, 3))))
            if pictured
            else None,
            nice_classes=self.nice_classes(
                key.office, rng.sample(sector, rng.randint(1, len(sector)))
            ),
            applicants=(self.party(key.office),),
            representatives=(self.representative(key.office),) if rng.random() < 0.7 else None,
        )

    def new_design(self, key: RecordKey) -> DesignData:
        rng = self.rng
        locarno = rng.choice(sorted(_PRODUCTS))
        applicant = self.party(key.office)
        return DesignData(
            locarno_classes=(locarno,),
            product_indications=self.products(key.office, locarno),
            views=self.views(key, rng.randint(1, 7)),
            applicants=(applicant,),
            designers=tuple(self.person(applicant.country_code) for _ in range(rng.randint(0, 2))),
            representatives=(self.representative(key.office),) if rng.random() < 0.6 else None,
        )

    def copy_data(
        self, key: RecordKey, source: _Record, *, international_number: str | None
    ) -> RecordData:
        """The source record's mark or design as filed here (priority) or designated here."""
        base = source.data
        agent = (self.representative(key.office),)
        if isinstance(base, TrademarkData):
            numbers = [nice_class.class_number for nice_class in base.nice_classes or ()]
            return dataclasses.replace(
                base,
                nice_classes=self.nice_classes(key.office, numbers),
                mark_image=self.mark_image(key) if base.mark_image else None,
                representatives=agent,
                international_registration_number=international_number,
            )
        assert isinstance(base, DesignData)
        locarno = (base.locarno_classes or ("32-00",))[0]
        return dataclasses.replace(
            base,
            product_indications=self.products(key.office, locarno),
            views=self.views(key, len(base.views or ()) or 1),
            representatives=agent,
            international_registration_number=international_number,
        )

    def mark_image(self, key: RecordKey) -> ImageFile:
        return ImageFile(f"{key.application_number}-mark.png", _image_hash(f"{key}#mark"))

    def views(self, key: RecordKey, count: int) -> tuple[DesignView, ...]:
        return tuple(
            DesignView(
                number,
                f"{key.application_number}-{number}.png",
                _image_hash(f"{key}#view{number}"),
                _VIEW_TITLES[number - 1],
            )
            for number in range(1, count + 1)
        )

    def languages(self, office: str) -> list[str]:
        """The office's language, and sometimes a second one (EUIPO's second language)."""
        first = _OFFICE_LANGUAGE.get(office, "en")
        second = {"EM": ("de", "fr"), "WO": ("fr",), "RU": ("en",)}.get(office, ())
        return [first, self.rng.choice(second)] if second and self.rng.random() < 0.5 else [first]

    def nice_classes(self, office: str, numbers: Sequence[int]) -> tuple[NiceClass, ...]:
        languages = self.languages(office)
        return tuple(
            NiceClass(
                number,
                tuple(
                    LocalizedText(lang, _GOODS[number][_LANGUAGES.index(lang)])
                    for lang in languages
                ),
                NICE_EDITION,
            )
            for number in sorted(numbers)
        )

    def products(self, office: str, locarno: str) -> tuple[LocalizedText, ...]:
        names = _PRODUCTS.get(locarno, _PRODUCTS["32-00"])
        return tuple(
            LocalizedText(lang, names[_LANGUAGES.index(lang)]) for lang in self.languages(office)
        )

    # --- names ---

    def brand(self, office: str) -> str:
        """An invented brand: two or three syllables, sometimes with a generic word."""
        rng = self.rng
        if office == "RU" and rng.random() < 0.4:
            return "".join(
                rng.choice(_CYRILLIC_SYLLABLES) for _ in range(rng.randint(2, 3))
            ).capitalize()
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        if rng.random() < 0.25:
            return f"{word.upper()} {rng.choice(_BRAND_WORDS)}"
        return word.upper() if rng.random() < 0.5 else word

    def party(self, office: str) -> Party:
        """An applicant: mostly companies with a local legal form, some natural persons."""
        rng = self.rng
        country = rng.choice(_APPLICANT_COUNTRIES.get(office, ("US", "DE", "GB", "FR")))
        if rng.random() < 0.1:
            return self.person(country, with_address=True)
        forms, cities, _, _ = _COUNTRIES[country]
        cyrillic = country in ("RU", "KZ")
        brand = self.brand("RU" if cyrillic else "EM").title()
        form = rng.choice(forms)
        if cyrillic:
            name = f"{form} «{brand}»"
            street = rng.choice(("ул. Ленина", "ул. Садовая", "пр. Мира"))
            address = f"{street}, д. {rng.randint(1, 90)}, {rng.choice(cities)}"
        else:
            kind = rng.choice(("Holding", "Group", "Industries", "Trading", ""))
            name = " ".join(part for part in (brand, kind, form) if part)
            street = rng.choice(("Main Street", "Harbour Road", "Park Avenue", "Station Road"))
            address = f"{rng.randint(1, 180)} {street}, {rng.choice(cities)}"
        identifier = f"{office}-{rng.randrange(100_000, 999_999)}" if rng.random() < 0.5 else None
        return Party(name, country, address=address, identifier=identifier)

    def person(self, country: str, *, with_address: bool = False) -> Party:
        rng = self.rng
        _, cities, given, family = _COUNTRIES[country]
        name = f"{rng.choice(given)} {rng.choice(family)}"
        return Party(name, country, address=rng.choice(cities) if with_address else None)

    def representative(self, office: str) -> Party:
        rng = self.rng
        local = {"AU": "AU", "RU": "RU", "MT": "MT"}
        country = local.get(office) or rng.choice(("DE", "FR", "IT", "ES", "CH"))
        _, cities, _, family = _COUNTRIES[country]
        if country == "RU":
            name = f"ООО «Патентное бюро «{rng.choice(family)} и партнёры»"
        else:
            first, second = rng.sample(family, 2)
            name = f"{first} & {second} IP"
        identifier = f"R{rng.randrange(1000, 99999)}"
        return Party(name, country, address=rng.choice(cities), identifier=identifier)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
