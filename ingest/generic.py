"""Generic main-content detection for pages of sites we have no rules for.

Scores containers by the text of their paragraphs, penalised by link density, in the spirit of
readability; the winner's HTML goes to the boilerplate cleaner like any site's body fragment.
"""

from __future__ import annotations

import lxml.html
from lxml.etree import _Element

_SKIP = frozenset({"nav", "header", "footer", "aside", "form", "script", "style", "noscript"})
_TEXT_TAGS = ("p", "h2", "h3", "li", "blockquote")


def _text_len(el: _Element) -> int:
    return len(" ".join((el.text_content() or "").split())) if hasattr(el, "text_content") else 0


def _link_density(el: lxml.html.HtmlElement) -> float:
    total = _text_len(el) or 1
    linked = sum(_text_len(a) for a in el.iter("a"))
    return linked / total


def find_main_content(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    """The element most likely to hold the article text, or None when no paragraph has text."""
    scores: dict[lxml.html.HtmlElement, float] = {}
    for para in root.iter(*_TEXT_TAGS):
        if any(isinstance(a.tag, str) and a.tag in _SKIP for a in para.iterancestors()):
            continue
        length = _text_len(para)
        if length < 25:
            continue
        parent = para.getparent()
        if parent is None:
            continue
        score = 1 + min(length / 100, 3) + para.text_content().count(",")
        scores[parent] = scores.get(parent, 0.0) + score
        grand = parent.getparent()
        if grand is not None:
            scores[grand] = scores.get(grand, 0.0) + score / 2
    if not scores:
        return None
    ranked = ((s * (1 - _link_density(el)), el) for el, s in scores.items())
    return max(ranked, key=lambda pair: pair[0])[1]
