"""RBC-Ukraine (www.rbc.ua in Ukrainian and Russian, newsukraine.rbc.ua in English).

Everything the project knows about the site is declared here, from ../shared/RBC.md (real
scrapers 2020-2026). Discovery: RSS feeds, then the daily archive (``since``) or the all-news
pages. The ``/rus/`` and ``/ukr/`` path segments are swapped on the real site (``/rus/`` pages
are Ukrainian): the path only chooses what to crawl, never an article's language.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse

from ingest.dates import to_utc_iso
from ingest.incremental import ARTICLE, LASTMOD
from ingest.sites import Site, SiteSelectors
from spiders._base import NewsSpider

SITE = Site(
    name="rbc",
    domains=("rbc.ua",),
    languages=("uk", "ru", "en"),
    timezone="Europe/Kyiv",  # dates on the page are Kyiv local time
    selectors=SiteSelectors(
        article_root="article",
        title="article > h1",
        lead="div.publication-lead",
        # 2024-2026 layout, then the older one.
        body="article div.txt, article div.publication-sticky-container",
        published=".info > div:first-child",
        authors=".info .author",
        tags="div.intext-tags a",
        images="article div.publication-img-wrapper",
        image_caption=".publication-img-caption",
        image_credit=".publication-img-author",
        listing_links="div.newsline div.nano-content div.item > a::attr(href)",
        next_page="a.next::attr(href)",
    ),
    drop=(
        "span.lang-publication",
        "div.share",
        "div.publication-social",
        "div.read-in-google",
        "div.intext-tags",
        "[id*=read_more]",
        "p.subscribe",
    ),
    drop_text=(
        "Читайте нас в Google",
        "Читайте РБК-Україна",
        "Читайте РБК-Украина",
        "Read RBC-Ukraine on Google",
    ),
    article_url_pattern=(
        r"^https?://(?:[a-z]+\.)?rbc\.ua/(?:rus|ukr)/[a-z-]+/[^/?#]+-\d{9,11}\.html$"
        r"|^https?://newsukraine\.rbc\.ua/[a-z-]+/[^/?#]+-\d{9,11}\.html$"
    ),
    story_id_pattern=r"-(\d{9,11})\.html$",
    title_suffixes=(" | РБК-Україна", " | РБК-Украина", " | RBC-Ukraine"),
)

# Discovery per language. The swap: Ukrainian text lives under /rus/, Russian under /ukr/.
# newsukraine.rbc.ua's archive and all-news shapes are assumed to follow the main site's.
FEEDS = {
    "uk": ("https://www.rbc.ua/static/rss/all.rus.rss.xml",),
    "ru": ("https://www.rbc.ua/static/rss/all.ukr.rss.xml",),
    "en": ("https://newsukraine.rbc.ua/rss.xml",),
}
ARCHIVE_DAY = {
    "uk": "https://www.rbc.ua/rus/archive/{day:%Y/%m/%d}",
    "ru": "https://www.rbc.ua/ukr/archive/{day:%Y/%m/%d}",
    "en": "https://newsukraine.rbc.ua/archive/{day:%Y/%m/%d}",
}
ALL_NEWS = {
    "uk": "https://www.rbc.ua/rus/allnews/1",
    "ru": "https://www.rbc.ua/ukr/allnews/1",
    "en": "https://newsukraine.rbc.ua/allnews/1",
}
_ARTICLE_RE = re.compile(SITE.article_url_pattern)


def parse_languages(value: str | list[str] | None) -> list[str]:
    """``-a lang=uk,en`` → ['uk', 'en']; a code the site does not publish is an error."""
    if not value:
        return list(SITE.languages)
    codes = value if isinstance(value, list) else [c.strip() for c in value.split(",")]
    unknown = [c for c in codes if c not in SITE.languages]
    if unknown:
        raise ValueError(f"lang must be among {','.join(SITE.languages)}; got {','.join(unknown)}")
    return [c for c in codes if c]


def parse_day(value: str | date | None, name: str) -> date | None:
    """``-a since=2025-07-01`` → a date; a clear error for anything else."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date like 2025-07-01, got {value!r}") from None


