"""Replay WARC files through the article path, without the network: ``ingest crawl warc
-a path=crawl.warc.gz``.

Re-processes a crawl's own archive (``-s INGEST_WARC_OUT=...``) or a CC-NEWS file with the
current rules. Each HTML response record becomes a request for its real URL that
``ingest.crawl.warc.WarcReplayMiddleware`` answers from the file, so robots.txt, incremental skips
and politeness delays, which are about live sites, are off, and pipelines see the real URLs.
"""

from __future__ import annotations

import glob
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.settings import BaseSettings
from warcio.exceptions import ArchiveLoadFailed

from ingest.crawl.middlewares import on_domains, url_refusal
from ingest.crawl.warc import RECORD_META, WarcRecordRef, iter_records
from ingest.items import Listing
from spiders._base import HTML_TYPES, NewsSpider
from spiders._listing import parse_limit, split_list


def warc_paths(value: str | None) -> list[str]:
    """``-a path=a.warc.gz,crawls/*.warc.gz`` → existing files, globs expanded, sorted."""
    paths: list[str] = []
    for pattern in split_list(value):
        # glob.glob, not Path.glob: patterns may be absolute and have wildcards in directories.
        matches = [pattern] if Path(pattern).is_file() else sorted(glob.glob(pattern))  # noqa: PTH207
        found = [p for p in matches if Path(p).is_file()]
        if not found:
            raise ValueError(f"no WARC file matches {pattern!r}")
        paths.extend(p for p in found if p not in paths)
    if not paths:
        raise ValueError("warc needs -a path=FILE[,FILE or glob...]")
    return paths


class WarcSpider(NewsSpider):
    """WARC response records → article items, through ``parse_article`` like a live crawl.

    Arguments: ``path`` (WARC files or globs, comma-separated), ``domains`` (only records of
    these domains; default all), ``limit`` (max articles). Records that are not a 200 HTML
    response, or a URL already replayed, are counted (``ingest/filtered/warc_<reason>``).
    """

    name = "warc"
    custom_settings = {
        "ROBOTSTXT_OBEY": False,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "INGEST_INCREMENTAL": False,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    }

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Add the replay middleware to the project's; it answers before the network could.

        Set at spider priority: ``CrawlerProcess.crawl(crawler)`` merges the project settings
        in again, which would drop a component added at project priority.
        """
        super().update_settings(settings)
        middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
        middlewares["ingest.crawl.warc.WarcReplayMiddleware"] = 940
        settings.set("DOWNLOADER_MIDDLEWARES", middlewares, priority="spider")

    def __init__(
        self,
        path: str | None = None,
        domains: str | None = None,
        limit: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        given = {"path": path, "domains": domains, "limit": limit}
        self.run_args.update({k: str(v) for k, v in given.items() if v is not None})
        self.paths = warc_paths(path)
        self.domains = split_list(domains)
        self.limit = parse_limit(limit)
        self.replayed: set[str] = set()

    def wanted(self, ref: WarcRecordRef) -> str | None:
        """Why a record is not replayed, or None when it is. A record's URL passes the crawl's
        URL check like any other (a ``file://`` target URI is ``scheme``): the spider reads
        the files its user names, and nothing in them makes it read another."""
        if (refusal := url_refusal(ref.url)) is not None:
            return refusal
        if ref.status != 200:
            return "warc_status"
        if ref.content_type not in HTML_TYPES:
            return "warc_not_html"
        if self.domains and not on_domains(urlsplit(ref.url).hostname or "", self.domains):
            return "warc_other_domain"
        if ref.url in self.replayed:
            return "warc_repeated"
        maxsize = self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
        if maxsize and ref.length > maxsize:
            return "warc_too_large"
        return None

    async def start(self) -> AsyncIterator[scrapy.Request]:
        assert self.crawler.stats is not None
        stats = self.crawler.stats
        for path in self.paths:
            tally: Counter[str] = Counter()
            try:
                for ref in iter_records(path):
                    if self.limit is not None and len(self.replayed) >= self.limit:
                        break
                    reason = self.wanted(ref)
                    if reason is not None:
                        stats.inc_value(f"ingest/filtered/{reason}")
                        tally[reason] += 1
                        continue
                    self.replayed.add(ref.url)
                    tally["replayed"] += 1
                    yield scrapy.Request(
                        ref.url,
                        callback=self.parse_article,
                        errback=self.request_failed,
                        cb_kwargs={"listing": Listing(source=path, fetched_at=ref.date)},
                        meta={RECORD_META: ref, "dont_redirect": True, "dont_retry": True},
                        dont_filter=True,  # the recorded response, even if the URL came before
                    )
            except ArchiveLoadFailed as exc:
                self.drop("bad_warc", path, str(exc)[:300])
            counts = ", ".join(f"{k} {v}" for k, v in sorted(tally.items()))
            self.logger.info("%s: %s", path, counts or "no response records")
