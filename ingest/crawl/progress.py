"""Crawl progress: a live line rewritten in place on a terminal, periodic log lines elsewhere.

On a terminal the line is redrawn every second with ``\\r`` and the log lines Scrapy prints
meanwhile land above it (a logging filter clears the line before each record). Anywhere else
(cron, systemd, pipes, tests) a carriage return would only garble the log, so the same line is
logged at INFO every ``INGEST_PROGRESS_INTERVAL`` seconds instead. ``INGEST_PROGRESS=False``
turns it off.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Self, TextIO

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import AsyncioLoopingCall, create_looping_call
from twisted.internet.task import LoopingCall

logger = logging.getLogger(__name__)

TTY_REFRESH = 1.0  # seconds between redraws of the live line
CLEAR_TO_EOL = "\x1b[K"  # a shorter line must not leave the tail of the previous one


def elapsed_clock(seconds: float) -> str:
    """``H:MM:SS``: 144.9 → ``0:02:24``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def progress_line(spider: str, stats: Mapping[str, Any], elapsed: float) -> str:
    """One line from the crawl's Scrapy stats.

    "items" is ``item_scraped_count``: items that passed every pipeline, i.e. stored or in the
    storage batch about to be written (``ingest/stored`` only moves once per batch).
    """
    pages = int(stats.get("response_received_count", 0))
    items = int(stats.get("item_scraped_count", 0))
    dropped = sum(int(v) for k, v in stats.items() if k.startswith("ingest/dropped/"))
    rate = items * 60.0 / elapsed if elapsed > 0 else 0.0
    return (
        f"{spider}: {pages} pages, {items} items, {dropped} dropped, "
        f"{rate:.1f} items/min, {elapsed_clock(elapsed)} elapsed"
    )


class ProgressExtension:
    """Shows ``progress_line`` while a spider runs; stops at ``spider_closed``."""

    def __init__(
        self,
        stats: StatsCollector,
        *,
        interval: float = 30.0,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = stats
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.period = TTY_REFRESH if self.tty else interval
        self.clock = clock
        self.spider = ""
        self.started = 0.0
        self.shown = False  # a live line is on screen, without its newline yet
        self.task: AsyncioLoopingCall | LoopingCall | None = None
        self._filtered: list[logging.Handler] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        interval = settings.getfloat("INGEST_PROGRESS_INTERVAL", 30.0)
        if not settings.getbool("INGEST_PROGRESS", True) or interval <= 0:
            raise NotConfigured  # off unless configured; a message would warn on every crawl
        assert crawler.stats is not None
        ext = cls(crawler.stats, interval=interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.open(spider.name)
        self.task = create_looping_call(self.tick)
        self.task.start(self.period, now=False)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self.task = None
        self.close()

    def open(self, spider: str) -> None:
        """Start the clock; on a terminal, clear the live line before every log record."""
        self.spider, self.started = spider, self.clock()
        if self.tty:
            for handler in logging.getLogger().handlers:
                if getattr(handler, "stream", None) is self.stream:
                    handler.addFilter(self._clear_line)
                    self._filtered.append(handler)

    def line(self) -> str:
        return progress_line(self.spider, self.stats.get_stats(), self.clock() - self.started)

    def tick(self) -> None:
        """Redraw the live line (terminal) or log it (anything else)."""
        if not self.tty:
            logger.info("%s", self.line())
            return
        width = shutil.get_terminal_size().columns - 1
        self.stream.write(f"\r{self.line()[:width]}{CLEAR_TO_EOL}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """Leave the final figures: the live line ends with a newline, a log gets one last line."""
        for handler in self._filtered:
            handler.removeFilter(self._clear_line)
        self._filtered = []
        if self.tty:
            self.stream.write(f"\r{self.line()}{CLEAR_TO_EOL}\n")
            self.stream.flush()
            self.shown = False
        else:
            logger.info("%s (done)", self.line())

    def _clear_line(self, record: logging.LogRecord) -> bool:
        if self.shown:
            self.stream.write(f"\r{CLEAR_TO_EOL}")
            self.shown = False
        return True