class RbcSpider(NewsSpider):
    """RSS + archive days + all-news pages, then one item per article page.

    Arguments: ``lang`` (uk,ru,en; default all), ``since`` (archive days back to this date),
    ``until`` (last archive day, default today), ``limit`` (max articles), ``pages``
    (all-news pages to follow, default 2).
    """

    name = "rbc"
    site = SITE
    allowed_domains = ["rbc.ua"]

    def __init__(
        self,
        lang: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: str | int | None = None,
        pages: str | int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        given = {"lang": lang, "since": since, "until": until, "limit": limit}
        self.run_args.update({k: str(v) for k, v in given.items() if v is not None})
        self.languages = parse_languages(lang)
        self.since = parse_day(since, "since")
        self.until = parse_day(until, "until") or date.today()
        self.limit = int(limit) if limit not in (None, "") else None
        self.pages = int(pages)
        if self.since and self.since > self.until:
            raise ValueError(f"since ({self.since}) is after until ({self.until})")
        # Article URL -> the change date it was requested with. Kept in ``self.state`` when
        # JOBDIR is set, so a resumed crawl neither asks again nor goes over ``limit``.
        self.requested: dict[str, str | None] = {}

    def discovery_urls(self) -> Iterator[tuple[str, str]]:
        """(url, kind) of every feed and listing page to start from."""
        for code in self.languages:
            for feed in FEEDS[code]:
                yield feed, "feed"
            if self.since:
                day = self.until
                while day >= self.since:
                    yield ARCHIVE_DAY[code].format(day=day), "listing"
                    day -= timedelta(days=1)
            yield ALL_NEWS[code], "listing"

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # SpiderState sets ``state`` (loaded from JOBDIR) on spider_opened, before this runs.
        state = getattr(self, "state", None)
        if isinstance(state, dict):
            self.requested = state.setdefault("requested", self.requested)
        for url, kind in self.discovery_urls():
            callback = self.parse_feed if kind == "feed" else self.parse_listing
            yield scrapy.Request(
                url, callback=callback, errback=self.request_failed, cb_kwargs={"page": 1}
            )

    def follow_article(
        self, response: Response, url: str, lastmod: str | None = None
    ) -> scrapy.Request | None:
        """A request for an article URL, unless not one, already asked for, or over the limit.

        ``lastmod`` (ISO 8601, from a feed) lets the incremental middleware skip an unchanged
        stored article. A URL already asked for without it, or with an older one, is asked for
        again: a listing may be parsed before the feed that says the article changed.
        """
        absolute = response.urljoin(url.strip())
        if not _ARTICLE_RE.match(absolute):
            return None
        again = absolute in self.requested
        if again:
            before = self.requested[absolute]
            if lastmod is None or (before is not None and lastmod <= before):
                return None
        elif self.limit is not None and len(self.requested) >= self.limit:
            return None
        self.requested[absolute] = lastmod
        return scrapy.Request(
            absolute,
            callback=self.parse_article,
            errback=self.request_failed,
            meta={ARTICLE: True, LASTMOD: lastmod},
            dont_filter=again,  # the dupefilter holds the first request
        )

    def parse_feed(self, response: Response, page: int = 1) -> Iterator[scrapy.Request]:
        """RSS 2.0 via ``ingest.feeds``: article links, skipping entries older than ``since``."""
        for entry in self.feed_entries(response):
            published = entry.published
            if self.since and published and published.date() < self.since:
                continue
            dates = [d for d in (published, entry.updated) if d is not None]
            lastmod = to_utc_iso(max(dates)) if dates else None  # the incremental check's hint
            if (request := self.follow_article(response, entry.link, lastmod)) is not None:
                yield request

    def parse_listing(self, response: Response, page: int = 1) -> Iterator[scrapy.Request]:
        """Archive day or all-news page: article links, then the next page while allowed."""
        if not isinstance(response, TextResponse):
            self.drop("non_html", response.url)
            return
        sel = SITE.selectors
        for link in response.css(sel.listing_links).getall():
            if (request := self.follow_article(response, link)) is not None:
                yield request
        next_url = response.css(sel.next_page).get()
        if next_url and page < self.pages:
            yield response.follow(
                next_url,
                self.parse_listing,
                errback=self.request_failed,
                cb_kwargs={"page": page + 1},
            )
