"""A dropped item is logged with its reason and URL, never its whole HTML."""

from __future__ import annotations

import logging

from scrapy import Spider
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from ingest.crawl.logformatter import IngestLogFormatter
from ingest.items import ArticleItem


def test_dropped_says_reason_and_url_only() -> None:
    crawler = get_crawler(Spider)
    spider = crawler._create_spider("t")
    item = ArticleItem(
        url="https://www.rbc.ua/rus/news/x-1751640540.html",
        fetched_url="https://www.rbc.ua/rus/news/x-1751640540.html",
        site="rbc",
        fetched_at="2025-07-04T15:00:00+00:00",
        body_html="<div class='txt'>" + "<p>very long page</p>" * 1000 + "</div>",
    )
    result = IngestLogFormatter().dropped(
        item, DropItem("too_short: 12 chars", log_level="INFO"), None, spider
    )
    line = result["msg"] % result["args"]
    assert line == "Dropped: too_short: 12 chars (https://www.rbc.ua/rus/news/x-1751640540.html)"
    assert result["level"] == logging.INFO
