"""Hand-written German municipal press texts for the labelled deduplication set.

Data only; ``bench/dedupe_labelled.py`` turns them into republications, edits, GUID changes
and recurring formats. Every story here is a different story from every other one, also
where two of them share a subject (``sibling`` notes) or background sentences (``follow-up``).
"""

# slug: (name, short name, host, footer)
SOURCES = {
    "muenchen": (
        "Landeshauptstadt München",
        "München",
        "stadt.muenchen.de",
        "Presse- und Informationsamt der Landeshauptstadt München, Marienplatz 8, 80331 München.",
    ),
    "augsburg": (
        "Stadt Augsburg",
        "Augsburg",
        "www.augsburg.de",
        "Kontakt für Medien: Kommunikationsbüro der Stadt Augsburg, Rathausplatz 1, 86150 Augsburg.",
    ),
    "nuernberg": (
        "Stadt Nürnberg",
        "Nürnberg",
        "www.nuernberg.de",
        "Amt für Kommunikation und Stadtmarketing der Stadt Nürnberg, Hauptmarkt 18, 90403 Nürnberg.",
    ),
    "regensburg": (
        "Stadt Regensburg",
        "Regensburg",
        "www.regensburg.de",
        "Pressestelle der Stadt Regensburg, Rathausplatz 1, 93047 Regensburg.",
    ),
    "fuerth": ("Stadt Fürth", "Fürth", "www.fuerth.de", "Bürgermeister- und Presseamt der Stadt Fürth, Königstraße 88, 90762 Fürth."),
    "erlangen": (
        "Stadt Erlangen",
        "Erlangen",
        "www.erlangen.de",
        "Referat für Kommunikation der Stadt Erlangen, Rathausplatz 1, 91052 Erlangen.",
    ),
    "ingolstadt": (
        "Stadt Ingolstadt",
        "Ingolstadt",
        "www.ingolstadt.de",
        "Presseamt der Stadt Ingolstadt, Rathausplatz 2, 85049 Ingolstadt.",
    ),
    "wuerzburg": (
        "Stadt Würzburg",
        "Würzburg",
        "www.wuerzburg.de",
        "Fachbereich Kommunikation der Stadt Würzburg, Rückermainhof, 97070 Würzburg.",
    ),
    "akdb": ("AKDB", "AKDB", "www.akdb.de", "Die AKDB ist der IT-Dienstleister der bayerischen Kommunen mit Sitz in München."),
    "lsi": (
        "Landesamt für Sicherheit in der Informationstechnik",
        "LSI",
        "www.lsi.bayern.de",
        "Das LSI berät Behörden und Kommunen in Bayern zur Informationssicherheit.",
    ),
    "staedtetag": (
        "Bayerischer Städtetag",
        "Städtetag",
        "www.bay-staedtetag.de",
        "Der Bayerische Städtetag vertritt die Interessen der kreisfreien und kreisangehörigen Städte.",
    ),
}

# Leads a republishing city puts in front of (or in place of) the first sentence.
LEADS = [
    "{name} gibt die folgende Mitteilung von {origin} weiter.",
    "Gemeinsame Pressemitteilung von {origin} und {name}.",
    "Eine Information von {origin}, die auch für die Bürgerinnen und Bürger in {short} gilt.",
    "Wie {origin} mitteilt, betrifft die Meldung auch {short}.",
    "{short}, {day}. – Aktuelle Meldung von {origin}.",
]
TITLE_PREFIXES = ["{short}: ", "Hinweis: ", "Gemeinsame Mitteilung: ", ""]

