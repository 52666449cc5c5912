"""The second extractor (trafilatura), asked only when our own evidence is unsure.

Ensembles of extractors came out best in the SIGIR 2023 comparison of extractors; running two
on every page would double the cost, so ``ingest.extract`` consults this one only on the pages
where its own signals disagree or look thin, and logs why.
"""

from __future__ import annotations

import logging
from copy import deepcopy
from typing import Any

import lxml.html

logger = logging.getLogger(__name__)


def trafilatura_html(root: lxml.html.HtmlElement, url: str) -> str | None:
    """trafilatura's article body as an HTML fragment (paragraphs, headings, lists, tables),
    or None when it finds nothing. It prunes the tree it is given, so it gets a copy."""
    import trafilatura  # 0.3 s to import: only on the first page that needs it

    try:
        result: Any = trafilatura.extract(
            deepcopy(root),
            url=url or None,
            output_format="html",
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=True,  # kept for the link density of "is it an article?"
        )
    except Exception as exc:  # noqa: BLE001  (a second opinion must never lose the page)
        logger.info("second extractor failed on %s: %r", url, exc)
        return None
    return result if isinstance(result, str) and result.strip() else None
