"""German topic rules with the real feeds/topics.toml: folding, compounds, phrases, hierarchical
categories and exclusions — hits, near misses and vetoes, each with the rule that matched."""

from __future__ import annotations

import pytest

from syndicate.topics.rules import SOURCE_RULE, explain

H = "it-sicherheit"
D = "digitalisierung"
K = "klimaschutz"
M = "mobilitaet"
B = "buergerservice"

CASES = [
    # IT-Sicherheit: compounds, hyphens, inflection, case and umlaut spellings
    ("Cyberangriff auf die Stadtverwaltung", "", [], {H: "keyword:Cyberangriff*"}),
    ("", "Nach dem Cyber-Angriff waren die Server verschlüsselt.", [], {H: "keyword:Cyberangriff*"}),
    ("", "Die Zahl der Cyberangriffe auf Kommunen steigt.", [], {H: "keyword:Cyberangriff*"}),
    ("Neuer Beauftragter für Informationssicherheit", "", [], {H: "keyword:Informationssicherheit"}),
    ("", "Die Informationssicherheitsbeauftragte stellt ihren Bericht vor.", [], {H: "keyword:Informationssicherheit"}),
    ("", "Das IT-Sicherheitsgesetz gilt auch für Kommunen.", [], {H: "keyword:IT-Sicherheit"}),
    ("", "Schulung zur Phishing-Erkennung für alle Beschäftigten.", [], {H: "keyword:Phishing"}),
    ("Anti-Phishing-Kampagne gestartet", "", [], {H: "keyword:Phishing"}),
    ("", "Spear-Phishing gegen Mitarbeiter des Rathauses.", [], {H: "keyword:Phishing"}),
    ("Phishingmails im Umlauf", "", [], {H: "keyword:Phishing"}),
    ("", "Das LSI warnt vor neuer Erpressungssoftware.", [], {H: "keyword:Erpressungssoftware"}),
    ("", "SICHERHEITSLÜCKE IN ROUTERN ENTDECKT", [], {H: "keyword:Sicherheitslücke*"}),
    ("", "Sicherheitsluecke in Routern entdeckt", [], {H: "keyword:Sicherheitslücke*"}),
    ("", "Eine BSI-Warnung betrifft gängige Browser.", [], {H: "keyword:BSI"}),
    ("", "Die Schwachstellenanalyse der Server ist abgeschlossen.", [], {H: "keyword:Schwachstelle*"}),
    ("Sicherheitshinweis: Update für Browser", "", [], {H: "keyword:Sicherheitshinweis*"}),
    # IT-Sicherheit: near misses and exclusions
    ("Das BSIS-Projekt startet", "", [], {}),
    ("", "Ein CERTifikat für die Schule", [], {}),
    ("", "Konzert der Stadtkapelle", [], {}),
    ("Sicherheitshinweise zum Silvesterfeuerwerk", "", [], {}),
    ("", "Schwachstellen im Deich werden saniert.", [], {}),
    ("", "Mehr Verkehrssicherheit vor Schulen", [], {}),
    # Digitalisierung
    ("", "Die digitalen Verwaltungsleistungen werden ausgebaut.", [], {D: "keyword:digitale Verwaltung"}),
    ("", "Die E-Akte kommt ins Rathaus.", [], {D: "keyword:E-Akte"}),
    ("", "Glasfaserausbau in Kornburg beginnt.", [], {D: "keyword:Glasfaser*"}),
    ("", "Förderung für den Breitbandausbau", [], {D: "keyword:Breitband*"}),
    ("", "Ein Pilotprojekt mit künstlicher Intelligenz", [], {D: "keyword:künstliche Intelligenz"}),
    ("", "Die KI-gestützte Auskunft startet.", [], {D: "keyword:KI-gestützt*"}),
    ("", "Das neue Open-Data-Portal der Stadt", [], {D: "keyword:Open Data"}),
    ("", "Anmeldung mit der BayernID", [], {D: "keyword:BayernID"}),
    ("", "Die Umsetzung des OZG verzögert sich.", [], {D: "keyword:OZG"}),
    ("", "Alle Onlinedienste des Rathauses", [], {D: "keyword:Online-Dienst*"}),
    ("", "Eine Ablageakte im Keller", [], {}),
    ("", "Das Kabel liegt im Opendata-Ordner", [], {}),
    # Klimaschutz
    ("Stadt wird klimaneutral bis 2040", "", [], {K: "keyword:klimaneutral*"}),
    ("", "Das Klimaschutzkonzept wurde beschlossen.", [], {K: "keyword:Klimaschutz*"}),
    ("", "Zuschuss für Wärmepumpen in Altbauten", [], {K: "keyword:Wärmepumpe*"}),
    ("", "Neue Großwärmepumpe am Klärwerk", [], {K: "keyword:Wärmepumpe*"}),
    ("", "Ausbau der Fernwärme in Giesing", [], {K: "keyword:Fernwärme"}),
    ("", "Eine Photovoltaikanlage auf dem Schuldach", [], {K: "keyword:Photovoltaik*"}),
    ("", "Die CO2-Bilanz der Stadt", [], {K: "keyword:CO2"}),
    ("", "Kommunale Waermeplanung beginnt", [], {K: "keyword:Wärmeplanung"}),
    ("Rohrbruch: Fernwärme in Schwabing ausgefallen", "", [], {}),
    ("", "Die Klimaanlage im Rathaus ist defekt.", [], {}),
    # Mobilität
    ("", "Neue Tram nach Kornburg", [], {M: "keyword:Tram"}),
    ("", "Die Trams fahren wieder.", [], {M: "keyword:Tram"}),
    ("", "Kinder springen auf dem Trampolin.", [], {}),
    ("", "Der Fahrradweg an der Isar wird verbreitert.", [], {M: "keyword:Radweg*"}),
    ("", "Mehr Platz für den Radverkehr", [], {M: "keyword:Radverkehr"}),
    ("", "Die Straßenbahnlinie 4 fährt ab Montag.", [], {M: "keyword:Straßenbahn*"}),
    ("", "STRASSENBAHN FÄLLT AUS", [], {M: "keyword:Straßenbahn*"}),
    ("", "Das ÖPNV-Angebot wird ausgebaut.", [], {M: "keyword:ÖPNV"}),
    ("", "Der OEPNV in der Region", [], {M: "keyword:ÖPNV"}),
    ("", "200 neue Ladesäulen für Elektroautos", [], {M: "keyword:Ladesäule*"}),
    ("", "Neuer Park & Ride-Platz am Stadtrand", [], {M: "keyword:Park & Ride"}),
    ("", "Die S-Bahn-Stammstrecke wird gesperrt.", [], {M: "keyword:S-Bahn*"}),
    ("", "Umbau des Busbahnhofs", [], {}),
    ("", "Tag der offenen Tür im Straßenbahnmuseum", [], {}),
    # Bürgerservice
    ("", "Neue Öffnungszeiten im Bürgerbüro", [], {B: "keyword:Bürgerbüro*"}),
    ("", "Das Buergerbuero hat wieder geöffnet.", [], {B: "keyword:Bürgerbüro*"}),
    ("", "Reisepässe und Personalausweise beantragen", [], {B: "keyword:Personalausweis*"}),
    ("", "Ein Termin beim Standesamt", [], {B: "keyword:Standesamt"}),
    ("", "Wo kann ich einen Antrag stellen?", [], {B: "keyword:Antrag stellen"}),
    ("", "Sie können den Antrag online stellen.", [], {}),
    ("Neue Öffnungszeiten im Freibad", "", [], {}),
    ("", "Öffnungszeiten des Christkindlesmarkts", [], {}),
    # categories: folded, hierarchical; exclusions veto them too
    ("", "", ["Themen > Digitales > IT-Sicherheit"], {H: "category:IT-Sicherheit", D: "category:Digitales"}),
    ("", "", ["Themen > Sicherheit > IT"], {}),
    ("", "", ["oepnv"], {M: "category:ÖPNV"}),
    ("", "", ["MOBILITÄT"], {M: "category:Mobilität"}),
    ("", "", ["Umwelt » Klima"], {K: "category:Klima"}),
    ("", "", ["Rathaus/Bürgerservice"], {B: "category:Bürgerservice"}),
    ("", "", ["Klimaanlagen"], {}),
    ("Biergarten am Rathaus öffnet", "", ["Verwaltung"], {}),
]


def found(rules, title="", text="", categories=(), defaults=()) -> dict[str, str]:
    by_id = {r.id: r.slug for r in rules}
    matches = explain(rules, categories=list(categories), title=title, text=text, defaults=list(defaults))
    return {by_id[k]: f"{m.reason}:{m.rule}" for k, m in matches.items()}


@pytest.mark.parametrize("title, text, categories, expected", CASES, ids=[f"{i:02d}" for i in range(len(CASES))])
def test_german_topic_table(rules, title, text, categories, expected):
    assert found(rules, title, text, categories) == expected


def test_table_is_large_and_has_every_kind():
    assert len(CASES) >= 50
    assert sum(1 for *_, expected in CASES if not expected) >= 15  # near misses and exclusions
    assert {slug for *_, expected in CASES for slug in expected} == {H, D, K, M, B}


def test_source_default_is_not_vetoed(rules):
    assert found(rules, title="Das Freibad öffnet", defaults=[B]) == {B: f"source:{SOURCE_RULE}"}
