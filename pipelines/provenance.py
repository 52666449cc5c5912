"""Provenance: how each kept article's body and title were found, counted per run, and the
drift check that turns those counts into a warning the day a site's layout changes.

Why our own check and not spidermon (checked: spidermon 1.27.0, which installs beside Scrapy
2.19, its ``scrapy>=2.7`` having no upper bound):

* Its field coverage counts how many items have a field *filled*. ``body_source`` is filled on
  every kept article whatever found the body, so coverage stays at 100% while a site's
  selectors match nothing; what drifts is the share of one *value* per site, which field
  coverage cannot express.
* Its only comparison with earlier runs, ``ZyteJobsComparisonMonitor``, compares item counts of
  Scrapy Cloud jobs through the Scrapinghub API (``SHUB_JOBKEY``, an API key). Our earlier
  runs are rows of ``runs`` in our own SQLite file.
* Monitors are unittest suites reporting through actions (e-mail, Slack, Sentry) from its
  ``monitoring`` extra: boto, boto3, scrapinghub, sentry-sdk, slack-sdk, premailer, jinja2...
  A dozen dependencies for a comparison of two ratios that a scheduled crawl's log and
  ``ingest runs`` already carry.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from scrapy.crawler import Crawler

from ingest.items import ArticleItem
from ingest.sites import get_site
from ingest.store.db import open_db

logger = logging.getLogger(__name__)

BODY_PREFIX = "ingest/extraction/body/"
TITLE_PREFIX = "ingest/extraction/title/"
SITE_PREFIX = "ingest/extraction/site/"  # + <site>/pages, /body/<source>, /share
DRIFT_PREFIX = "ingest/drift/"  # + <site> (= 1), <site>/share, /previous_share, /previous_run
UNKNOWN = "none"  # no source recorded (an item built before provenance existed)


def site_key(site: str, what: str) -> str:
    """The stats key of one per-site figure: ``pages``, ``share`` or ``body/<source>``."""
    return f"{SITE_PREFIX}{site}/{what}"


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """A site's share of ``site`` bodies in an earlier run of the same spider."""

    run_id: str
    pages: int
    share: float


def previous_baseline(
    db_path: str | Path, spider: str, site: str, min_pages: int
) -> Baseline | None:
    """The latest recorded run of ``spider`` that kept at least ``min_pages`` pages of ``site``.

    Not simply the previous run: an incremental crawl every 30 minutes keeps a handful of new
    pages, too few for a share, and comparing with such a run would hide a drop after it.
    The current run is not among them: its ``stats`` are written when it closes.
    """
    sql = (
        "select id, pages, site_bodies from ("
        " select id, started_at, rowid as n,"
        " json_extract(stats, :pages) as pages, json_extract(stats, :site) as site_bodies"
        " from runs where spider = :spider and stats is not null and json_valid(stats)"
        ") where pages >= :min_pages order by started_at desc, n desc limit 1"
    )
    db = open_db(db_path, read_only=True)
    try:
        row = db.execute(
            sql,
            {
                "pages": "$." + json.dumps(site_key(site, "pages")),
                "site": "$." + json.dumps(site_key(site, "body/site")),
                "spider": spider,
                "min_pages": min_pages,
            },
        ).fetchone()
    finally:
        db.close()
    if row is None:
        return None
    run_id, pages, site_bodies = row
    return Baseline(run_id=str(run_id), pages=int(pages), share=int(site_bodies or 0) / int(pages))


class ProvenancePipeline:
    """Reads ``body_source``, ``title_source`` and ``site``; writes nothing on the item.

    Placed after dedup, so it counts exactly the articles that reach storage (stored or kept
    unchanged), once each. Stats: ``ingest/extraction/body/<source>``,
    ``ingest/extraction/title/<source>``; per declared site with body selectors,
    ``ingest/extraction/site/<site>/pages``, ``.../body/<source>`` and, at the end,
    ``.../share`` (the share of bodies its own selectors found).

    Drift, at the end of the crawl (before storage records the run's stats): a site whose
    share is under ``INGEST_DRIFT_SHARE`` over at least ``INGEST_DRIFT_MIN_PAGES`` pages, when
    its share was at least ``INGEST_DRIFT_BASELINE`` in the last run of the same spider with
    that many pages (``previous_baseline``), is a WARNING and ``ingest/drift/<site>`` = 1 with
    ``.../share``, ``.../previous_share`` and ``.../previous_run``. Only the first run after the
    change warns: the next one's baseline is already under the threshold.
    """

    def __init__(self, crawler: Crawler) -> None:
        assert crawler.stats is not None
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.db_path = settings["INGEST_DB"]
        self.drift_share = settings.getfloat("INGEST_DRIFT_SHARE", 0.5)
        self.min_pages = settings.getint("INGEST_DRIFT_MIN_PAGES", 10)
        self.baseline_share = settings.getfloat("INGEST_DRIFT_BASELINE", 0.8)
        self.pages: Counter[str] = Counter()  # declared site -> kept pages
        self.site_bodies: Counter[str] = Counter()  # declared site -> bodies from its selectors

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        body = item.body_source or UNKNOWN
        self.stats.inc_value(BODY_PREFIX + body)
        self.stats.inc_value(TITLE_PREFIX + (item.title_source or UNKNOWN))
        site = get_site(item.site)
        if site is not None and site.selectors.body:
            self.pages[site.name] += 1
            self.stats.inc_value(site_key(site.name, "pages"))
            self.stats.inc_value(site_key(site.name, f"body/{body}"))
            if body == "site":
                self.site_bodies[site.name] += 1
        return item

    def close_spider(self) -> None:
        """Shares per site, then the drift check against earlier runs."""
        spider = self.crawler.spider
        for site, pages in sorted(self.pages.items()):
            share = self.site_bodies[site] / pages
            self.stats.set_value(site_key(site, "share"), round(share, 3))
            if pages >= self.min_pages and share < self.drift_share and spider is not None:
                self.check_drift(spider.name, site, pages, share)

    def check_drift(self, spider: str, site: str, pages: int, share: float) -> None:
        """Warn and count when ``site`` had a high share before: its selectors stopped matching."""
        if not Path(self.db_path).exists():
            return
        try:
            before = previous_baseline(self.db_path, spider, site, self.min_pages)
        except sqlite3.Error as exc:  # a crawl must not fail on its own monitoring
            self.stats.inc_value("ingest/extraction/drift_check_failed")
            logger.error("drift check of %s failed: %s", site, exc)
            return
        if before is None or before.share < self.baseline_share:
            return
        self.stats.set_value(DRIFT_PREFIX + site, 1)
        self.stats.set_value(f"{DRIFT_PREFIX}{site}/share", round(share, 3))
        self.stats.set_value(f"{DRIFT_PREFIX}{site}/previous_share", round(before.share, 3))
        self.stats.set_value(f"{DRIFT_PREFIX}{site}/previous_run", before.run_id)
        selectors = get_site(site)
        logger.warning(
            "extraction drift on %s: the site's body selectors (%s) found %d of %d bodies "
            "(%.0f%%), after %.0f%% of %d in run %s; its layout may have changed",
            site,
            selectors.selectors.body if selectors else "?",
            self.site_bodies[site],
            pages,
            share * 100,
            before.share * 100,
            before.pages,
            before.run_id,
        )
