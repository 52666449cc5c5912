"""``ingest store --from REDIS_URL``: the one writer of a frontier crawl.

The logic is in ``ingest.crawl.frontier``; workers are ``ingest crawl SPIDER --frontier URL``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ingest.cli.common import db_option, pairs
from ingest.store.db import default_db_path


@click.command()
@click.option(
    "--from", "source", required=True, metavar="REDIS_URL", help="The frontier's Redis URL."
)
@db_option
@click.option("--crawl-id", default="", help="The crawl to drain (default: the only one).")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for a crawl to appear in Redis.",
)
@click.option("-s", "sets", multiple=True, metavar="NAME=VALUE", help="Scrapy setting.")
def store(
    source: str, db_path: Path | None, crawl_id: str, wait: float, sets: tuple[str, ...]
) -> None:
    """Store a frontier crawl's items from Redis into SQLite; exit once it is over and drained.

    Run exactly one per crawl and database. An item leaves Redis only after its batch is
    committed: a writer killed mid-batch, started again, stores that batch again (upserts by
    URL, so nothing twice). Exit status 3 when Redis goes away.

    Example: ingest store --from redis://127.0.0.1:6379/0 --db data/news.db
    """
    from ingest.crawl.frontier import FrontierError
    from ingest.crawl.frontier import store as drain
    from ingest.crawl.locks import SpiderLocked, SpiderLockedError

    db = db_path or default_db_path()
    try:  # holds <db>.<crawl>.lock while draining: one writer per crawl and database
        status = drain(source, db, crawl_id, wait=wait, settings_overrides=pairs(sets, "-s"))
    except FrontierError as exc:
        raise click.ClickException(str(exc)) from exc
    except SpiderLocked as busy:
        raise SpiderLockedError(f"{busy}; not starting a second writer") from busy
    sys.exit(status)


COMMANDS = (store,)
