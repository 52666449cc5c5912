"""Safe, streaming parsing of RSS 2.0 / Atom feeds and sitemaps: the only XML reader spiders use.

Feeds and sitemaps come from the open web, so the parser is locked down: no entity expansion
(billion laughs), no external entities or DTDs (XXE), no network, libxml2's size limits kept
(``huge_tree=False``). Documents are streamed with ``lxml.etree.iterparse`` and every entry is
cleared once read, so a 50 000-URL sitemap never sits in memory as a tree. Gzip bodies
(``.xml.gz`` served without ``Content-Encoding``) are decompressed on the fly, up to a cap.
Broken XML is recovered as far as libxml2 can; the errors are counted in an ``XmlReport``,
never raised. Scrapy's own sitemap reader drops ``news:`` fields and hreflang codes, and loads
the whole document: hence this module.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from urllib.parse import urljoin

from lxml import etree

from ingest.dates import is_bad, parse_any

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_SIZE = 50 * 1024 * 1024  # the sitemaps.org limit for one uncompressed sitemap
READ_CHUNK = 64 * 1024
MAX_ERRORS_KEPT = 5  # messages kept for the log; all errors are counted

SITEMAP_NS = frozenset(
    {
        "http://www.sitemaps.org/schemas/sitemap/0.9",
        "http://www.google.com/schemas/sitemap/0.84",
        "http://www.google.com/schemas/sitemap/0.9",
        "",
    }
)
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
XHTML_NS = "http://www.w3.org/1999/xhtml"
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
# The parser options that make untrusted XML safe; used for every document.
SAFE_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "recover": True,
}


class XmlTooLarge(Exception):
    """The (decompressed) document passed the size cap; what was read before still counts."""


@dataclass(kw_only=True)
class XmlReport:
    """What happened while reading one document: filled in as entries are yielded."""

    root: str | None = None  # local name of the root element: rss, feed, urlset, sitemapindex
    entries: int = 0
    errors: int = 0  # libxml2 errors recovered from, plus fatal read errors
    messages: list[str] = field(default_factory=list)  # the first few, for the log
    too_large: bool = False
    bad_dates: int = 0  # dates given but unusable (malformed, out of range): entry kept undated

    def error(self, message: str, count: int = 1) -> None:
        self.errors += count
        if len(self.messages) < MAX_ERRORS_KEPT:
            self.messages.append(message)


@dataclass(kw_only=True)
class FeedEntry:
    """One RSS ``item`` or Atom ``entry``: where the article is and what the feed says of it."""

    link: str
    title: str | None = None
    guid: str | None = None
    published_raw: str | None = None
    published: datetime | None = None
    updated_raw: str | None = None
    updated: datetime | None = None


@dataclass(kw_only=True)
class SitemapEntry:
    """One ``<url>`` of a urlset, or one ``<sitemap>`` of a sitemap index (``is_index``)."""

    loc: str
    is_index: bool = False
    lastmod_raw: str | None = None
    lastmod: datetime | None = None
    news_title: str | None = None
    news_published_raw: str | None = None
    news_published: datetime | None = None
    news_language: str | None = None  # news:publication/news:language, as written
    news_publication: str | None = None  # news:publication/news:name
    alternates: dict[str, str] = field(default_factory=dict)  # hreflang code (as written) -> URL

    @property
    def date(self) -> datetime | None:
        """The entry's best date: Google News publication date, else lastmod."""
        return self.news_published or self.lastmod


class _CappedReader(io.RawIOBase):
    """A read-only stream over (possibly gzip-compressed) bytes that stops at ``max_size``.

    Decompression is lazy, so a gzip bomb costs at most ``max_size`` bytes of output; leading
    whitespace (common before ``<?xml``, and fatal to libxml2) is skipped.
    """

    def __init__(self, source: bytes | IO[bytes], max_size: int) -> None:
        raw: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else source
        head = raw.read(2)
        rest = _Prefixed(head, raw)
        self.stream: io.BufferedIOBase = (
            gzip.GzipFile(fileobj=rest, mode="rb") if head == GZIP_MAGIC else rest
        )
        self.max_size = max_size
        self.read_bytes = 0
        self.started = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = READ_CHUNK if size is None or size < 0 else size
        chunk = self.stream.read(want)
        if not self.started:
            while chunk and not chunk.strip():  # whitespace-only chunks before the document
                chunk = self.stream.read(want)
            chunk = chunk.lstrip()
            self.started = bool(chunk)
        self.read_bytes += len(chunk)
        if self.read_bytes > self.max_size:
            raise XmlTooLarge(f"document larger than {self.max_size} bytes")
        return chunk


