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
    hits = {i for i, token in enumerate(tokens) if any(matches(german.fold(w)) for w in german.WORD.findall(token))}
    start = max(0, min(hits) - window // 4) if hits else 0
    shown = tokens[start : start + window]
    parts = []
    for i, token in enumerate(shown, start):
        escaped = html.escape(token)
        parts.append(f"<mark>{escaped}</mark>" if i in hits else escaped)
    prefix = "… " if start > 0 else ""
    suffix = " …" if start + window < len(tokens) else ""
    return Markup(prefix + " ".join(parts) + suffix)
