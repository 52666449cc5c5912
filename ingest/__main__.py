"""``python -m ingest``: the same as the ``ingest`` command."""

from ingest.cli import cli

if __name__ == "__main__":
    cli()
