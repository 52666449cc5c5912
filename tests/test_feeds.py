"""ingest.crawl.feeds on hand-made feeds and sitemaps (tests/fixtures/feeds) and on generated hostile
documents: entity bombs, external entities, gzip bombs, a 200 000-URL sitemap."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.crawl.feeds import XmlReport, iter_feed, iter_sitemap

from .conftest import FIXTURES

FEEDS = FIXTURES / "feeds"
ROOT = Path(__file__).resolve().parent.parent


def read(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def test_rss_entries_link_title_date_guid() -> None:
    report = XmlReport()
    entries = list(iter_feed(read("world.rss"), report=report))
    assert report.root == "rss"
    assert (report.entries, report.errors) == (6, 0)
    first = entries[0]
    assert first.link.startswith("https://www.euronews.com/2026/01/06/as-trump-pitches")
    assert first.title == "As Trump pitches Venezuelan oil dream, experts warn it won't be easy"
    assert first.guid == "euronews-2026-01-06-venezuela"
    assert first.published_raw == "Tue, 06 Jan 2026 13:55:27 +0100"
    assert first.published == datetime(2026, 1, 6, 12, 55, 27, tzinfo=UTC)
    assert entries[1].title is not None
    assert entries[1].title.startswith("Guerre en Ukraine")  # CDATA
    # no <link>: the permalink guid is the URL; dc:date is ISO 8601
    assert entries[2].link == entries[2].guid
    assert entries[2].link.startswith("https://elpais.com/internacional/2024-10-15/")
    assert entries[2].published == datetime(2024, 10, 15, 6, 22, 57, tzinfo=UTC)


def test_atom_entries_alternate_link_html_title_xml_base() -> None:
    report = XmlReport()
    entries = list(iter_feed(read("europe.atom"), report=report))
    assert report.root == "feed"
    assert len(entries) == 2
    rp, pravda = entries
    assert rp.link.startswith("https://www.rp.pl/konflikty-zbrojne/art44186001")  # not the image
    assert rp.title == (
        "Iran zrezygnował z drugiej rundy rozmów z USA. Powodem „wygórowane żądania Waszyngtonu”"
    )
    assert rp.published == datetime(2026, 4, 19, 17, 45, 44, tzinfo=UTC)
    assert rp.updated == datetime(2026, 4, 19, 17, 50, tzinfo=UTC)
    assert rp.guid == "tag:rp.pl,2026-04-19:art44186001"
    assert pravda.link == "https://www.pravda.com.ua/rus/articles/2026/01/08/8015225/"
    # no <published>: updated stands in
    assert pravda.published == datetime(2026, 1, 8, 15, 46, tzinfo=UTC)


def test_relative_rss_link_is_resolved_against_the_feed_url() -> None:
    body = b"<rss><channel><item><link>/a/1.html</link></item></channel></rss>"
    (entry,) = iter_feed(body, base_url="https://news.example.org/feeds/x.rss")
    assert entry.link == "https://news.example.org/a/1.html"


def test_sitemap_index_entries() -> None:
    report = XmlReport()
    entries = list(iter_sitemap(read("index.xml"), report=report))
    assert report.root == "sitemapindex"
    assert [e.is_index for e in entries] == [True, True, True]
    assert [e.loc.rsplit("/", 1)[1] for e in entries] == ["news.xml", "2026.xml.gz", "2024.xml.gz"]
    assert entries[1].lastmod == datetime(2026, 4, 15, tzinfo=UTC)  # a W3C date without time
    assert entries[1].date == entries[1].lastmod


def test_urlset_and_its_gzip_version_read_the_same() -> None:
    plain = list(iter_sitemap(read("2026.xml")))
    report = XmlReport()
    packed = list(iter_sitemap(gzip.compress(read("2026.xml")), report=report))
    assert packed == plain
    assert report.root == "urlset"
    assert [e.is_index for e in plain] == [False, False, False]
    assert plain[0].lastmod_raw == "2026-04-19T19:50:00+02:00"
    assert plain[0].lastmod == datetime(2026, 4, 19, 17, 50, tzinfo=UTC)


def test_gzip_sitemap_from_a_file_stream() -> None:
    """Streams (an open .xml.gz file) are read as they come, like bytes."""
    stream = io.BytesIO(gzip.compress(read("2026.xml")))
    assert len(list(iter_sitemap(stream))) == 3


def test_google_news_fields_and_hreflang_alternates() -> None:
    entries = list(iter_sitemap(read("news.xml")))
    assert len(entries) == 3  # the image:image inside an entry is not an entry
    pravda, euronews, figaro = entries
    assert pravda.news_title is not None
    assert pravda.news_title.startswith("157 миллионов")
    assert pravda.news_published_raw == "2026-01-08T17:46:00+02:00"
    assert pravda.news_published == datetime(2026, 1, 8, 15, 46, tzinfo=UTC)
    assert pravda.news_language == "ru"
    assert pravda.news_publication == "Українська правда"
    assert pravda.alternates == {
        "uk": "https://www.pravda.com.ua/articles/2026/01/08/8015225/",
        "ru-UA": "https://www.pravda.com.ua/rus/articles/2026/01/08/8015225/",
        "x-default": "https://www.pravda.com.ua/articles/2026/01/08/8015225/",
    }
    assert pravda.lastmod is None
    assert pravda.date == pravda.news_published
    # news:publication_date is the entry's date, over lastmod
    assert euronews.lastmod == datetime(2026, 1, 6, 13, 10, tzinfo=UTC)
    assert euronews.date == datetime(2026, 1, 6, 12, 55, 27, tzinfo=UTC)
    assert (
        euronews.alternates["fr"] == "https://fr.euronews.com/2026/01/06/trump-petrole-venezuelien"
    )
    assert figaro.news_language == "fr"
    assert figaro.alternates == {}


def test_malformed_xml_is_recovered_and_the_errors_counted() -> None:
    report = XmlReport()
    entries = list(iter_feed(read("malformed.rss"), report=report))
    # the unescaped & and the cut-off end are survivable; the unclosed <title> swallows a link
    assert [e.link for e in entries] == [
        "https://news.example.org/a/1.html",
        "https://news.example.org/a/3.html",
    ]
    assert entries[1].title == "Third item"
    assert report.errors >= 3
    assert any("Premature end of data" in m for m in report.messages)


@pytest.mark.parametrize(
    "body",
    [b"", b"   \n", b"<html><body><p>Not a feed</p></body></html>", b"\x00\x01 binary junk"],
)
def test_what_is_not_a_feed_yields_nothing_and_never_raises(body: bytes) -> None:
    report = XmlReport()
    assert list(iter_feed(body, report=report)) == []
    assert list(iter_sitemap(body)) == []
    assert report.entries == 0


def test_leading_whitespace_before_the_xml_declaration_is_tolerated() -> None:
    report = XmlReport()
    body = b"\n\n   " + read("2026.xml")
    assert len(list(iter_sitemap(body, report=report))) == 3
    assert report.errors == 0


def billion_laughs(levels: int = 12) -> bytes:
    """10**levels "lol"s if expanded: 3 TB at 12 levels."""
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n'
        + "\n".join(decls)
        + f"\n]>\n<rss><channel><item><title>&lol{levels};</title>"
        "<link>https://news.example.org/a/1.html</link></item></channel></rss>"
    ).encode()


def test_billion_laughs_is_not_expanded() -> None:
    report = XmlReport()
    started = time.monotonic()
    entries = list(iter_feed(billion_laughs(), report=report))
    assert time.monotonic() - started < 2
    for entry in entries:  # libxml2 >= 2.11 refuses the document; older ones leave &lol12; as is
        assert "lollol" not in (entry.title or "")
        assert len(entry.title or "") < 100


def test_billion_laughs_memory_is_bounded_in_a_subprocess(tmp_path: Path) -> None:
    """The process that parses the bomb stays small (ru_maxrss), even with 12 levels."""
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(billion_laughs())
    code = textwrap.dedent(
        f"""
        import resource
        from ingest.crawl.feeds import iter_feed, iter_sitemap
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        data = open({str(bomb)!r}, "rb").read()
        list(iter_feed(data)); list(iter_sitemap(data))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    assert int(result.stdout.strip()) < 20 * 1024  # KiB