# Partner and joint stories: republished by several cities.
# intros: rewritten first sentences a republishing city may use instead of the original one.
SHARED = [
    dict(
        key="phishing-finanzamt",
        origin="lsi",
        date="2025-03-03T09:00:00+01:00",
        title="Warnung vor gefälschten E-Mails im Namen des Finanzamts",
        alt=["Phishing-Mails im Namen des Finanzamts im Umlauf", "Vorsicht vor falschen Steuererstattungen per E-Mail"],
        intros=["Auch in {short} sind in den vergangenen Tagen gefälschte E-Mails im Namen des Finanzamts aufgetaucht."],
        body=[
            "Das Landesamt für Sicherheit in der Informationstechnik warnt vor einer Welle gefälschter E-Mails, die angeblich vom Finanzamt stammen.",
            "Die Nachrichten kündigen eine Steuererstattung an und fordern dazu auf, über einen Link Kontodaten und Zugangsdaten einzugeben.",
            "Die Finanzverwaltung verschickt Bescheide jedoch nie auf diesem Weg und fragt niemals per E-Mail nach Passwörtern oder PIN-Nummern.",
            "Wer eine solche Nachricht erhalten hat, sollte weder den Link öffnen noch Anhänge herunterladen.",
            "Verdächtige E-Mails können an die Meldestelle des Landesamts weitergeleitet und danach gelöscht werden.",
            "Wer bereits Daten eingegeben hat, sollte umgehend seine Bank informieren und Anzeige bei der Polizei erstatten.",
        ],
    ),
    dict(
        key="ransomware-kreis",
        origin="lsi",
        date="2025-03-12T11:30:00+01:00",
        title="Nach Cyberangriff auf Kreisverwaltung: Landesamt rät Kommunen zu Notfallübungen",
        alt=["Cyberangriff auf Kreisverwaltung: Empfehlungen für Kommunen", "Ransomware-Angriff: Was Kommunen jetzt tun sollten"],
        intros=["Der Cyberangriff auf eine oberbayerische Kreisverwaltung beschäftigt auch die IT-Abteilung in {short}."],
        body=[
            "Nach dem Angriff mit Erpressungssoftware auf eine oberbayerische Kreisverwaltung empfiehlt das Landesamt allen Kommunen, ihre Notfallpläne zu überprüfen.",
            "Die Angreifer hatten Server verschlüsselt und ein Lösegeld gefordert; Zulassungsstelle und Ausländerbehörde waren mehrere Wochen nur eingeschränkt erreichbar.",
            "Entscheidend für einen schnellen Wiederanlauf seien Sicherungskopien, die getrennt vom Netz aufbewahrt und regelmäßig zurückgespielt werden.",
            "Außerdem sollten alle Fernzugänge mit einem zweiten Faktor abgesichert und Sicherheitsupdates ohne Verzögerung eingespielt werden.",
            "Das Landesamt bietet Kommunen kostenlose Planspiele an, in denen Verwaltungsspitze und IT einen Angriff gemeinsam durchspielen.",
            "Termine für das zweite Halbjahr können ab sofort über das Kommunalportal gebucht werden.",
        ],
    ),
    dict(
        key="vpn-schwachstelle",
        origin="lsi",
        date="2025-04-02T16:45:00+02:00",
        title="Kritische Schwachstelle in VPN-Gateways: Landesamt fordert sofortiges Update",
        alt=["Sicherheitslücke in VPN-Software: Kommunen sollen sofort aktualisieren"],
        intros=[],
        body=[
            "In einer weit verbreiteten VPN-Lösung ist eine kritische Schwachstelle bekannt geworden, über die Angreifer ohne Anmeldung Code ausführen können.",
            "Betroffen sind Gateways, mit denen sich Beschäftigte aus dem Homeoffice in die Netze der Verwaltungen einwählen.",
            "Der Hersteller hat am Dienstagabend ein Sicherheitsupdate veröffentlicht; Angriffe auf ungepatchte Geräte werden bereits beobachtet.",
            "Das Landesamt fordert alle Behörden und Kommunen auf, das Update noch heute einzuspielen und die Protokolle der vergangenen zwei Wochen auf Auffälligkeiten zu prüfen.",
            "Wo ein Update nicht sofort möglich ist, sollte der Fernzugang vorübergehend abgeschaltet werden.",
        ],
    ),
    dict(
        key="bayernid",
        origin="akdb",
        date="2025-03-18T10:00:00+01:00",
        title="BayernID löst das Bürgerkonto ab: Was sich für Antragsteller ändert",
        alt=["Aus dem Bürgerkonto wird die BayernID", "BayernID: Neues Konto für Online-Anträge"],
        intros=["Wer in {short} Anträge online stellt, meldet sich künftig mit der BayernID an."],
        body=[
            "Das bisherige Bürgerkonto des BayernPortals wird zum 1. Juli durch die BayernID ersetzt.",
            "Mit dem neuen Konto können sich Bürgerinnen und Bürger bei Online-Diensten von Freistaat und Kommunen anmelden, ohne sich jedes Mal neu zu registrieren.",
            "Bestehende Konten werden automatisch übernommen; beim ersten Anmelden muss lediglich ein neues Passwort vergeben werden.",
            "Wer die Online-Ausweisfunktion des Personalausweises nutzt, kann damit auch Anträge stellen, die eine Unterschrift erfordern.",
            "Die AKDB hat die Umstellung gemeinsam mit dem Digitalministerium vorbereitet und in zwölf Pilotkommunen getestet.",
            "Fragen beantwortet die Servicehotline des BayernPortals montags bis freitags von 8 bis 18 Uhr.",
        ],
    ),
    dict(
        key="wohngeld-online",
        origin="akdb",
        date="2025-02-20T09:15:00+01:00",
        title="Wohngeld kann jetzt vollständig online beantragt werden",
        alt=["Wohngeldantrag jetzt komplett digital", "Wohngeld online: Antrag ohne Papier"],
        intros=["Ab sofort können auch Haushalte in {short} ihren Wohngeldantrag vollständig digital stellen."],
        body=[
            "Der Antrag auf Wohngeld lässt sich ab sofort vollständig online stellen, einschließlich aller Nachweise.",
            "Gehaltsabrechnungen, Mietvertrag und Kontoauszüge werden als Foto oder PDF hochgeladen, ein Ausdruck ist nicht mehr nötig.",
            "Der digitale Antrag wird direkt an die zuständige Wohngeldstelle übermittelt und dort ohne Medienbruch bearbeitet.",
            "Nach Angaben der AKDB verkürzt sich die Bearbeitungszeit dadurch in den Pilotkommunen um durchschnittlich drei Wochen.",
            "Für die Anmeldung genügt die BayernID oder die Online-Ausweisfunktion.",
        ],
    ),
    dict(
        key="e-rechnung",
        origin="akdb",
        date="2025-01-14T08:30:00+01:00",
        title="E-Rechnung wird Pflicht: Was Lieferanten der Kommunen wissen müssen",
        alt=["Ab 2025 nur noch elektronische Rechnungen an die Verwaltung", "E-Rechnung: Hinweise für Auftragnehmer der Stadt"],
        intros=["Auch die Stadtverwaltung {short} nimmt Rechnungen künftig nur noch elektronisch an."],
        body=[
            "Seit Jahresbeginn müssen Unternehmen Rechnungen an bayerische Behörden und Kommunen in elektronischer Form einreichen.",
            "Zulässig sind die strukturierten Formate XRechnung und ZUGFeRD; eine per E-Mail verschickte PDF-Datei gilt nicht als E-Rechnung.",
            "Die Rechnungen werden über das zentrale Eingangsportal hochgeladen oder über die Schnittstelle Peppol übermittelt.",
            "Kleinbeträge bis 250 Euro sind von der Pflicht ausgenommen.",
            "Die AKDB bietet Handwerksbetrieben und kleinen Lieferanten kostenlose Online-Schulungen zur Umstellung an.",
        ],
    ),
    dict(
        key="ki-assistent",
        origin="akdb",
        date="2025-05-06T13:00:00+02:00",
        title="Kommunen testen KI-Assistenten für Bürgeranfragen",
        alt=["Pilotprojekt: Künstliche Intelligenz beantwortet Fragen an die Verwaltung"],
        intros=["{short} gehört zu den Kommunen, die den neuen KI-Assistenten erproben."],
        body=[
            "Sechs bayerische Kommunen erproben seit dieser Woche einen Assistenten auf Basis künstlicher Intelligenz, der Fragen zu Verwaltungsleistungen beantwortet.",
            "Der Assistent kennt die Leistungsbeschreibungen des BayernPortals und verweist bei jeder Antwort auf die zuständige Stelle und das passende Online-Formular.",
            "Personenbezogene Daten werden nicht gespeichert, die Verarbeitung erfolgt ausschließlich in einem Rechenzentrum in Bayern.",
            "Die Pilotphase dauert sechs Monate und wird von der Technischen Hochschule Deggendorf wissenschaftlich begleitet.",
            "Bewährt sich das Angebot, soll es im kommenden Jahr allen Kommunen zur Verfügung stehen.",
        ],
    ),
    dict(
        key="glasfaser-gewerbe",
        origin="staedtetag",
        date="2025-02-04T10:30:00+01:00",
        title="Freistaat verlängert Förderung für Glasfaser in Gewerbegebieten",
        alt=["Glasfaserförderung für Gewerbegebiete geht weiter", "Gigabit für Gewerbegebiete: Förderprogramm verlängert"],
        intros=["Von der verlängerten Glasfaserförderung können auch Gewerbegebiete in {short} profitieren."],
        body=[
            "Der Freistaat verlängert sein Förderprogramm für den Glasfaserausbau in Gewerbegebieten bis Ende 2027.",
            "Gefördert werden bis zu 90 Prozent der Wirtschaftlichkeitslücke, wenn kein Netzbetreiber den Ausbau aus eigener Kraft übernimmt.",
            "Der Bayerische Städtetag begrüßt die Entscheidung, weil viele Betriebe in älteren Gewerbegebieten noch mit Kupferleitungen arbeiten.",
            "Anträge stellen die Kommunen; die Breitbandberatung Bayern unterstützt bei der Markterkundung und der Ausschreibung.",
            "Nach Angaben des Städtetags sind bislang rund 1.400 Gewerbegebiete mit Glasfaser erschlossen.",
        ],
    ),
    dict(
        key="waermeplanung-leitfaden",
        origin="staedtetag",
        date="2025-04-09T11:00:00+02:00",
        title="Städtetag legt Leitfaden zur kommunalen Wärmeplanung vor",
        alt=["Wärmeplanung: Leitfaden für bayerische Städte", "Kommunale Wärmeplanung – Städtetag gibt Hilfestellung"],
        intros=["Auch {short} arbeitet an seiner kommunalen Wärmeplanung und nutzt dafür den neuen Leitfaden."],
        body=[
            "Der Bayerische Städtetag hat einen Leitfaden veröffentlicht, der Städte Schritt für Schritt durch die kommunale Wärmeplanung führt.",
            "Großstädte müssen ihren Wärmeplan bis Mitte 2026 vorlegen, kleinere Kommunen haben bis Mitte 2028 Zeit.",
            "Der Leitfaden erklärt, wie Daten zum Gebäudebestand erhoben, Potenziale für Abwärme und Geothermie bewertet und Eignungsgebiete für Wärmenetze ausgewiesen werden.",
            "Musterformulare für die Beteiligung der Öffentlichkeit und eine Liste förderfähiger Kosten ergänzen das Papier.",
            "Der Städtetag fordert vom Bund eine dauerhafte Finanzierung, weil viele Kommunen die Planung nicht aus eigenen Mitteln stemmen können.",
        ],
    ),
    dict(
        key="hitzeschutz",
        origin="staedtetag",
        date="2025-06-16T09:00:00+02:00",
        title="Hitzeschutz: Bayerische Städte starten gemeinsamen Aktionsplan",
        alt=["Gemeinsamer Hitzeaktionsplan der bayerischen Städte", "Städte wappnen sich gegen Hitzewellen"],
        intros=["{short} beteiligt sich am gemeinsamen Hitzeaktionsplan der bayerischen Städte."],
        body=[
            "Mit einem gemeinsamen Aktionsplan wollen bayerische Städte ältere Menschen, Kinder und Kranke besser vor Hitze schützen.",
            "Kern des Plans ist ein Warnsystem, das Pflegeheime, Kitas und Arztpraxen bei einer Hitzewarnung des Deutschen Wetterdienstes automatisch informiert.",
            "Außerdem sollen kühle Räume in öffentlichen Gebäuden ausgewiesen und Trinkbrunnen an stark besuchten Plätzen aufgestellt werden.",
            "Eine Karte im Internet zeigt schattige Orte, Trinkbrunnen und klimatisierte Bibliotheken.",
            "Der Städtetag rät zudem, Pausenzeiten im Außendienst der Verwaltung an heißen Tagen anzupassen.",
        ],
    ),
    dict(
        key="deutschlandticket",
        origin="staedtetag",
        date="2025-09-22T14:00:00+02:00",
        title="Deutschlandticket kostet ab Januar 63 Euro",
        alt=["Preiserhöhung beim Deutschlandticket", "Deutschlandticket wird teurer: 63 Euro ab Januar"],
        intros=["Die Preiserhöhung beim Deutschlandticket betrifft auch alle Abonnentinnen und Abonnenten in {short}."],
        body=[
            "Das Deutschlandticket kostet ab dem 1. Januar 63 Euro im Monat statt bisher 58 Euro.",
            "Bund und Länder haben sich auf die Erhöhung verständigt, um die Finanzierung des Tickets für ein weiteres Jahr zu sichern.",
            "Bestehende Abonnements laufen weiter, der neue Preis wird automatisch abgebucht; wer nicht einverstanden ist, kann zum Monatsende kündigen.",
            "Der Bayerische Städtetag fordert, den Preis danach für mehrere Jahre stabil zu halten, damit das Ticket für Pendler planbar bleibt.",
            "Für Studierende, Schülerinnen und Schüler sowie Beschäftigte mit Jobticket bleiben die Rabatte bestehen.",
        ],
    ),
    dict(
        key="stadtradeln",
        origin="staedtetag",
        date="2025-04-28T10:00:00+02:00",
        title="Stadtradeln 2025: Bayerische Kommunen treten wieder in die Pedale",
        alt=["Stadtradeln startet im Mai", "Mitmachen beim Stadtradeln 2025"],
        intros=["Auch in {short} kann wieder für das Stadtradeln in die Pedale getreten werden."],
        body=[
            "Vom 5. bis 25. Mai findet in vielen bayerischen Kommunen wieder der Wettbewerb Stadtradeln statt.",
            "Drei Wochen lang sammeln Teams aus Schulen, Vereinen, Betrieben und Verwaltungen möglichst viele Fahrradkilometer.",
            "Die gefahrenen Strecken werden in einer App erfasst und zeigen den Stadtverwaltungen, wo Radwege fehlen oder Lücken im Netz bestehen.",
            "Im vergangenen Jahr radelten in Bayern mehr als 200.000 Menschen mit und vermieden rechnerisch rund 8.000 Tonnen CO2.",
            "Die Anmeldung ist kostenlos und auch während des Aktionszeitraums noch möglich.",
        ],
    ),
    dict(
        key="passbild-digital",
        origin="akdb",
        date="2025-04-15T09:00:00+02:00",
        title="Passbilder für Ausweise ab Mai nur noch digital",
        alt=["Neue Regeln für Passfotos ab 1. Mai", "Digitales Passbild wird Pflicht"],
        intros=["Wer in {short} einen neuen Personalausweis oder Reisepass beantragt, braucht ab Mai ein digitales Passbild."],
        body=[
            "Ab dem 1. Mai werden für Personalausweise und Reisepässe nur noch digital erstellte Passbilder angenommen.",
            "Fotostudios und zertifizierte Drogerien übermitteln das Bild verschlüsselt an einen Cloud-Speicher, aus dem es die Behörde mit einem Code abruft.",
            "Alternativ kann das Foto direkt im Bürgerbüro an einem Selbstbedienungsterminal aufgenommen werden; dafür fällt eine Gebühr von sechs Euro an.",
            "Ausgedruckte Passbilder werden ab Mai nicht mehr akzeptiert.",
            "Die neue Regel soll verhindern, dass manipulierte Bilder in Ausweisdokumente gelangen.",
        ],
    ),
    dict(
        key="warntag",
        origin="staedtetag",
        date="2025-09-08T12:00:00+02:00",
        title="Bundesweiter Warntag am 11. September: Sirenen und Handywarnung im Test",
        alt=["Warntag am Donnerstag: Sirenen heulen um 11 Uhr", "Probealarm beim bundesweiten Warntag"],
        intros=["Auch in {short} werden am Warntag die Sirenen und die Handywarnung getestet."],
        body=[
            "Am Donnerstag, 11. September, findet der bundesweite Warntag statt.",
            "Um 11 Uhr lösen Bund, Länder und Kommunen gleichzeitig einen Probealarm über Sirenen, Warn-Apps und Cell Broadcast aus.",
            "Auf Mobiltelefonen erscheint dabei eine Testmeldung mit einem lauten Signalton, auch wenn das Gerät auf lautlos gestellt ist.",
            "Gegen 11.45 Uhr folgt die Entwarnung.",
            "Mit dem Warntag sollen die Warnwege überprüft und die Bevölkerung mit den Signalen vertraut gemacht werden.",
            "Wer Probleme beim Empfang der Warnung hatte, kann dies in einer Online-Umfrage des Bundesamts melden.",
        ],
    ),
    dict(
        key="stromausfall-vorsorge",
        origin="staedtetag",
        date="2025-11-03T10:00:00+01:00",
        title="Vorsorge für den Stromausfall: Checkliste für Haushalte",
        alt=["Notfallvorsorge: So bereiten sich Haushalte auf einen Stromausfall vor"],
        intros=[],
        body=[
            "Der Bayerische Städtetag und die Katastrophenschutzbehörden raten Haushalten, sich auf einen längeren Stromausfall vorzubereiten.",
            "Empfohlen wird ein Vorrat an Trinkwasser und haltbaren Lebensmitteln für zehn Tage.",
            "Ein batteriebetriebenes Radio, Taschenlampen und Ersatzbatterien gehören ebenso in den Notvorrat wie wichtige Medikamente.",
            "Bei einem flächendeckenden Ausfall richten die Städte Anlaufstellen ein, an denen Notrufe abgesetzt und Informationen eingeholt werden können.",
            "Eine Checkliste zum Ausdrucken steht auf den Internetseiten der Städte und des Bundesamts für Bevölkerungsschutz bereit.",
        ],
    ),
    dict(
        key="schoeffen",
        origin="staedtetag",
        date="2025-01-27T09:30:00+01:00",
        title="Ehrenamt bei Gericht: Städte suchen Schöffinnen und Schöffen",
        alt=["Schöffenwahl 2025: Bewerbungen ab sofort möglich"],
        intros=["Auch die Stadt {short} nimmt ab sofort Bewerbungen für das Schöffenamt entgegen."],
        body=[
            "Für die Amtszeit ab 2026 suchen die bayerischen Städte wieder Schöffinnen und Schöffen für die Amts- und Landgerichte.",
            "Schöffen sind ehrenamtliche Richter, die mit gleichem Stimmrecht wie Berufsrichter an Strafverfahren mitwirken.",
            "Bewerben können sich Deutsche zwischen 25 und 69 Jahren, die in der jeweiligen Gemeinde wohnen.",
            "Die Bewerbungsfrist endet am 31. März; Formulare gibt es online und in den Bürgerbüros.",
            "Aus den Vorschlagslisten der Gemeinden wählt ein Ausschuss beim Amtsgericht die Schöffen im Herbst aus.",
        ],
    ),
]

