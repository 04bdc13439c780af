"""Generate the labelled deduplication set: ``tests/fixtures/dedupe/labelled.json``.

    .venv/bin/python bench/dedupe_labelled.py [--seed 5] [--out PATH]

Every record is one item as a city's feed shows it at one poll, labelled with the story it
tells. Kinds: ``original``; ``republication`` (another city's copy with its own URL, GUID,
lead or rewritten first sentence, title variant, dropped or edited sentences and footer);
``edit`` (the same item of the same feed, same GUID, with changed text); ``guid_change``
(the same item re-published under a new GUID and URL after a CMS change); and ``recurring``
(Rathaus Umschau issues, council agendas, event calendars, closure notices: distinct stories
that share boilerplate). Records are stored in the order of ``seen``.

The committed file is made with the default seed; ``--seed`` gives an independent draw of
the same kinds (thresholds were chosen on other seeds, see bench/dedupe_thresholds.py).
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
from datetime import datetime, timedelta
from pathlib import Path

import dedupe_corpus as corpus

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "dedupe" / "labelled.json"
CITIES = ["muenchen", "augsburg", "nuernberg", "regensburg", "fuerth", "erlangen", "ingolstadt", "wuerzburg"]
MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"]
SUBSTITUTIONS = [  # light editorial edits a republishing press office makes
    ("Kommunen", "Städte und Gemeinden"),
    ("ab sofort", "seit heute"),
    ("Bürgerinnen und Bürger", "Einwohnerinnen und Einwohner"),
    ("rund ", "etwa "),
    ("künftig", "in Zukunft"),
    ("außerdem", "zudem"),
    ("Außerdem", "Zudem"),
    ("sollte", "muss"),
]
NUMBER_RE = re.compile(r"\d+")


def slugify(text: str) -> str:
    folded = text.lower().translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}))
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:60]


def german_day(when: datetime) -> str:
    return f"{when.day}. {MONTHS[when.month - 1]} {when.year}"


def as_html(sentences: list[str], paragraphs: int = 2) -> str:
    """Sentences as <p> paragraphs; the last sentence (footer) gets its own paragraph."""
    body, footer = sentences[:-1], sentences[-1:]
    size = max(1, -(-len(body) // paragraphs))
    blocks = [" ".join(body[i : i + size]) for i in range(0, len(body), size)] + footer
    return "".join(f"<p>{html.escape(block, quote=False)}</p>" for block in blocks)


class Builder:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.records: list[dict] = []
        self.counter = 0

    def add(
        self,
        *,
        story: str,
        kind: str,
        source: str,
        title: str,
        sentences: list[str],
        published: datetime,
        seen: datetime,
        guid: str | None = None,
        link: str | None = None,
        paragraphs: int = 2,
    ) -> dict:
        self.counter += 1
        host = corpus.SOURCES[source][2]
        record = {
            "id": f"r{self.counter:04d}",
            "story": story,
            "kind": kind,
            "source": source,
            "guid": guid or f"{source}-{self.counter:05d}",
            "link": link or f"https://{host}/aktuelles/{slugify(title)}-{self.counter}",
            "title": title,
            "html": as_html(sentences, paragraphs),
            "published": published.isoformat(),
            "seen": seen.isoformat(),
        }
        self.records.append(record)
        return record

    def delay(self, low_minutes: int, high_minutes: int) -> timedelta:
        return timedelta(minutes=self.rng.randint(low_minutes, high_minutes))

    # ------------------------------------------------------------ stories and their copies

    def original(self, story: dict) -> dict:
        published = datetime.fromisoformat(story["date"])
        sentences = story["body"] + [corpus.SOURCES[story["origin"]][3]]
        return self.add(
            story=story["key"],
            kind="original",
            source=story["origin"],
            title=story["title"],
            sentences=sentences,
            published=published,
            seen=published + self.delay(5, 60),
        )

    def republication(self, story: dict, original: dict, city: str) -> dict:
        rng = self.rng
        name, short, host, footer = corpus.SOURCES[city]
        origin_name = corpus.SOURCES[story["origin"]][0]
        published = datetime.fromisoformat(story["date"])
        published += -self.delay(120, 1200) if rng.random() < 0.12 else self.delay(60, 72 * 60)
        body = list(story["body"])
        lead = rng.choice(corpus.LEADS).format(name=name, short=short, origin=origin_name, day=german_day(published))
        intros = story.get("intros") or []
        style = rng.random()
        if intros and style < 0.45:
            body[0] = rng.choice(intros).format(short=short)  # rewritten first sentence
        elif style < 0.8:
            body.insert(0, lead)
        elif intros:
            body = [lead, rng.choice(intros).format(short=short)] + body[1:]
        if rng.random() < 0.35:
            body.pop()  # the last sentence dropped
        if len(body) > 4 and rng.random() < 0.2:
            body.pop(rng.randrange(2, len(body) - 1))
        text_edits = [pair for pair in SUBSTITUTIONS if rng.random() < 0.3]
        for old, new in text_edits:
            body = [sentence.replace(old, new, 1) for sentence in body]
        titles = [story["title"], story["title"], *story.get("alt", [])]
        title = rng.choice(titles)
        if rng.random() < 0.3:
            title = rng.choice(corpus.TITLE_PREFIXES).format(short=short) + title
        link = original["link"] if rng.random() < 0.2 else None  # some copies link to the original
        if link and rng.random() < 0.5:
            link += "?utm_source=" + city
        return self.add(
            story=story["key"],
            kind="republication",
            source=city,
            title=title,
            sentences=body + [footer],
            published=published,
            seen=published + self.delay(5, 120),
            link=link,
        )

    def edit(self, record: dict) -> dict:
        """The same item (same GUID and link) with changed text, seen later."""
        rng = self.rng
        sentences = re.findall(r"<p>(.*?)</p>", record["html"])
        text = " ".join(html.unescape(s) for s in sentences[:-1])
        numbers = NUMBER_RE.findall(text)
        choice = rng.random()
        if numbers and choice < 0.4:
            old = rng.choice(numbers)
            text = text.replace(old, str(int(old) + rng.randint(1, 9)), 1)
        elif choice < 0.7:
            text += " Aktualisiert: Weitere Informationen folgen in den nächsten Tagen."
        else:
            text = text.replace(" und ", " sowie ", 1).replace("  ", " ")
        title = record["title"] if rng.random() < 0.7 else record["title"] + " (aktualisiert)"
        seen = datetime.fromisoformat(record["seen"]) + self.delay(60, 30 * 60)
        return self.add(
            story=record["story"],
            kind="edit",
            source=record["source"],
            title=title,
            sentences=[text, html.unescape(sentences[-1])],
            published=datetime.fromisoformat(record["published"]),
            seen=seen,
            guid=record["guid"],
            link=record["link"],
            paragraphs=1,
        )

    def guid_change(self, record: dict) -> dict:
        """The same item under a new GUID (and, mostly, a new URL) after a CMS change."""
        rng = self.rng
        host = corpus.SOURCES[record["source"]][2]
        sentences = [html.unescape(s) for s in re.findall(r"<p>(.*?)</p>", record["html"])]
        if rng.random() < 0.4:
            sentences[0] = sentences[0].replace(".", ". Die Meldung wurde ergänzt.", 1)
        title = record["title"] if rng.random() < 0.7 else record["title"].replace(":", " –")
        link = record["link"] if rng.random() < 0.25 else f"https://{host}/neu/{slugify(title)}"
        published = datetime.fromisoformat(record["published"]) + timedelta(hours=rng.choice([0, 0, 1, -1]))
        seen = datetime.fromisoformat(record["seen"]) + self.delay(120, 40 * 60)
        return self.add(
            story=record["story"],
            kind="guid_change",
            source=record["source"],
            title=title,
            sentences=sentences,
            published=published,
            seen=seen,
            guid=f"{record['source']}-cms2-{self.counter + 1:05d}",
            link=link,
            paragraphs=1,
        )

    # ------------------------------------------------------------ recurring formats

    def rathaus_umschau(self) -> None:
        blurbs = list(corpus.RU_BLURBS)
        self.rng.shuffle(blurbs)
        first = datetime.fromisoformat("2025-03-07T12:00:00+01:00")
        for issue in range(6):
            published = first + timedelta(weeks=issue)
            number = published.isocalendar().week
            sentences = [corpus.RU_HEADER, *blurbs[issue * 4 : issue * 4 + 4], corpus.RU_FOOTER]
            self.add(
                story=f"ru-{number}",
                kind="recurring",
                source="muenchen",
                title=f"Rathaus Umschau {number}/2025",
                sentences=sentences,
                published=published,
                seen=published + self.delay(5, 30),
                paragraphs=3,
            )

    def agendas(self) -> None:
        for city, day in corpus.AGENDAS:
            session = datetime.fromisoformat(day + "T15:00:00+01:00")
            items = self.rng.sample(corpus.AGENDA_ITEMS, 4)
            sentences = list(corpus.AGENDA_STANDARD_START)
            sentences += [f"TOP {i} {item}." for i, item in enumerate(items, start=4)]
            sentences += [f"TOP {len(items) + 4} {corpus.AGENDA_STANDARD_END[0]}", *corpus.AGENDA_STANDARD_END[1:]]
            published = session - timedelta(days=7)
            self.add(
                story=f"agenda-{city}-{day}",
                kind="recurring",
                source=city,
                title=f"Tagesordnung der Stadtratssitzung am {german_day(session)}",
                sentences=sentences,
                published=published,
                seen=published + self.delay(5, 90),
                paragraphs=4,
            )

    def calendars(self) -> None:
        for city, recurring in corpus.CALENDAR_RECURRING.items():
            short = corpus.SOURCES[city][1]
            for day in corpus.CALENDAR_WEEKENDS:
                events = self.rng.sample(corpus.CALENDAR_EVENTS[city], 3) + self.rng.sample(corpus.CALENDAR_EVENTS["regional"], 1)
                published = datetime.fromisoformat(day + "T10:00:00+02:00") - timedelta(days=1)
                sentences = [corpus.CALENDAR_HEADER.format(short=short), *recurring, *events, corpus.SOURCES[city][3]]
                self.add(
                    story=f"calendar-{city}-{day}",
                    kind="recurring",
                    source=city,
                    title="Veranstaltungstipps für das Wochenende",
                    sentences=sentences,
                    published=published,
                    seen=published + self.delay(5, 60),
                    paragraphs=3,
                )

    def roadworks(self) -> None:
        items = list(corpus.ROADWORKS_ITEMS)
        self.rng.shuffle(items)
        for week, day in enumerate(corpus.ROADWORKS_WEEKS):
            published = datetime.fromisoformat(day + "T08:00:00+02:00")
            picked = [items[(week * 3 + i) % len(items)] for i in range(4)]  # consecutive weeks share one item
            sentences = [corpus.ROADWORKS_HEADER, *picked, corpus.ROADWORKS_FOOTER]
            self.add(
                story=f"roadworks-{day}",
                kind="recurring",
                source="nuernberg",
                title="Baustellen der Woche",
                sentences=sentences,
                published=published,
                seen=published + self.delay(5, 60),
                paragraphs=2,
            )

    def notices(self) -> None:
        for number, area, purpose, decided, start, end, day in corpus.NOTICES:
            published = datetime.fromisoformat(day + "T07:30:00+01:00")
            values = dict(number=number, area=area, purpose=purpose, decided=decided, start=start, end=end)
            sentences = [line.format(**values) for line in corpus.NOTICE_TEXT]
            self.add(
                story=f"notice-{number}",
                kind="recurring",
                source="regensburg",
                title=f"Bekanntmachung: Bebauungsplan Nr. {number} „{area}“",
                sentences=sentences,
                published=published,
                seen=published + self.delay(5, 60),
                paragraphs=2,
            )

    def closures(self) -> None:
        for i, (city, title, when, day) in enumerate(corpus.CLOSURES):
            published = datetime.fromisoformat(day + "T09:00:00+01:00")
            sentences = [corpus.CLOSURE_TEXT[0].format(when=when), *corpus.CLOSURE_TEXT[1:], corpus.SOURCES[city][3]]
            self.add(
                story=f"closure-{city}-{i}",
                kind="recurring",
                source=city,
                title=title,
                sentences=sentences,
                published=published,
                seen=published + self.delay(5, 60),
                paragraphs=1,
            )


def build(seed: int) -> dict:
    builder = Builder(seed)
    rng = builder.rng
    originals = {story["key"]: (story, builder.original(story)) for story in corpus.SHARED + corpus.LOCAL}
    copies: list[dict] = []
    for story in corpus.SHARED:
        cities = rng.sample([c for c in CITIES if c != story["origin"]], rng.randint(3, 6))
        copies += [builder.republication(story, originals[story["key"]][1], city) for city in cities]
    for key, cities in corpus.LOCAL_REPUBLISHED.items():
        story, original = originals[key]
        copies += [builder.republication(story, original, city) for city in cities]
    builder.rathaus_umschau()
    builder.agendas()
    builder.calendars()
    builder.closures()
    builder.roadworks()
    builder.notices()
    stored = [r for r in builder.records if r["kind"] != "recurring"]
    recurring = [r for r in builder.records if r["kind"] == "recurring"]
    for record in rng.sample(stored, 22) + rng.sample(recurring, 4):
        builder.edit(record)
    for record in rng.sample([r for r in stored if r["kind"] != "edit"], 16) + rng.sample(recurring, 3):
        builder.guid_change(record)
    records = sorted(builder.records, key=lambda r: (r["seen"], r["id"]))
    sources = {slug: {"name": name, "url": f"https://{host}/feed.xml"} for slug, (name, _short, host, _footer) in corpus.SOURCES.items()}
    return {"seed": seed, "sources": sources, "records": records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = build(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    kinds: dict[str, int] = {}
    for record in data["records"]:
        kinds[record["kind"]] = kinds.get(record["kind"], 0) + 1
    stories = len({r["story"] for r in data["records"]})
    print(f"{args.out}: {len(data['records'])} records, {stories} stories, {kinds}")


if __name__ == "__main__":
    main()
