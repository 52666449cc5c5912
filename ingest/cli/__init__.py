"""The ``ingest`` command: crawl, demo, extract, search and inspect the database.

Each command module defines its commands; this group only gathers them.
"""

from __future__ import annotations

import click

from ingest.cli import crawl, db, frontier, query, schedule, seen


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="news-ingest")
def cli() -> None:
    """News ingestion: crawl news sites into clean, language-tagged articles in SQLite.

    Example: ingest crawl rbc -a lang=en -a limit=20
    """


for _module in (crawl, db, frontier, query, schedule, seen):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
