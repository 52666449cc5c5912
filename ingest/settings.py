"""Scrapy settings of the project: polite defaults, pipelines wired once, env → settings."""

from __future__ import annotations

import os
import sys

from ingest import __version__
from ingest.store.schema import DB_ENVVAR, DEFAULT_DB

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
# Scrapy >= 2.16 starts an HTTP endpoint that runs Python sent to it (RemoteControl); like the
# telnet console, a crawl of untrusted sites has no use for it.
REMOTE_CONTROL_ENABLED = False
FEED_EXPORT_ENCODING = "utf-8"
# Drops are logged with their reason and URL, not the item.
LOG_FORMATTER = "ingest.crawl.logformatter.IngestLogFormatter"
LOG_LEVEL = os.environ.get("INGEST_LOG_LEVEL", "INFO")

# Only http and https, ever: Scrapy's file, data, s3 and ftp handlers would let a URL in a feed,
# sitemap or page read local files. The warc spider reads its files itself.
DOWNLOAD_HANDLERS = {"file": None, "data": None, "s3": None, "ftp": None}

DOWNLOADER_MIDDLEWARES = {
    # Every request (redirects and meta refreshes too) passes the one URL check: other schemes,
    # userinfo, ports the spider did not start from -> ingest/filtered/<reason> (ingest/
    # middlewares.py). First, so it judges the URLs documents named, before robots and the mirror.
    "ingest.crawl.middlewares.UrlGuardMiddleware": 50,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    # Skips unchanged stored articles (ingest/crawl/incremental.py). Below retry and redirect, so it
    # sees final responses; before the mirror, so it judges the real URLs.
    "ingest.crawl.incremental.IncrementalMiddleware": 530,
    "ingest.crawl.middlewares.BackoffRetryMiddleware": 550,
    # Maps the real hosts to a loopback mirror; inert unless INGEST_MIRROR is set (demo, tests).
    "ingest.demo.MirrorMiddleware": 950,
    # Records every download in a WARC when INGEST_WARC_OUT is set (ingest/crawl/warc.py);
    # inside the mirror (real URLs), outside HTTP compression (bodies as they travelled).
    "ingest.crawl.warc.WarcWriterMiddleware": 930,
}

# A live progress line on a terminal, periodic INFO lines otherwise (ingest/crawl/progress.py).
EXTENSIONS = {"ingest.crawl.progress.ProgressExtension": 500}

# The path of an article, in order. The CPU-heavy ones (parse to language) await their work on
# the crawl's process pool (ingest/crawl/workers.py: INGEST_WORKERS, INGEST_POOL_AFTER).
ITEM_PIPELINES = {
    # The item a spider yields (its page's HTML in ``html``) → every field extracted, html gone.
    "pipelines.extraction.ExtractionPipeline": 50,
    "pipelines.boilerplate.BoilerplatePipeline": 100,
    "pipelines.normalise.NormalisePipeline": 150,
    "pipelines.language.LanguagePipeline": 200,
    "pipelines.validation.ValidationPipeline": 300,
    "pipelines.dedup.DedupPipeline": 400,
    # Counts how the kept articles' bodies and titles were found; warns on drift (below).
    "pipelines.provenance.ProvenancePipeline": 450,
    "pipelines.storage.SQLitePipeline": 900,
}

