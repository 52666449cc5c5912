"""Any RSS 2.0 or Atom feed: ``ingest crawl feed -a url=https://example.com/rss.xml``.

The feed says where the articles are and what it calls them: its title and date travel with
each request (``Listing``) to the one article path and are stored beside the page's own, so
validation can cross-check them.
"""

from __future__ import annotations

from collections.abc import Iterator

import scrapy
from scrapy.http import Response

from ingest.items import Listing
from spiders._listing import ListingSpider, iso


class FeedSpider(ListingSpider):
    """RSS 2.0 / Atom feeds → article pages.

    Arguments: ``url`` (feed URLs, comma-separated) or ``site`` (a declared site's feeds),
    ``domains``, ``since``, ``limit``: see ``ListingSpider``.
    """

    name = "feed"
    site_urls = "feeds"

    def parse_start(self, response: Response) -> Iterator[scrapy.Request]:
        """A feed: one request per entry, unless dated before ``since``, offsite or over limit."""
        entries = 0
        for entry in self.feed_entries(response):
            entries += 1
            lastmod = iso(max((d for d in (entry.published, entry.updated) if d), default=None))
            if self.before_since(entry.published or entry.updated):
                self.skip("before_since", entry.link)
                continue
            listing = Listing(
                source=response.url,
                title=entry.title,
                published_raw=entry.published_raw,
                published=iso(entry.published),
            )
            if (request := self.follow(entry.link, listing, lastmod)) is not None:
                yield request
        self.summarise(response.url, entries)
