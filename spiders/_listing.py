"""What the ``feed``, ``sitemap`` and ``rbc`` spiders share: URL arguments, allowed domains, the
since / limit filters, and requests that carry what the listing said onto the article path."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from w3lib.url import canonicalize_url

from ingest.crawl.incremental import ARTICLE, LASTMOD
from ingest.crawl.middlewares import DEFAULT_PORTS
from ingest.dates import to_utc_iso
from ingest.items import Listing
from ingest.sites import get_site
from spiders._base import NewsSpider


def split_list(value: str | Iterable[str] | None) -> list[str]:
    """``-a url=a,b`` → ['a', 'b'] (blanks dropped, order kept, no repeats)."""
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else list(value)
    return list(dict.fromkeys(p.strip() for p in parts if p.strip()))


def domains_of(urls: Iterable[str]) -> list[str]:
    """Allowed domains derived from start URLs: each host, without a leading ``www.`` (so
    ``https://www.example.com/feed`` allows news.example.com too)."""
    hosts = (urlsplit(url).hostname or "" for url in urls)
    return list(dict.fromkeys(h.removeprefix("www.") for h in hosts if h))


def ports_of(urls: Iterable[str]) -> list[int]:
    """Explicit ports of start URLs (``http://127.0.0.1:8080/feed.xml`` → 8080)."""
    ports = []
    for url in urls:
        try:
            port = urlsplit(url).port
        except ValueError:
            continue
        if port is not None:
            ports.append(port)
    return ports


def parse_since(value: str | date | None, name: str = "since") -> date | None:
    """``-a since=2025-07-01`` → a date; a clear error for anything else."""
    if isinstance(value, date):
        return value
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date like 2025-07-01, got {value!r}") from None


def parse_limit(value: str | int | None) -> int | None:
    """``-a limit=20`` → 20; None for no limit."""
    if value is None or value == "":
        return None
    try:
        limit = int(value)
    except ValueError:
        raise ValueError(f"limit must be a whole number, got {value!r}") from None
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return limit


def iso(value: datetime | None) -> str | None:
    return to_utc_iso(value) if value is not None else None


class ListingSpider(NewsSpider):
    """Base of spiders that start from feed or sitemap URLs given with ``-a url=``.

    Arguments: ``url`` (comma-separated) or ``site`` (a declared site's ``feeds`` /
    ``sitemaps``), ``domains`` (allowed domains; default: those of the URLs, or the site's),
    ``since`` (skip entries dated before this day, before fetching), ``limit`` (max articles).
    A declared site's ``article_url_pattern`` filters the entries. Entries not followed are
    counted (``ingest/filtered/<reason>``), logged one by one at DEBUG and summed up per
    document at INFO. The URLs requested are kept in the spider's state (JOBDIR), so a resumed
    crawl neither asks again nor goes over ``limit``.
    """

    site_urls: ClassVar[str] = ""  # the Site field listing this spider's start URLs

    def __init__(
        self,
        url: str | None = None,
        site: str | None = None,
        domains: str | None = None,
        since: str | None = None,
        limit: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        given = {"url": url, "site": site, "domains": domains, "since": since, "limit": limit}
        self.run_args.update({k: str(v) for k, v in given.items() if v is not None})
        declared = get_site(site) if site else self.site
        if site and declared is None:
            raise ValueError(f"unknown site {site!r}")
        urls = split_list(url)
        if not urls and declared is not None:
            urls = list(getattr(declared, self.site_urls))
        if not urls:
            raise ValueError(
                f"{self.name} needs -a url=URL[,URL...] (or a site with {self.site_urls})"
            )
        bad = [u for u in urls if urlsplit(u).scheme not in ("http", "https")]
        if bad:
            raise ValueError(f"url must be http(s): {', '.join(bad)}")
        self.start_urls = urls
        # The start URLs' own domains always, else their requests would be offsite.
        extra = split_list(domains) or (list(declared.domains) if declared else [])
        self.allowed_domains = list(dict.fromkeys(domains_of(urls) + extra))
        # Ports: the schemes' defaults, and any a start URL names (a loopback test server).
        self.allowed_ports = frozenset({*DEFAULT_PORTS.values(), *ports_of(urls)})
        pattern = declared.article_url_pattern if declared else ""
        self.article_url = re.compile(pattern) if pattern else None
        self.since = parse_since(since)
        self.limit = parse_limit(limit)
        self.requested: set[str] = set()
        self.tally: Counter[str] = Counter()  # the document being read: followed / skipped

    def restore_state(self) -> None:
        """Share ``requested`` with the spider state: SpiderState loads it from JOBDIR on
        spider_opened, before ``start`` runs, and saves it when the crawl stops."""
        state = getattr(self, "state", None)
        if isinstance(state, dict):
            saved = state.setdefault("requested", self.requested)
            self.requested = saved if isinstance(saved, set) else set(saved)
            state["requested"] = self.requested

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.restore_state()
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse_start, errback=self.request_failed)

    def parse_start(self, response: scrapy.http.Response) -> Any:
        """The callback for each start URL."""
        raise NotImplementedError

    def allowed(self, url: str) -> bool:
        return self.url_refusal(url) is None

    def skip(self, reason: str, url: str) -> None:
        """Count an entry not followed (``ingest/filtered/<reason>``); DEBUG log, INFO summary."""
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"ingest/filtered/{reason}")
        self.tally[reason] += 1
        self.logger.debug("skipped (%s): %s", reason, url[:300])

    def before_since(self, when: datetime | None) -> bool:
        """True when ``since`` is set and the entry is dated (in its own offset) before it."""
        return self.since is not None and when is not None and when.date() < self.since

    @property
    def limit_reached(self) -> bool:
        return self.limit is not None and len(self.requested) >= self.limit

    def follow(self, url: str, listing: Listing, lastmod: str | None) -> scrapy.Request | None:
        """The article request for a listed URL, carrying ``listing``; None when skipped
        (``url_refusal``: scheme, userinfo, port, bad_url, offsite; then not_article_url,
        listed_twice, url_too_long, over_limit)."""
        if (refusal := self.url_refusal(url)) is not None:
            self.skip(refusal, url)
            return None
        if self.article_url is not None and not self.article_url.search(url):
            self.skip("not_article_url", url)
            return None
        # The dupefilter's notion of one URL (query order, fragment): a second spelling would be
        # refused by it without a word.
        try:
            key = canonicalize_url(url)
        except ValueError:
            self.skip("bad_url", url)
            return None
        if key in self.requested:
            self.skip("listed_twice", url)
            return None
        max_length = self.settings.getint("URLLENGTH_LIMIT")  # 0: UrlLengthMiddleware is off
        if max_length and len(url) > max_length:  # it would drop the request, uncounted
            self.drop("url_too_long", url[:200], f"{len(url)} chars > URLLENGTH_LIMIT")
            return None
        if self.limit_reached:
            self.skip("over_limit", url)
            return None
        self.requested.add(key)
        self.tally["requested"] += 1
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.request_failed,
            cb_kwargs={"listing": listing},
            meta={ARTICLE: True, LASTMOD: lastmod},  # lets an unchanged stored article be skipped
        )

    def summarise(self, url: str, entries: int) -> None:
        """One INFO line per feed or sitemap: how many entries, requested, skipped and why."""
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.tally.items()))
        self.logger.info("%s: %d entries (%s)", url, entries, counts or "nothing followed")
        self.tally.clear()
