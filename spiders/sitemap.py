"""Any sitemap: ``ingest crawl sitemap -a url=https://example.com/sitemap.xml``.

Follows sitemap indexes, reads plain and gzip sitemaps, Google News sitemaps and hreflang
alternates (``ingest.crawl.feeds``), and filters by date before anything is fetched: with ``since``
an entry dated (news:publication_date, else lastmod) before that day is skipped, and so is a
child sitemap whose lastmod is. Undated entries are followed. A ``robots.txt`` URL is read for
its ``Sitemap:`` lines. Indexes are followed at most ``INGEST_SITEMAP_MAX_DEPTH`` levels below a
start URL, and at most ``INGEST_SITEMAP_MAX_CHILDREN`` child sitemaps per crawl: an index that
links a fresh index forever ends (``ingest/filtered/sitemap_too_deep``, ``too_many_sitemaps``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response
from scrapy.utils.sitemap import sitemap_urls_from_robots

from ingest.crawl.feeds import SitemapEntry, XmlReport, iter_sitemap
from ingest.extract import canonical_url, normalise_lang
from ingest.items import Listing
from spiders._listing import ListingSpider, iso

DEPTH = "sitemap_depth"  # request meta: index levels below the start URL


def listing_of(entry: SitemapEntry, source: str) -> Listing:
    """What a sitemap entry says of its page: news: title, date, language; hreflang alternates."""
    alternates: dict[str, str] = {}
    for code, url in entry.alternates.items():
        lang = normalise_lang(code)  # "en-GB" -> "en"; "x-default" -> None
        if lang and lang not in alternates:
            try:
                alternates[lang] = canonical_url(url)
            except ValueError:  # "http://[::1": not a URL; the entry itself still counts
                continue
    return Listing(
        source=source,
        title=entry.news_title,
        published_raw=entry.news_published_raw,
        published=iso(entry.news_published),
        language=normalise_lang(entry.news_language),
        alternates=alternates,
    )


class SitemapSpider(ListingSpider):
    """Sitemaps (indexes followed, gzip read) → article pages.

    Arguments: ``url`` (sitemap or robots.txt URLs, comma-separated) or ``site`` (a declared
    site's sitemaps), ``domains``, ``since``, ``limit``: see ``ListingSpider``.
    """

    name = "sitemap"
    site_urls = "sitemaps"

    def parse_start(self, response: Response) -> Iterator[scrapy.Request]:
        """A start URL: a robots.txt is read for sitemaps, anything else is a sitemap."""
        if response.url.endswith("/robots.txt"):
            found = list(sitemap_urls_from_robots(response.body, base_url=response.url))
            if not found:
                self.drop("no_entries", response.url, "no Sitemap: line in robots.txt")
            yield from self.follow_sitemaps(found, depth=0)
            return
        yield from self.parse_sitemap(response)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sitemaps_requested: set[str] = set(self.start_urls)
        self.children = 0  # child sitemaps requested so far

    def follow_sitemaps(self, urls: list[str], depth: int) -> Iterator[scrapy.Request]:
        """Requests for child sitemaps not yet asked for (an index may repeat or loop), ``depth``
        index levels below a start URL, within the crawl's bounds."""
        settings = self.crawler.settings
        max_depth = settings.getint("INGEST_SITEMAP_MAX_DEPTH", 5)
        max_children = settings.getint("INGEST_SITEMAP_MAX_CHILDREN", 50_000)
        for url in urls:
            if (refusal := self.url_refusal(url)) is not None:
                self.skip(refusal, url)
            elif url in self.sitemaps_requested:
                continue
            elif depth > max_depth:
                self.skip("sitemap_too_deep", url)
            elif self.children >= max_children:
                self.skip("too_many_sitemaps", url)
            else:
                self.sitemaps_requested.add(url)
                self.children += 1
                self.tally["sitemaps"] += 1
                yield scrapy.Request(
                    url,
                    callback=self.parse_sitemap,
                    errback=self.request_failed,
                    meta={DEPTH: depth},
                )

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """A sitemap index (child sitemaps) or urlset (articles), filtered before fetching."""
        report = XmlReport()
        entries = iter_sitemap(
            response.body, base_url=response.url, max_size=self.xml_max_size(), report=report
        )
        for entry in entries:
            if self.before_since(entry.date):
                self.skip("before_since", entry.loc)
            elif entry.is_index:
                if self.limit_reached:
                    self.skip("over_limit", entry.loc)
                else:
                    depth = int(response.meta.get(DEPTH, 0)) + 1
                    yield from self.follow_sitemaps([entry.loc], depth)
            else:
                lastmod = iso(
                    max((d for d in (entry.news_published, entry.lastmod) if d), default=None)
                )
                request = self.follow(entry.loc, listing_of(entry, response.url), lastmod)
                if request is not None:
                    yield request
        self.account_xml(report, response.url)
        self.summarise(response.url, report.entries)