# Stories of one city. Some are republished by neighbours; siblings and follow-ups are separate stories.
LOCAL = [
    dict(
        key="ladesaeulen-muc",
        origin="muenchen",
        date="2025-03-05T08:00:00+01:00",
        title="Stadtrat beschließt 200 neue Ladesäulen",
        body=[
            "Die Landeshauptstadt München baut in den kommenden zwei Jahren 200 neue Ladesäulen für Elektroautos.",
            "Der Stadtrat hat am Mittwoch die Finanzierung beschlossen.",
            "Die ersten Säulen entstehen im Dezember in Schwabing, Sendling und Giesing.",
            "Strom aus erneuerbaren Quellen liefern die Stadtwerke München.",
            "Bürgerinnen und Bürger können Standorte über das Beteiligungsportal vorschlagen.",
        ],
    ),
    dict(
        key="schnellladepark-aug",
        origin="augsburg",
        date="2025-03-07T10:00:00+01:00",  # sibling of ladesaeulen-muc
        title="Augsburg baut Schnellladepark am Plärrer",
        body=[
            "Auf dem Parkplatz am Plärrer entsteht bis zum Herbst ein Schnellladepark mit zwölf Ladepunkten.",
            "Die Stadtwerke Augsburg investieren dafür rund 1,8 Millionen Euro, ein Teil kommt aus einem Förderprogramm des Bundes.",
            "An den Schnellladern kann ein Elektroauto in etwa 20 Minuten für 300 Kilometer nachgeladen werden.",
            "Während der Bauzeit fallen etwa 40 Stellplätze weg.",
            "Der Strom stammt aus Wasserkraft vom Lech.",
        ],
    ),
    dict(
        key="tram-kornburg",
        origin="nuernberg",
        date="2025-02-11T09:00:00+01:00",
        title="Straßenbahn nach Kornburg: Planfeststellung beginnt",
        body=[
            "Für die geplante Straßenbahnverlängerung von Worzeldorf nach Kornburg beginnt das Planfeststellungsverfahren.",
            "Die Unterlagen liegen ab Montag vier Wochen lang im Verkehrsplanungsamt und online zur Einsicht aus.",
            "Die neue Strecke ist 2,4 Kilometer lang und erhält drei Haltestellen.",
            "Die VAG rechnet mit täglich rund 4.000 Fahrgästen.",
            "Einwendungen können bis zwei Wochen nach Ende der Auslegung schriftlich erhoben werden.",
        ],
    ),
    dict(
        key="stadtbahn-dialog-rgb",
        origin="regensburg",
        date="2025-02-13T17:00:00+01:00",  # sibling of tram-kornburg
        title="Regensburg startet Bürgerdialog zur Stadtbahn",
        body=[
            "Mit einer Auftaktveranstaltung im Kolpinghaus beginnt am Dienstag der Bürgerdialog zur geplanten Stadtbahn.",
            "Vorgestellt werden die beiden Varianten der ersten Linie zwischen Wutzlhofen und dem Klinikum.",
            "Anwohnerinnen und Anwohner können in Workshops über Haltestellen, Baumfällungen und die Führung durch die Altstadt mitreden.",
            "Zusätzlich ist eine Online-Beteiligung bis Ende April freigeschaltet.",
            "Der Stadtrat will im Sommer über die Vorzugsvariante entscheiden.",
        ],
    ),
    dict(
        key="grundschule-fue",
        origin="fuerth",
        date="2025-05-19T11:00:00+02:00",
        title="Fürth saniert Grundschule an der Frauenstraße",
        body=[
            "Die Grundschule an der Frauenstraße wird in den Sommerferien umfassend saniert.",
            "Neue Fenster, eine gedämmte Fassade und eine Lüftungsanlage sollen den Energieverbrauch um mehr als die Hälfte senken.",
            "Auf dem Dach wird eine Photovoltaikanlage mit 90 Kilowatt Spitzenleistung installiert.",
            "Während der Bauarbeiten werden zwei Klassen in Containern auf dem Pausenhof unterrichtet.",
            "Die Kosten von 6,2 Millionen Euro trägt zu zwei Dritteln der Freistaat.",
        ],
    ),
    dict(
        key="stadtbaeume-erl",
        origin="erlangen",
        date="2025-09-30T10:00:00+02:00",
        title="Erlangen pflanzt im Herbst 500 neue Stadtbäume",
        body=[
            "Zwischen Oktober und Dezember pflanzt das Stadtgartenamt 500 neue Bäume im ganzen Stadtgebiet.",
            "Ausgewählt wurden Arten wie Zerr-Eiche, Silber-Linde und Amberbaum, die Hitze und Trockenheit besser vertragen.",
            "Die meisten Bäume ersetzen Exemplare, die in den vergangenen Sommern abgestorben sind.",
            "Für die ersten drei Jahre übernimmt eine Fachfirma das Gießen.",
            "Bürgerinnen und Bürger können über das Programm Baumpatenschaft zusätzlich die Pflege eines Baums unterstützen.",
        ],
    ),
    dict(
        key="kvr-oeffnungszeiten",
        origin="muenchen",
        date="2025-03-24T09:00:00+01:00",
        title="Kreisverwaltungsreferat verlängert Öffnungszeiten",
        body=[
            "Die Bürgerbüros des Kreisverwaltungsreferats haben ab April donnerstags bis 19 Uhr geöffnet.",
            "Termine für Meldeangelegenheiten, Personalausweise und Reisepässe können online bis zu acht Wochen im Voraus gebucht werden.",
            "Für dringende Fälle werden jeden Morgen zusätzliche Termine freigeschaltet.",
            "Die längeren Öffnungszeiten sind zunächst bis Jahresende befristet.",
        ],
    ),
    dict(
        key="terminvergabe-aug",
        origin="augsburg",
        date="2025-03-26T08:30:00+01:00",  # sibling of kvr-oeffnungszeiten
        title="Bürgerbüro Augsburg vergibt Termine jetzt online",
        body=[
            "Im Bürgerbüro am Rathausplatz können Termine ab sofort über eine neue Online-Terminvergabe gebucht werden.",
            "Die Wartemarken am Eingang entfallen; ohne Termin werden nur noch Notfälle bedient.",
            "Wer keinen Internetzugang hat, kann einen Termin telefonisch über die Servicenummer 115 vereinbaren.",
            "Eine Erinnerung per SMS soll verhindern, dass gebuchte Termine ungenutzt verfallen.",
        ],
    ),
    dict(
        key="kfz-servicestelle-in",
        origin="ingolstadt",
        date="2025-06-02T10:00:00+02:00",
        title="Neue Servicestelle für Kfz-Zulassungen im Westpark",
        body=[
            "Die Stadt Ingolstadt eröffnet am 10. Juni eine zusätzliche Servicestelle für Kfz-Zulassungen im Einkaufszentrum Westpark.",
            "Dort können Fahrzeuge an- und umgemeldet sowie Wunschkennzeichen reserviert werden.",
            "Die Servicestelle hat montags bis samstags von 9 bis 18 Uhr geöffnet.",
            "Händler und Zulassungsdienste werden weiterhin ausschließlich in der Zulassungsstelle in der Esplanade bedient.",
        ],
    ),
    dict(
        key="klimakonzept-wue",
        origin="wuerzburg",
        date="2025-07-10T18:00:00+02:00",
        title="Würzburg beschließt Klimaschutzkonzept 2040",
        body=[
            "Der Würzburger Stadtrat hat ein Klimaschutzkonzept beschlossen, mit dem die Stadt bis 2040 klimaneutral werden will.",
            "Schwerpunkte sind die Sanierung städtischer Gebäude, der Ausbau der Fernwärme und mehr Photovoltaik auf Dächern.",
            "Bis 2030 sollen alle Fahrzeuge der Stadtverwaltung elektrisch fahren.",
            "Ein jährlicher Bericht soll zeigen, ob die Zwischenziele erreicht werden.",
            "Für die Umsetzung stellt die Stadt in den nächsten fünf Jahren 48 Millionen Euro bereit.",
        ],
    ),
    dict(
        key="klimafahrplan-nbg",
        origin="nuernberg",
        date="2025-07-14T11:00:00+02:00",  # sibling of klimakonzept-wue
        title="Nürnberg legt Fahrplan zur Klimaneutralität vor",
        body=[
            "Die Stadt Nürnberg hat einen Fahrplan vorgelegt, wie sie bis 2035 klimaneutral werden kann.",
            "Größter Hebel ist die Umstellung der Fernwärme von Erdgas auf Abwärme, Biomasse und Großwärmepumpen.",
            "Außerdem sollen jedes Jahr drei Prozent der Wohngebäude energetisch saniert werden.",
            "Der Umweltreferent rechnet mit Investitionen von mehreren Milliarden Euro, die zum größten Teil private Eigentümer tragen.",
            "Der Stadtrat berät den Fahrplan im September.",
        ],
    ),
    dict(
        key="pv-schulen-muc",
        origin="muenchen",
        date="2025-05-12T09:30:00+02:00",
        title="Photovoltaik auf Schuldächern: Förderprogramm verlängert",
        body=[
            "Das Programm für Solaranlagen auf Münchner Schuldächern wird bis 2028 verlängert.",
            "Bisher wurden auf 64 Schulen Anlagen mit zusammen 9 Megawatt Leistung installiert.",
            "Der erzeugte Strom wird zum größten Teil direkt in den Gebäuden verbraucht.",
            "In einigen Schulen zeigen Bildschirme in der Aula, wie viel Strom gerade erzeugt wird.",
            "Das Referat für Bildung und Sport will bis 2028 alle geeigneten Dächer belegen.",
        ],
    ),
    dict(
        key="balkonkraftwerk-rgb",
        origin="regensburg",
        date="2025-05-14T10:00:00+02:00",  # sibling of pv-schulen-muc
        title="Regensburg fördert Balkonkraftwerke mit 200 Euro",
        body=[
            "Mieterinnen, Mieter und Eigentümer in Regensburg erhalten ab Juni einen Zuschuss von 200 Euro für ein Steckersolargerät.",
            "Gefördert werden Geräte bis 800 Watt, die von einem Fachbetrieb oder im Handel gekauft wurden.",
            "Der Antrag wird nach dem Kauf online mit Rechnung und Foto des montierten Geräts gestellt.",
            "Insgesamt stehen 300.000 Euro zur Verfügung; es gilt die Reihenfolge der Anträge.",
        ],
    ),
    dict(
        key="radschnellweg-erl",
        origin="erlangen",
        date="2025-08-04T09:00:00+02:00",
        title="Radschnellweg nach Nürnberg: Bauabschnitt in Tennenlohe beginnt",
        alt=["Radschnellweg Erlangen–Nürnberg: Baustart in Tennenlohe"],
        intros=["Der Radschnellweg zwischen Erlangen und {short} nimmt Gestalt an."],
        body=[
            "Am Montag beginnen die Arbeiten am ersten Erlanger Abschnitt des Radschnellwegs nach Nürnberg.",
            "Zwischen Tennenlohe und der Stadtgrenze entsteht auf 2,1 Kilometern ein vier Meter breiter Radweg mit eigener Beleuchtung.",
            "An den Kreuzungen erhalten Radfahrende Vorfahrt oder eine eigene Ampelphase.",
            "Die Bauzeit beträgt voraussichtlich ein Jahr; die Kosten von 5,3 Millionen Euro fördert der Freistaat zu 80 Prozent.",
            "Während der Arbeiten wird der Radverkehr über den Wetterkreuzweg umgeleitet.",
        ],
    ),
    dict(
        key="radschnellweg-nbg",
        origin="nuernberg",
        date="2025-08-06T10:00:00+02:00",  # sibling of radschnellweg-erl
        title="Radschnellweg nach Erlangen: Nürnberg vergibt Planungsauftrag",
        body=[
            "Die Stadt Nürnberg hat den Auftrag für die Planung ihres Abschnitts des Radschnellwegs nach Erlangen vergeben.",
            "Das Ingenieurbüro soll bis Ende nächsten Jahres eine Trasse vom Nordring bis zur Stadtgrenze ausarbeiten.",
            "Geprüft werden zwei Varianten, eine entlang der Bayreuther Straße und eine durch den Stadtpark.",
            "Mit dem Bau kann frühestens 2028 begonnen werden.",
        ],
    ),
    dict(
        key="bibliothek-fue",
        origin="fuerth",
        date="2025-10-06T09:00:00+02:00",
        title="Stadtbibliothek Fürth öffnet auch sonntags",
        body=[
            "Die Stadtbibliothek im Fürther Bahnhof öffnet ab November auch sonntags von 13 bis 18 Uhr.",
            "An Sonntagen ist die Bibliothek ein offener Ort ohne Ausleihe durch Personal; Medien können an Automaten entliehen werden.",
            "Ein Sicherheitsdienst und ehrenamtliche Helferinnen sind vor Ort.",
            "Das Angebot wird ein Jahr lang erprobt und dann ausgewertet.",
        ],
    ),
    dict(
        key="wasserstoffbusse-aug",
        origin="augsburg",
        date="2025-10-21T10:30:00+02:00",
        title="Stadtwerke Augsburg stellen Busflotte auf Wasserstoff um",
        body=[
            "Die Stadtwerke Augsburg haben 20 Wasserstoffbusse bestellt, die ab Herbst 2026 im Linienverkehr fahren.",
            "Getankt wird an einer neuen Wasserstofftankstelle auf dem Betriebshof in Lechhausen.",
            "Der Wasserstoff soll aus einem Elektrolyseur der Stadtwerke stammen, der Strom aus erneuerbaren Energien nutzt.",
            "Bis 2035 will das Unternehmen keine Dieselbusse mehr einsetzen.",
        ],
    ),
    dict(
        key="ludwigstrasse-sperrung",
        origin="muenchen",
        date="2025-06-23T09:00:00+02:00",
        title="Ludwigstraße wird für Bauarbeiten gesperrt",
        body=[
            "Von Montag, 30. Juni, an ist die Ludwigstraße zwischen Odeonsplatz und Von-der-Tann-Straße für drei Wochen gesperrt.",
            "Die Stadtwerke erneuern dort Fernwärmeleitungen, die teilweise mehr als 60 Jahre alt sind.",
            "Der Autoverkehr wird über die Türkenstraße und die Barer Straße umgeleitet.",
            "Die Buslinien 100 und 153 fahren eine Umleitung, die Haltestelle Odeonsplatz entfällt.",
            "Fußgänger und Radfahrer können die Baustelle passieren.",
        ],
    ),
    dict(
        key="ludwigstrasse-frei",
        origin="muenchen",
        date="2025-07-18T15:00:00+02:00",  # follow-up of ludwigstrasse-sperrung
        title="Ludwigstraße ist wieder frei",
        body=[
            "Die Ludwigstraße ist seit Freitagnachmittag wieder für den Verkehr freigegeben, zwei Tage früher als geplant.",
            "Die Stadtwerke erneuern dort Fernwärmeleitungen, die teilweise mehr als 60 Jahre alt sind.",
            "Auf einer Länge von 400 Metern wurden neue, besser gedämmte Rohre verlegt.",
            "Die Buslinien 100 und 153 fahren ab Samstag wieder auf ihrem regulären Linienweg.",
        ],
    ),
    dict(
        key="mainkai-beginn",
        origin="wuerzburg",
        date="2025-04-07T10:00:00+02:00",
        title="Hochwasserschutz am Mainkai: Arbeiten beginnen",
        body=[
            "Am Mainkai beginnen die Arbeiten für eine neue Hochwasserschutzmauer.",
            "Die Mauer wird 800 Meter lang und schützt die Altstadt künftig vor einem hundertjährlichen Hochwasser.",
            "Bei Hochwasser werden zusätzlich mobile Elemente auf die Mauer gesetzt.",
            "Der Parkplatz am Mainkai steht während der Bauzeit nicht zur Verfügung.",
            "Das Projekt kostet 14 Millionen Euro und wird vom Freistaat gefördert.",
        ],
    ),
    dict(
        key="mainkai-abschnitt",
        origin="wuerzburg",
        date="2025-10-13T11:00:00+02:00",  # follow-up of mainkai-beginn
        title="Hochwasserschutz am Mainkai: Erster Abschnitt fertig",
        body=[
            "Der erste Abschnitt der neuen Hochwasserschutzmauer am Mainkai ist fertiggestellt.",
            "Die Mauer wird 800 Meter lang und schützt die Altstadt künftig vor einem hundertjährlichen Hochwasser.",
            "Auf den ersten 300 Metern wurde die Mauer mit Muschelkalk verkleidet, damit sie sich in das Stadtbild einfügt.",
            "Ein Teil des Parkplatzes ist ab sofort wieder nutzbar.",
            "Der zweite Abschnitt folgt im kommenden Frühjahr.",
        ],
    ),
    dict(
        key="bauantrag-digital-in",
        origin="ingolstadt",
        date="2025-02-17T09:00:00+01:00",
        title="Ingolstadt nimmt Bauanträge digital an",
        body=[
            "Bauanträge können in Ingolstadt ab sofort vollständig digital eingereicht werden.",
            "Planunterlagen werden im Portal hochgeladen, die Fachstellen nehmen gleichzeitig Stellung statt nacheinander.",
            "Bauherren sehen online, in welchem Bearbeitungsschritt sich ihr Antrag befindet.",
            "Das Bauordnungsamt rechnet damit, dass sich die Verfahren um mehrere Wochen verkürzen.",
        ],
    ),
    dict(
        key="bauantrag-bilanz-in",
        origin="ingolstadt",
        date="2025-09-15T09:00:00+02:00",  # follow-up
        title="Digitaler Bauantrag: Ingolstadt zieht erste Bilanz",
        body=[
            "Ein halbes Jahr nach dem Start zieht das Bauordnungsamt eine positive Bilanz des digitalen Bauantrags.",
            "Planunterlagen werden im Portal hochgeladen, die Fachstellen nehmen gleichzeitig Stellung statt nacheinander.",
            "Inzwischen gehen 70 Prozent aller Anträge digital ein.",
            "Die durchschnittliche Bearbeitungszeit ist von elf auf sieben Wochen gesunken.",
            "Papieranträge bleiben weiterhin möglich.",
        ],
    ),
    dict(
        key="parkautomaten-rgb",
        origin="regensburg",
        date="2025-05-27T13:00:00+02:00",
        title="Sicherheitslücke in Parkscheinautomaten: Stadt spielt neue Software auf",
        body=[
            "In der Software der städtischen Parkscheinautomaten ist eine Sicherheitslücke entdeckt worden.",
            "Über die Kartenzahlung hätten Unbefugte unter Umständen Zahlungsdaten auslesen können; ein Missbrauch ist nicht bekannt.",
            "Der Hersteller hat ein Update bereitgestellt, das in den nächsten Tagen auf alle 180 Automaten aufgespielt wird.",
            "Bis dahin ist an den betroffenen Geräten nur Bargeld- und App-Zahlung möglich.",
        ],
    ),
    dict(
        key="opendata-erl",
        origin="erlangen",
        date="2025-11-12T10:00:00+01:00",
        title="Erlangen stellt Open-Data-Portal vor",
        alt=["Open Data: Erlangen veröffentlicht Verwaltungsdaten"],
        intros=["Ein Beispiel für {short}: Erlangen veröffentlicht seine Verwaltungsdaten offen."],
        body=[
            "Die Stadt Erlangen veröffentlicht Daten der Verwaltung künftig auf einem eigenen Open-Data-Portal.",
            "Zum Start stehen 85 Datensätze bereit, darunter Haltestellen, Baumkataster, Wahlergebnisse und Messwerte der Luftqualität.",
            "Alle Daten stehen unter einer freien Lizenz und dürfen auch gewerblich genutzt werden.",
            "Entwicklerinnen und Entwickler können die Daten über eine Schnittstelle automatisch abrufen.",
            "Im Frühjahr lädt die Stadt zu einem Hackathon ein.",
        ],
    ),
    dict(
        key="christkindlesmarkt-verkehr",
        origin="nuernberg",
        date="2025-11-24T10:00:00+01:00",
        title="Christkindlesmarkt: Neue Verkehrsregeln in der Altstadt",
        body=[
            "Während des Christkindlesmarkts gelten in der Nürnberger Altstadt neue Regeln für den Lieferverkehr.",
            "Lieferungen sind nur noch bis 10 Uhr erlaubt, danach sperren Poller die Zufahrten zum Hauptmarkt.",
            "Die Parkhäuser in der Altstadt sind über die Ringstraße erreichbar, ein Parkleitsystem zeigt freie Plätze an.",
            "Die VAG verstärkt an den Adventswochenenden die U-Bahn-Linien U1 und U2.",
        ],
    ),
    dict(
        key="u5-pasing",
        origin="muenchen",
        date="2025-10-01T10:00:00+02:00",
        title="U5 nach Pasing: Tunnelbohrmaschine startet",
        body=[
            "Für die Verlängerung der U-Bahn-Linie U5 nach Pasing hat die erste Tunnelbohrmaschine ihre Arbeit aufgenommen.",
            "Die Maschine gräbt sich vom Startschacht an der Friedenheimer Brücke in Richtung Westen.",
            "Bis zu 15 Meter schafft sie an einem Tag.",
            "Die neue Strecke mit vier Bahnhöfen soll Anfang der 2030er Jahre in Betrieb gehen.",
        ],
    ),
    dict(
        key="parken-app-fue",
        origin="fuerth",
        date="2025-03-31T09:00:00+02:00",
        title="Parkgebühren in Fürth jetzt auch per App",
        body=[
            "In Fürth können Parkgebühren ab April an allen Automaten auch mit dem Smartphone bezahlt werden.",
            "Unterstützt werden drei Park-Apps, die minutengenau abrechnen und die Parkzeit aus der Ferne verlängern lassen.",
            "Ein Aufkleber an jedem Automaten zeigt die Zonennummer, die in der App eingegeben wird.",
            "Münzzahlung bleibt weiterhin möglich.",
        ],
    ),
]

