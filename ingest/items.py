"""The one item type every spider yields and every pipeline fills in."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(kw_only=True)
class Image:
    """A picture of the article, kept out of the body text."""

    src: str
    caption: str | None = None
    credit: str | None = None


@dataclass(kw_only=True)
class ArticleItem:
    """One article page, raw values kept beside normalised ones.

    A spider fills what it knows before parsing (``fetched_url``, ``fetched_at``, ``site``, what a
    ``Listing`` said) and the downloaded page in ``html``; ``ExtractionPipeline`` parses every
    other field. Pipelines only fill fields declared here (extraction → the page's fields,
    boilerplate → body/images, language → lang*, dedup → body_hash, storage → run_id).
    """

    # Canonical URL (rel=canonical / og:url, canonicalised); the row's key. The fetched URL until
    # extraction reads the page's own.
    url: str
    fetched_url: str  # the URL that was actually downloaded
    # The canonical URL the page named (rel=canonical / og:url) when its row is not keyed by it:
    # off the page's site (ingest/urls.py) or another article's (pipelines/dedup.py). A record
    # of what the page claimed; None when the page is stored under the URL it named.
    canonical_declared: str | None = None
    site: str  # name of the declared site, or the host for unknown sites
    # The downloaded page until ExtractionPipeline parses it (then None); never stored, and
    # left out of the repr that log lines and assertion messages print.
    html: str | None = field(default=None, repr=False)
    fetched_at: str  # ISO 8601 UTC
    title: str | None = None
    lead: str | None = None
    body_html: str | None = None  # article fragment; cleaned in place by the boilerplate pipeline
    body: str | None = None  # clean text, one paragraph per block, blocks separated by a blank line
    published_raw: str | None = None  # exactly as on the page
    published: str | None = None  # ISO 8601 UTC
    published_source: str | None = None  # json-ld, meta, time, text
    modified_source: str | None = None  # json-ld, meta
    modified_raw: str | None = None
    modified: str | None = None
    authors: list[str] = field(default_factory=list)
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    lang_declared: str | None = None  # html lang / og:locale / self hreflang, ISO 639-1
    candidate_languages: list[str] = field(default_factory=list)  # languages the site declares
    alternates: dict[str, str] = field(default_factory=dict)  # hreflang code -> URL
    story_id: str | None = None  # id shared by the language versions of one story
    is_article: bool = True  # False for listings, tag pages, galleries without text
    # How the body and the title were found (provenance, counted per run): body ``site``
    # (the site's selectors), ``json-ld`` (articleBody), ``generic`` (our scoring) or
    # ``fallback`` (the second extractor); title ``site``, ``json-ld``, ``og``, ``h1``, ``title``.
    body_source: str | None = None
    title_source: str | None = None
    lang: str | None = None
    lang_confidence: float | None = None
    body_hash: str | None = None
    run_id: str | None = None
    # What the feed, sitemap or archive that led to the page said about it (see ``Listing``);
    # kept beside the page's own values so validation can cross-check them.
    source: str | None = None  # URL of the feed / sitemap, or the WARC file, that listed it
    feed_title: str | None = None  # RSS/Atom title, or news:title
    feed_published_raw: str | None = None  # exactly as in the feed / sitemap
    feed_published: str | None = None  # ISO 8601 UTC
    feed_language: str | None = None  # news:language, ISO 639-1
    # Text quality, filled by the normalise pipeline (pipelines/normalise.py).
    replacement_chars: int = 0  # U+FFFD left in title, lead, body, authors and captions
    flags: list[str] = field(default_factory=list)  # mojibake_fixed, control_chars, ...


@dataclass(kw_only=True, frozen=True)
class Listing:
    """What a feed, sitemap or WARC record said about a page before it was parsed.

    Spiders pass it to ``NewsSpider.parse_article``, which copies it onto the item it yields;
    extraction keeps it there: values go to the ``feed_*`` fields (never over the page's own),
    hreflang alternates only fill languages the page does not declare, and ``fetched_at``
    replaces the download time for a replayed response (the time it was really downloaded).
    """

    source: str
    title: str | None = None
    published_raw: str | None = None
    published: str | None = None  # ISO 8601 UTC
    language: str | None = None  # ISO 639-1
    alternates: dict[str, str] = field(default_factory=dict)  # ISO 639-1 -> canonical URL
    fetched_at: str | None = None

    @classmethod
    def carried_by(cls, item: ArticleItem) -> Listing | None:
        """The listing a spider applied to its unparsed item (None: the page was not listed),
        so that extraction can apply it again to the parsed one by the same rules."""
        if item.source is None:
            return None
        return cls(
            source=item.source,
            title=item.feed_title,
            published_raw=item.feed_published_raw,
            published=item.feed_published,
            language=item.feed_language,
            alternates=dict(item.alternates),
        )

    def apply(self, item: ArticleItem) -> None:
        """Copy what the listing knows onto an item built from the page."""
        item.source = self.source
        item.feed_title = self.title
        item.feed_published_raw = self.published_raw
        item.feed_published = self.published
        item.feed_language = self.language
        for code, url in self.alternates.items():
            item.alternates.setdefault(code, url)
        if self.fetched_at:
            item.fetched_at = self.fetched_at
