"""Real pages in seven languages (tests/fixtures/news_pages, see PROVENANCE.md) through
``extract_article``: the right language and title. Body quality is tested in test_generic.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.extract import extract_article

from .conftest import FIXTURES, news_page_urls

PAGES = sorted((FIXTURES / "news_pages").glob("*.expected.json"))
# The body language of each page, from the collection's README (the football.ua page has a
# Russian body under a Ukrainian footer).
LANGUAGE = {
    "de_br": "de", "en_euronews": "en", "es_elpais": "es", "fr_lefigaro": "fr",
    "pl_rzeczpospolita": "pl", "ru_kommersant": "ru", "ua_epravda": "uk", "ua_football": "ru",
    "ua_pravda": "ru",
}  # fmt: skip


def page_key(path: Path) -> str:
    """'ua_pravda_rus_2026-01-08_ru.expected.json' -> 'ua_pravda'."""
    return "_".join(path.name.split("_")[:2])


def load(expected_path: Path) -> tuple[dict[str, object], str, str]:
    expected = json.loads(expected_path.read_text("utf-8"))
    html_path = expected_path.with_name(expected_path.name.replace(".expected.json", ".html"))
    # fundus files have no URL: the original is in the collection's README table
    url = str(expected.get("url") or news_page_urls()[html_path.stem])
    return expected, html_path.read_text("utf-8"), url


@pytest.mark.parametrize("expected_path", PAGES, ids=lambda p: p.name.split(".")[0])
def test_language_and_title(expected_path: Path) -> None:
    expected, html, url = load(expected_path)
    item = extract_article(html, url)
    assert item.lang == LANGUAGE[page_key(expected_path)]
    assert item.title == " ".join(str(expected["title"]).split())


def test_every_page_has_a_language() -> None:
    assert sorted(page_key(p) for p in PAGES) == sorted(LANGUAGE)
