"""The ``ingest`` command: help everywhere, extract on a real page, search, db path."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.store.db import open_db

from .conftest import FIXTURES

PAGE = FIXTURES / "news_pages" / "ua_pravda_rus_2026-01-08_ru.html"
PAGE_URL = "https://www.pravda.com.ua/rus/articles/2026/01/08/8015225/"


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        out.append((*prefix, name))
        if isinstance(command, click.Group):
            out.extend(all_commands(command, (*prefix, name)))
    return out


@pytest.mark.parametrize("path", all_commands(cli), ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output


def test_extract_json_on_a_real_page() -> None:
    result = CliRunner().invoke(cli, ["extract", str(PAGE), "--url", PAGE_URL, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["title"].startswith("157 миллионов за бездействие")
    assert data["lang"] == "ru"
    assert "Окружного административного суда Киева" in data["body"]


def test_extract_reads_stdin_and_prints_text() -> None:
    result = CliRunner().invoke(cli, ["extract", "-", "--url", PAGE_URL], input=PAGE.read_bytes())
    assert result.exit_code == 0, result.output
    assert result.output.startswith("157 миллионов за бездействие")
    assert "[ru]" in result.output


def test_db_path_honours_env_and_flag(tmp_path: Path) -> None:
    runner = CliRunner()
    env_db = tmp_path / "env.db"
    result = runner.invoke(cli, ["db", "path"], env={"INGEST_DB": str(env_db)})
    assert result.output.strip() == str(env_db.resolve())
    flag_db = tmp_path / "flag.db"
    result = runner.invoke(cli, ["db", "path", "--db", str(flag_db)], env={"INGEST_DB": "x.db"})
    assert result.output.strip() == str(flag_db.resolve())


def seeded_db(path: Path) -> None:
    db = open_db(path)
    db.table("articles").insert_all(
        [
            {"url": "https://a/1", "site": "t", "lang": "en", "fetched_at": "2025-07-04",
             "title": "Air defense talks", "body": "Leaders discussed air defense for Kyiv.",
             "published": "2025-07-04T14:56:00+00:00"},
            {"url": "https://a/2", "site": "t", "lang": "uk", "fetched_at": "2025-07-04",
             "title": "Переговори про ППО", "body": "Лідери обговорили протиповітряну оборону.",
             "published": "2025-07-01T10:00:00+00:00"},
        ]
    )  # fmt: skip


def test_search_ranks_filters_and_quotes(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    seeded_db(db)
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "air defense", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["url"] for r in rows] == ["https://a/1"]
    assert "[air]" in rows[0]["snippet"] or "[defense]" in rows[0]["snippet"]
    result = runner.invoke(cli, ["search", "оборону", "--db", str(db), "--lang", "en"])
    assert result.output == ""
    result = runner.invoke(cli, ["search", "оборону", "--db", str(db), "--since", "2025-07-02"])
    assert result.output == ""
    # FTS5 syntax characters in a plain query are quoted, not an error
    result = runner.invoke(cli, ["search", 'air" OR (', "--db", str(db)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["search", 'air" OR (', "--raw", "--db", str(db)])
    assert result.exit_code != 0
    assert "bad search query" in result.output


def test_search_without_a_database_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "x", "--db", str(tmp_path / "none.db")])
    assert result.exit_code != 0
    assert "run a crawl first" in result.output


def test_crawl_rejects_an_unknown_spider(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["crawl", "nosuch", "--db", str(tmp_path / "x.db")])
    assert result.exit_code != 0
    assert "Unknown spider(s): nosuch" in result.output


def test_spiders_lists_rbc() -> None:
    result = CliRunner().invoke(cli, ["spiders"])
    assert "rbc" in result.output.split()