# Project settings (INGEST_*), read from the environment once, here.
INGEST_DB = os.environ.get(DB_ENVVAR) or str(DEFAULT_DB)
# manual | scheduled | demo | scrapyd; a crawl started by a scrapyd node (its runner imported
# the scrapyd package) is a scrapyd run unless told otherwise.
INGEST_TRIGGER = os.environ.get("INGEST_TRIGGER") or (
    "scrapyd" if "scrapyd" in sys.modules else "manual"
)
INGEST_BATCH_SIZE = 100
# A locked database (another writer, a VACUUM): SQLite waits INGEST_DB_BUSY_TIMEOUT seconds per
# statement; a batch is retried for INGEST_DB_LOCK_TIMEOUT seconds in all, then the crawl stops
# with finish reason db_locked (ingest/store/dbfaults.py). A full disk stops it at once (disk_full).
INGEST_DB_BUSY_TIMEOUT = 5.0
INGEST_DB_LOCK_TIMEOUT = 60.0
INGEST_MIN_BODY_CHARS = 200
INGEST_FUTURE_TOLERANCE = 300  # seconds a publish date may lead the fetch clock
# Processes for the CPU-heavy pipelines (ingest/crawl/workers.py); 0 = on the crawl thread.
# Default: one per CPU this process may use (the affinity mask, where the OS has one).
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
INGEST_WORKERS = int(os.environ.get("INGEST_WORKERS") or _CPUS or 1)
# Pages run on the crawl thread before the workers start (0: at once). Starting them costs 1-2 s
# of CPU, more than a crawl of a few dozen pages (the demo, the tests) spends on its pages.
INGEST_POOL_AFTER = int(os.environ.get("INGEST_POOL_AFTER") or 100)
INGEST_MIRROR = os.environ.get("INGEST_MIRROR", "")  # "http://127.0.0.1:PORT" to use a mirror
INGEST_INCREMENTAL = True  # False (ingest crawl --full): download every article again
INGEST_REFRESH_WINDOW = 6 * 3600  # seconds after publication an article is always re-checked
INGEST_PROGRESS = True
INGEST_PROGRESS_INTERVAL = 30  # seconds between progress log lines when stderr is not a terminal
# Drift (pipelines/provenance.py): a declared site whose own body selectors found under
# INGEST_DRIFT_SHARE of its bodies over at least INGEST_DRIFT_MIN_PAGES pages, after at least
# INGEST_DRIFT_BASELINE in its last run with as many pages, is a WARNING and ingest/drift/<site>.
INGEST_DRIFT_SHARE = 0.5
INGEST_DRIFT_MIN_PAGES = 10
INGEST_DRIFT_BASELINE = 0.8
INGEST_WARC_OUT = ""  # a .warc.gz path: record what the crawl downloads (-s INGEST_WARC_OUT=...)

# One crawl over many workers (ingest/crawl/frontier.py, docs/scale.md). INGEST_FRONTIER is a Redis
# URL (redis://HOST:PORT/DB): scheduler queue and dupefilter shared there, items pushed there
# for the one writer (ingest store --from URL); the worker never opens SQLite.
INGEST_FRONTIER = os.environ.get("INGEST_FRONTIER", "")
INGEST_CRAWL_ID = os.environ.get("INGEST_CRAWL_ID", "")  # names the shared keys; default: spider
INGEST_WORKER_ID = os.environ.get("INGEST_WORKER_ID", "")  # default: host-pid
# The crawl ends once the shared queue is empty and no worker has a request in flight for this
# many seconds; a worker silent for INGEST_FRONTIER_DEAD_AFTER seconds is dead, and its
# in-flight requests go back to the queue.
INGEST_FRONTIER_IDLE = 10.0
INGEST_FRONTIER_HEARTBEAT = 1.0
INGEST_FRONTIER_DEAD_AFTER = 10.0
INGEST_FRONTIER_TIMEOUT = 10.0  # seconds a Redis command may take before the worker gives up

# Read-only queries (ingest query, search, export; ingest serve): bounds so one query cannot hang
# the command or take the machine's memory (ingest/query/__init__.py). Seconds a query may run
# (CLI; a Datasette page gets INGEST_QUERY_SERVE_TIME_LIMIT), the SQLite heap of the process, and
# the longest string or BLOB a query may build or read (randomblob(9e8) took 1.8 GB).
INGEST_QUERY_TIME_LIMIT = float(os.environ.get("INGEST_QUERY_TIME_LIMIT") or 30.0)
INGEST_QUERY_SERVE_TIME_LIMIT = float(os.environ.get("INGEST_QUERY_SERVE_TIME_LIMIT") or 1.0)
INGEST_QUERY_MEMORY_LIMIT = int(os.environ.get("INGEST_QUERY_MEMORY_LIMIT") or 512 * 1024 * 1024)
INGEST_QUERY_MAX_LENGTH = int(os.environ.get("INGEST_QUERY_MAX_LENGTH") or 32 * 1024 * 1024)

# Bounds on what one hostile document can cost; no real page or sitemap comes near.
INGEST_SITEMAP_MAX_DEPTH = 5  # sitemap indexes below the start URL (sitemaps.org allows 1)
INGEST_SITEMAP_MAX_CHILDREN = 50_000  # child sitemaps requested per crawl
INGEST_MAX_PARAGRAPHS = 10_000  # <p> elements on a page; more: dropped (too_many_paragraphs)
INGEST_MAX_TITLE_CHARS = 1_000  # a longer title candidate is skipped (ingest/fields/title_too_long)
INGEST_MAX_IMAGES = 500  # images kept per article, in page order (ingest/fields/images_cut)
INGEST_MAX_JSON_LD_CHARS = 1_000_000  # a larger JSON-LD script is ignored (json_ld_too_large)
INGEST_MAX_REVISIONS = 100  # revisions kept per article, oldest pruned (ingest/revisions/pruned)
INGEST_MAX_PAGE_CPU = 20.0  # CPU seconds per page (parse + article pipelines); over: cpu_limit
