"""The ``ingest`` command: crawl, demo, extract, search and inspect the database."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from sqlite_utils import Database

from ingest.crawl.locks import hold_spider_locks
from ingest.store.db import DB_ENVVAR, NotOurDatabase, default_db_path, open_db

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

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=DB_ENVVAR,
    help=f"SQLite file (default: ${DB_ENVVAR} or data/news.db).",
)


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, val = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=flag)
        out[name] = val
    return out


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
        raise click.ClickException(
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
            raise click.ClickException(f"{name}: {exc}") from exc
    process.start()
    return results


def summary_lines(db: Database, run_stats: dict[str, Any] | None = None) -> list[str]:
    """Articles per language, translations, drops by reason: what a user checks after a crawl."""
    lines = []
    total = db.table("articles").count
    per_lang = db.execute(
        "select coalesce(lang, '?'), count(*) from articles group by 1 order by 2 desc"
    ).fetchall()
    lines.append(f"articles: {total} (" + ", ".join(f"{lang} {n}" for lang, n in per_lang) + ")")
    per_site = db.execute(
        "select site, count(*) from articles group by 1 order by 2 desc"
    ).fetchall()
    lines.append("sites: " + ", ".join(f"{site} {n}" for site, n in per_site))
    stories = db.execute(
        "select count(*) from (select story_id from translations group by story_id "
        "having count(*) > 1)"
    ).fetchone()[0]
    lines.append(f"stories with more than one language: {stories}")
    lines.append(f"images: {db.table('images').count}")
    if run_stats is not None:
        drops = {
            k.removeprefix("ingest/dropped/"): v
            for k, v in sorted(run_stats.items())
            if k.startswith("ingest/dropped/")
        }
        lines.append(
            "dropped: " + (", ".join(f"{k} {v}" for k, v in drops.items()) if drops else "none")
        )
        if blocked := run_stats.get("robotstxt/forbidden"):
            lines.append(f"not fetched, robots.txt disallows: {blocked}")
        skips = {
            k.removeprefix("ingest/skipped/"): v
            for k, v in sorted(run_stats.items())
            if k.startswith("ingest/skipped/") and v
        }
        if skips:
            lines.append("not downloaded again: " + ", ".join(f"{k} {v}" for k, v in skips.items()))
    return lines


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="news-ingest")
def cli() -> None:
    """News ingestion: crawl news sites into clean, language-tagged articles in SQLite.

    Example: ingest crawl rbc -a lang=en -a limit=20
    """


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


@cli.command()
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

        given = {**_pairs(sets, "-s"), **({"INGEST_INCREMENTAL": False} if full else {})}
        try:
            status = run_worker(spiders, frontier, crawl_id, worker_id, _pairs(args, "-a"), given)
        except FrontierError as exc:
            raise click.ClickException(str(exc)) from exc
        sys.exit(status)
    db = db_path or default_db_path()
    hold_spider_locks(db, spiders)  # one run per spider and DB; freed on exit
    # A file that is not a database, or cannot be written: say so now, not as a CRITICAL
    # traceback from inside the crawl that then advises --resume.
    open_writable(db).close()
    overrides: dict[str, Any] = dict(_pairs(sets, "-s"))
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
    results = run_crawl(spiders, db, _pairs(args, "-a"), overrides, jobdirs=jobdirs)
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


@cli.command()
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


@cli.command()
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


def _open_existing(db_path: Path | None) -> Database:
    path = db_path or default_db_path()
    try:
        return open_db(path, read_only=True)
    except FileNotFoundError as exc:
        raise click.ClickException(f"{exc}; run a crawl first (ingest crawl rbc)") from exc
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc


def open_writable(path: Path) -> Database:
    """The database at ``path`` opened for writing (created and migrated), or a clear error: a
    file that is not a database, a read-only one, a folder that cannot be made."""
    try:
        return open_db(path)
    except NotOurDatabase as exc:
        raise click.ClickException(str(exc)) from exc
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"cannot write {path}: {exc}") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc


@cli.group(name="db")
def db_group() -> None:
    """Where the database is and what it holds.

    Example: ingest db stats
    """


@db_group.command(name="path")
@db_option
def db_path_command(db_path: Path | None) -> None:
    """Print the database path in use.

    Example: INGEST_DB=/tmp/x.db ingest db path
    """
    click.echo(str((db_path or default_db_path()).resolve()))


@db_group.command(name="stats")
@db_option
def db_stats(db_path: Path | None) -> None:
    """Counts per table, articles per language, the last run's drops.

    Example: ingest db stats --db data/demo.db
    """
    db = _open_existing(db_path)
    last = db.execute("select stats from runs order by started_at desc limit 1").fetchone()
    stats = json.loads(last[0]) if last and last[0] else None
    for line in summary_lines(db, stats):
        click.echo(line)
    for table in ("articles", "images", "translations", "runs"):
        click.echo(f"{table}: {db.table(table).count} rows")


@db_group.command(name="reindex")
@db_option
def db_reindex(db_path: Path | None) -> None:
    """Rebuild the morphology-aware search index from the stored articles.

    Crawls keep it up to date; rebuild it after changing articles with another tool (plain
    sqlite3, sqlite-utils), or after upgrading the analysers. Articles are not changed.

    Example: ingest db reindex --db data/demo.db
    """
    from ingest.store.db import NotOurDatabase, reindex

    path = db_path or default_db_path()
    if not path.is_file():
        raise click.ClickException(f"no database at {path}; run a crawl first (ingest crawl rbc)")
    try:
        db = open_db(path)
    except NotOurDatabase as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        count = reindex(db)
    finally:
        db.close()
    click.echo(f"search index rebuilt: {count:,} articles")


@cli.command()
def spiders() -> None:
    """List the available spiders.

    Example: ingest spiders
    """
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ingest.settings")
    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    for name in sorted(SpiderLoader.from_settings(get_project_settings()).list()):
        click.echo(name)


# Command modules register themselves on ``cli`` when imported; keep these imports last.
import ingest.cli.frontier  # noqa: E402
import ingest.cli.query  # noqa: E402
import ingest.cli.schedule  # noqa: E402
import ingest.cli.seen  # noqa: E402, F401
