"""RBC-Ukraine: its feeds through the shared feed path, plus what only this site has.

The site itself (domains, feeds, selectors, drop rules, date format) is its entry,
``ingest/site_entries/rbc.toml``. What is RBC's alone lives here: the daily archive (``since``)
and the all-news pages, and the swapped language paths of www.rbc.ua (``/rus/`` pages are
Ukrainian, ``/ukr/`` pages Russian; English lives on newsukraine.rbc.ua). The path only chooses
what to crawl, never an article's language.

Per language, discovery goes in stages: the feed, then the archive days, then the all-news
pages, each stage once the one before has been read (or has failed). An article several of them
list thus reaches the article path with what the first said of it, the same on every crawl: the
feed's ``source``, ``feed_title`` and date when the feed has it, else the listing page's URL as
its ``source``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from ingest.items import Listing
from ingest.sites import require_site
from spiders._listing import parse_since
from spiders.feed import FeedSpider

SITE = require_site("rbc")

# The swap: Ukrainian text lives under /rus/, Russian under /ukr/. newsukraine.rbc.ua's archive
# and all-news shapes are assumed to follow the main site's.
ROOT = {
    "uk": "https://www.rbc.ua/rus",
    "ru": "https://www.rbc.ua/ukr",
    "en": "https://newsukraine.rbc.ua",
}
ARCHIVE_DAY = "{root}/archive/{day:%Y/%m/%d}"
ALL_NEWS = "{root}/allnews/1"
ENGLISH_HOST = urlsplit(ROOT["en"]).hostname
_FEED_PATH_RE = re.compile(r"[./](rus|ukr)[./]")  # all.rus.rss.xml: the Ukrainian feed
_SWAPPED = {"rus": "uk", "ukr": "ru"}


def feed_language(url: str) -> str | None:
    """The language of one of the entry's feeds, by the swap (``all.rus`` → uk)."""
    if urlsplit(url).hostname == ENGLISH_HOST:
        return "en"
    match = _FEED_PATH_RE.search(urlsplit(url).path)
    return _SWAPPED[match[1]] if match else None


def feeds_for(code: str) -> list[str]:
    """The entry's feeds in language ``code``."""
    return [url for url in SITE.feeds if feed_language(url) == code]


def parse_languages(value: str | list[str] | None) -> list[str]:
    """``-a lang=uk,en`` → ['uk', 'en']; a code the site does not publish is an error."""
    if not value:
        return list(SITE.languages)
    codes = value if isinstance(value, list) else [c.strip() for c in value.split(",")]
    unknown = [c for c in codes if c not in SITE.languages]
    if unknown:
        raise ValueError(f"lang must be among {','.join(SITE.languages)}; got {','.join(unknown)}")
    return [c for c in codes if c]


