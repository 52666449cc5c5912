"""Shared fixtures: Scrapy stats, temporary databases, paths to bundled fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def stats() -> MemoryStatsCollector:
    """A fresh in-memory stats collector, as pipelines get from ``crawler.stats``."""
    return MemoryStatsCollector(get_crawler())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "news.db"
