"""What the feed says about itself: how often it changes (RSS ``<ttl>``, ``sy:updatePeriod``/``sy:updateFrequency``)
and where it is pushed from (a WebSub hub, ``push_links``).

Values in, values out. ``<ttl>`` arrives parsed (``ParsedFeed.ttl_minutes``); the syndication
module's elements are read from the document head (before the first item), where they live.
"""

from __future__ import annotations

import re

PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400, "yearly": 365 * 86400}
HEAD_BYTES = 64 * 1024
_FIRST_ITEM = re.compile(rb"<(?:\w+:)?(?:item|entry)[\s>/]", re.I)
_PERIOD = re.compile(rb"<(?:\w+:)?updatePeriod\s*>\s*(\w+)\s*<", re.I)
_FREQUENCY = re.compile(rb"<(?:\w+:)?updateFrequency\s*>\s*([0-9]{1,9})\s*<", re.I)  # more digits: int() may refuse


def update_period_seconds(content: bytes) -> int | None:
    """``sy:updatePeriod`` divided by ``sy:updateFrequency`` (default 1), in seconds, or None."""
    head = content[:HEAD_BYTES]
    if (item := _FIRST_ITEM.search(head)) is not None:
        head = head[: item.start()]
    period = _PERIOD.search(head)
    if period is None or (seconds := PERIODS.get(period.group(1).decode("ascii", "replace").lower())) is None:
        return None
    frequency = _FREQUENCY.search(head)
    times = int(frequency.group(1)) if frequency else 1
    return seconds // times if times > 0 else None


def feed_interval(content: bytes, ttl_minutes: int | None) -> int | None:
    """The longest interval the feed itself asks for (``<ttl>`` or ``sy:updatePeriod``), in seconds."""
    hints = [h for h in (ttl_minutes * 60 if ttl_minutes else None, update_period_seconds(content)) if h]
    return max(hints) if hints else None


_LINK = re.compile(rb"<(?:\w+:)?link\b[^>]*>", re.I)
_ATTRIBUTE = re.compile(rb"""(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def push_links(content: bytes) -> tuple[str, str] | None:
    """The WebSub hub and the feed's own URL (``rel="hub"``, ``rel="self"``) from the document head, or None
    when the feed advertises no hub (WebSub: both are needed to subscribe)."""
    head = content[:HEAD_BYTES]
    if (item := _FIRST_ITEM.search(head)) is not None:
        head = head[: item.start()]
    found: dict[str, str] = {}
    for tag in _LINK.findall(head):
        attributes = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _ATTRIBUTE.finditer(tag)}
        rel, href = attributes.get(b"rel", b"").lower(), attributes.get(b"href", b"").strip()
        if href.startswith((b"http://", b"https://")):
            for name in rel.split():
                found.setdefault(name.decode("ascii", "replace"), href.decode("utf-8", "replace"))
    if "hub" in found and "self" in found:
        return found["hub"], found["self"]
    return None