# Local stories that neighbours republish (key → republishing cities).
LOCAL_REPUBLISHED = {
    "radschnellweg-erl": ["nuernberg", "fuerth"],
    "opendata-erl": ["fuerth", "ingolstadt"],
    "ladesaeulen-muc": ["akdb"],
    "tram-kornburg": ["fuerth"],
    "klimakonzept-wue": ["staedtetag"],
}

# ---------------------------------------------------------------- recurring formats

RU_HEADER = "Rathaus Umschau – der Wochenüberblick des Presse- und Informationsamts der Landeshauptstadt München."
RU_FOOTER = "Herausgeber: Landeshauptstadt München, Presse- und Informationsamt. Die Rathaus Umschau erscheint jeden Freitag."
RU_BLURBS = [
    "Der Tierpark Hellabrunn verlängert seine Öffnungszeiten bis 20 Uhr.",
    "Im Westpark werden 40 neue Sitzbänke aufgestellt.",
    "Die Stadtbibliothek am Gasteig HP8 bietet Sprachcafés für Geflüchtete an.",
    "Das Baureferat saniert die Brücke über den Auer Mühlbach.",
    "Die Stadt ehrt 120 Blutspenderinnen und Blutspender im Alten Rathaus.",
    "Im Olympiapark beginnt die Sanierung der Eissporthalle.",
    "Der Bezirksausschuss Sendling fordert mehr Fahrradstellplätze am Harras.",
    "Die Volkshochschule startet ein Programm für digitale Grundbildung.",
    "Der Wertstoffhof an der Tübinger Straße ist wegen Umbau geschlossen.",
    "Das Sozialreferat eröffnet eine neue Beratungsstelle für Wohnungslose in Giesing.",
    "Die Feuerwehr München stellt drei neue Drehleitern in Dienst.",
    "Im Englischen Garten werden die Wege am Kleinhesseloher See erneuert.",
    "Der Stadtrat ehrt die Münchner Sportlerinnen und Sportler des Jahres.",
    "Das Kulturreferat vergibt Stipendien an zwölf junge Künstlerinnen und Künstler.",
    "Die Markthallen München erweitern die Öffnungszeiten des Viktualienmarkts.",
    "Das Gesundheitsreferat ruft zur Grippeschutzimpfung auf.",
    "Die Stadt sucht Pflegefamilien für Kinder in Notlagen.",
    "Das Planungsreferat stellt den Rahmenplan für das Kreativquartier vor.",
    "Die Münchner Kammerspiele laden zum Tag der offenen Tür.",
    "Der Friedhof am Perlacher Forst erhält einen Bereich für Baumbestattungen.",
    "Die Stadtwerke modernisieren das Müller'sche Volksbad.",
    "Der Ausländerbeirat lädt zum interkulturellen Fest auf dem Odeonsplatz.",
    "Das Referat für Arbeit und Wirtschaft fördert zwölf Start-ups im Werksviertel.",
    "Auf dem Königsplatz beginnt der Aufbau für das Sommerkino.",
]