@pytest.mark.parametrize("parameter_entity", [False, True])
def test_xxe_external_entity_is_not_read(tmp_path: Path, parameter_entity: bool) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7d1f")
    uri = secret.resolve().as_uri()
    extra = f'<!ENTITY % pe SYSTEM "{uri}">\n%pe;\n' if parameter_entity else ""
    dtd = f'<?xml version="1.0"?>\n<!DOCTYPE doc [\n<!ENTITY xxe SYSTEM "{uri}">\n{extra}]>\n'
    sitemap = (
        dtd + '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://news.example.org/&xxe;/1.html</loc>"
        "<news:news xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>"
        "<news:title>&xxe;</news:title></news:news></url></urlset>"
    ).encode()
    feed = (
        dtd + "<rss><channel><item><title>&xxe;</title>"
        "<link>https://news.example.org/&xxe;/1.html</link></item></channel></rss>"
    ).encode()
    seen = repr(list(iter_sitemap(sitemap))) + repr(list(iter_feed(feed)))
    assert "TOP-SECRET" not in seen
    if not parameter_entity:  # the document itself is fine: only the entity is left out
        assert "https://news.example.org//1.html" in seen


def test_a_gzip_bomb_stops_at_the_size_cap() -> None:
    head = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    entry = b"<url><loc>https://news.example.org/a.html</loc></url>"
    bomb = gzip.compress(head + entry * 10 + b" " * (200 * 1024 * 1024) + b"</urlset>")
    assert len(bomb) < 1024 * 1024
    report = XmlReport()
    started = time.monotonic()
    entries = list(iter_sitemap(bomb, max_size=1024 * 1024, report=report))
    assert time.monotonic() - started < 5
    assert report.too_large
    assert len(entries) == 10  # what was read before the cap still counts


