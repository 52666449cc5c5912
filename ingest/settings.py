"""Scrapy settings of the project: polite defaults, pipelines wired once, env → settings."""

from __future__ import annotations

import os

from ingest import __version__

BOT_NAME = "ingest"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# Politeness: an honest user agent, robots.txt, AutoThrottle, retries with back-off.
USER_AGENT = (
    f"news-ingest/{__version__} (+https://github.com/news-ingest/news-ingest; research crawler)"
)
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
INGEST_BACKOFF_BASE = 2.0  # seconds; doubled per retry, or the server's Retry-After
INGEST_BACKOFF_MAX = 120.0
DOWNLOAD_TIMEOUT = 30
# News pages are 50 kB - 2 MB; anything far larger is not an article.
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = os.environ.get("INGEST_LOG_LEVEL", "INFO")

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "ingest.middlewares.BackoffRetryMiddleware": 550,
    # Maps the real hosts to a loopback mirror; inert unless INGEST_MIRROR is set (demo, tests).
    "ingest.mirror.MirrorMiddleware": 950,
}

ITEM_PIPELINES = {
    "pipelines.boilerplate.BoilerplatePipeline": 100,
    "pipelines.language.LanguagePipeline": 200,
    "pipelines.validation.ValidationPipeline": 300,
    "pipelines.dedup.DedupPipeline": 400,
    "pipelines.storage.SQLitePipeline": 900,
}

# Project settings (INGEST_*), read from the environment once, here.
INGEST_DB = os.environ.get("INGEST_DB") or "data/news.db"
INGEST_TRIGGER = os.environ.get("INGEST_TRIGGER", "manual")  # manual | scheduled | demo
INGEST_BATCH_SIZE = 100
INGEST_MIN_BODY_CHARS = 200
INGEST_FUTURE_TOLERANCE = 300  # seconds a publish date may lead the fetch clock
INGEST_MIRROR = os.environ.get("INGEST_MIRROR", "")  # "http://127.0.0.1:PORT" to use a mirror