AGENDA_STANDARD_START = [
    "TOP 1 Eröffnung der Sitzung und Feststellung der ordnungsgemäßen Ladung und Beschlussfähigkeit.",
    "TOP 2 Genehmigung der Niederschrift über die letzte öffentliche Sitzung.",
    "TOP 3 Bekanntgaben des Oberbürgermeisters.",
]
AGENDA_STANDARD_END = [
    "Anfragen aus dem Stadtrat.",
    "Die Sitzung ist öffentlich und findet im großen Sitzungssaal des Rathauses statt.",
    "Zuhörerinnen und Zuhörer sind willkommen; die Plätze sind begrenzt.",
]
AGENDA_ITEMS = [
    "Haushaltssatzung und Haushaltsplan für das kommende Jahr",
    "Bebauungsplan für das Wohngebiet an der Kiesgrube",
    "Neubau der Feuerwache Süd: Vergabe der Rohbauarbeiten",
    "Erhöhung der Gebühren für die Abfallentsorgung",
    "Sanierung des Hallenbads: Vorstellung der Entwurfsplanung",
    "Antrag der Fraktion auf Einführung eines Bürgerhaushalts",
    "Zuschüsse für Sportvereine im laufenden Jahr",
    "Satzung über die Erhebung einer Zweitwohnungsteuer",
    "Stellenplan des Jugendamts: zusätzliche Stellen in der Kita-Aufsicht",
    "Verkehrskonzept für die Innenstadt: Ergebnisse der Bürgerbeteiligung",
    "Wahl der Schöffinnen und Schöffen: Vorschlagsliste",
    "Neufassung der Friedhofssatzung",
    "Jahresabschluss der Stadtwerke und Entlastung des Aufsichtsrats",
    "Städtebauförderung: Programm für das Bahnhofsviertel",
    "Ausbau der Ganztagsbetreuung an Grundschulen",
    "Beitritt zum kommunalen Klimaschutz-Netzwerk",
    "Vergabe der Reinigungsleistungen für städtische Gebäude",
    "Benennung einer Straße im Neubaugebiet",
    "Bericht zur Unterbringung von Geflüchteten",
    "Umbau des Busbahnhofs: Kostenfortschreibung",
    "Änderung der Stellplatzsatzung",
    "Förderrichtlinie für Dachbegrünung",
    "Verlängerung des Vertrags mit dem Betreiber des Tierheims",
    "Sanierung der Stadtmauer: zweiter Bauabschnitt",
    "Neuordnung der Parkgebühren in der Altstadt",
    "Bericht des Rechnungsprüfungsamts",
    "Partnerschaft mit einer Stadt in der Ukraine",
]
AGENDAS = [  # (city, ISO date of the session)
    ("augsburg", "2025-03-20"),
    ("augsburg", "2025-04-24"),
    ("augsburg", "2025-05-22"),
    ("nuernberg", "2025-03-20"),
    ("nuernberg", "2025-04-30"),
    ("nuernberg", "2025-05-28"),
    ("regensburg", "2025-03-27"),
    ("regensburg", "2025-04-24"),
    ("regensburg", "2025-06-05"),
]

