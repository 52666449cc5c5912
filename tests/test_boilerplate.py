"""The boilerplate cleaner: what must and must not survive, on fragments shaped like real pages."""

from __future__ import annotations

import asyncio

import pytest
from scrapy.exceptions import DropItem
from scrapy.statscollectors import MemoryStatsCollector

from ingest.extract.clean import clean_fragment
from ingest.items import ArticleItem
from pipelines.boilerplate import BoilerplatePipeline
from spiders.rbc import SITE

URL = "https://www.rbc.ua/rus/news/test-1751637000.html"

# An RBC-style body (div.txt) with every kind of boilerplate RBC.md lists, in Ukrainian.
RBC_BODY = """
<div class="txt">
  <span class="lang-publication"><a href="/rus/x">ua</a> <a href="/en/x">en</a> <a href="/ukr/x">ru</a></span>
  <p>Уряд ухвалив рішення про нові тарифи на електроенергію для населення з першого серпня.</p>
  <div id="read_more_17" class="read-more"><p>Читайте також: <a href="/rus/news/y">Що буде з цінами</a></p></div>
  <p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="/static/img/chart.jpg" alt=""></p>
  <h2>Що зміниться для споживачів</h2>
  <figure><img data-src="https://www.rbc.ua/static/img/tes.jpg" alt="">
    <figcaption>Теплова електростанція <span class="credit">Фото: Getty Images</span></figcaption></figure>
  <ins class="adsbygoogle" data-ad-slot="123"></ins>
  <p>За словами прем'єр-міністра, нові ціни діятимуть щонайменше до кінця опалювального сезону.</p>
  <p></p>
  <p>&nbsp;</p>
  <div class="share"><a>Facebook</a><a>Telegram</a></div>
  <div class="read-in-google"><a href="https://news.google.com/x">Читайте РБК-Україна в Google News</a></div>
  <p class="subscribe">Підписуйтесь на наш Telegram-канал, щоб першими дізнаватися новини.</p>
  <script>alert("x")</script>
  <div class="intext-tags"><a href="/tag/a">енергетика</a> <a href="/tag/b">тарифи</a></div>
</div>
"""


def test_rbc_boilerplate_is_removed_and_text_kept() -> None:
    cleaned = clean_fragment(RBC_BODY, base_url=URL, site=SITE)
    assert cleaned.paragraphs == [
        "Уряд ухвалив рішення про нові тарифи на електроенергію для населення з першого серпня.",
        "Що зміниться для споживачів",
        "За словами прем'єр-міністра, нові ціни діятимуть щонайменше до кінця опалювального "
        "сезону.",
    ]
    for gone in ("ua en ru", "Читайте також", "Google News", "Telegram", "Facebook", "Фото",
                 "енергетика", "alert", "Теплова"):  # fmt: skip
        assert gone not in cleaned.body


def test_generic_rules_work_without_site_rules() -> None:
    """The generic set alone (no site given) removes the kinds of boilerplate found across
    sites: "read also" blocks, language menus, share widgets, subscription prompts, ads."""
    cleaned = clean_fragment(RBC_BODY, base_url=URL, site=None)
    for gone in ("Читайте також", "ua en ru", "Telegram", "Facebook", "alert"):
        assert gone not in cleaned.body
    assert cleaned.paragraphs[0].startswith("Уряд ухвалив")


def test_one_sites_boilerplate_is_that_sites_knowledge() -> None:
    """RBC's "read us in Google" line and its tag strip are removed by RBC's entry, not by the
    generic lists (no rule that one site needs goes there)."""
    generic = clean_fragment(RBC_BODY, base_url=URL, site=None)
    assert "Google News" in generic.body
    assert "енергетика" in generic.body
    with_site = clean_fragment(RBC_BODY, base_url=URL, site=SITE)
    assert "Google News" not in with_site.body
    assert "енергетика" not in with_site.body


def test_pictures_move_to_images_with_caption_and_credit() -> None:
    cleaned = clean_fragment(RBC_BODY, base_url=URL, site=SITE)
    by_src = {image.src: image for image in cleaned.images}
    figure = by_src["https://www.rbc.ua/static/img/tes.jpg"]
    assert figure.caption == "Теплова електростанція Фото: Getty Images"
    assert figure.credit == "Фото: Getty Images"
    # the lazy-loaded picture keeps its real URL (data-src), not the placeholder
    assert "https://www.rbc.ua/static/img/chart.jpg" in by_src
    assert not any(src.startswith("data:") for src in by_src)


def test_body_html_is_rebuilt_without_page_markup() -> None:
    fragment = (
        '<div><p onclick="steal()">Перший абзац новини, досить довгий для тексту.</p>'
        '<p><a href="javascript:alert(1)">посилання</a> і текст</p>'
        "<h3>Підзаголовок</h3><style>p{}</style><iframe src='x'></iframe></div>"
    )
    cleaned = clean_fragment(fragment, base_url=URL)
    assert cleaned.body_html == (
        "<p>Перший абзац новини, досить довгий для тексту.</p>\n"
        "<p>посилання і текст</p>\n<h3>Підзаголовок</h3>"
    )
    for bad in ("onclick", "javascript:", "<iframe", "<style", "<a"):
        assert bad not in cleaned.body_html


def test_block_repeating_the_title_is_dropped() -> None:
    fragment = "<div><p>Big news today</p><p>The story itself, with details.</p></div>"
    cleaned = clean_fragment(fragment, base_url=URL, title="Big news today")
    assert cleaned.paragraphs == ["The story itself, with details."]


def test_line_breaks_inside_a_container_split_paragraphs_only_at_blocks() -> None:
    fragment = "<div>First line<br>same paragraph<div>Second block</div>tail text</div>"
    cleaned = clean_fragment(fragment, base_url=URL)
    assert cleaned.paragraphs == ["First line same paragraph", "Second block", "tail text"]


@pytest.mark.parametrize(
    "menu", ["ua en ru", "UA | RU | EN", "ua ru", "EN / UA"], ids=["rbc", "pipes", "two", "slash"]
)
def test_language_menus_in_text_are_dropped(menu: str) -> None:
    cleaned = clean_fragment(f"<div><p>{menu}</p><p>Real text here.</p></div>", base_url=URL)
    assert cleaned.paragraphs == ["Real text here."]


def test_a_sentence_starting_like_a_menu_word_is_kept() -> None:
    text = "En route to Kyiv, the delegation stopped in Lviv."
    assert clean_fragment(f"<p>{text}</p>", base_url=URL).paragraphs == [text]


def test_pipeline_drops_an_item_without_body(stats: MemoryStatsCollector) -> None:
    item = ArticleItem(url=URL, fetched_url=URL, site="rbc", fetched_at="2025-07-04T15:00:00+00:00")
    with pytest.raises(DropItem, match="no article body"):
        asyncio.run(BoilerplatePipeline(stats).process_item(item))
    assert stats.get_value("ingest/dropped/no_body") == 1


def test_pipeline_fills_body_and_images(stats: MemoryStatsCollector) -> None:
    item = ArticleItem(
        url=URL, fetched_url=URL, site="rbc", fetched_at="2025-07-04T15:00:00+00:00",
        body_html=RBC_BODY,
    )  # fmt: skip
    out = asyncio.run(BoilerplatePipeline(stats).process_item(item))
    assert out.body is not None
    assert out.body.startswith("Уряд ухвалив")
    assert "\n\nЩо зміниться для споживачів\n\n" in out.body
    assert len(out.images) == 2
