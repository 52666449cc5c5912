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

from ingest.db import DB_ENVVAR, default_db_path, open_db

DEMO_DB = Path("data") / "demo.db"
# The bundled RBC mirror holds stories of 2-4 July 2025; the demo crawls those archive days.
DEMO_ARGS = {"since": "2025-07-02", "until": "2025-07-04"}
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
) -> dict[str, dict[str, Any]]:
    """Run spiders in this process (one reactor), return each spider's final Scrapy stats."""
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
    for name in spiders:
        crawler = process.create_crawler(name)

        def keep(spider: Any, reason: str, crawler: Any = crawler, name: str = name) -> None:
            results[name] = dict(crawler.stats.get_stats())

        crawler.signals.connect(keep, signal=signals.spider_closed)
        try:
            process.crawl(crawler, **spider_args)
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
    return lines


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="news-ingest")
def cli() -> None:
    """News ingestion: crawl news sites into clean, language-tagged articles in SQLite.

    Example: ingest crawl rbc -a lang=en -a limit=20
    """


@cli.command()
@click.argument("spiders", nargs=-1, required=True)
@db_option
@click.option("-a", "args", multiple=True, metavar="NAME=VALUE", help="Spider argument.")
@click.option("-s", "sets", multiple=True, metavar="NAME=VALUE", help="Scrapy setting.")
def crawl(
    spiders: tuple[str, ...], db_path: Path | None, args: tuple[str, ...], sets: tuple[str, ...]
) -> None:
    """Crawl SPIDERS and store their articles.

    Example: ingest crawl rbc -a lang=uk,en -a since=2025-07-01 --db data/news.db
    """
    db = db_path or default_db_path()
    results = run_crawl(spiders, db, _pairs(args, "-a"), _pairs(sets, "-s"))
    for name, stats in results.items():
        click.echo(
            f"{name}: {stats.get('ingest/stored', 0)} stored, "
            f"finish reason {stats.get('finish_reason', '?')}"
        )
    if any(stats.get("finish_reason") != "finished" for stats in results.values()):
        sys.exit(1)


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
    """Crawl the bundled offline mirror of RBC-Ukraine with the real spider and pipelines.

    The mirror is served on 127.0.0.1; stored URLs are the real ones.

    Example: ingest demo --db /tmp/demo.db
    """
    from ingest.mirror import mirror_root, serve

    with serve(mirror_root("rbc")) as server:
        settings = {
            **LOOPBACK_SETTINGS,
            "INGEST_MIRROR": server.url,
            "INGEST_TRIGGER": "demo",
            "LOG_LEVEL": "WARNING",  # the summary below is the demo's output
        }
        results = run_crawl(["rbc"], db_path, DEMO_ARGS, settings)
    db = open_db(db_path)
    click.echo(f"demo database: {db_path}")
    for line in summary_lines(db, results.get("rbc")):
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


def search_rows(
    db: Database,
    query: str,
    *,
    lang: str | None = None,
    since: str | None = None,
    limit: int = 10,
    raw: bool = False,
) -> Any:
    """Ranked FTS5 matches with a snippet; terms are quoted unless ``raw`` FTS syntax is wanted."""
    where = ["articles_fts match :q"]
    params: dict[str, Any] = {"q": query if raw else db.quote_fts(query), "limit": limit}
    if lang:
        where.append("a.lang = :lang")
        params["lang"] = lang
    if since:
        where.append("a.published >= :since")
        params["since"] = since
    # Only fixed clauses are joined in; every value is a bound parameter.
    sql = (
        "select a.url, a.title, a.lang, a.published, "  # noqa: S608
        "snippet(articles_fts, -1, '[', ']', '…', 16) as snippet "
        "from articles_fts join articles a on a.rowid = articles_fts.rowid "
        f"where {' and '.join(where)} order by articles_fts.rank limit :limit"
    )
    cursor = db.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    for row in cursor:
        yield dict(zip(columns, row, strict=True))


@cli.command()
@click.argument("query")
@db_option
@click.option("--lang", help="Only articles detected in this language (uk, ru, en...).")
@click.option("--since", help="Only articles published on or after this date (YYYY-MM-DD).")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 10000))
@click.option("--raw", is_flag=True, help="QUERY is FTS5 syntax (AND, OR, NEAR, prefix*).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines output.")
def search(
    query: str,
    db_path: Path | None,
    lang: str | None,
    since: str | None,
    limit: int,
    raw: bool,
    as_json: bool,
) -> None:
    """Full-text search over titles, leads and bodies, best matches first.

    Example: ingest search "air defense" --lang en --since 2025-07-01
    """
    db = _open_existing(db_path)
    try:
        rows = list(search_rows(db, query, lang=lang, since=since, limit=limit, raw=raw))
    except sqlite3.OperationalError as exc:
        raise click.ClickException(f"bad search query: {exc}") from exc
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(f"{row['published'] or '':25} [{row['lang'] or '?'}] {row['title']}")
            click.echo(f"    {row['snippet']}")
            click.echo(f"    {row['url']}")


def _open_existing(db_path: Path | None) -> Database:
    path = db_path or default_db_path()
    try:
        return open_db(path, read_only=True)
    except FileNotFoundError as exc:
        raise click.ClickException(f"{exc}; run a crawl first (ingest crawl rbc)") from exc


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
from ingest import cli_query, cli_schedule  # noqa: E402, F401