class RbcSpider(FeedSpider):
    """RSS feeds, then archive days and all-news pages, per language; one item per article.

    Arguments: ``lang`` (uk,ru,en; default all), ``since`` (feed entries and archive days back
    to this date), ``until`` (last archive day, default today), ``limit`` (max articles),
    ``pages`` (all-news pages to follow, default 2).
    """

    name = "rbc"
    site = SITE

    def __init__(
        self,
        lang: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: str | int | None = None,
        pages: str | int = 2,
        **kwargs: Any,
    ) -> None:
        self.languages = parse_languages(lang)
        feeds = [url for code in self.languages for url in feeds_for(code)]
        super().__init__(url=",".join(feeds), since=since, limit=limit, **kwargs)
        given = {"lang": lang, "since": since, "until": until, "limit": limit}
        self.run_args.pop("url", None)  # the feeds follow from ``lang``
        self.run_args.update({k: str(v) for k, v in given.items() if v is not None})
        self.until = parse_since(until, "until") or date.today()
        self.pages = int(pages)
        if self.since and self.since > self.until:
            raise ValueError(f"since ({self.since}) is after until ({self.until})")
        # Language -> its discovery stages still to request, and the pages of the current one
        # not yet read: at 0 the next stage is requested.
        self.stages = {code: self.discovery_stages(code) for code in self.languages}
        self.unread = dict.fromkeys(self.languages, 0)

    def discovery_stages(self, code: str) -> list[list[tuple[str, str]]]:
        """[(url, kind)] per stage: the feeds, archive days (``until`` back to ``since``, when
        given), all-news page 1; empty stages left out."""
        root = ROOT[code]
        days: list[tuple[str, str]] = []
        if self.since:
            day = self.until
            while day >= self.since:
                days.append((ARCHIVE_DAY.format(root=root, day=day), "listing"))
                day -= timedelta(days=1)
        feeds = [(url, "feed") for url in feeds_for(code)]
        stages = [feeds, days, [(ALL_NEWS.format(root=root), "listing")]]
        return [stage for stage in stages if stage]

    def discovery_urls(self) -> Iterator[tuple[str, str]]:
        """(url, kind) of every feed and listing page, in the order they are requested."""
        for code in self.languages:
            for stage in self.discovery_stages(code):
                yield from stage

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.restore_state()
        for code in self.languages:
            for request in self.next_stage(code):
                yield request

    def next_stage(self, code: str) -> Iterator[scrapy.Request]:
        """The requests of language ``code``'s next discovery stage, if any is left."""
        if not self.stages[code]:
            return
        stage = self.stages[code].pop(0)
        self.unread[code] = len(stage)
        for url, kind in stage:
            yield scrapy.Request(
                url,
                callback=self.parse_feed if kind == "feed" else self.parse_listing,
                errback=self.discovery_failed,
                cb_kwargs={"lang": code},
            )

    def stage_read(self, lang: str | None) -> Iterator[scrapy.Request]:
        """One page of ``lang``'s current stage read; the next stage once all are."""
        if lang is None or lang not in self.unread:
            return  # a callback called directly (tests), or a next all-news page
        self.unread[lang] -= 1
        if self.unread[lang] <= 0:
            yield from self.next_stage(lang)

    def parse_feed(self, response: Response, lang: str | None = None) -> Iterator[scrapy.Request]:
        """A feed, through the shared feed path (``FeedSpider.parse_start``)."""
        yield from self.parse_start(response)
        yield from self.stage_read(lang)

    def discovery_failed(self, failure: Failure) -> Iterator[scrapy.Request]:
        """A feed or listing page that could not be read is a counted drop; discovery goes on."""
        self.request_failed(failure)
        request = getattr(failure, "request", None)
        lang = request.cb_kwargs.get("lang") if isinstance(request, scrapy.Request) else None
        yield from self.stage_read(lang)

    def parse_listing(
        self, response: Response, page: int = 1, lang: str | None = None
    ) -> Iterator[scrapy.Request]:
        """Archive day or all-news page: article links (the page as their ``source``), then
        the next page while ``pages`` allows."""
        yield from self.read_listing(response, page)
        yield from self.stage_read(lang)

    def read_listing(self, response: Response, page: int) -> Iterator[scrapy.Request]:
        if not isinstance(response, TextResponse):
            self.drop("non_html", response.url)
            return
        sel = SITE.selectors
        listing = Listing(source=response.url)
        links = response.css(sel.listing_links).getall()
        for link in links:
            if (request := self.follow(response.urljoin(link.strip()), listing, None)) is not None:
                yield request
        self.summarise(response.url, len(links))
        next_url = response.css(sel.next_page).get()
        if next_url and page < self.pages:
            url = response.urljoin(next_url)
            if (refusal := self.url_refusal(url)) is not None:
                self.skip(refusal, url)
                return
            yield scrapy.Request(
                url,
                callback=self.parse_listing,
                errback=self.request_failed,
                cb_kwargs={"page": page + 1},
            )
