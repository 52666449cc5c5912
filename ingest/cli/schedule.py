"""``ingest schedule`` and ``ingest cron``: recurring crawls.

The logic is in ``ingest.crawl.schedule``; these commands only parse options and print.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from ingest.cli.common import db_option, pairs
from ingest.crawl.locks import SPIDER_NAME
from ingest.crawl.schedule import (
    DURATION_HELP,
    DurationError,
    Scheduler,
    crawl_args,
    crontab_line,
    format_duration,
    ingest_executable,
    parse_duration,
    systemd_units,
)
from ingest.store.db import default_db_path


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """``--every``: ``90s``, ``15m``, ``1h``, ``1h30m`` → seconds, a usage error otherwise.

    A callback rather than a ``click.ParamType`` subclass: that class is generic only in the
    newest click, and we support 8.1 onwards.
    """
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc


def _check_spiders(spiders: tuple[str, ...]) -> list[str]:
    """Unknown names fail now, not as a failed crawl every round for as long as it runs."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ingest.settings")
    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    known = SpiderLoader.from_settings(get_project_settings()).list()
    # spider:site (a generic spider and one declared site) is a unit for --scrapyd.
    names = [s.partition(":")[0] for s in spiders]
    unknown = [s for s in names if s not in known or not SPIDER_NAME.fullmatch(s)]
    if unknown:
        raise click.ClickException(
            f"Unknown spider(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return list(dict.fromkeys(spiders))


every_option = click.option(
    "--every",
    "interval",
    default="30m",
    callback=_duration,
    show_default=True,
    help=f"Interval between round starts: {DURATION_HELP}.",
)
args_option = click.option(
    "-a", "args", multiple=True, metavar="NAME=VALUE", help="Spider argument."
)
sets_option = click.option(
    "-s", "sets", multiple=True, metavar="NAME=VALUE", help="Scrapy setting."
)
scrapyd_option = click.option(
    "--scrapyd",
    "scrapyd_nodes",
    multiple=True,
    metavar="URL",
    help="Schedule on these scrapyd nodes (repeat; whole sites sharded over them) instead of "
    "crawling here; SPIDER:SITE names one declared site of a generic spider.",
)


@click.command()
@click.argument("spiders", nargs=-1, required=True)
@every_option
@db_option
@args_option
@sets_option
@click.option(
    "--rounds", type=click.IntRange(min=1), help="Stop after this many rounds (default: never)."
)
@scrapyd_option
@click.option(
    "--stop-timeout",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="Seconds a stopping crawl gets to finish before it is killed.",
)
def schedule(
    spiders: tuple[str, ...],
    interval: int,
    db_path: Path | None,
    args: tuple[str, ...],
    sets: tuple[str, ...],
    rounds: int | None,
    scrapyd_nodes: tuple[str, ...],
    stop_timeout: float,
) -> None:
    """Crawl SPIDERS now and then every interval, in the foreground, until stopped.

    Each round is an `ingest crawl` child process, recorded in `runs` with trigger=scheduled.
    A spider still being crawled (by this or any other scheduler, cron or by hand) is skipped
    for that round. Ctrl+C or SIGTERM lets the running crawl finish its in-flight pages and
    store them, then exits 0.

    Example: ingest schedule rbc --every 1h30m -a lang=uk,en --db data/news.db
    """
    names = _check_spiders(spiders)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s [%(name)s] %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    db = (db_path or default_db_path()).absolute()
    scheduler = Scheduler(
        spiders=names,
        db_path=db,
        interval=interval,
        spider_args=pairs(args, "-a"),
        settings=pairs(sets, "-s"),
        rounds=rounds,
        stop_timeout=stop_timeout,
        scrapyd=list(scrapyd_nodes),
    )
    logging.getLogger(__name__).info(
        "scheduling %s every %s into %s%s",
        ", ".join(scheduler.spiders),
        format_duration(interval),
        db,
        f", {rounds} round(s)" if rounds else "",
    )
    sys.exit(scheduler.run())


@click.command()
@click.argument("spiders", nargs=-1, required=True)
@every_option
@db_option
@args_option
@sets_option
@scrapyd_option
def cron(
    spiders: tuple[str, ...],
    interval: int,
    db_path: Path | None,
    args: tuple[str, ...],
    sets: tuple[str, ...],
    scrapyd_nodes: tuple[str, ...],
) -> None:
    """Print a crontab line and a systemd service + timer that crawl SPIDERS every interval.

    Paths are absolute (this environment's `ingest`, the working directory, INGEST_DB), and
    runs are recorded with trigger=scheduled. An overlapping start exits at once with status
    75 (the spider's lock is held), so a slow crawl is never run twice.

    Example: ingest cron rbc --every 30m --db data/news.db
    """
    spiders = tuple(_check_spiders(spiders))
    db = (db_path or default_db_path()).absolute()
    workdir = Path.cwd()
    command = [
        *ingest_executable(),
        *crawl_args(spiders, None, pairs(args, "-a"), pairs(sets, "-s")),
    ]
    if scrapyd_nodes:  # one round of `ingest schedule --scrapyd`: jobs queued on the nodes
        command = [*ingest_executable(), "schedule", *spiders, "--rounds", "1"]
        command += [w for node in scrapyd_nodes for w in ("--scrapyd", node)]
        command += [w for a in args for w in ("-a", a)] + [w for s in sets for w in ("-s", s)]
    name = "ingest-" + "-".join(s.replace(":", "-") for s in spiders)
    every = format_duration(interval)
    line = crontab_line(interval, workdir, db, command)
    click.echo(f"# crontab (crontab -e): crawl {', '.join(spiders)} every {every}")
    if line is None:
        click.echo(
            f"# cron cannot fire evenly every {every}: its steps count minutes within an hour and "
            "hours within a day.\n# Use the systemd timer below, or an interval that divides an "
            "hour or a day (15m, 30m, 1h, 6h)."
        )
    else:
        click.echo(line)
    service, timer = systemd_units(interval, workdir, db, command, name, ", ".join(spiders))
    click.echo(f"\n# systemd: ~/.config/systemd/user/{name}.service")
    click.echo(service, nl=False)
    click.echo(f"\n# systemd: ~/.config/systemd/user/{name}.timer")
    click.echo(timer, nl=False)
    click.echo(
        f"\n# then: systemctl --user daemon-reload && systemctl --user enable --now {name}.timer"
    )


COMMANDS = (
    schedule,
    cron,
)
