"""Article extraction from one page: the code the spiders, ``ingest extract`` and the API share.

Order of evidence: the declared site's selectors when the URL belongs to a known site, then
structured data (JSON-LD ``NewsArticle``, OpenGraph and ``article:`` meta), then generic
main-content detection. The page is parsed once (lxml, through parsel); BeautifulSoup only
ever sees the small article fragment, in the boilerplate cleaner.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape, unescape
from typing import Any

import lxml.etree
import lxml.html
from parsel import Selector

from ingest.dates import is_bad, parse_iso, parse_local, to_utc_iso, utc_now_iso
from ingest.extract.clean import clean_item, collapse, image_from
from ingest.extract.generic import main_content, word_coverage
from ingest.extract.language import detect_language
from ingest.extract.second_opinion import trafilatura_html
from ingest.items import ArticleItem, Image, Listing
from ingest.sites import Site, get_site, site_for_url, site_name
from ingest.urls import canonical_url as canonical_url  # its home before ingest/urls.py
from ingest.urls import page_key

logger = logging.getLogger(__name__)
ARTICLE_TYPES = frozenset(
    {
        "NewsArticle",
        "Article",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "BlogPosting",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "LiveBlogPosting",
        "Report",
        "ReviewNewsArticle",
        # schema.org's other kinds of Article
        "SatiricalArticle",
        "ScholarlyArticle",
        "TechArticle",
        "SocialMediaPosting",
        "AdvertiserContentArticle",
    }
)
_LANG_ALIASES = {"ua": "uk", "ukr": "uk", "rus": "ru", "eng": "en"}
_AUTHOR_NOISE_RE = re.compile(r"^(?:by|von|par|автор|автори|авторы)\s*:?\s+", re.IGNORECASE)
_NOT_A_NAME_RE = re.compile(r"@|https?://|\d{1,2}[./:]\d{2}|email the author", re.IGNORECASE)
AUTHOR_META = ("author", "article:author", "byl", "parsely-author", "sailthru.author")
MIN_LD_BODY = 200  # shorter JSON-LD articleBody values are teasers, not the article
_CONTROL_CHARS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # XML-incompatible C0
LD_AGREEMENT = 0.7  # share of articleBody's words the generic container must hold to win
# JSON-LD text replaces the generic container only when at least this share of its length.
LD_MIN_SHARE = 0.5
# "Unsure" (the second extractor is asked): a body under SHORT_BODY characters, or holding
# under PARTIAL_SHARE of the page's prose; its answer is taken when FALLBACK_GAIN times longer
# and holding FALLBACK_OVERLAP of our words (ours was cut short, not somewhere else). Kept
# narrow: asking on more pages changed no answer on the development sets and cost more than
# trafilatura alone (BENCHMARKS.md).
# The second extractor can be switched off (INGEST_SECOND_OPINION=0) to measure what it adds.
SECOND_OPINION = os.environ.get("INGEST_SECOND_OPINION", "1") != "0"
SHORT_BODY = 500
PARTIAL_SHARE = 0.5
FALLBACK_GAIN = 1.3
FALLBACK_OVERLAP = 0.6
FALLBACK_LINKS = 0.5  # a second answer (or what it adds) with more link text: a link list
FALLBACK_MAX = 3.0  # ...and one this many times longer than ours and the page's prose a dump


def normalise_lang(code: str | None) -> str | None:
    """'uk-UA', 'uk_UA', 'ua' -> 'uk'; None for empty or 'x-default'."""
    if not code:
        return None
    primary = re.split(r"[-_]", code.strip().lower())[0]
    if not primary or primary.startswith("x"):
        return None
    return _LANG_ALIASES.get(primary, primary)


@dataclass(kw_only=True, frozen=True)
class Limits:
    """What one page may make extraction use or store, so that a hostile page (hundreds of
    thousands of paragraphs, a megabyte title or JSON-LD body) costs no more than a large real
    one. Each is an ``INGEST_MAX_*`` setting; the defaults are far above any real article."""

    paragraphs: int = 10_000  # <p> elements; a page with more is dropped (too_many_paragraphs)
    title_chars: int = 1_000  # a longer title candidate is skipped (flag title_too_long)
    images: int = 500  # images kept, in page order (flag images_cut)
    json_ld_chars: int = 1_000_000  # a longer JSON-LD script is ignored (flag json_ld_too_large)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Limits:
        """From crawler settings (or their dict copy); missing names keep the defaults."""
        names = {
            "paragraphs": "INGEST_MAX_PARAGRAPHS",
            "title_chars": "INGEST_MAX_TITLE_CHARS",
            "images": "INGEST_MAX_IMAGES",
            "json_ld_chars": "INGEST_MAX_JSON_LD_CHARS",
        }
        return cls(**{f: int(settings[n]) for f, n in names.items() if settings.get(n) is not None})


DEFAULT_LIMITS = Limits()
LD_MAX_DEPTH = 64  # JSON-LD nesting used; real pages nest under 10 (@graph, author, image...)


class PageRefused(Exception):
    """A page over a bound that makes it no article (``reason``, counted as
    ``ingest/dropped/<reason>`` where the stages run)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def _depth_within(value: Any, limit: int) -> bool:
    """Whether JSON ``value`` nests at most ``limit`` deep; walked without recursion, so a
    hostile value cannot exhaust the stack here or in the readers after it (``_names``)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return True


def _ld_objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every object of a JSON-LD document (lists and ``@graph`` walked), in document order."""
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            yield node
            stack.append(node.get("@graph"))