def test_a_truncated_gzip_keeps_what_was_read() -> None:
    entry = b"<url><loc>https://news.example.org/a/%d.html</loc></url>"
    body = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    body += b"".join(entry % i for i in range(20000)) + b"</urlset>"
    packed = gzip.compress(body)
    report = XmlReport()
    entries = list(iter_sitemap(packed[: len(packed) // 2], report=report))
    assert 0 < len(entries) < 20000
    assert report.errors >= 1
    assert all(e.loc.endswith(".html") for e in entries)  # no half-read URL


HUGE = 200_000


def test_a_huge_sitemap_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    """200 000 URLs (a 30 MB document) read in a subprocess, whose peak memory must stay far
    below what the tree would take (about 170 MB with lxml 6)."""
    path = tmp_path / "huge.xml.gz"
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n')
        for i in range(HUGE):
            out.write(
                b"<url><loc>https://news.example.org/2025/07/04/story-%d.html</loc>"
                b"<lastmod>2025-07-04T10:00:00+00:00</lastmod></url>\n" % i
            )
        out.write(b"</urlset>\n")
    code = textwrap.dedent(
        f"""
        import resource
        from ingest.crawl.feeds import iter_sitemap
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with open({str(path)!r}, "rb") as stream:
            count = sum(1 for _ in iter_sitemap(stream, max_size=10**9))
        print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    count, grown_kib = map(int, result.stdout.split())
    assert count == HUGE
    assert grown_kib < 40 * 1024
