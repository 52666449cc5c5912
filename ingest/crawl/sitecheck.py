"""Do a declared site's selectors still match its pages? One check, run two ways.

``check_site`` reads the site's feed (or sitemap), takes its first two article links and checks
each page: ``article_root`` matches, the ``title`` selector has text, the ``body`` selectors
give a non-trivial body after cleaning (what a crawl would store). The fetching is passed in:
``LiveFetcher`` asks the real site (``make live-check``, ``pytest -m live``, on a schedule),
``MirrorFetcher`` reads saved files (the bundled mirrors, in ``make test``), so the code that
runs offline every day is the code that runs against the real site.

Why a separate check beside the crawl's drift warning (pipelines/provenance.py): the drift
warning needs a crawl with enough pages of the site, and says only that bodies came from
elsewhere; this check needs two pages and names the selector that stopped matching, and it
covers title and article_root too.

Every request has a socket timeout (``FETCH_TIMEOUT``), a read deadline and a size cap, and a
site's check gives up after ``SITE_DEADLINE`` seconds, so a dead network makes the check fail
with the reason, never hang.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from parsel import Selector
from scrapy.http import HtmlResponse

from ingest.crawl.feeds import iter_feed, iter_sitemap
from ingest.demo import resolve
from ingest.extract import html_selector, parse_page
from ingest.extract.clean import clean_item
from ingest.settings import INGEST_MIN_BODY_CHARS, USER_AGENT
from ingest.sites import Site

ARTICLES = 2  # pages checked per site
FETCH_TIMEOUT = 20.0  # seconds per socket operation, and for reading one response
SITE_DEADLINE = 120.0  # seconds for one site's whole check
MAX_BYTES = 16 * 1024 * 1024  # DOWNLOAD_MAXSIZE: nothing larger is a feed or an article
CHILD_SITEMAPS = 2  # of a sitemap index, the first ones are read (the newest, usually)


class FetchError(Exception):
    """A URL that could not be read, with the reason (HTTP status, timeout, DNS...)."""


@dataclass(frozen=True, kw_only=True)
class Fetched:
    url: str
    body: bytes
    content_type: str = ""


Fetch = Callable[[str], Fetched]


class LiveFetcher:
    """GET over the network, with our user agent, a timeout per socket operation and per
    response, and a size cap."""

    def __init__(self, timeout: float = FETCH_TIMEOUT, max_bytes: int = MAX_BYTES) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes

    def __call__(self, url: str) -> Fetched:
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchError(f"{url}: not an http(s) URL")
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
        deadline = time.monotonic() + self.timeout
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                chunks: list[bytes] = []
                size = 0
                while chunk := response.read(64 * 1024):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(f"{url}: larger than {self.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise FetchError(f"{url}: still reading after {self.timeout:.0f} s")
                return Fetched(
                    url=response.geturl(),
                    body=b"".join(chunks),
                    content_type=response.headers.get("Content-Type", ""),
                )
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{url}: HTTP {exc.code}") from exc
        except urllib.error.URLError as exc:
            raise FetchError(f"{url}: {exc.reason}") from exc
        except (TimeoutError, OSError) as exc:
            raise FetchError(f"{url}: {exc or type(exc).__name__}") from exc


class MirrorFetcher:
    """Saved files instead of the network: ``<root>/<host>/<path>`` as ``ingest.demo`` lays
    them out (a path without an extension is a directory with ``index.html``)."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = tuple(roots)

    def __call__(self, url: str) -> Fetched:
        parts = urlsplit(url)
        for root in self.roots:
            path = resolve(root, parts.hostname or "", parts.path or "/")
            if path is not None:
                kind = "text/html" if path.suffix == ".html" else ""
                return Fetched(url=url, body=path.read_bytes(), content_type=kind)
        raise FetchError(f"{url}: HTTP 404 (not in the saved files)")


@dataclass(kw_only=True)
class PageCheck:
    """One article page: what was found, and what no longer matches."""

    url: str
    title: str | None = None
    body_chars: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(kw_only=True)