class _Prefixed(io.BufferedIOBase):
    """``prefix`` then the rest of ``raw``: lets the gzip magic be sniffed on a stream."""

    def __init__(self, prefix: bytes, raw: IO[bytes]) -> None:
        self.prefix = prefix
        self.raw = raw

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.prefix:
            out, self.prefix = self.prefix, b""
            if size is None or size < 0:
                return out + self.raw.read()
            return out if len(out) >= size else out + self.raw.read(size - len(out))
        return self.raw.read(-1 if size is None else size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _ns(tag: Any) -> str:
    return (etree.QName(tag).namespace or "") if isinstance(tag, str) else ""


def _text(elem: Any) -> str:
    """Text of an element and its child elements, skipping unexpanded entity references."""
    parts = [elem.text or ""]
    for child in elem:
        if isinstance(child.tag, str):  # not an entity reference, comment or PI
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _clean(value: str | None) -> str | None:
    text = " ".join(value.split()) if value else ""
    return text or None


def _child(elem: Any, name: str, namespaces: frozenset[str] | None = None) -> Any:
    """First child with this local name (in one of ``namespaces`` when given)."""
    for child in elem:
        if _local(child.tag) == name and (namespaces is None or _ns(child.tag) in namespaces):
            return child
    return None


def _child_text(elem: Any, name: str, namespaces: frozenset[str] | None = None) -> str | None:
    child = _child(elem, name, namespaces)
    return _clean(_text(child)) if child is not None else None


def _date(raw: str | None, report: XmlReport) -> datetime | None:
    """A feed or sitemap date (``ingest.dates.parse_any``); an unusable one is counted in
    ``report`` and the entry goes on undated, never ending the document."""
    value = parse_any(raw)
    if is_bad(raw, value):
        report.bad_dates += 1
    return value


def _join(base: str, url: str) -> str:
    """``url`` resolved against ``base``; one that cannot be parsed ("http://[::1") is kept as
    written, for the spider's URL check to refuse and count, instead of ending the document."""
    try:
        return urljoin(base, url)
    except ValueError:
        return url


def _html_title(elem: Any) -> str | None:
    """Atom ``type="html"`` titles carry escaped markup: keep the text only."""
    text = _clean(_text(elem))
    if text and elem.get("type") == "html" and "<" in text:
        import lxml.html

        try:
            return _clean(lxml.html.fragment_fromstring(text, create_parent="div").text_content())
        except etree.ParserError:
            return text
    return text


def _iterparse(
    source: bytes | IO[bytes], tags: tuple[str, ...], max_size: int, report: XmlReport
) -> Iterator[Any]:
    """End events of the ``tags`` elements, each cleared (with its finished siblings) after use."""
    reader = _CappedReader(source, max_size)
    wanted = tuple(f"{{*}}{tag}" for tag in tags)  # any namespace, or none
    events = etree.iterparse(reader, events=("end",), tag=wanted, **SAFE_OPTIONS)
    try:
        for _, elem in events:
            if report.root is None:
                report.root = _local(elem.getroottree().getroot().tag)
            yield elem
            # Free what was read: the element, and siblings kept alive before it.
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            while parent is not None and elem.getprevious() is not None:
                del parent[0]
    except XmlTooLarge as exc:
        report.too_large = True
        report.error(str(exc))
    except etree.XMLSyntaxError as exc:  # even recover mode gives up on some documents
        report.error(str(exc))
    except (OSError, EOFError, zlib.error) as exc:  # corrupt or truncated gzip
        report.error(f"gzip: {exc}")
    finally:
        if report.root is None and events.root is not None:
            report.root = _local(events.root.tag)
        log = events.error_log
        for entry in list(log)[: MAX_ERRORS_KEPT - len(report.messages)]:
            report.messages.append(f"line {entry.line}: {entry.message}")
        report.errors += len(log)


def iter_feed(
    source: bytes | IO[bytes],
    *,
    base_url: str = "",
    max_size: int = DEFAULT_MAX_SIZE,
    report: XmlReport | None = None,
) -> Iterator[FeedEntry]:
    """Entries of an RSS 2.0 (also 0.9x / 1.0) or Atom feed, in document order.

    Entries without a usable link are skipped (and counted as errors). Relative links are
    resolved against ``base_url`` (the feed's URL).
    """
    report = report if report is not None else XmlReport()
    for elem in _iterparse(source, ("item", "entry"), max_size, report):
        entry = _atom_entry(elem, base_url, report) if _ns(elem.tag) == ATOM_NS else None
        entry = entry or _rss_item(elem, base_url, report)
        if entry is None:
            report.error(f"{_local(elem.tag)} without a link")
            continue
        report.entries += 1
        yield entry


def _rss_item(elem: Any, base_url: str, report: XmlReport) -> FeedEntry | None:
    link = _child_text(elem, "link")
    guid_elem = _child(elem, "guid")
    guid = _clean(_text(guid_elem)) if guid_elem is not None else None
    if not link and guid and guid_elem.get("isPermaLink", "true") != "false":
        link = guid  # RSS 2.0: a permalink guid is the item's URL
    if not link:
        return None
    published_raw = _child_text(elem, "pubDate") or _child_text(elem, "date", frozenset({DC_NS}))
    updated_raw = _child_text(elem, "updated")
    return FeedEntry(
        link=_join(base_url, link),
        title=_child_text(elem, "title"),
        guid=guid,
        published_raw=published_raw,
        published=_date(published_raw, report),
        updated_raw=updated_raw,
        updated=_date(updated_raw, report),
    )


def _atom_entry(elem: Any, base_url: str, report: XmlReport) -> FeedEntry | None:
    atom = frozenset({ATOM_NS})
    links = [c for c in elem if _local(c.tag) == "link" and _ns(c.tag) == ATOM_NS]
    # rel="alternate" is the article; a link without rel means alternate too (RFC 4287 4.2.7.2).
    href = next((c.get("href") for c in links if c.get("rel", "alternate") == "alternate"), None)
    if not href:
        return None
    base = elem.get("{http://www.w3.org/XML/1998/namespace}base") or base_url
    title_elem = _child(elem, "title", atom)
    published_raw = _child_text(elem, "published", atom)
    updated_raw = _child_text(elem, "updated", atom)
    updated = _date(updated_raw, report)
    return FeedEntry(
        link=_join(base, href.strip()),
        title=_html_title(title_elem) if title_elem is not None else None,
        guid=_child_text(elem, "id", atom),
        published_raw=published_raw or updated_raw,
        published=_date(published_raw, report) or updated,
        updated_raw=updated_raw,
        updated=updated,
    )


def iter_sitemap(
    source: bytes | IO[bytes],
    *,
    base_url: str = "",
    max_size: int = DEFAULT_MAX_SIZE,
    report: XmlReport | None = None,
) -> Iterator[SitemapEntry]:
    """Entries of a sitemap index or urlset (plain or gzip), with Google News and hreflang data.

    ``<sitemap>`` entries come out with ``is_index=True``. Entries without ``<loc>`` are skipped
    and counted as errors.
    """
    report = report if report is not None else XmlReport()
    for elem in _iterparse(source, ("url", "sitemap"), max_size, report):
        if _ns(elem.tag) not in SITEMAP_NS:
            continue
        loc = _child_text(elem, "loc", SITEMAP_NS)
        if not loc:
            report.error(f"{_local(elem.tag)} without a loc")
            continue
        lastmod_raw = _child_text(elem, "lastmod", SITEMAP_NS)
        entry = SitemapEntry(
            loc=_join(base_url, loc),
            is_index=_local(elem.tag) == "sitemap",
            lastmod_raw=lastmod_raw,
            lastmod=_date(lastmod_raw, report),
        )
        news = _child(elem, "news", frozenset({NEWS_NS}))
        if news is not None:
            _read_news(news, entry, report)
        for link in elem:
            if _local(link.tag) == "link" and _ns(link.tag) == XHTML_NS:
                code, href = link.get("hreflang"), link.get("href")
                if link.get("rel") == "alternate" and code and href:
                    entry.alternates.setdefault(code.strip(), _join(base_url, href.strip()))
        report.entries += 1
        yield entry


def _read_news(news: Any, entry: SitemapEntry, report: XmlReport) -> None:
    ns = frozenset({NEWS_NS})
    entry.news_title = _child_text(news, "title", ns)
    entry.news_published_raw = _child_text(news, "publication_date", ns)
    entry.news_published = _date(entry.news_published_raw, report)
    publication = _child(news, "publication", ns)
    if publication is not None:
        entry.news_language = _child_text(publication, "language", ns)
        entry.news_publication = _child_text(publication, "name", ns)
