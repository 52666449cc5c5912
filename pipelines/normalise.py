"""Text normalisation of the clean article: mojibake repaired, control characters gone, NFC,
characters lost in decoding counted.

Runs after the boilerplate cleaner (it sees the final text) and before language detection (which
must not see "РљРёС—РІ"). Mojibake is repaired by ftfy, with the fixes that change correct text
switched off: curly quotes and full-width forms stay as the page has them. On the Ukrainian,
Russian and English corpora in tests/fixtures/langid it changes no correct sentence
(tests/test_normalise.py measures it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html import escape

from ftfy import TextFixerConfig, fix_and_explain
from scrapy.exceptions import DropItem

from ingest.crawl.workers import CPU_STAT, microseconds
from ingest.extract.clean import collapse
from ingest.items import ArticleItem
from pipelines import CpuPipeline

FTFY_CONFIG = TextFixerConfig(
    unescape_html=False,  # the text is already unescaped; "&amp;" in it is literal
    uncurl_quotes=False,  # “ ” « » are the page's typography, not damage
    fix_character_width=False,  # full-width forms are legitimate in CJK text
    fix_latin_ligatures=False,
    explain=True,
)
REPLACEMENT = "\ufffd"
# C0 controls and DEL but tab and newline (line breaks), and the C1 controls ftfy leaves when
# it cannot read them as windows-1252: never text, replaced by a space.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_C0_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
# Invisible characters that split words for search: zero-width space, word joiner, BOM, soft
# hyphen ("Ки\xadїв" is not found by a search for "Київ"). Bidi controls are kept: they carry
# meaning in right-to-left text.
_INVISIBLE_RE = re.compile("[\u200b\u2060\ufeff\u00ad]")
# Whitespace but the controls Python counts as such (\x1c-\x1f, \x85): ftfy reads \x85 as "…".
_SPACES_RE = re.compile("[^\\S\x1c-\x1f\x85]+")
MANY_REPLACEMENTS = 5  # U+FFFD per article from which it is flagged
UNDECODABLE_SHARE = 0.05  # U+FFFD per character of the body from which it is dropped


@dataclass
class Normalised:
    """One normalised string and what was done to it."""

    text: str
    mojibake: bool = False
    controls: int = 0
    replacements: int = 0


def normalise_text(text: str) -> Normalised:
    """Repair mojibake, drop control and invisible characters, NFC; count U+FFFD left.

    Line breaks survive (paragraphs are separated by blank lines); runs of spaces do not.
    """
    # Counted before ftfy, which removes some of them itself; C1 controls are not counted
    # here: they are mostly mojibake, repaired (and flagged) as such.
    controls = len(_C0_RE.findall(text)) + len(_INVISIBLE_RE.findall(text))
    # ftfy judges the text as it will be stored: spacing first, or a leading NBSP can hide
    # mojibake that a second pass would then repair.
    text = "\n".join(_SPACES_RE.sub(" ", line).strip(" ") for line in text.split("\n"))
    fixed = fix_and_explain(text, config=FTFY_CONFIG)
    # ftfy also "decodes" a run of U+FFFD into itself: only a change counts as a repair.
    mojibake = fixed.text != text and any(
        action in ("encode", "decode", "transcode") for action, _ in fixed.explanation or []
    )
    controls += len(_CONTROL_RE.findall(fixed.text)) - len(_C0_RE.findall(fixed.text))
    cleaned = _INVISIBLE_RE.sub("", _CONTROL_RE.sub(" ", fixed.text))
    cleaned = unicodedata.normalize("NFC", cleaned)
    result = "\n".join(collapse(line) for line in cleaned.split("\n")).strip("\n")
    return Normalised(
        text=result, mojibake=mojibake, controls=controls, replacements=result.count(REPLACEMENT)
    )


def _normalise_body(item: ArticleItem) -> tuple[str, str, list[Normalised]]:
    """Body and body_html normalised paragraph by paragraph, empty paragraphs dropped.

    body_html is rebuilt from the normalised paragraphs when it is the cleaner's output (one
    ``<p>``/``<h2>``... line per paragraph), so the two stay the same text.
    """
    paragraphs = (item.body or "").split("\n\n")
    html_lines = (item.body_html or "").split("\n")
    done = [normalise_text(p) for p in paragraphs]
    if len(html_lines) == len(paragraphs):
        rebuilt = []
        for n, line in zip(done, html_lines, strict=True):
            if not n.text:
                continue
            tag = line[1 : line.index(">")] if line.startswith("<") and ">" in line else "p"
            tag = tag if tag in {"p", "h2", "h3", "h4", "h5", "h6"} else "p"
            rebuilt.append(f"<{tag}>{escape(n.text, quote=False)}</{tag}>")
        body_html = "\n".join(rebuilt)
    else:  # not the cleaner's output: the same repairs on the markup as a whole
        body_html = normalise_text(item.body_html or "").text
    body = "\n\n".join(n.text.replace("\n", " ") for n in done if n.text)
    return body, body_html, done


@dataclass(frozen=True)
class Repairs:
    """What ``normalise_item`` did to one item's text, for the pipeline to flag and count."""

    mojibake: bool  # some text was mojibake, repaired
    controls: int  # control and invisible characters removed


