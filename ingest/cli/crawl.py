"""``ingest crawl``, ``ingest demo``, ``ingest extract`` and ``ingest spiders``."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from ingest.cli.common import db_option, open_writable, pairs, summary_lines
from ingest.crawl.locks import hold_spider_locks
from ingest.crawl.run import UNCOUNTED_STATUS, CrawlError, run_crawl, uncounted_errors
from ingest.store.db import default_db_path, open_db

DEMO_DB = Path("data") / "demo.db"
# The bundled RBC mirror holds stories of 2-4 July 2025; the demo crawls those archive days.
DEMO_ARGS = {"since": "2025-07-02", "until": "2025-07-04"}
# The demo: RBC with its own spider, and two sites declared as data (ingest/site_entries/),
# crawled by the generic spiders from their declared feeds and sitemaps.
DEMO_CRAWLS = {"rbc": DEMO_ARGS, "feed": {"site": "pravda"}, "sitemap": {"site": "euronews"}}
DEMO_MIRRORS = ("rbc", "sites")
# Politeness is for real sites; the demo and tests talk to a loopback mirror.
LOOPBACK_SETTINGS = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
}


@click.command()
@click.argument("spiders", nargs=-1, required=True)
@db_option
@click.option("-a", "args", multiple=True, metavar="NAME=VALUE", help="Spider argument.")
@click.option("-s", "sets", multiple=True, metavar="NAME=VALUE", help="Scrapy setting.")
@click.option("--full", is_flag=True, help="Download every article again, changed or not.")
@click.option("--resume", is_flag=True, help="Continue the crawl that was interrupted.")
@click.option(
    "--jobdir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="INGEST_JOBDIR",
    help="Where crawl state for --resume lives (default: jobs/ beside the database).",
)
@click.option(
    "--frontier",
    metavar="REDIS_URL",
    envvar="INGEST_FRONTIER",
    help="Be one worker of a crawl shared through Redis (redis://HOST:PORT/DB); items go to "
    "Redis for `ingest store --from`, never to SQLite (docs/scale.md).",
)
@click.option("--crawl-id", default="", help="With --frontier: the shared crawl (default: SPIDER).")
@click.option("--worker-id", default="", help="With --frontier: this worker (default: host-pid).")
def crawl(
    spiders: tuple[str, ...],
    db_path: Path | None,
    args: tuple[str, ...],
    sets: tuple[str, ...],
    full: bool,
    resume: bool,
    jobdir: Path | None,
    frontier: str | None,
    crawl_id: str,
    worker_id: str,
) -> None:
    """Crawl SPIDERS and store their articles.

    Stored articles are only downloaded again when their feed says they changed or they are
    recent (INGEST_REFRESH_WINDOW); --full downloads everything. Ctrl+C or SIGTERM stops
    gracefully; the same command with --resume then continues where it stopped.

    Example: ingest crawl rbc -a lang=uk,en -a since=2025-07-01 --db data/news.db
    """
    from ingest.crawl.jobs import NotAJobDir, discard, is_job_dir, job_dirs, was_killed
    from ingest.store.dbfaults import FAULT_REASONS, final_reason

    if frontier:
        # Lock, job state and the database are the writer's in this mode (ingest/crawl/frontier.py).
        from ingest.crawl.frontier import FrontierError, run_worker

        given = {**pairs(sets, "-s"), **({"INGEST_INCREMENTAL": False} if full else {})}
        try:
            status = run_worker(spiders, frontier, crawl_id, worker_id, pairs(args, "-a"), given)
        except (FrontierError, CrawlError) as exc:
            raise click.ClickException(str(exc)) from exc
        sys.exit(status)
    db = db_path or default_db_path()
    hold_spider_locks(db, spiders)  # one run per spider and DB; freed on exit
    # A file that is not a database, or cannot be written: say so now, not as a CRITICAL
    # traceback from inside the crawl that then advises --resume.
    open_writable(db).close()
    overrides: dict[str, Any] = dict(pairs(sets, "-s"))
    if full:
        overrides["INGEST_INCREMENTAL"] = False
    jobdirs = job_dirs(db, list(spiders), jobdir)
    for name, path in jobdirs.items():
        try:
            if resume and not is_job_dir(path):
                click.echo(
                    f"{name}: nothing to resume in {path}; crawling from the start", err=True
                )
            elif resume and was_killed(path) and discard(path):
                # Its queue was never saved and its dupefilter lists pages it never stored.
                click.echo(
                    f"{name}: the crawl in {path} was killed before it saved its state; "
                    "crawling from the start (stored articles are not downloaded again)",
                    err=True,
                )
            elif not resume and discard(path):
                click.echo(f"{name}: discarded an unfinished crawl's state in {path}", err=True)
        except NotAJobDir as exc:
            raise click.ClickException(str(exc)) from exc
    try:
        results = run_crawl(spiders, db, pairs(args, "-a"), overrides, jobdirs=jobdirs)
    except CrawlError as exc:
        raise click.ClickException(str(exc)) from exc
    for name, stats in results.items():
        skipped = sum(v for k, v in stats.items() if k.startswith("ingest/skipped/"))
        reason = stats["finish_reason"] = final_reason(stats)
        click.echo(
            f"{name}: {stats.get('ingest/stored', 0)} stored, "
            f"{stats.get('ingest/unchanged', 0)} unchanged, {skipped} not downloaded again, "
            f"finish reason {reason}"
        )
        if reason == "finished":
            discard(jobdirs[name])  # nothing left to resume
        elif reason in FAULT_REASONS:
            # Pages downloaded but not stored are in the state's dupefilter: a resume would skip
            # them. A fresh crawl downloads only what is not stored.
            discard(jobdirs[name])
            click.echo(
                f"{name}: stopped, the database could not be written ({reason}); nothing "
                "half-written. Once it can, run the same command again (without --resume).",
                err=True,
            )
        else:
            click.echo(f"{name}: to continue, run the same command with --resume", err=True)
    if any(stats.get("finish_reason") != "finished" for stats in results.values()):
        sys.exit(1)
    uncounted = {name: n for name, stats in results.items() if (n := uncounted_errors(stats))}
    for name, n in uncounted.items():
        click.echo(
            f"{name}: {n} error(s) in the log beyond the counted losses: pages may "
            "be lost without a reason; see the ERROR lines",
            err=True,
        )
    if uncounted:
        sys.exit(UNCOUNTED_STATUS)
    if missing := [name for name in spiders if name not in results]:
        raise click.ClickException(f"{', '.join(missing)}: the crawl did not run; see the log")


@click.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEMO_DB,
    show_default=True,
    help="SQLite file for the demo.",
)
def demo(db_path: Path) -> None:
    """Crawl the bundled offline mirrors with the real spiders and pipelines.

    RBC-Ukraine with its own spider; Ukrainska Pravda (feed) and Euronews (sitemap) with the
    generic spiders. The mirrors are served on 127.0.0.1; stored URLs are the real ones.

    Example: ingest demo --db /tmp/demo.db
    """
    from ingest.demo import mirror_root, serve
    from ingest.query import search_rows

    with serve([mirror_root(name) for name in DEMO_MIRRORS]) as server:
        settings = {
            **LOOPBACK_SETTINGS,
            "INGEST_MIRROR": server.url,
            "INGEST_TRIGGER": "demo",
            "LOG_LEVEL": "WARNING",  # the summary below is the demo's output
        }
        results = run_crawl(list(DEMO_CRAWLS), db_path, {}, settings, args_for=DEMO_CRAWLS)
    db = open_db(db_path)
    click.echo(f"demo database: {db_path}")
    totals: dict[str, Any] = {}
    for stats in results.values():  # the counts the summary reads, over all three crawls
        for key, value in stats.items():
            if isinstance(value, int) and key.startswith(("ingest/", "robotstxt/")):
                totals[key] = totals.get(key, 0) + value
    for line in summary_lines(db, totals):
        click.echo("  " + line)
    example = next(search_rows(db, "air defense", limit=1), None)
    if example:
        click.echo(f'  search "air defense": {example["title"]}')
        click.echo(f"    {example['snippet']}")
        click.echo(f"    {example['url']}")


@click.command()
@click.argument("file", type=click.File("rb"))
@click.option("--url", default="https://example.com/", help="The page's URL (picks site rules).")
@click.option("--json", "as_json", is_flag=True, help="Print every field as JSON.")
def extract(file: Any, url: str, as_json: bool) -> None:
    """Extract and clean one saved page (FILE, or - for stdin), as a crawl would.

    Example: ingest extract page.html --url https://www.rbc.ua/rus/news/x-1751640960.html --json
    """
    from w3lib.encoding import html_to_unicode

    from ingest.extract import extract_article

    _, html = html_to_unicode(None, file.read())
    item = extract_article(html, url)
    if as_json:
        click.echo(json.dumps(asdict(item), ensure_ascii=False, indent=2))
        return
    click.echo(item.title or "")
    click.echo(f"[{item.lang or '?'}] {item.published or ''} {', '.join(item.authors)}".rstrip())
    click.echo()
    click.echo(item.body or "")


@click.command()
def spiders() -> None:
    """List the available spiders.

    Example: ingest spiders
    """
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ingest.settings")
    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    for name in sorted(SpiderLoader.from_settings(get_project_settings()).list()):
        click.echo(name)


COMMANDS = (crawl, demo, extract, spiders)