CALENDAR_HEADER = "Veranstaltungstipps der Stadt {short} für das Wochenende: Hier finden Sie eine Auswahl der Termine."
CALENDAR_RECURRING = {
    "fuerth": [
        "Samstag, 7 bis 13 Uhr: Wochenmarkt auf der Fürther Freiheit.",
        "Sonntag, 11 Uhr: Stadtführung durch die Altstadt, Treffpunkt am Grünen Markt.",
    ],
    "erlangen": [
        "Samstag, 7 bis 13 Uhr: Wochenmarkt auf dem Marktplatz.",
        "Sonntag, 14 Uhr: Führung durch den Botanischen Garten.",
    ],
}
CALENDAR_EVENTS = {  # each city's own events; "regional" ones may appear in both calendars
    "fuerth": [
        "Freitag, 19 Uhr: Lesung mit der Autorin Anna Weidinger in der Stadtbibliothek.",
        "Freitag, 20 Uhr: Jazzkonzert im Kulturforum.",
        "Samstag, 10 Uhr: Kinderflohmarkt im Stadtpark.",
        "Samstag, 15 Uhr: Eröffnung der Fotoausstellung „Industriekultur“ im Stadtmuseum.",
        "Samstag, 19.30 Uhr: Premiere im Stadttheater: „Der Besuch der alten Dame“.",
        "Sonntag, 10 Uhr: Familienlauf rund um den Wiesengrund.",
        "Sonntag, 16 Uhr: Orgelkonzert in der Auferstehungskirche.",
        "Freitag, 18 Uhr: Vernissage in der Städtischen Galerie.",
        "Samstag, 11 Uhr: Repair-Café im Nachbarschaftshaus Gostenhof.",
        "Sonntag, 15 Uhr: Kindertheater „Die kleine Hexe“ im Kulturforum.",
    ],
    "erlangen": [
        "Samstag, 20 Uhr: Poetry Slam im E-Werk.",
        "Sonntag, 13 Uhr: Tag der offenen Tür bei der Freiwilligen Feuerwehr Büchenbach.",
        "Freitag, 17 Uhr: Feierabendmarkt auf dem Neustädter Kirchenplatz.",
        "Sonntag, 11 Uhr: Matinee der Städtischen Sing- und Musikschule im Redoutensaal.",
        "Samstag, 9 Uhr: Pflanzentauschbörse im Gemeinschaftsgarten Röthelheim.",
        "Freitag, 21 Uhr: Open-Air-Kino im Schlossgarten.",
        "Sonntag, 17 Uhr: Kammerkonzert im Markgrafentheater.",
        "Samstag, 16 Uhr: Stadtteilfest in Bruck.",
        "Samstag, 15 Uhr: Führung durch das Stadtmuseum zur Geschichte der Hugenotten.",
        "Freitag, 19 Uhr: Science Slam im Audimax der Universität.",
    ],
    "regional": [
        "Samstag, 14 Uhr: Radtour des ADFC entlang der Regnitz von Fürth nach Erlangen.",
        "Sonntag, 12 Uhr: Fränkisches Weinfest im Wiesengrund zwischen beiden Städten.",
    ],
}
CALENDAR_WEEKENDS = ["2025-05-09", "2025-05-16", "2025-05-23", "2025-05-30"]