def ld_types(obj: dict[str, Any]) -> set[str]:
    """An object's ``@type`` names: a string or a list of strings; any other shape (an object,
    a number) names nothing."""
    types = obj.get("@type")
    if isinstance(types, str):
        return {types}
    if isinstance(types, list):
        return {t for t in types if isinstance(t, str)}
    return set()


def json_ld_article(
    sel: Selector, limits: Limits = DEFAULT_LIMITS, flags: list[str] | None = None
) -> dict[str, Any]:
    """The page's first JSON-LD object typed as an article; {} when none parses. A script over
    ``limits.json_ld_chars``, or nesting deeper than ``LD_MAX_DEPTH``, is not used; what was
    wrong is added to ``flags`` (``json_ld_too_large``, ``bad_json_ld``)."""
    problems = flags if flags is not None else []
    for raw in sel.xpath('//script[@type="application/ld+json"]/text()').getall():
        if len(raw) > limits.json_ld_chars:
            problems.append("json_ld_too_large")
            continue
        try:
            data = json.loads(raw, strict=False)
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            problems.append("bad_json_ld")
            continue
        if not _depth_within(data, LD_MAX_DEPTH):
            problems.append("bad_json_ld")
            continue
        for obj in _ld_objects(data):
            if ld_types(obj) & ARTICLE_TYPES:
                return obj
    return {}


_ENTITY_RE = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ", " « ", " » ")


def clean_title(title: str | None, site_names: set[str]) -> str | None:
    """A headline as readers see it: entities a CMS escaped twice decoded, and the site's own
    name cut when it is a " | Site" suffix or a "Site | " prefix (names from og:site_name,
    the JSON-LD publisher, application-name or the declared site)."""
    if not title:
        return title
    if _ENTITY_RE.search(title):
        title = collapse(unescape(title))
    for sep in _TITLE_SEPARATORS:
        head, found, tail = title.rpartition(sep)
        if found and head and tail.strip().casefold() in site_names:
            title = head.strip()
            break
        head, found, tail = title.partition(sep)
        if found and tail and head.strip().casefold() in site_names:
            title = tail.strip()
            break
    return title or None


def meta_map(sel: Selector) -> dict[str, str]:
    """``content`` of the page's first ``<meta>`` per ``property`` / ``name`` value, in one walk:
    what ``//meta[@property=X or @name=X]/@content`` gives for each X, without a whole-tree
    XPath query per X (a dozen per page)."""
    metas: dict[str, str] = {}
    root = sel.root
    if not isinstance(root, lxml.etree._Element):
        return metas
    for el in root.iter("meta"):
        content = el.get("content")
        if content is None:
            continue
        for attr in ("property", "name"):
            key = el.get(attr)
            if key is not None:
                metas.setdefault(key, content)
    return metas


def _meta(metas: dict[str, str], name: str) -> str | None:
    value = metas.get(name)
    return collapse(value) if value and value.strip() else None