class SiteCheck:
    """One site: where its article links came from, its pages, and what went wrong."""

    site: str
    source: str | None = None  # the feed or sitemap the links came from
    notes: list[str] = field(default_factory=list)  # what failed on the way, without failing
    problems: list[str] = field(default_factory=list)
    pages: list[PageCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and len(self.pages) == ARTICLES and all(p.ok for p in self.pages)

    def report(self) -> str:
        """A few lines a person reads when the scheduled check fails."""
        source = self.source or "no feed or sitemap"
        lines = [f"{self.site}: {'ok' if self.ok else 'FAILED'} (links from {source})"]
        lines += [f"  {problem}" for problem in self.problems]
        for page in self.pages:
            state = "ok" if page.ok else "FAILED"
            lines.append(f"  {state}: {page.url} (title {page.title!r}, body {page.body_chars})")
            lines += [f"    {problem}" for problem in page.problems]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _visible_text(sel: Selector, css: str) -> str:
    return " ".join(" ".join(sel.css(css).xpath(".//text()").getall()).split())


def check_page(html: str, url: str, site: Site, min_body: int = INGEST_MIN_BODY_CHARS) -> PageCheck:
    """The site's selectors on one article page, then the page through extraction and cleaning,
    as a crawl would see it: a body under ``min_body`` characters would be dropped."""
    result = PageCheck(url=url)
    selectors = site.selectors
    sel = html_selector(html)
    if selectors.article_root and not sel.css(selectors.article_root):
        result.problems.append(f"article_root {selectors.article_root!r} matches nothing")
    if selectors.title and not _visible_text(sel, selectors.title):
        result.problems.append(f"title {selectors.title!r} matches no text")
    body_matches = bool(selectors.body and sel.css(selectors.body))
    if selectors.body and not body_matches:
        result.problems.append(f"body {selectors.body!r} matches nothing")
    item = parse_page(sel, url, site=site)
    clean_item(item)
    result.title = item.title
    result.body_chars = len(item.body or "")
    if not item.title:
        result.problems.append("no title found at all")
    if body_matches and result.body_chars < min_body:
        result.problems.append(
            f"body {selectors.body!r} gives {result.body_chars} characters after cleaning "
            f"(a crawl drops under {min_body})"
        )
    return result


def discovery_urls(site: Site) -> list[tuple[str, str]]:
    """("feed" | "sitemap", URL) to take article links from: the entry's feeds and sitemaps."""
    return [("feed", url) for url in site.feeds] + [("sitemap", url) for url in site.sitemaps]


def _is_article(site: Site, url: str) -> bool:
    pattern = site.article_url_pattern
    return site.owns(url) and (not pattern or re.search(pattern, url) is not None)


class _Session:
    """One site's fetches: robots.txt obeyed (as the crawl does) and the site deadline kept."""

    def __init__(self, fetch: Fetch, deadline: float) -> None:
        self.fetch = fetch
        self.deadline = time.monotonic() + deadline
        self.budget = deadline
        self.robots: dict[str, RobotFileParser] = {}

    def get(self, url: str) -> Fetched:
        if time.monotonic() > self.deadline:
            raise FetchError(f"{url}: not fetched, the site's check ran out of {self.budget} s")
        return self.fetch(url)

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.robots:
            parser = RobotFileParser()
            try:
                text = self.get(origin + "/robots.txt").body.decode("utf-8", "replace")
            except FetchError:
                text = ""  # no robots.txt (or none readable): everything is allowed, as in Scrapy
            parser.parse(text.splitlines())
            self.robots[origin] = parser
        return self.robots[origin].can_fetch(USER_AGENT, url)


def _links(session: _Session, kind: str, url: str) -> Iterator[str]:
    """Article links of one feed or sitemap (a sitemap index: of its first child sitemaps)."""
    fetched = session.get(url)
    if kind == "feed":
        for entry in iter_feed(fetched.body, base_url=fetched.url):
            yield entry.link
        return
    children: list[str] = []
    for sitemap_entry in iter_sitemap(fetched.body, base_url=fetched.url):
        if sitemap_entry.is_index:
            children.append(sitemap_entry.loc)
        else:
            yield sitemap_entry.loc
    for child in children[:CHILD_SITEMAPS]:
        yield from _links(session, "sitemap", child)


def check_site(
    site: Site,
    fetch: Fetch,
    *,
    articles: int = ARTICLES,
    deadline: float = SITE_DEADLINE,
    min_body: int = INGEST_MIN_BODY_CHARS,
) -> SiteCheck:
    """The first feed or sitemap that lists article links, then its first ``articles`` pages
    that robots.txt allows, each through ``check_page``."""
    result = SiteCheck(site=site.name)
    session = _Session(fetch, deadline)
    links: list[str] = []
    sources = discovery_urls(site)
    for kind, url in sources:
        try:
            found = [link for link in _links(session, kind, url) if _is_article(site, link)]
        except FetchError as exc:
            result.notes.append(f"{kind} {exc}")
            continue
        links = [link for link in dict.fromkeys(found) if session.allowed(link)]
        if links:
            result.source = url
            break
        result.notes.append(f"{kind} {url}: no article links allowed by robots.txt")
    if not sources:
        result.problems.append("the site declares no feed or sitemap")
    elif not links:
        result.problems.append("no feed or sitemap gave article links (see the notes)")
    for link in links[:articles]:
        try:
            fetched = session.get(link)
        except FetchError as exc:
            result.pages.append(PageCheck(url=link, problems=[f"not fetched: {exc}"]))
            continue
        if fetched.content_type and "html" not in fetched.content_type:
            problem = f"not HTML: {fetched.content_type}"
            result.pages.append(PageCheck(url=link, problems=[problem]))
            continue
        headers = {"Content-Type": fetched.content_type or "text/html"}
        html = HtmlResponse(url=fetched.url, body=fetched.body, headers=headers).text
        result.pages.append(check_page(html, link, site, min_body))
    if links and len(links) < articles:
        result.problems.append(f"only {len(links)} article link(s), {articles} wanted")
    return result
