"""A passage of an article's text around the first hit, with the matching words marked."""

from __future__ import annotations

import html

from markupsafe import Markup

from syndicate.search import german

WINDOW = 30  # words in a snippet


def snippet(text: str, terms: list[german.Term], window: int = WINDOW) -> Markup:
    """Escaped text of about ``window`` words starting a little before the first hit, hits in <mark>,
    "…" where the passage is cut. Without a hit it is the text's beginning."""
    tokens = text.split()
    matches = german.highlights(terms)
    known: dict[str, bool] = {}  # a word's answer, once per word of this text

    def hit(token: str) -> bool:
        for word in german.WORD.findall(token):
            found = known.get(word)
            if found is None:
                found = known[word] = matches(german.fold(word))
            if found:
                return True
        return False

    # the first hit decides the passage; only the passage's words are looked at after it
    first = next((i for i, token in enumerate(tokens) if hit(token)), None)
    start = max(0, first - window // 4) if first is not None else 0
    shown = tokens[start : start + window]
    hits = {i for i, token in enumerate(shown, start) if hit(token)} if first is not None else set()
    parts = []
    for i, token in enumerate(shown, start):
        escaped = html.escape(token)
        parts.append(f"<mark>{escaped}</mark>" if i in hits else escaped)
    prefix = "… " if start > 0 else ""
    suffix = " …" if start + window < len(tokens) else ""
    return Markup(prefix + " ".join(parts) + suffix)