CLOSURE_TEXT = [
    "Das Bürgerbüro im Rathaus bleibt {when} geschlossen.",
    "Online-Dienste wie die Wohnsitzanmeldung und die Terminbuchung stehen weiterhin zur Verfügung.",
    "Wir bitten um Verständnis.",
]
CLOSURES = [  # (city, title, when, date)
    ("augsburg", "Bürgerbüro am Rosenmontag geschlossen", "am Rosenmontag, 3. März, ganztägig", "2025-02-26"),
    ("augsburg", "Bürgerbüro am Faschingsdienstag nachmittags geschlossen", "am Faschingsdienstag, 4. März, ab 12 Uhr", "2025-02-27"),
    (
        "augsburg",
        "Bürgerbüro wegen Betriebsversammlung geschlossen",
        "wegen einer Betriebsversammlung am Mittwoch, 9. April, bis 13 Uhr",
        "2025-04-03",
    ),
    (
        "ingolstadt",
        "Bürgerbüro wegen Softwareumstellung geschlossen",
        "wegen der Umstellung auf ein neues Fachverfahren von Donnerstag, 15. Mai, bis Samstag, 17. Mai,",
        "2025-05-08",
    ),
    ("ingolstadt", "Bürgerbüro am Brückentag geschlossen", "am Brückentag nach Christi Himmelfahrt, Freitag, 30. Mai,", "2025-05-22"),
    ("ingolstadt", "Bürgerbüro am Fronleichnamsfreitag geschlossen", "am Freitag nach Fronleichnam, 20. Juni,", "2025-06-13"),
]

