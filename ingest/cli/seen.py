"""``ingest seen``: inspect and reset the incremental crawl state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ingest.cli.common import db_option, open_existing, open_writable
from ingest.store.db import default_db_path

site_option = click.option("--site", help="Only URLs of this site (as in articles.site).")
url_option = click.option("--url", help="Only this URL (exact).")


def _where(site: str | None, url: str | None) -> tuple[str, list[str]]:
    """A fixed WHERE clause and its bound parameters for the --site / --url filters."""
    clauses, params = [], []
    if site:
        clauses.append("site = ?")
        params.append(site)
    if url:
        clauses.append("url = ?")
        params.append(url)
    return " and ".join(clauses) or "1", params


@click.group(name="seen")
def seen_group() -> None:
    """What incremental crawls know of each article URL (ETag, dates, last status).

    A stored article with a seen row is not downloaded again until its feed says it changed
    or it is younger than INGEST_REFRESH_WINDOW; `ingest seen reset` forgets URLs, so the next
    crawl downloads them (and stores only what changed).

    Example: ingest seen stats --site rbc
    """


@seen_group.command(name="list")
@db_option
@site_option
@url_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--json", "as_json", is_flag=True, help="JSON lines output.")
def seen_list(
    db_path: Path | None, site: str | None, url: str | None, limit: int, as_json: bool
) -> None:
    """The most recently checked URLs, with their last status, ETag and dates.

    Example: ingest seen list --site rbc --limit 5
    """
    db = open_existing(db_path)
    where, params = _where(site, url)
    rows = db.table("seen").rows_where(where, params, order_by="checked_at desc, url", limit=limit)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(
                f"{row['checked_at']}  {row['status']}  {row['url']}\n"
                f"    fetched {row['fetched_at'] or '-'}  lastmod {row['lastmod'] or '-'}  "
                f"etag {row['etag'] or '-'}  last-modified {row['last_modified'] or '-'}"
            )


@seen_group.command(name="stats")
@db_option
@site_option
def seen_stats(db_path: Path | None, site: str | None) -> None:
    """Per site: URLs seen, how many are stored articles, last statuses, revisions.

    Example: ingest seen stats
    """
    db = open_existing(db_path)
    where, params = _where(site, None)
    # ``where`` is one of the fixed clauses of _where; values are bound parameters.
    per_site = db.execute(
        "select site, count(*), sum(etag is not null), sum(last_modified is not null), "  # noqa: S608
        "min(checked_at), max(checked_at) "
        f"from seen where {where} group by site order by site",
        params,
    ).fetchall()
    if not per_site:
        click.echo("no URLs seen yet: run a crawl (ingest crawl rbc)")
    for name, count, etags, last_mods, first, last in per_site:
        stored = db.execute(
            "select count(*) from seen s where s.site = ? and exists "
            "(select 1 from articles a where a.url = s.url or a.fetched_url = s.url)",
            [name],
        ).fetchone()[0]
        statuses = db.execute(
            "select status, count(*) from seen where site = ? group by status order by status",
            [name],
        ).fetchall()
        revised = db.execute(
            "select count(*), count(distinct r.article_url) from revisions r "
            "join articles a on a.url = r.article_url where a.site = ?",
            [name],
        ).fetchone()
        click.echo(f"{name}: {count} URLs seen, {stored} stored as articles")
        click.echo("  last status: " + ", ".join(f"{s} {n}" for s, n in statuses))
        click.echo(f"  with ETag {etags}, with Last-Modified {last_mods}")
        click.echo(f"  checked between {first} and {last}")
        click.echo(f"  revisions: {revised[0]} of {revised[1]} articles")


@seen_group.command(name="reset")
@db_option
@site_option
@url_option
@click.option("--yes", is_flag=True, help="Do not ask before forgetting every URL.")
def seen_reset(db_path: Path | None, site: str | None, url: str | None, yes: bool) -> None:
    """Forget URLs, so the next crawl downloads them again. Articles are kept.

    Example: ingest seen reset --url https://www.rbc.ua/rus/news/x-1751639400.html
    """
    path = db_path or default_db_path()
    if not path.exists():
        raise click.ClickException(f"no database at {path}; run a crawl first (ingest crawl rbc)")
    if not (site or url or yes):
        click.confirm(f"Forget every URL seen in {path}?", abort=True)
    db = open_writable(path)
    where, params = _where(site, url)
    table = db.table("seen")
    count: Any = table.count_where(where, params)
    with db.atomic():
        table.delete_where(where, params)
    click.echo(f"forgot {count} URL(s); the next crawl downloads them again")


COMMANDS = (seen_group,)
