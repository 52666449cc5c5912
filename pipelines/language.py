"""The language stage: ``lang`` and ``lang_confidence`` from the clean body, on the crawl's
CPU pool. The detector is ``ingest.extract.language``; ``detect_language`` is re-exported here,
where it has always been public."""

from __future__ import annotations

import logging
from typing import TypeVar

from ingest.crawl.workers import CPU_STAT, microseconds
from ingest.extract.language import _iso, detect_language
from ingest.items import ArticleItem
from pipelines import CpuPipeline

__all__ = ["LanguagePipeline", "detect_language"]

logger = logging.getLogger(__name__)

_Item = TypeVar("_Item")


class LanguagePipeline(CpuPipeline):
    """Detect the language of each ArticleItem's clean body.

    Reads ``body``, ``candidate_languages``, ``lang_declared`` and ``url``;
    writes ``lang`` and ``lang_confidence`` (both None when undetected).
    Never detects on the title alone: headlines are short and often quote
    another language.  Stats: ``ingest/language/detected/<code>``,
    ``ingest/language/undetected``, ``ingest/language/disagree`` (declared !=
    detected, also logged at INFO).  Other items pass through untouched.
    """

    async def process_item(self, item: _Item) -> _Item:
        """Set lang/lang_confidence on an ArticleItem; pass anything else on."""
        if not isinstance(item, ArticleItem):
            return item
        body = (item.body or "").strip()
        lang: str | None = None
        confidence = 0.0
        if body:
            detected, seconds = await self.pool.run(
                item.fetched_url, detect_language, body, item.candidate_languages
            )
            lang, confidence = detected
            self.stats.inc_value(CPU_STAT + "language", microseconds(seconds))
        item.lang = lang
        item.lang_confidence = confidence if lang is not None else None
        if lang is None:
            self.stats.inc_value("ingest/language/undetected")
            return item
        self.stats.inc_value(f"ingest/language/detected/{lang}")
        declared = _iso(item.lang_declared) if item.lang_declared else None
        if declared and declared != lang:
            self.stats.inc_value("ingest/language/disagree")
            logger.info(
                "language disagreement: %s declared=%s detected=%s", item.url, declared, lang
            )
        return item
