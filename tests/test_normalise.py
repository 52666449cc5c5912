"""The normalise pipeline: mojibake repaired, controls removed, U+FFFD counted, correct text
untouched (measured on every sentence of the Ukrainian, Russian and English corpora we ship)."""

from __future__ import annotations

import asyncio
import csv
import unicodedata

import pytest
from scrapy.exceptions import DropItem
from scrapy.statscollectors import MemoryStatsCollector

from ingest.extract.clean import clean_fragment
from ingest.items import ArticleItem, Image
from pipelines.normalise import MANY_REPLACEMENTS, NormalisePipeline, normalise_text

from .conftest import FIXTURES

LANGID = FIXTURES / "langid"


def corpus() -> list[tuple[str, str]]:
    """(language, text) of tests/fixtures/langid: Leipzig sentences and paragraphs (12
    languages), Tatoeba ru/uk pairs, RBC headlines (uk/ru/en)."""
    texts: list[tuple[str, str]] = []
    for name in ("leipzig_sentences_dev.tsv", "leipzig_paragraphs_dev.tsv"):
        with (LANGID / name).open(encoding="utf-8", newline="") as f:
            texts += [(row["lang"], row["text"]) for row in csv.DictReader(f, delimiter="\t")]
    with (LANGID / "tatoeba_rus_ukr_parallel_dev.tsv").open(encoding="utf-8") as f:
        pairs = [line.rstrip("\n").split("\t") for line in f][1:]
    texts += [(lang, pair[n]) for pair in pairs for n, lang in enumerate(("ru", "uk"))]
    with (LANGID / "rbc_ua_headlines_2026-05-09.labelled.tsv").open(encoding="utf-8") as f:
        texts += [(row["lang"], row["title"]) for row in csv.DictReader(f, delimiter="\t")]
    return [(lang, t) for lang, t in texts if t.strip()]


def repaired(text: str) -> str:
    """What a correct repair gives, computed without ftfy: C1 controls read as windows-1252
    (the corpora's own damage: "l\x92objet"), soft hyphens and zero-width spaces gone, NFC."""

    def c1(char: str) -> str:
        if "\x80" <= char <= "\x9f":
            try:
                return bytes([ord(char)]).decode("cp1252")
            except UnicodeDecodeError:
                return " "
        return char

    text = "".join(c1(ch) for ch in unicodedata.normalize("NFC", text))
    return " ".join(text.replace("\xad", "").replace("\u200b", "").split())


def test_correct_text_is_never_changed() -> None:
    """ftfy with our settings on every uk/ru/en text we ship (635): no change but spacing."""
    texts = [t for lang, t in corpus() if lang in ("uk", "ru", "en")]
    assert len(texts) > 600
    changed = [t for t in texts if normalise_text(t).text != " ".join(t.split())]
    assert changed == []
    assert not any(normalise_text(t).mojibake for t in texts)


def test_other_languages_change_only_where_the_corpus_is_damaged() -> None:
    """be, bg, de, es, fr, kk, mk, pl, sr: only C1 controls, soft hyphens and zero-width
    spaces change (a few dozen French sentences carry windows-1252 quotes read as latin-1)."""
    texts = [t for lang, t in corpus() if lang not in ("uk", "ru", "en")]
    assert len(texts) > 1000
    assert [t for t in texts if normalise_text(t).text != repaired(t)] == []


def test_double_encoded_uk_ru_en_text_is_repaired() -> None:
    """The same texts, UTF-8 read as windows-1251: the classic Cyrillic mojibake."""
    texts = [t for lang, t in corpus() if lang in ("uk", "ru", "en")]
    broken = [
        (t, b)
        for t in texts
        if (b := t.encode().decode("cp1251", errors="replace")) != t and "\ufffd" not in b
    ]
    assert len(broken) > 450  # 0x98, the byte windows-1251 lacks, loses a few: unrecoverable
    fixed = [t for t, b in broken if normalise_text(b).text == " ".join(t.split())]
    assert len(fixed) / len(broken) > 0.97


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Ки\u00adїв", "Київ"),  # soft hyphen
        ("Ки\u200bїв", "Київ"),  # zero-width space
        ("\ufeffКиїв", "Київ"),  # BOM inside text
        ("a\x00b\x08c", "abc"),  # C0 controls
        ("ціна \x96 100 грн", "ціна – 100 грн"),  # C1 read as windows-1252
        ("и\u0306", "й"),  # decomposed й, NFC
        ("«Київ» — “так”", "«Київ» — “так”"),  # typography kept
        ("рядок 1\nрядок 2", "рядок 1\nрядок 2"),  # line breaks kept
    ],
)
def test_normalise_text(raw: str, clean: str) -> None:
    assert normalise_text(raw).text == clean


def item(**kwargs: object) -> ArticleItem:
    cleaned = clean_fragment(str(kwargs.pop("html")), base_url="https://www.rbc.ua/x")
    return ArticleItem(
        url="https://www.rbc.ua/rus/news/x-1751640540.html",
        fetched_url="https://www.rbc.ua/rus/news/x-1751640540.html",
        site="rbc",
        fetched_at="2025-07-04T12:00:00+00:00",
        body=cleaned.body,
        body_html=cleaned.body_html,
        **kwargs,  # type: ignore[arg-type]
    )


def test_pipeline_fields_flags_and_stats(stats: MemoryStatsCollector) -> None:
    mojibake = "Уряд схвалив план відновлення енергетики".encode().decode("cp1251")
    it = item(
        html=f"<p>{mojibake}</p><p>\x01</p><h2>Під\u00adзаголовок</h2><p>Втрачено \ufffd.</p>",
        title="Заго\x07ловок",
        lead=mojibake,
        images=[Image(src="https://x/a.jpg", caption=mojibake)],
    )
    out = asyncio.run(NormalisePipeline(stats).process_item(it))
    assert out.title == "Заголовок"
    assert out.lead == out.images[0].caption == "Уряд схвалив план відновлення енергетики"
    assert out.body == (
        "Уряд схвалив план відновлення енергетики\n\nПідзаголовок\n\nВтрачено \ufffd."
    )
    assert out.body_html == (
        "<p>Уряд схвалив план відновлення енергетики</p>\n<h2>Підзаголовок</h2>\n"
        "<p>Втрачено \ufffd.</p>"
    )
    assert out.replacement_chars == 1
    assert out.flags == ["mojibake_fixed", "control_chars"]
    assert stats.get_value("ingest/flagged/mojibake_fixed") == 1
    assert stats.get_value("ingest/text/replacement_chars") == 1


def test_many_replacement_characters_flag_the_article(stats: MemoryStatsCollector) -> None:
    text = "Новина про економіку України та світу. " * 10
    lost = "\ufffd" * MANY_REPLACEMENTS
    it = item(html=f"<p>{text}</p><p>{lost}</p>", title="T")
    out = asyncio.run(NormalisePipeline(stats).process_item(it))
    assert out.replacement_chars == MANY_REPLACEMENTS
    assert out.flags == ["replacement_chars"]


def test_a_body_mostly_lost_in_decoding_is_dropped(stats: MemoryStatsCollector) -> None:
    it = item(html="<p>" + "Ки\ufffd\ufffd в \ufffd\ufffd\ufffd " * 20 + "</p>", title="T")
    with pytest.raises(DropItem, match="undecodable"):
        asyncio.run(NormalisePipeline(stats).process_item(it))
    assert stats.get_value("ingest/dropped/undecodable") == 1