ROADWORKS_HEADER = "Baustellen in Nürnberg: Das Servicebetrieb Öffentlicher Raum informiert über Verkehrsbehinderungen in dieser Woche."
ROADWORKS_FOOTER = "Aktuelle Sperrungen zeigt jederzeit die Baustellenkarte im Internet."
ROADWORKS_ITEMS = [
    "Die Fürther Straße ist zwischen Maximilianstraße und Leyher Straße stadteinwärts einspurig.",
    "In der Regensburger Straße wird nachts die Fahrbahndecke erneuert; der Verkehr wird umgeleitet.",
    "Die Brücke am Wöhrder See ist für Radfahrer gesperrt, eine Umleitung ist ausgeschildert.",
    "Am Plärrer wird eine Ampelanlage erneuert; es kommt zu Wartezeiten.",
    "Die Allersberger Straße ist wegen Kanalarbeiten bis Freitag halbseitig gesperrt.",
    "In der Äußeren Bayreuther Straße entfallen wegen Leitungsarbeiten zwei Fahrstreifen.",
    "Die Zufahrt zum Tiergarten ist am Wochenende nur über die Schmausenbuckstraße möglich.",
    "Am Rennweg wird ein Gehweg verbreitert; Parkplätze entfallen.",
    "Die Sulzbacher Straße ist zwischen Dürrenhofstraße und Ostendstraße für Lkw gesperrt.",
    "In Langwasser wird die Glogauer Straße wegen Baumpflege vormittags gesperrt.",
    "Die Unterführung am Frankenschnellweg ist nachts zwischen 22 und 5 Uhr geschlossen.",
    "Am Hauptbahnhof wird der Bahnhofsplatz umgebaut; die Taxistände sind verlegt.",
    "Die Wallensteinstraße erhält einen neuen Radfahrstreifen; es gilt Tempo 30.",
    "In der Pillenreuther Straße wird eine Fernwärmeleitung verlegt.",
    "Die Schweinauer Hauptstraße ist wegen eines Straßenfests am Samstag gesperrt.",
    "Am Nordostbahnhof wird die Haltestelle barrierefrei ausgebaut.",
]
ROADWORKS_WEEKS = ["2025-04-07", "2025-04-14", "2025-04-21", "2025-04-28", "2025-05-05"]

NOTICE_TEXT = [
    "Öffentliche Bekanntmachung der Stadt Regensburg.",
    "Der Stadtrat hat in seiner Sitzung am {decided} die Aufstellung des Bebauungsplans Nr. {number} „{area}“ beschlossen.",
    "{purpose}",
    "Der Entwurf des Bebauungsplans mit Begründung liegt vom {start} bis einschließlich {end} im Amt für Stadtentwicklung, D.-Martin-Luther-Straße 1, während der Dienststunden öffentlich aus.",
    "Während dieser Frist können Stellungnahmen schriftlich oder zur Niederschrift abgegeben werden.",
    "Nicht fristgerecht abgegebene Stellungnahmen können bei der Beschlussfassung unberücksichtigt bleiben.",
    "Die Unterlagen sind zusätzlich im Internet auf der Beteiligungsplattform der Stadt einsehbar.",
]
NOTICES = [  # (number, area, purpose, decided, start, end, date)
    (
        "118",
        "Wohnen an der Prüfeninger Straße",
        "Ziel ist die Entwicklung von rund 250 Wohnungen auf dem ehemaligen Gelände einer Brauerei.",
        "12. Februar 2025",
        "3. März 2025",
        "4. April 2025",
        "2025-02-24",
    ),
    (
        "121",
        "Gewerbegebiet Burgweinting-Ost",
        "Ziel ist die Ansiedlung von Handwerksbetrieben und kleinem Gewerbe auf 6 Hektar.",
        "12. Februar 2025",
        "10. März 2025",
        "11. April 2025",
        "2025-03-03",
    ),
    (
        "124",
        "Schulcampus Königswiesen",
        "Ziel ist der Neubau einer Grundschule mit Sporthalle und Kindertagesstätte.",
        "19. März 2025",
        "7. April 2025",
        "9. Mai 2025",
        "2025-03-31",
    ),
    (
        "127",
        "Grünzug am Aubach",
        "Ziel ist die Sicherung eines Grünzugs mit Fuß- und Radweg entlang des Aubachs.",
        "19. März 2025",
        "14. April 2025",
        "16. Mai 2025",
        "2025-04-07",
    ),
]
