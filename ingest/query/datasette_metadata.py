"""Datasette metadata for ``ingest serve``: the description of every table and column from
``ingest/store/schema.py`` (shown as column-header tooltips by ingest/query/datasette_plugin),
facets and full-text search on articles. Built from code so the database name can follow the
file name."""

from __future__ import annotations

from typing import Any

from ingest.store.schema import TABLES

# Characters of a text cell a table page shows (Datasette's truncate_cells_html): the start of
# body and body_html, not the whole article in every row. The article view shows it all.
TRUNCATE_CELLS = 200


def datasette_metadata(database: str) -> dict[str, Any]:
    """Datasette metadata for the database Datasette names ``database`` (the file's stem)."""
    tables: dict[str, Any] = {
        name: {"description": table.description, "columns": dict(table.columns)}
        for name, table in TABLES.items()
    }
    tables["articles"].update(
        {
            "facets": ["site", "lang", "section"],
            "sort_desc": "published",
            "label_column": "title",
            # Datasette would find the index on its own; saying so keeps search on if the
            # detection heuristics change.
            "fts_table": "articles_fts",
            "fts_pk": "rowid",
        }
    )
    tables["images"]["facets"] = ["article_url"]
    tables["translations"]["facets"] = ["lang"]
    tables["runs"].update({"facets": ["spider", "trigger", "finish_reason"]})
    tables["runs"]["sort_desc"] = "started_at"
    tables["revisions"]["facets"] = ["article_url"]
    tables["_sqlite_migrations"]["hidden"] = True
    return {
        "title": "news-ingest",
        "description": "Clean, language-tagged news articles crawled by news-ingest.",
        "databases": {database: {"tables": tables}},
    }
