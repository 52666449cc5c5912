"""Shared fixtures: Scrapy stats, temporary databases, paths to bundled fixtures."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

FIXTURES = Path(__file__).parent / "fixtures"
NEWS_PAGES = FIXTURES / "news_pages"
_WORD_RE = re.compile(r"\w+")
_README_ROW_RE = re.compile(r"^\| (\S+) \|.*?\| (https://\S+) \|")


def token_f1(got: str, want: str) -> float:
    """F1 over the multisets of case-folded \\w+ tokens: how close a body is to its reference."""
    a = Counter(_WORD_RE.findall(got.casefold()))
    b = Counter(_WORD_RE.findall(want.casefold()))
    tp = sum((a & b).values())
    return 0.0 if not tp else 2 * tp / (sum(a.values()) + sum(b.values()))


def news_page_urls() -> dict[str, str]:
    """Original URL of each real page in tests/fixtures/news_pages, from its README's table."""
    rows = (NEWS_PAGES / "README.md").read_text("utf-8").splitlines()
    return {m.group(1): m.group(2) for row in rows if (m := _README_ROW_RE.match(row))}


@pytest.fixture
def stats() -> MemoryStatsCollector:
    """A fresh in-memory stats collector, as pipelines get from ``crawler.stats``."""
    return MemoryStatsCollector(get_crawler())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "news.db"
