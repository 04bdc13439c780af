"""XML safety: entity expansion (billion laughs) and external entities are never resolved."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from syndicate.reader.parse import parse

LAUGHS = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(2, 10))
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol1 "lol">' + LAUGHS + "]>"
    '<rss version="2.0"><channel><title>&lol9;</title><item><title>Eintrag &lol9;</title>'
    "<link>https://www.nuernberg.de/presse/mitteilungen/pm_1.html</link></item></channel></rss>"
).encode()


def test_billion_laughs_is_not_expanded():
    feed = parse(BILLION_LAUGHS)
    assert feed.entries, "the document must still be read"
    title = feed.entries[0].title
    assert "lollol" not in title and len(title) < 100


@pytest.mark.slow
def test_billion_laughs_stays_small_in_a_fresh_process():
    code = textwrap.dedent(
        f"""
        import re
        from syndicate.reader.parse import parse
        parse({BILLION_LAUGHS!r})
        # VmHWM is this process's own peak; ru_maxrss would carry over the forking parent's peak
        print(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
        """
    )
    peak_kib = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout)
    assert peak_kib < 300 * 1024  # an expansion would need gigabytes


def test_external_entity_is_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("GEHEIM-4711")
    document = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>Feed &xxe;</title><item><title>Titel &xxe;</title>'
        "<description>Text &xxe;</description></item></channel></rss>"
    ).encode()
    feed = parse(document)
    seen = feed.title + " ".join(e.title + e.summary + e.content for e in feed.entries)
    assert "GEHEIM-4711" not in seen


def test_body_that_looks_like_a_path_is_not_opened(tmp_path):
    secret = tmp_path / "feed.xml"
    secret.write_text('<rss version="2.0"><channel><title>aus Datei</title><item><title>x</title></item></channel></rss>')
    try:
        feed = parse(str(secret).encode())
    except Exception as exc:  # noqa: BLE001 - any parse error is fine, reading the file is not
        assert "aus Datei" not in str(exc)
    else:
        assert feed.title != "aus Datei"