def normalise_item(item: ArticleItem) -> tuple[ArticleItem, Repairs]:
    """The pipeline's work, on the crawl's CPU pool: every text field normalised,
    ``replacement_chars`` filled. Returns the item (it may have crossed a process)."""
    done: list[Normalised] = []

    def short(value: str | None) -> str | None:
        if value is None:
            return None
        n = normalise_text(value)
        done.append(n)
        return collapse(n.text) or None

    item.title = short(item.title)
    item.lead = short(item.lead)
    item.authors = [a for a in (short(a) for a in item.authors) if a]
    for image in item.images:
        image.caption = short(image.caption)
        image.credit = short(image.credit)
    if item.body is not None:
        item.body, item.body_html, body_parts = _normalise_body(item)
        done.extend(body_parts)
    item.replacement_chars = sum(n.replacements for n in done)
    return item, Repairs(any(n.mojibake for n in done), sum(n.controls for n in done))


class NormalisePipeline(CpuPipeline):
    """Reads and writes ``title``, ``lead``, ``body``, ``body_html``, ``authors`` and image
    ``caption``/``credit``; writes ``replacement_chars`` and ``flags``.

    Flags: ``mojibake_fixed``, ``control_chars``, ``replacement_chars`` (at least
    ``MANY_REPLACEMENTS`` U+FFFD left). Drops (``ingest/dropped/undecodable``) an item whose body
    is more than ``UNDECODABLE_SHARE`` U+FFFD: text that lost that much is not the article.
    Stats: ``ingest/text/mojibake_fixed``, ``ingest/text/control_chars``,
    ``ingest/text/replacement_chars`` (sum), ``ingest/flagged/<flag>``,
    ``ingest/cpu_us/normalise``.
    """

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        (item, repairs), seconds = await self.pool.run(item.fetched_url, normalise_item, item)
        self.stats.inc_value(CPU_STAT + "normalise", microseconds(seconds))
        self.account(item, repairs)
        return item

    def account(self, item: ArticleItem, repairs: Repairs) -> None:
        """Fill ``flags``; count, and drop an undecodable body."""
        flags = []
        if repairs.mojibake:
            flags.append("mojibake_fixed")
            self.stats.inc_value("ingest/text/mojibake_fixed")
        if controls := repairs.controls:
            flags.append("control_chars")
            self.stats.inc_value("ingest/text/control_chars", controls)
        if item.replacement_chars:
            self.stats.inc_value("ingest/text/replacement_chars", item.replacement_chars)
        if item.replacement_chars >= MANY_REPLACEMENTS:
            flags.append("replacement_chars")
        item.flags = [*item.flags, *(f for f in flags if f not in item.flags)]
        for flag in flags:
            self.stats.inc_value(f"ingest/flagged/{flag}")
        body = item.body or ""
        lost = body.count(REPLACEMENT)
        if body and lost > UNDECODABLE_SHARE * len(body):
            self.stats.inc_value("ingest/dropped/undecodable")
            raise DropItem(
                f"undecodable: {item.url} ({lost} U+FFFD in {len(body)} chars)", log_level="INFO"
            )
