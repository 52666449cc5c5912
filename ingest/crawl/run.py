"""Running spiders in this process: one Scrapy ``CrawlerProcess``, each spider's final stats.

The CLI (``ingest crawl``, ``ingest demo``) and the frontier's workers start crawls here; what
a crawl's stats say about losses no counted drop explains is judged here too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class CrawlError(Exception):
    """A crawl that cannot start: an unknown spider, a bad spider argument."""


def run_crawl(
    spiders: tuple[str, ...] | list[str],
    db_path: Path,
    spider_args: dict[str, str],
    settings_overrides: dict[str, Any],
    *,
    jobdirs: dict[str, Path] | None = None,
    args_for: dict[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run spiders in this process (one reactor), return each spider's final Scrapy stats.

    ``jobdirs`` gives a spider its own Scrapy JOBDIR (queue, dupefilter, spider state on disk);
    ``args_for`` adds arguments for one spider on top of ``spider_args``.
    """
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ingest.settings")
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    settings.set("INGEST_DB", str(db_path), priority="cmdline")
    for name, value in settings_overrides.items():
        settings.set(name, value, priority="cmdline")
    known = SpiderLoader.from_settings(settings).list()
    unknown = [s for s in spiders if s not in known]
    if unknown:
        raise CrawlError(
            f"Unknown spider(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    process = CrawlerProcess(settings)
    results: dict[str, dict[str, Any]] = {}
    handlers: list[Any] = []  # signal receivers are weak references: keep them alive
    for name in spiders:
        crawler = process.create_crawler(name)
        if jobdirs and name in jobdirs:
            crawler.settings.set("JOBDIR", str(jobdirs[name]), priority="cmdline")

        def keep(spider: Any, reason: str, crawler: Any = crawler, name: str = name) -> None:
            # `reason`, not the stat: CoreStats may set finish_reason after this handler runs.
            results[name] = {**crawler.stats.get_stats(), "finish_reason": reason}

        handlers.append(keep)
        crawler.signals.connect(keep, signal=signals.spider_closed)
        try:
            process.crawl(crawler, **{**spider_args, **(args_for or {}).get(name, {})})
        except (TypeError, ValueError) as exc:
            raise CrawlError(f"{name}: {exc}") from exc
    process.start()
    return results


UNCOUNTED_STATUS = 3  # a finished crawl whose log has errors no counted drop explains
# Counted losses that log one ERROR line each: an exception on a page (spiders/_base.py
# counts it as a drop), and Scrapy's "Gave up retrying" (the page is then a counted
# ingest/dropped/http_<status> or timeout/connection drop).
_ERROR_DROPS = (
    "ingest/dropped/spider_error",
    "ingest/dropped/pipeline_error",
    "retry/max_reached",
)


def uncounted_errors(stats: dict[str, Any]) -> int:
    """ERROR lines of a crawl beyond the exceptions counted as drops: losses no stat explains.

    Every exception on a page is a counted drop with its URL; an ERROR line that is not one of
    them (a middleware's, an extension's) may have lost a page silently, so the crawl must not
    look clean to a scheduler that only reads the exit status."""
    errors = int(stats.get("log_count/ERROR", 0))
    return max(0, errors - sum(int(stats.get(key, 0)) for key in _ERROR_DROPS))