# Text nodes a reader sees: not the code of a script or style inside the element.
_VISIBLE_TEXT = (
    ".//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)]"
)


def _first_text(sel: Selector, css: str) -> str | None:
    """The visible text of the elements ``css`` selects, whitespace collapsed."""
    if not css:
        return None
    text = collapse(" ".join(sel.css(css).xpath(_VISIBLE_TEXT).getall()))
    return text or None


def _names(value: Any, *, people_only: bool = False) -> list[str]:
    """Names in a JSON-LD author/publisher value (a string, an object or a list of them)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if people_only and value.get("@type") in ("Organization", "NewsMediaOrganization"):
            return []
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [n for entry in value for n in _names(entry, people_only=people_only)]
    return []


def clean_authors(names: list[str], publisher: set[str]) -> list[str]:
    """People's names only: no "By", no dates or e-mails, no publisher name, no repeats."""
    out: list[str] = []
    for name in names:
        name = _AUTHOR_NOISE_RE.sub("", collapse(name))
        if not name or _NOT_A_NAME_RE.search(name) or name.casefold() in publisher:
            continue
        if name not in out:
            out.append(name)
    return out


_Found = tuple[datetime | None, str | None, str | None]  # a date, its raw text, its source


def _date(
    candidates: list[tuple[Any, str]],
    tz: str,
    local_text: str | None,
    flags: list[str] | None = None,
    formats: tuple[str, ...] = (),
) -> _Found:
    """The first candidate that is a date (``ingest.dates``: clamped, any type accepted), with
    its raw text and source, else ``local_text`` read with the site's ``formats``. A candidate
    given but unusable (malformed, out of range, a JSON-LD number or list) adds ``bad_date`` to
    ``flags`` and the next one is tried."""
    bad = False
    for raw, source in candidates:
        value = parse_iso(raw, tz)
        if value is not None and isinstance(raw, str):
            return value, raw, source
        bad = bad or is_bad(raw, value)
    value = parse_local(local_text, tz, formats)
    if bad and flags is not None:
        flags.append("bad_date")
    if value is not None:
        return value, local_text, "text"
    return None, None, None


_TAG_RE = re.compile(r"<[^>]{0,500}>")
_WORDS_RE = re.compile(r"\w+")


def ld_text(value: Any) -> str | None:
    """A JSON-LD string as text: sites put HTML entities (``&amp;``, ``&#039;``) and even tags
    into JSON strings, which would otherwise reach the reader as ``&amp;`` or ``<p>``."""
    if not isinstance(value, str):
        return None
    return unescape(_TAG_RE.sub(" ", value)) if ("&" in value or "<" in value) else value


def _fragment(text: str) -> str:
    """Plain text (one paragraph per line) as an HTML fragment for the cleaner."""
    paragraphs = (p.strip() for p in text.splitlines())
    return "".join(f"<p>{escape(p)}</p>" for p in paragraphs if p)


