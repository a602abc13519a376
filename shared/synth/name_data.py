"""Word lists for synthetic company and person names, per country (data only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CountryNames:
    """Name parts of one country."""

    stems: tuple[str, ...]
    trades: tuple[str, ...]
    towns: tuple[str, ...]
    legal: tuple[str, ...]  # legal forms, most frequent first (picked with falling weights)
    trade_first: bool = False  # "Mécanique Lefèvre SARL" rather than "Lefèvre Mécanique SARL"


# fmt: off
_DE_TRADES = (
    "Maschinenbau", "Metallbau", "Logistik", "Elektrotechnik", "Holzverarbeitung", "Feinmechanik",
    "Verpackungen", "Antriebstechnik", "Kunststofftechnik", "Sanitärtechnik", "Großhandel",
    "Gerätebau", "Präzisionsteile", "Stahlhandel", "Werkzeugbau", "Fördertechnik",
)

COUNTRIES: dict[str, CountryNames] = {
    "DE": CountryNames(
        ("Müller", "Schäfer", "Köhler", "Bäcker", "Weiß", "Hoffmann", "Schröder", "Krüger", "Böhm",
         "Fuchs", "Lang", "Wolf", "Günther", "Zimmermann", "Braun", "Schulze", "Hahn", "Vogel",
         "Jäger", "Löwe", "Öztürk", "Schütz", "Kühn", "Möller", "Groß", "Wähner", "Dörr", "Seidel"),
        _DE_TRADES,
        ("Ulm", "Köln", "Essen", "Fürth", "Gießen", "Lübeck", "Würzburg", "Mainz", "Kassel", "Jena",
         "Bielefeld", "Düren", "Göppingen", "Lüneburg", "Passau", "Trier", "Zwickau", "Siegen"),
        ("GmbH", "AG", "KG", "GmbH & Co. KG", "e.K.", "OHG"),
    ),
    "AT": CountryNames(
        ("Gruber", "Huber", "Pichler", "Moser", "Steiner", "Mayr", "Hofer", "Leitner", "Wallner",
         "Eder", "Schwaiger", "Höller", "Brandstätter", "Pölzl"),
        _DE_TRADES,
        ("Graz", "Linz", "Wels", "Villach", "Dornbirn", "Leoben", "Krems", "Steyr"),
        ("GmbH", "AG", "KG", "OG"),
    ),
    "CH": CountryNames(
        ("Zürcher", "Baumann", "Brunner", "Gerber", "Keller", "Frei", "Meier", "Moser", "Steiner",
         "Bühler", "Schnyder", "Lüthi", "Räber", "Rüegg"),
        ("Präzision", "Uhrenteile", "Medizintechnik", "Werkzeugbau", "Automation", "Lebensmittel",
         "Messtechnik", "Stanztechnik", "Holzbau"),
        ("Bern", "Basel", "Luzern", "Thun", "Biel", "Winterthur", "Zug", "Aarau", "Chur", "Sion"),
        ("AG", "GmbH", "SA", "Sàrl"),
    ),
    "NL": CountryNames(
        ("Van Dijk", "De Vries", "Bakker", "Jansen", "Visser", "Smit", "Meijer", "De Boer", "Mulder",
         "Van den Berg", "Dekker", "Van Leeuwen", "Brouwer", "Hendriks", "Van der Veen"),
        ("Transport", "Installatietechniek", "Bouw", "Handelsonderneming", "Logistiek", "Techniek",
         "Kunststoffen", "Metaalwerken", "Groothandel"),
        ("Utrecht", "Zwolle", "Tilburg", "Breda", "Delft", "Leiden", "Almere", "Venlo", "Assen"),
        ("B.V.", "N.V.", "V.O.F."),
    ),
    "BE": CountryNames(
        ("Peeters", "Janssens", "Maes", "Claes", "Dupont", "Lambert", "Wouters", "Goossens",
         "Vermeulen", "Desmet"),
        ("Logistics", "Construct", "Chemie", "Industrie", "Services", "Techniek", "Distribution"),
        ("Gent", "Leuven", "Namur", "Liège", "Brugge", "Mechelen", "Hasselt"),
        ("BV", "NV", "SRL", "SA"),
    ),
    "FR": CountryNames(
        ("Lefèvre", "Bérénger", "Dubois", "Girard", "Mercier", "Rousseau", "Fournier", "Gérard",
         "Barbé", "Lemaître", "Bézier", "Chéreau", "Faucon", "Périer"),
        ("Électronique", "Mécanique", "Matériaux", "Équipements", "Génie Climatique", "Transports",
         "Bâtiment", "Outillage", "Emballages"),
        ("Lyon", "Nîmes", "Orléans", "Besançon", "Angers", "Reims", "Périgueux", "Rouen", "Metz"),
        ("SARL", "SA", "SAS"),
        trade_first=True,
    ),
    "ES": CountryNames(
        ("García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Fernández", "Muñoz", "Ibáñez"),
        ("Industrias", "Suministros", "Construcciones", "Transportes", "Componentes", "Aceros"),
        ("Sevilla", "Málaga", "Córdoba", "Zaragoza", "Valencia", "León", "Cádiz"),
        ("S.L.", "S.A."),
        trade_first=True,
    ),
    "IT": CountryNames(
        ("Rossi", "Bianchi", "Ferrari", "Esposito", "Colombo", "Ricci", "Marino", "Greco", "Bruno",
         "Gallo", "Fontana", "Conti"),
        ("Meccanica", "Componenti", "Forniture", "Impianti", "Tessile", "Alimentari", "Plastica"),
        ("Torino", "Bergamo", "Brescia", "Modena", "Padova", "Verona", "Forlì"),
        ("S.r.l.", "S.p.A."),
        trade_first=True,
    ),
    "PL": CountryNames(
        ("Kowalski", "Nowak", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński",
         "Szymański", "Dąbrowski"),
        ("Przemysł", "Handel", "Technika", "Logistyka", "Budownictwo", "Metalurgia"),
        ("Łódź", "Poznań", "Kraków", "Gdańsk", "Wrocław", "Toruń"),
        ("Sp. z o.o.", "S.A.", "Sp.j."),
    ),
    "GB": CountryNames(
        ("Hartley", "Whitmore", "Ashford", "Pembroke", "Kingsley", "Thornton", "Blackwood",
         "Harrington", "Fairfax", "Aldridge", "Ellesmere", "Carrington", "Wexford", "Lockwood"),
        ("Engineering", "Logistics", "Components", "Supplies", "Systems", "Industries", "Plastics",
         "Foods", "Fabrications", "Electrical"),
        ("Leeds", "Derby", "Bristol", "Norwich", "Exeter", "Preston", "Swindon", "Reading", "York"),
        ("Ltd", "Limited", "PLC", "LLP"),
    ),
    "US": CountryNames(
        ("Lincoln", "Franklin", "Redwood", "Summit", "Lakeside", "Pioneer", "Liberty", "Keystone",
         "Granite", "Atlas", "Harbor", "Prairie", "Evergreen"),
        ("Manufacturing", "Supply", "Technologies", "Industrial", "Distribution", "Controls",
         "Machine Works", "Packaging"),
        ("Dayton", "Tulsa", "Omaha", "Boise", "Akron", "Fresno", "Spokane", "Toledo"),
        ("Inc.", "LLC", "Corp.", "Co."),
    ),
}

# Written-out and abbreviated spellings of one legal form, as payers mix them.
LEGAL_ALIASES: dict[str, tuple[str, ...]] = {
    "GmbH": ("G.m.b.H.", "Gmbh", "GMBH"),
    "Ltd": ("Limited", "Ltd.", "LTD"),
    "Limited": ("Ltd", "Ltd.", "LTD"),
    "B.V.": ("BV", "B.V"),
    "Sp. z o.o.": ("Sp.z o.o.", "SP Z OO", "Spolka z o.o."),
    "Inc.": ("Inc", "Incorporated", "INC"),
    "S.r.l.": ("SRL", "Srl"),
    "S.p.A.": ("SpA", "SPA"),
    "S.L.": ("SL", "S.L"),
    "AG": ("A.G.", "Aktiengesellschaft"),
    "SARL": ("S.A.R.L.", "Sarl"),
    "PLC": ("plc", "P.L.C."),
}

FIRST_NAMES = {
    "DE": ("Hans", "Anna", "Jürgen", "Sabine", "Klaus", "Monika", "Stefan", "Jörg", "Björn"),
    "NL": ("Pieter", "Sanne", "Jeroen", "Femke", "Maarten", "Eva"),
    "GB": ("John", "Emma", "Oliver", "Sophie", "James", "Charlotte"),
    "FR": ("Amélie", "Jérôme", "Hélène", "François", "Céline"),
}
LAST_NAMES = {
    "DE": ("Weber", "Schmidt", "Fischer", "Becker", "Schneider", "Wagner", "Krause", "Lehmann"),
    "NL": ("de Jong", "van der Meer", "Kok", "Bos", "Vos", "Peters"),
    "GB": ("Smith", "Jones", "Taylor", "Brown", "Walker", "Wright"),
    "FR": ("Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard"),
}

FACTORING_PAYERS = (
    "Euro Factoring Services GmbH", "Nordic Trade Finance AB", "Atlantic Receivables Ltd",
    "Crédit Affacturage SA", "Zahlungsverkehr Treuhand AG",
)
TAX_PAYERS = (
    ("Finanzamt München", "Erstattung USt {year} StNr 143/{n3}/{n5}"),
    ("Finanzamt Frankfurt am Main", "Finanzamt Erstattung Koerperschaftsteuer {year}"),
    ("HMRC VAT", "HMRC VAT REPAYMENT PERIOD {mm}/{year}"),
    ("Belastingdienst", "TERUGGAAF BTW {year} KWARTAAL {q}"),
)
GROUP_COMPANIES = (
    "Cashrecon Holding GmbH", "Cashrecon Services B.V.", "Cashrecon Schweiz AG", "Cashrecon UK Ltd",
)
SUPPLIERS = (
    "Stadtwerke Neustadt", "Bürobedarf Sommer GmbH", "Telekom Deutschland GmbH", "AOK Bayern",
    "Gehaltszahlung", "Immobilien Verwaltung Krämer KG", "DHL Paket GmbH", "Amazon Business EU",
)
# fmt: on