def _as_element(fragment: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(fragment, create_parent="div")


def _chars(element: lxml.html.HtmlElement) -> int:
    return len(" ".join(element.text_content().split()))


def _second_wins(theirs: lxml.html.HtmlElement, ours: str | None, chars: int, prose: int) -> bool:
    """Whether the second extractor's body replaces ours: it is a real body (not a line, not
    a menu of links, not a dump of far more than the page's prose and ours), and ours is empty
    or was cut short (theirs much longer and holding most of our words)."""
    other_chars = _chars(theirs)
    linked = sum(len(a.text_content()) for a in theirs.iter("a"))
    if other_chars < MIN_LD_BODY or linked > other_chars * FALLBACK_LINKS:
        return False
    if ours is None or chars == 0:
        return True
    if not chars * FALLBACK_GAIN <= other_chars <= FALLBACK_MAX * max(chars, prose):
        return False
    our_words = Counter(_WORDS_RE.findall(_as_element(ours).text_content().lower()))
    their_words = Counter(_WORDS_RE.findall(theirs.text_content().lower()))
    held = sum((our_words & their_words).values())
    if held < FALLBACK_OVERLAP * sum(our_words.values()):
        return False  # not ours cut short: another part of the page
    # What theirs adds must be prose, not the menus and link lists around the article.
    added = their_words - our_words
    link_words = Counter(
        w for a in theirs.iter("a") for w in _WORDS_RE.findall(a.text_content().lower())
    )
    return sum((added & link_words).values()) <= FALLBACK_LINKS * sum(added.values())


def _body_html(
    sel: Selector, site: Site | None, ld: dict[str, Any], url: str
) -> tuple[str | None, str | None]:
    """The body fragment and how it was found, from layered evidence.

    1. The declared site's body selectors (``site``).
    2. Our generic scoring (``generic``), checked against JSON-LD ``articleBody``: that text is
       often a teaser, the intro of a slideshow or live page, or the text without its
       subheadings, so it is used (``json-ld``) only when it agrees with the page (most of its
       words are on the page) and the generic container missed it, and it is not much shorter
       than what the page shows.
    3. A second extractor (``fallback``: trafilatura) when that evidence is unsure: nothing
       found, a container holding little text or under half of the page's prose, or JSON-LD
       disagreeing. Its body is taken when ours is empty, or it is much longer and holds most
       of ours (ours was cut short).
    """
    if site and site.selectors.body:
        parts = sel.css(site.selectors.body).getall()
        if parts:
            return "\n".join(parts), "site"
    ld_body = ld_text(ld.get("articleBody"))
    if ld_body is not None and len(ld_body.strip()) < MIN_LD_BODY:
        ld_body = None
    root = sel.root
    if not isinstance(root, lxml.html.HtmlElement):
        return (_fragment(ld_body), "json-ld") if ld_body else (None, None)
    main = main_content(root, single_story=ld.get("@type") != "LiveBlogPosting")
    html, source, chars = None, None, 0
    unsure: list[str] = []
    if main is not None:
        html = str(lxml.html.tostring(main.element, encoding="unicode"))
        source, chars = "generic", main.chars
        if chars < SHORT_BODY:
            unsure.append("short")
        if chars < main.page_chars * PARTIAL_SHARE:
            unsure.append("partial")
    else:
        unsure.append("none")
    if ld_body is not None:
        covered = main is not None and word_coverage(main.element, ld_body) >= LD_AGREEMENT
        if not covered:
            on_page = word_coverage(root, ld_body) >= LD_AGREEMENT
            if on_page and len(ld_body) >= chars * LD_MIN_SHARE:
                html, source, chars = _fragment(ld_body), "json-ld", len(ld_body)
            else:
                unsure.append("json-ld")
    if unsure and SECOND_OPINION:
        other = trafilatura_html(root, url)
        if other is not None:
            prose = main.all_prose if main is not None else 0
            take = _second_wins(_as_element(other), html, chars, prose)
            logger.debug(
                "unsure (%s): ours %d chars, %s taken: %s",
                ",".join(unsure),
                chars,
                "second" if take else "ours",
                url,
            )
            if take:
                return other, "fallback"
    return html, source


def _top_images(sel: Selector, site: Site | None, url: str) -> list[Image]:
    """Pictures declared outside the body (a site's top photo), with caption and credit."""
    if not site or not site.selectors.images:
        return []
    from bs4 import BeautifulSoup  # on each small container only
    from bs4.element import Tag

    images: list[Image] = []
    for fragment in sel.css(site.selectors.images).getall():
        soup = BeautifulSoup(fragment, "lxml")
        container = soup.body.contents[0] if soup.body and soup.body.contents else None
        if not isinstance(container, Tag):
            continue
        image = image_from(
            container, url, site.selectors.image_caption, site.selectors.image_credit
        )
        if image is not None:
            images.append(image)
    return images


def _refuse_oversized(sel: Selector, url: str, limits: Limits) -> None:
    """A page with more ``<p>`` than any article is refused before anything is extracted."""
    root = sel.root
    if isinstance(root, lxml.etree._Element):
        paragraphs = sum(1 for _ in root.iter("p"))
        if paragraphs > limits.paragraphs:
            raise PageRefused(
                "too_many_paragraphs", f"{paragraphs} <p> > INGEST_MAX_PARAGRAPHS: {url}"
            )


def _title(
    sel: Selector,
    site: Site | None,
    ld: dict[str, Any],
    metas: dict[str, str],
    limits: Limits,
    flags: list[str],
) -> tuple[str | None, str | None]:
    """The headline and where it came from: the site's selector, JSON-LD, og:title, the first
    ``<h1>``, then ``<title>`` without the site's suffix; the site's own name is cut off."""
    sels = site.selectors if site else None
    headline = ld_text(ld.get("headline"))
    page_title = _first_text(sel, "title") or ""
    for suffix in site.title_suffixes if site else ():
        page_title = page_title.removesuffix(suffix).strip()
    publisher_names = {
        n.casefold()
        for n in (
            *_names(ld.get("publisher")),
            _meta(metas, "og:site_name") or "",
            _meta(metas, "application-name") or "",
            site.title if site else "",
        )
        if n
    }
    title, title_source = next(
        (
            (value, source)
            for value, source in (
                (_first_text(sel, sels.title) if sels else None, "site"),
                (collapse(headline) if isinstance(headline, str) else None, "json-ld"),
                (_meta(metas, "og:title"), "og"),
                (_first_text(sel, "h1"), "h1"),
                (page_title, "title"),
            )
            if value and _title_fits(value, limits, flags)
        ),
        (None, None),
    )
    return clean_title(title, publisher_names), title_source


def _lead(
    sel: Selector, site: Site | None, ld: dict[str, Any], metas: dict[str, str]
) -> str | None:
    sels = site.selectors if site else None
    lead = _first_text(sel, sels.lead) if sels else None
    description = ld_text(ld.get("description"))
    lead = lead or (collapse(description) if description else None)
    return lead or _meta(metas, "description") or _meta(metas, "og:description")


def _dates(
    sel: Selector,
    site: Site | None,
    ld: dict[str, Any],
    metas: dict[str, str],
    flags: list[str],
) -> tuple[_Found, _Found]:
    """(value, raw, source) of the publication and the modification date; a modification
    before publication is noise and dropped."""
    sels = site.selectors if site else None
    tz = site.timezone if site else "UTC"
    published = _date(
        [
            (ld.get("datePublished"), "json-ld"),
            (_meta(metas, "article:published_time"), "meta"),
            (sel.css("time::attr(datetime)").get(), "time"),
        ],
        tz,
        _first_text(sel, sels.published) if sels else None,
        flags,
        site.date_formats if site else (),
    )
    modified = _date(
        [(ld.get("dateModified"), "json-ld"), (_meta(metas, "article:modified_time"), "meta")],
        tz,
        None,
        flags,
    )
    if modified[0] is not None and published[0] is not None and modified[0] < published[0]:
        modified = (None, None, None)
    return published, modified


def _authors(
    sel: Selector, site: Site | None, ld: dict[str, Any], metas: dict[str, str]
) -> list[str]:
    """People first from JSON-LD, then the site's byline, then meta; an organisation named as
    the author (common in JSON-LD) is not a person, so the next source is tried."""
    sels = site.selectors if site else None
    publisher = {n.casefold() for n in _names(ld.get("publisher"))}
    if site:
        publisher.update({site.name.casefold(), site.title.casefold()})
    authors = clean_authors(_names(ld.get("author"), people_only=True), publisher)
    if not authors and sels and sels.authors:
        byline = [collapse(t) for t in sel.css(sels.authors).xpath("string()").getall()]
        authors = clean_authors(byline, publisher)
    for name in AUTHOR_META:
        if authors:
            break
        value = _meta(metas, name)
        if value and not value.startswith("http"):  # article:author is often a profile URL
            authors = clean_authors([value], publisher)
    return authors


def _tags_and_section(
    sel: Selector, site: Site | None, ld: dict[str, Any], metas: dict[str, str]
) -> tuple[list[str], str | None]:
    sels = site.selectors if site else None
    tags = [collapse(t) for t in sel.xpath('//meta[@property="article:tag"]/@content').getall()]
    keywords: Any = ld.get("keywords") or _meta(metas, "news_keywords") or _meta(metas, "keywords")
    if not tags and isinstance(keywords, str):
        tags = [k.strip() for k in keywords.split(",") if k.strip()]
    elif not tags and isinstance(keywords, list):
        tags = [k.strip() for k in keywords if isinstance(k, str) and k.strip()]
    if not tags and sels and sels.tags:
        tags = [collapse(t) for t in sel.css(sels.tags).xpath("string()").getall() if t.strip()]
    section = _meta(metas, "article:section")
    ld_section = ld.get("articleSection")
    if not section and isinstance(ld_section, str):
        section = collapse(ld_section)
    return list(dict.fromkeys(tags)), section


def _languages(
    sel: Selector, metas: dict[str, str], canonical: str
) -> tuple[dict[str, str], str | None]:
    """The hreflang alternates, and the language the page declares: ``<html lang>``,
    og:locale, else the hreflang entry that points at the page itself."""
    alternates: dict[str, str] = {}
    for link in sel.xpath('//link[@rel="alternate"][@hreflang][@href]'):
        code = normalise_lang(link.attrib["hreflang"])
        if code and code not in alternates:
            alternates[code] = canonical_url(link.attrib["href"].strip())
    declared = normalise_lang(sel.xpath("/html/@lang").get()) or normalise_lang(
        _meta(metas, "og:locale")
    )
    declared = declared or next((c for c, u in alternates.items() if u == canonical), None)
    return alternates, declared


def parse_page(
    sel: Selector,
    url: str,
    *,
    fetched_at: str | None = None,
    site: Site | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ArticleItem:
    """Every field of one article page, body still as its raw fragment (cleaning comes next).

    Fields a page gives in an unusable shape are left out and named in ``flags`` (``bad_date``,
    ``bad_json_ld``, ``json_ld_too_large``, ``title_too_long``, ``images_cut``), counted as
    ``ingest/fields/<flag>`` where the stages run; a page over ``limits.paragraphs`` raises
    ``PageRefused``.
    """
    _refuse_oversized(sel, url, limits)
    flags: list[str] = []
    site = site or site_for_url(url)
    sels = site.selectors if site else None
    ld = json_ld_article(sel, limits, flags)
    metas = meta_map(sel)
    # The key: the page's canonical if on its own site, else its own URL (ingest/urls.py).
    named = sel.xpath('//link[@rel="canonical"]/@href').get() or _meta(metas, "og:url")
    canonical, canonical_refused = page_key(named, url, site)
    title, title_source = _title(sel, site, ld, metas, limits, flags)
    (published, published_raw, published_source), (modified, modified_raw, modified_source) = (
        _dates(sel, site, ld, metas, flags)
    )
    tags, section = _tags_and_section(sel, site, ld, metas)
    alternates, declared = _languages(sel, metas, canonical)
    story_id = None
    if site and site.story_id_pattern and (m := re.search(site.story_id_pattern, canonical)):
        story_id = m.group(1)
    og_type = _meta(metas, "og:type") or ""
    root_found = bool(sels and sels.article_root and sel.css(sels.article_root))
    body_html, body_source = _body_html(sel, site, ld, url)
    return ArticleItem(
        url=canonical,
        fetched_url=url,
        canonical_declared=canonical_refused,
        site=site_name(canonical, site),
        fetched_at=fetched_at or utc_now_iso(),
        title=title,
        lead=_lead(sel, site, ld, metas),
        body_html=body_html,
        body_source=body_source,
        title_source=title_source,
        published_raw=published_raw,
        published=to_utc_iso(published) if published else None,
        published_source=published_source,
        modified_source=modified_source,
        modified_raw=modified_raw,
        modified=to_utc_iso(modified) if modified else None,
        authors=_authors(sel, site, ld, metas),
        section=section,
        tags=tags,
        images=cap_images(_top_images(sel, site, canonical), limits, flags),
        lang_declared=declared,
        candidate_languages=list(site.languages) if site else [],
        alternates=alternates,
        story_id=story_id,
        is_article=bool(ld) or og_type.lower().startswith("article") or root_found,
        flags=list(dict.fromkeys(flags)),
    )


def _title_fits(title: str, limits: Limits, flags: list[str]) -> bool:
    """Whether a title candidate is short enough to be one; ``title_too_long`` if not (the
    next candidate is tried: a 1,000,000-character <title> is no headline)."""
    if len(title) <= limits.title_chars:
        return True
    flags.append("title_too_long")
    return False


def cap_images(images: list[Image], limits: Limits, flags: list[str]) -> list[Image]:
    """The first ``limits.images`` images; ``images_cut`` in ``flags`` when there were more."""
    if len(images) <= limits.images:
        return images
    if "images_cut" not in flags:
        flags.append("images_cut")
    return images[: limits.images]


ARTICLE_PARAGRAPHS = 3  # paragraphs of prose that make a listed page an article...
ARTICLE_PROSE_CHARS = 500  # ...or this much prose in shorter paragraphs (or <br> lines)
_PROSE_CHARS = 120
_SHORT_PROSE = 40
_PROSE_LINKS = 0.2  # the most link text a paragraph of prose (or the whole body) may have


def reads_like_article(body_html: str | None) -> bool:
    """Whether a body fragment is an article by its content: few links, and several
    paragraphs of prose or some hundreds of characters of it. Index, tag and search pages are
    lists of linked headlines with one-line teasers; a video page has a line or two."""
    if not body_html:
        return False
    root = lxml.html.fragment_fromstring(body_html, create_parent="div")
    total = len(root.text_content())
    links = sum(len(a.text_content()) for a in root.iter("a"))
    if not total or links > total * _PROSE_LINKS:
        return False
    paragraphs = prose = 0
    for block in root.iter("p", "div", "li", "blockquote", "td", "section", "article"):
        text = (block.text or "") + "".join(
            (child.text_content() if child.tag not in _BLOCKS else "") + (child.tail or "")
            for child in block
            if isinstance(child.tag, str)  # not a comment or processing instruction
        )
        length = len(text.strip())
        if length < _SHORT_PROSE:
            continue
        linked = sum(len(a.text_content()) for a in block if a.tag == "a")
        if linked > length * _PROSE_LINKS:
            continue
        prose += length
        paragraphs += length >= _PROSE_CHARS
        if paragraphs >= ARTICLE_PARAGRAPHS or prose >= ARTICLE_PROSE_CHARS:
            return True
    return False


_BLOCKS = frozenset(
    {"p", "div", "li", "ul", "ol", "blockquote", "table", "tr", "td", "section", "article"}
)


def html_selector(html: str) -> Selector:
    """The parsed page (lxml). C0 control characters become spaces first: lxml keeps them in
    text nodes but refuses them when text is set again (generic extraction moves tails)."""
    return Selector(text=_CONTROL_CHARS_RE.sub(" ", html) or "<html></html>", type="html")


def extract_page(
    page: ArticleItem, sel: Selector | None = None, limits: Limits = DEFAULT_LIMITS
) -> ArticleItem:
    """The item of one downloaded page (what a spider yields, ``html`` set): every field parsed,
    the body still its raw fragment, ``html`` None. What the spider knew is kept: its site (by
    name), ``fetched_at``, and what a listing said, by ``Listing.apply``'s rules."""
    if sel is None:
        if page.html is None:
            raise ValueError(f"no downloaded page to parse: {page.fetched_url}")
        sel = html_selector(page.html)
    item = parse_page(
        sel,
        page.fetched_url,
        fetched_at=page.fetched_at,
        site=get_site(page.site),  # None for a host: parse_page looks the URL up
        limits=limits,
    )
    listing = Listing.carried_by(page)  # listed by a feed, sitemap, archive or WARC file
    if listing is not None:
        listing.apply(item)  # its fetched_at is the page's, given to parse_page above
        # Structured data is not the only evidence that a listed page is an article.
        if not item.is_article and item.title and reads_like_article(item.body_html):
            item.is_article = True
    return item


def extract_clean(html: str, url: str) -> ArticleItem:
    """Extract and clean one page, without language detection."""
    item = parse_page(html_selector(html), url)
    clean_item(item)
    return item


def extract_body(html: str, url: str) -> str:
    """The clean body text only: the ``FUNC(html, url) -> str`` extraction benchmarks call."""
    return extract_clean(html, url).body or ""


def extract_article(html: str, url: str) -> ArticleItem:
    """Extract, clean and language-tag one saved page, exactly as a crawl would.

    >>> extract_article("<html><body><article><h1>Hi</h1><p>Some text.</p></article></body></html>",
    ...                 "https://example.com/a").title
    'Hi'
    """
    item = extract_clean(html, url)
    if item.body:
        item.lang, item.lang_confidence = detect_language(
            item.body, candidates=item.candidate_languages or None
        )
    return item
