"""Render the hand-made offline mirror of RBC-Ukraine (``ingest/demo/rbc/``) from story files.

Why a generator and not hand-edited HTML: every story exists in up to three languages, and each
version appears on its article page, in the other versions' hreflang links, in a daily archive,
in the all-news pages and in an RSS feed. Writing those by hand drifts; rendering them from one
JSON file per story (``rbc_stories/*.json``, format in ``rbc_stories/SCHEMA.md``) keeps every
link consistent. The page shapes follow ``shared/RBC.md`` (real scrapers of rbc.ua), the
selectors in ``spiders/rbc.py`` must find what they look for, and a few pages are deliberately
broken so that a crawl's drop paths are exercised.

Usage: ``python3 tools/mirror/build_rbc.py`` wipes ``ingest/demo/rbc/`` and writes it anew.
Standard library only, and deterministic: the same story files give byte-identical output
(stories are sorted, no clock is read, no time-zone database is consulted).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STORIES_DIR = HERE / "rbc_stories"
OUT_DIR = REPO / "ingest" / "demo" / "rbc"

MAIN_HOST = "www.rbc.ua"
EN_HOST = "newsukraine.rbc.ua"
LANGS = ("uk", "ru", "en")
SECTIONS = ("news", "politics", "economic", "society", "sport", "hitech", "energetics")
EXTRAS = ("read_more", "inline_image", "figure", "ad", "subscribe", "empty_paragraph")
# The days the demo crawls (ingest/cli/crawl.py DEMO_ARGS); each gets an archive page per
# language even when empty, so that no discovery URL of the demo is a 404.
ARCHIVE_DAYS = (date(2025, 7, 2), date(2025, 7, 3), date(2025, 7, 4))
PLACEHOLDER_GIF = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
IMG_BASE = "https://www.rbc.ua/static/img/"
ALLNEWS_PAGE_SIZE = 10
RSS_ITEMS = 8
NEWSLINE_ITEMS = 3
ROBOTS_TXT = "User-agent: *\nDisallow: /search\nDisallow: /rus/private/\n"


@dataclass(frozen=True)
class Lang:
    """Everything a page needs to know about one language of the site."""

    code: str
    path: str  # "rus" / "ukr" on www.rbc.ua (swapped: /rus/ is Ukrainian), "" on the en host
    locale: str
    site_name: str
    weekdays: tuple[str, ...]  # Monday first, as printed after the date
    read_also: str
    subscribe: str
    google_news: str
    follow_us: str
    archive_title: str  # takes {day}
    allnews_title: str
    page_word: str
    rights: str
    feed_description: str
    section_names: tuple[str, ...]  # in SECTIONS order, for the header menu

    @property
    def host(self) -> str:
        """The host this language is published on."""
        return EN_HOST if self.code == "en" else MAIN_HOST

    @property
    def base(self) -> str:
        """Root URL of this language's pages ("https://www.rbc.ua/rus" for Ukrainian)."""
        return f"https://{self.host}" + (f"/{self.path}" if self.path else "")


LANG = {
    "uk": Lang(
        code="uk",
        path="rus",
        locale="uk_UA",
        site_name="РБК-Україна",
        weekdays=("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Нд"),
        read_also="Читайте також:",
        subscribe="Підписуйтесь на наш Telegram-канал, щоб першими дізнаватися новини.",
        google_news="Читайте РБК-Україна в Google News",
        follow_us="Слідкуйте за нами",
        archive_title="Архів новин за {day}",
        allnews_title="Усі новини",
        page_word="сторінка",
        rights="Усі права захищені.",
        feed_description="Останні новини РБК-Україна",
        section_names=(
            "Новини",
            "Політика",
            "Економіка",
            "Суспільство",
            "Спорт",
            "Технології",
            "Енергетика",
        ),
    ),
    "ru": Lang(
        code="ru",
        path="ukr",
        locale="ru_RU",
        site_name="РБК-Украина",
        weekdays=("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"),
        read_also="Читайте также:",
        subscribe="Подписывайтесь на наш Telegram-канал, чтобы первыми узнавать новости.",
        google_news="Читайте РБК-Украина в Google News",
        follow_us="Следите за нами",
        archive_title="Архив новостей за {day}",
        allnews_title="Все новости",
        page_word="страница",
        rights="Все права защищены.",
        feed_description="Последние новости РБК-Украина",
        section_names=(
            "Новости",
            "Политика",
            "Экономика",
            "Общество",
            "Спорт",
            "Технологии",
            "Энергетика",
        ),
    ),
    "en": Lang(
        code="en",
        path="",
        locale="en_US",
        site_name="RBC-Ukraine",
        weekdays=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        read_also="Read also:",
        subscribe="Subscribe to our Telegram channel to get the news first.",
        google_news="Read RBC-Ukraine on Google News",
        follow_us="Follow us",
        archive_title="News archive for {day}",
        allnews_title="All news",
        page_word="page",
        rights="All rights reserved.",
        feed_description="Latest news from RBC-Ukraine",
        section_names=("News", "Politics", "Economics", "Society", "Sport", "Tech", "Energy"),
    ),
}

# Cyrillic → Latin, only to make readable /author/ and /tag/ link paths ("_": dropped).
_CYRILLIC = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюяёъыэ'’"
_LATIN = (
    "a b v h g d e ye zh z y i yi i k l m n o p r s t u f kh ts ch sh shch _ yu ya yo _ y e _ _"
)
_TRANSLIT = dict(zip(_CYRILLIC, _LATIN.split(), strict=True))


class StoryError(ValueError):
    """A story file that cannot be rendered; the message names the file and the field."""


@dataclass(frozen=True)
class Version:
    """One language version of a story."""

    lang: str
    title: str
    lead: str
    author: str
    section_name: str
    tags: tuple[str, ...]
    caption: str
    credit: str
    figure_caption: str
    figure_credit: str
    body: tuple[tuple[str, str], ...]  # (tag, text): tag "p", "h2" or "h3"


@dataclass(frozen=True)
class Story:
    """One story: the facts shared by its language versions, and the versions."""

    source: str  # file name, or "(built-in)" for the test pages made here
    slug: str
    section: str
    published: datetime  # Kyiv local time, aware
    story_id: int
    modified: datetime | None
    image: str
    extras: frozenset[str]
    versions: tuple[Version, ...]  # in LANGS order

    def version(self, lang: str) -> Version | None:
        """The version in ``lang``, if the story has one."""
        return next((v for v in self.versions if v.lang == lang), None)

    def url(self, lang: str) -> str:
        """The real URL of this story in ``lang`` (swapped /rus/ /ukr/ on the main host)."""
        name = f"{self.slug}-{self.story_id}.html"
        if lang == "en":
            return f"https://{EN_HOST}/news/{name}"
        return f"{LANG[lang].base}/{self.section}/{name}"


# --- time ---------------------------------------------------------------------------------------


def _last_sunday(year: int, month: int) -> date:
    """Last Sunday of a month (the EU daylight-saving switch days are March's and October's)."""
    day = (date(year, month + 1, 1) if month < 12 else date(year + 1, 1, 1)) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def kyiv(local: datetime) -> datetime:
    """Attach Kyiv's offset (EET +02:00 / EEST +03:00, EU rule) to a naive local time.

    Computed instead of read from ``zoneinfo`` so the output cannot depend on whether, or
    which, time-zone database the machine has.
    """
    start = datetime.combine(_last_sunday(local.year, 3), datetime.min.time()).replace(hour=3)
    end = datetime.combine(_last_sunday(local.year, 10), datetime.min.time()).replace(hour=4)
    hours = 3 if start <= local < end else 2
    return local.replace(tzinfo=timezone(timedelta(hours=hours)))


def hhmm(moment: datetime) -> str:
    """ "17:56": the time shown in listings."""
    return moment.strftime("%H:%M")


def dmy(moment: datetime | date) -> str:
    """The day as the site prints it, "04.07.2025"."""
    return f"{moment.day:02d}.{moment.month:02d}.{moment.year}"


def info_date(moment: datetime, lang: str) -> str:
    """The article's date line, "17:56 04.07.2025 Пт" (strftime's %a would follow the locale)."""
    return f"{hhmm(moment)} {dmy(moment)} {LANG[lang].weekdays[moment.weekday()]}"


# --- loading ------------------------------------------------------------------------------------


def _text(data: dict[str, Any], key: str, where: str, *, optional: bool = False) -> str:
    value = data.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise StoryError(f"{where}: {key!r} must be a non-empty string")
    return value.strip()


def _local_time(data: dict[str, Any], key: str, where: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise StoryError(f"{where}: {key!r} must be a string like 2025-07-04T17:56")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise StoryError(f"{where}: {key!r} is not a date-time: {value!r}") from None
    if parsed.tzinfo is not None:
        raise StoryError(f"{where}: {key!r} must be Kyiv local time without an offset")
    return kyiv(parsed)


def _body(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise StoryError(f"{where}: 'body' must be a non-empty list")
    entries: list[tuple[str, str]] = []
    for n, entry in enumerate(raw, 1):
        if isinstance(entry, str) and entry.strip():
            entries.append(("p", entry.strip()))
        elif (
            isinstance(entry, dict)
            and len(entry) == 1
            and next(iter(entry)) in ("h2", "h3")
            and isinstance(next(iter(entry.values())), str)
        ):
            tag, text = next(iter(entry.items()))
            entries.append((tag, text.strip()))
        else:
            raise StoryError(f"{where}: body entry {n} must be a string or {{'h2': text}}")
    return tuple(entries)


def _version(lang: str, data: Any, where: str) -> Version:
    where = f"{where} [{lang}]"
    if not isinstance(data, dict):
        raise StoryError(f"{where}: a version must be an object")
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise StoryError(f"{where}: 'tags' must be a list of strings")
    return Version(
        lang=lang,
        title=_text(data, "title", where),
        lead=_text(data, "lead", where),
        author=_text(data, "author", where),
        section_name=_text(data, "section_name", where),
        tags=tuple(t.strip() for t in tags),
        caption=_text(data, "caption", where),
        credit=_text(data, "credit", where, optional=True),
        figure_caption=_text(data, "figure_caption", where, optional=True),
        figure_credit=_text(data, "figure_credit", where, optional=True),
        body=_body(data.get("body"), where),
    )


def load_story(path: Path) -> Story:
    """One ``rbc_stories/NN-slug.json`` file, checked against SCHEMA.md."""
    where = path.name
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoryError(f"{where}: unreadable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise StoryError(f"{where}: the file must hold one JSON object")
    slug = _text(data, "slug", where)
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug):
        raise StoryError(f"{where}: slug {slug!r} must be latin, lower case, hyphenated")
    section = _text(data, "section", where)
    if section not in SECTIONS:
        raise StoryError(f"{where}: section {section!r} not among {', '.join(SECTIONS)}")
    published = _local_time(data, "published", where)
    if published is None:
        raise StoryError(f"{where}: 'published' is required")
    minutes = data.get("created_minutes_before")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 <= minutes <= 16:
        raise StoryError(f"{where}: 'created_minutes_before' must be an integer 0..16")
    extras = data.get("extras", {})
    if not isinstance(extras, dict) or any(k not in EXTRAS for k in extras):
        raise StoryError(f"{where}: 'extras' keys must be among {', '.join(EXTRAS)}")
    versions = data.get("versions")
    if not isinstance(versions, dict) or not versions or any(k not in LANGS for k in versions):
        raise StoryError(f"{where}: 'versions' must hold 1-3 of {', '.join(LANGS)}")
    return Story(
        source=where,
        slug=slug,
        section=section,
        published=published,
        story_id=int((published - timedelta(minutes=minutes)).timestamp()),
        modified=_local_time(data, "modified", where),
        image=_text(data, "image", where),
        extras=frozenset(k for k, v in extras.items() if v is True),
        versions=tuple(_version(c, versions[c], where) for c in LANGS if c in versions),
    )


def load_stories(directory: Path) -> list[Story]:
    """Every story file, newest first; ids and slugs must be unique (ids pair translations)."""
    stories = [load_story(p) for p in sorted(directory.glob("*.json"))]
    for attr in ("story_id", "slug"):
        seen: dict[object, str] = {}
        for story in stories:
            key = getattr(story, attr)
            if key in seen:
                raise StoryError(f"{story.source}: same {attr} {key} as {seen[key]}")
            seen[key] = story.source
    return sorted(stories, key=newest_first)


def newest_first(story: Story) -> tuple[float, int, str]:
    """Sort key: newest publication first, then higher id, then slug (a total order)."""
    return (-story.published.timestamp(), -story.story_id, story.slug)


# --- test pages made here, not stories --------------------------------------------------------


def _built_in(
    slug: str, section: str, published: str, story_id: int, title: str, lead: str, body: list[str]
) -> Story:
    """A Ukrainian-only page that is not a story file: the robots-disallowed draft, bad pages."""
    moment = kyiv(datetime.fromisoformat(published))
    return Story(
        source="(built-in)",
        slug=slug,
        section=section,
        published=moment,
        story_id=story_id,
        modified=None,
        image=f"{slug}.jpg",
        extras=frozenset(),
        versions=(
            Version(
                lang="uk",
                title=title,
                lead=lead,
                author="Редакція РБК-Україна",
                section_name="Новини",
                tags=("тест",),
                caption="Ілюстративне фото",
                credit="фото: Getty Images",
                figure_caption="",
                figure_credit="",
                body=tuple(("p", p) for p in body),
            ),
        ),
    )


def _id_at(local: str, minutes_before: int) -> int:
    return int(
        (kyiv(datetime.fromisoformat(local)) - timedelta(minutes=minutes_before)).timestamp()
    )


# Linked once from /rus/allnews/2; robots.txt disallows /rus/private/, so it must never be fetched.
SECRET_DRAFT = _built_in(
    "secret-draft",
    "private",
    "2025-07-04T06:38",
    1751600000,
    "Чернетка: матеріал не для публікації",
    "Внутрішня чернетка редакції, закрита для пошукових роботів.",
    [
        "Це чернетка, яку редакція ще не погодила. Сторінка лежить у розділі, закритому "
        "файлом robots.txt, тож жоден чемний робот не повинен її завантажувати.",
        "Якщо цей текст опинився в базі даних, отже, обхід проігнорував правила robots.txt "
        "і завантажив сторінку, яку сайт просив не чіпати.",
        "Посилання на неї стоїть лише на другій сторінці стрічки всіх новин, щоб його "
        "напевно побачив кожен обхід, який дійде до цієї сторінки.",
        "Текст навмисно достатньо довгий, щоб пройти перевірку мінімальної довжини: "
        "відкинути сторінку має саме robots.txt, а не інші перевірки.",
    ],
)
BAD_VIDEO = _built_in(
    "video-only-test",
    "news",
    "2025-07-03T11:47",
    _id_at("2025-07-03T11:47", 3),
    "Відео: як виглядає нова станція метро зсередини",
    "Сторінка з відео без жодного абзацу тексту.",
    [],
)
BAD_TRUNCATED = _built_in(
    "truncated-html-test",
    "news",
    "2025-07-03T15:38",
    _id_at("2025-07-03T15:38", 2),
    "У Києві відкрили оновлений сквер біля річкового вокзалу",
    "Сторінка, яку обірвано посеред розмітки.",
    ["У Києві після ремонту відкрили сквер біля річкового вокзалу."],
)
BAD_EMPTY = _built_in(
    "empty-page-test",
    "news",
    "2025-07-03T10:12",
    _id_at("2025-07-03T10:12", 4),
    "Синоптики попередили про грози на заході України",
    "",
    [],
)
BAD_PDF = _built_in(
    "pdf-served-test",
    "news",
    "2025-07-03T13:05",
    _id_at("2025-07-03T13:05", 1),
    "Уряд оприлюднив звіт про виконання бюджету за червень",
    "",
    [],
)
BAD_PAGES = (BAD_EMPTY, BAD_VIDEO, BAD_PDF, BAD_TRUNCATED)
BAD_ARCHIVE_DAY = date(2025, 7, 3)
PDF_BYTES = (
    b"%PDF-1.4\n"
    b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n"
    b"%%EOF\n"
)


# --- HTML ---------------------------------------------------------------------------------------


def e(text: str) -> str:
    """HTML-escaped text or attribute value."""
    return escape(text, quote=True)


def slugify(text: str) -> str:
    """Latin link path part for an author or a tag ("Дональд Трамп" → "donald-tramp")."""
    latin = "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())
    return re.sub(r"[^a-z0-9]+", "-", latin.replace("_", "")).strip("-") or "x"


def header(lang: Lang) -> str:
    """Site header: section menu in the page's language and the UA | RU | EN switcher."""
    root = f"/{lang.path}" if lang.path else ""
    menu = "".join(
        f'<a href="{root}/{s}">{e(name)}</a>'
        for s, name in zip(SECTIONS, lang.section_names, strict=True)
    )
    labels = (("uk", "UA"), ("ru", "RU"), ("en", "EN"))
    switch = " | ".join(f'<a href="{LANG[c].base}/">{label}</a>' for c, label in labels)
    return (
        f'<header class="header"><nav class="menu">{menu}</nav>'
        f'<div class="lang-switcher">{switch}</div></header>'
    )


def footer(lang: Lang) -> str:
    """Site footer."""
    return f'<footer class="footer">© 2025 RBC-Ukraine. {e(lang.rights)}</footer>'


def newsline(items: list[tuple[str, str, str]]) -> str:
    """The listing block the spider reads: (url, HH:MM, title text) per item."""
    rows = "".join(
        f'<div class="item"><a href="{e(url)}"><span class="time">{time}</span>'
        f"{e(title)}</a></div>\n"
        for url, time, title in items
    )
    return (
        '<div class="newsline"><div class="nano"><div class="nano-content">\n'
        f"{rows}</div></div></div>"
    )


def listing_item(story: Story, lang: str) -> tuple[str, str, str]:
    """(url, time, title) of one story version in a listing."""
    version = story.version(lang)
    assert version is not None  # callers list only stories that have this language
    return story.url(lang), hhmm(story.published), version.title


def listing_page(lang: Lang, title: str, items: list[tuple[str, str, str]], more: str) -> str:
    """An archive day or all-news page: header, heading, newsline, optional next link, footer."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang.code}">\n'
        f'<head><meta charset="utf-8"><title>{e(title)} | {e(lang.site_name)}</title></head>\n'
        "<body>\n"
        f"{header(lang)}\n"
        f"<main><h1>{e(title)}</h1>\n"
        f"{newsline(items)}\n"
        f"{more}</main>\n"
        f"{footer(lang)}\n"
        "</body>\n</html>\n"
    )


@dataclass(frozen=True)
class Related:
    """Other stories an article page links to (same language)."""

    newsline: list[tuple[str, str, str]]
    read_more: tuple[str, str] | None  # (url, title)


def json_ld(story: Story, version: Version) -> str:
    """The NewsArticle JSON-LD block, safe inside <script> ("</" cannot close it)."""
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": version.title,
        "description": version.lead,
        "datePublished": story.published.isoformat(),
        "dateModified": (story.modified or story.published).isoformat(),
        "author": [{"@type": "Person", "name": version.author}],
        "publisher": {"@type": "Organization", "name": "RBC-Ukraine"},
        "mainEntityOfPage": {"@id": story.url(version.lang)},
        "image": [IMG_BASE + story.image],
        "inLanguage": version.lang,
    }
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def article_text(story: Story, version: Version, related: Related) -> str:
    """The inside of div.txt: body entries with this story's boilerplate kinds woven in."""
    lang = LANG[version.lang]
    count = len(version.body)
    after: dict[int, list[str]] = {}  # entry number (1-based) → blocks that follow it

    def add(n: int, block: str) -> None:
        after.setdefault(max(0, min(n, count)), []).append(block)

    if "inline_image" in story.extras:
        src = f"{IMG_BASE}{story.slug}-2.jpg"
        add(1, f'<p><img src="{PLACEHOLDER_GIF}" data-src="{src}" alt=""></p>')
    if "read_more" in story.extras and related.read_more is not None:
        url, title = related.read_more
        target_id = url.rsplit("-", 1)[-1].removesuffix(".html")
        add(
            2,
            f'<div id="read_more_{target_id}" class="read-more"><p>{e(lang.read_also)} '
            f'<a href="{e(url)}">{e(title)}</a></p></div>',
        )
    if "ad" in story.extras:
        add(3, '<ins class="adsbygoogle" data-ad-slot="1234"></ins>')
    if "empty_paragraph" in story.extras:
        add(4, "<p></p>")
    if "figure" in story.extras:
        credit = (
            f' <span class="credit">{e(version.figure_credit)}</span>'
            if version.figure_credit
            else ""
        )
        add(
            count - 1,
            f'<figure><img data-src="{IMG_BASE}{story.slug}-3.jpg" alt="">'
            f"<figcaption>{e(version.figure_caption)}{credit}</figcaption></figure>",
        )
    blocks = list(after.get(0, []))
    for n, (tag, text) in enumerate(version.body, 1):
        blocks.append(f"<{tag}>{e(text)}</{tag}>")
        blocks.extend(after.get(n, []))
    if "subscribe" in story.extras:
        blocks.append(f'<p class="subscribe">{e(lang.subscribe)}</p>')
    blocks.append(
        '<div class="read-in-google"><a href="https://news.google.com/publications/x">'
        f"{e(lang.google_news)}</a></div>"
    )
    return "\n".join(blocks)


def article_page(story: Story, version: Version, related: Related, txt: str | None = None) -> str:
    """One article page; ``txt`` replaces the div.txt content (the video-only test page)."""
    lang = LANG[version.lang]
    url = story.url(version.lang)
    image = IMG_BASE + story.image
    head = [
        '<meta charset="utf-8">',
        f"<title>{e(version.title)} | {e(lang.site_name)}</title>",
        f'<meta name="description" content="{e(version.lead)}">',
        f'<link rel="canonical" href="{e(url)}">',
        *(
            f'<link rel="alternate" hreflang="{v.lang}" href="{e(story.url(v.lang))}">'
            for v in story.versions
        ),
        '<meta property="og:type" content="article">',
        f'<meta property="og:title" content="{e(version.title)}">',
        f'<meta property="og:url" content="{e(url)}">',
        f'<meta property="og:locale" content="{lang.locale}">',
        f'<meta property="og:image" content="{e(image)}">',
        f'<meta property="article:section" content="{e(version.section_name)}">',
        *(f'<meta property="article:tag" content="{e(t)}">' for t in version.tags),
        f'<script type="application/ld+json">{json_ld(story, version)}</script>',
    ]
    menu = " ".join(
        f'<a href="{e(story.url(c))}">{label}</a>'
        for c, label in (("uk", "ua"), ("en", "en"), ("ru", "ru"))
        if story.version(c) is not None
    )
    credit = (
        f' <span class="publication-img-author">({e(version.credit)})</span>'
        if version.credit
        else ""
    )
    tags = "".join(f'<a href="/tag/{slugify(t)}">{e(t)}</a>' for t in version.tags)
    body = txt if txt is not None else article_text(story, version, related)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang.code}">\n'
        "<head>\n" + "\n".join(head) + "\n</head>\n"
        "<body>\n"
        f"{header(lang)}\n"
        f"{newsline(related.newsline)}\n"
        "<main><article>\n"
        f'<span class="lang-publication">{menu}</span>\n'
        f"<h1>{e(version.title)}</h1>\n"
        f'<div class="info"><div>{info_date(story.published, lang.code)}</div>'
        f'<div class="author"><a href="/author/{slugify(version.author)}">'
        f"{e(version.author)}</a></div></div>\n"
        f'<div class="publication-lead">{e(version.lead)}</div>\n'
        f'<div class="publication-img-wrapper"><img src="{PLACEHOLDER_GIF}" '
        f'data-src="{e(image)}" alt="{e(version.title)}">'
        f'<div class="publication-img-caption">{e(version.caption)}{credit}</div></div>\n'
        '<div class="share"><a href="#">Facebook</a><a href="#">Telegram</a>'
        '<a href="#">X</a></div>\n'
        f'<div class="txt">\n{body}\n</div>\n'
        f'<div class="intext-tags">{tags}</div>\n'
        f'<div class="publication-social">{e(lang.follow_us)}: '
        '<a href="#">Facebook</a> <a href="#">Telegram</a></div>\n'
        "</article></main>\n"
        f"{footer(lang)}\n"
        "</body>\n</html>\n"
    )


# --- RSS ----------------------------------------------------------------------------------------


def rss(lang: Lang, stories: list[Story]) -> str:
    """RSS 2.0 with the newest ``RSS_ITEMS`` stories of one language."""
    items = []
    for story in stories[:RSS_ITEMS]:
        version = story.version(lang.code)
        assert version is not None
        url = xml_escape(story.url(lang.code))
        items.append(
            "<item>\n"
            f"<title>{xml_escape(version.title)}</title>\n"
            f"<link>{url}</link>\n"
            f'<guid isPermaLink="true">{url}</guid>\n'
            f"<pubDate>{format_datetime(story.published)}</pubDate>\n"
            f"<description>{xml_escape(version.lead)}</description>\n"
            f"<category>{xml_escape(version.section_name)}</category>\n"
            "</item>\n"
        )
    built = (
        format_datetime(stories[0].published)
        if stories
        else format_datetime(kyiv(datetime.combine(ARCHIVE_DAYS[-1], datetime.min.time())))
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0">\n<channel>\n'
        f"<title>{xml_escape(lang.site_name)}</title>\n"
        f"<link>{xml_escape(allnews_url(lang, 1))}</link>\n"
        f"<description>{xml_escape(lang.feed_description)}</description>\n"
        f"<language>{lang.code}</language>\n"
        f"<lastBuildDate>{built}</lastBuildDate>\n" + "".join(items) + "</channel>\n</rss>\n"
    )


# --- the mirror ---------------------------------------------------------------------------------


def archive_url(lang: Lang, day: date) -> str:
    """Daily archive URL (the English host's shape is assumed to follow the main site's)."""
    return f"{lang.base}/archive/{day:%Y/%m/%d}"


def allnews_url(lang: Lang, page: int) -> str:
    """All-news page URL (only /rus/allnews is attested; /ukr/ and English are assumed)."""
    return f"{lang.base}/allnews/{page}"


def feed_url(lang: Lang) -> str:
    """The ``all`` RSS feed of a language (swapped names: all.rus is Ukrainian)."""
    if lang.code == "en":
        return f"https://{EN_HOST}/rss.xml"
    return f"https://{MAIN_HOST}/static/rss/all.{lang.path}.rss.xml"


def file_for(url: str) -> str:
    """Mirror file of a URL, as ``ingest.demo.resolve`` finds it: <host>/<path>[/index.html]."""
    split = urlsplit(url)
    path = split.path.strip("/")
    rel = f"{split.hostname}/{path}" if path else f"{split.hostname}"
    return rel if Path(path).suffix else f"{rel}/index.html"


def related_for(story: Story, lang: str, same_lang: list[Story]) -> Related:
    """Newsline (newest others) and the read-also target (next older story, else newer)."""
    others = [s for s in same_lang if s is not story]
    line = [listing_item(s, lang) for s in others[:NEWSLINE_ITEMS]]
    read_more: tuple[str, str] | None = None
    if story in same_lang:
        i = same_lang.index(story)
        target = same_lang[i + 1] if i + 1 < len(same_lang) else (same_lang[i - 1] if i else None)
    else:
        target = others[0] if others else None
    if target is not None:
        url, _, title = listing_item(target, lang)
        read_more = (url, title)
    return Related(newsline=line, read_more=read_more)


def render(stories: list[Story]) -> tuple[dict[str, bytes], dict[str, dict[str, Any]], list[str]]:
    """Every mirror file (path → bytes), the _headers.json overrides, the ukr-archive glued item."""
    files: dict[str, bytes] = {}
    headers: dict[str, dict[str, Any]] = {}

    def put(url: str, content: str | bytes) -> None:
        rel = file_for(url)
        if rel in files:
            raise StoryError(f"two pages for one file: {rel}")
        files[rel] = content.encode("utf-8") if isinstance(content, str) else content

    by_lang = {c: [s for s in stories if s.version(c) is not None] for c in LANGS}
    for code in LANGS:
        for story in by_lang[code]:
            version = story.version(code)
            assert version is not None
            related = related_for(story, code, by_lang[code])
            put(story.url(code), article_page(story, version, related))

    # Built-in pages (Ukrainian, under /rus/).
    uk_related = related_for(SECRET_DRAFT, "uk", by_lang["uk"])
    put(SECRET_DRAFT.url("uk"), article_page(SECRET_DRAFT, SECRET_DRAFT.versions[0], uk_related))
    put(BAD_EMPTY.url("uk"), b"")
    put(
        BAD_VIDEO.url("uk"),
        article_page(
            BAD_VIDEO,
            BAD_VIDEO.versions[0],
            uk_related,
            txt='<iframe src="https://www.youtube.com/embed/x"></iframe>',
        ),
    )
    put(BAD_PDF.url("uk"), PDF_BYTES)
    headers[file_for(BAD_PDF.url("uk"))] = {"Content-Type": "application/pdf", "status": 200}
    full = article_page(BAD_TRUNCATED, BAD_TRUNCATED.versions[0], uk_related)
    cut = full.index('<div class="read-in-google">') + len('<div class="read-in-go')
    put(BAD_TRUNCATED.url("uk"), full[:cut])

    days = sorted(set(ARCHIVE_DAYS) | {s.published.date() for s in stories}, reverse=True)
    glued: list[str] = []
    for code in LANGS:
        lang = LANG[code]
        for day in days:
            day_stories = [s for s in by_lang[code] if s.published.date() == day]
            if code == "uk" and day == BAD_ARCHIVE_DAY:
                day_stories = sorted([*day_stories, *BAD_PAGES], key=newest_first)
            items = [
                (s.url(code), hhmm(s.published), (s.version(code) or s.versions[0]).title)
                for s in day_stories
            ]
            if code == "ru" and items and not glued:
                # As on the real site: some listings glue the date onto the title text.
                url, time, title = items[0]
                items[0] = (url, time, f"{title} {lang.weekdays[day.weekday()]} {dmy(day)}")
                glued.append(url)
            title = lang.archive_title.format(day=dmy(day))
            put(archive_url(lang, day), listing_page(lang, title, items, ""))
        items = [listing_item(s, code) for s in by_lang[code]]
        first, rest = items[:ALLNEWS_PAGE_SIZE], items[ALLNEWS_PAGE_SIZE:]
        if code == "uk":
            rest.append(listing_item(SECRET_DRAFT, "uk"))
        more = f'<a class="next" href="{e(allnews_url(lang, 2))}">2</a>\n'
        put(allnews_url(lang, 1), listing_page(lang, lang.allnews_title, first, more))
        title2 = f"{lang.allnews_title}, {lang.page_word} 2"
        put(allnews_url(lang, 2), listing_page(lang, title2, rest, ""))
        put(feed_url(lang), rss(lang, by_lang[code]))
    put(f"https://{MAIN_HOST}/robots.txt", ROBOTS_TXT)
    put(f"https://{EN_HOST}/robots.txt", ROBOTS_TXT)
    return files, headers, glued


# --- README -------------------------------------------------------------------------------------


def readme(stories: list[Story], files: dict[str, bytes], glued: list[str]) -> str:
    """The mirror's README: what is real knowledge, what is assumed, what is test material."""
    per_lang = {c: sum(1 for s in stories if s.version(c) is not None) for c in LANGS}
    lines = [
        "# Offline mirror of RBC-Ukraine (hand-made)",
        "",
        "Generated by `python3 tools/mirror/build_rbc.py` from",
        "`tools/mirror/rbc_stories/*.json`; do not edit these files by hand, edit a story file and",
        "rebuild. Served by `ingest.demo`",
        "(`ingest demo`), which maps `https://<host>/<path>` to `<host>/<path>` here (a path",
        "without an extension to `<path>/index.html`); `_headers.json` overrides single URLs.",
        "",
        "**No page here was saved from rbc.ua.** They are hand-made after `shared/RBC.md`, which",
        "collects what real scrapers of the site (2020-2026) and 168 real headlines show.",
        "",
        "## Facts from shared/RBC.md that the pages follow",
        "",
        "- Article URLs `https://www.rbc.ua/{rus,ukr}/{section}/{slug}-{id}.html` and",
        "  `https://newsukraine.rbc.ua/news/{slug}-{id}.html` (separate English host, no `/eng/`).",
        '- **Swapped paths**: `/rus/` pages are Ukrainian (`lang="uk"`), `/ukr/` pages are',
        '  Russian (`lang="ru"`). The same story shares slug and id in every language.',
        "- Story id = Unix time of the story's creation, 0-16 minutes before its listed",
        "  publication time (Kyiv local time, +03:00 in July 2025).",
        "- Daily archives `https://www.rbc.ua/{rus,ukr}/archive/YYYY/MM/DD`; all-news pages",
        "  `https://www.rbc.ua/rus/allnews/{page}`; RSS feeds",
        "  `https://www.rbc.ua/static/rss/all.{rus,ukr}.rss.xml` and",
        "  `https://newsukraine.rbc.ua/rss.xml`.",
        "- Listing items: `div.newsline … div.nano-content > div.item > a` with the time in a",
        "  `span.time` inside the link; one `/ukr/` archive item has the date glued to its title",
        "  text, as some real listings do" + (f":\n  `{glued[0]}`." if glued else "."),
        "- Article selectors: `article`, `article > h1`, `div.publication-lead`, body in",
        "  `article div.txt`, date in `.info > div:first-child` as `17:56 04.07.2025 Пт`, JSON-LD",
        "  `datePublished`, top photo in `div.publication-img-wrapper` lazy-loaded via `data-src`",
        "  with `.publication-img-caption` and the credit in `.publication-img-author`.",
        "- Boilerplate kinds that real scrapers remove, all present on some pages:",
        '  `span.lang-publication` (the "ua en ru" menu), `div.share`, `div.publication-social`,',
        '  `ins` ads, `div.read-in-google` ("Читайте РБК-Україна в Google News"),',
        '  `div.intext-tags`, `[id*=read_more]` blocks ("Читайте також" / "Читайте также" /',
        '  "Read also"), and paragraphs that only hold a lazy-loaded picture (not text).',
        "",
        "## Assumptions (not attested anywhere)",
        "",
        "- The English host's daily archive `https://newsukraine.rbc.ua/archive/YYYY/MM/DD` and",
        "  all-news pages `https://newsukraine.rbc.ua/allnews/{page}` follow the main site's",
        "  shape.",
        "- `https://www.rbc.ua/ukr/allnews/{page}` exists like the attested `/rus/allnews/`.",
        "- The English RSS feed (cited once, unverified) is RSS 2.0 like the main site's.",
        "- Everything of the page template that no selector reads: `<head>` meta tags, the JSON-LD",
        "  fields, header, footer, the newsline on article pages, the order of the blocks.",
        "- `<figure>` blocks with a caption, Telegram subscribe prompts (`p.subscribe`) and empty",
        "  `<p>` on some pages: generic news-page boilerplate, not attested for rbc.ua.",
        "- `robots.txt` (both hosts): `Disallow: /search` and `Disallow: /rus/private/`; the",
        "  second rule exists only to test that a crawl obeys robots.txt.",
        "",
        "## Texts",
        "",
        "Every story text was written for this project, except the seed story's English text: its",
        "title, photo caption and credit and its nine body entries are taken verbatim from",
        "`shared/seeds/000_ea79fd1b2bade8fa.txt` (see `shared/seeds/expected.json`). Its English",
        "lead, author and tags, and its Ukrainian and Russian versions (translations), were",
        "written for the project. Authors' names are invented.",
        "",
        "## Stories",
        "",
        f"{len(stories)} stories; pages: uk {per_lang['uk']}, ru {per_lang['ru']},",
        f"en {per_lang['en']} (plus the test pages below); {len(files) + 1} files in all,",
        "this README included.",
        "",
        "| id | published (Kyiv) | section | languages | story file |",
        "|---|---|---|---|---|",
    ]
    for story in stories:
        langs = " ".join(v.lang for v in story.versions)
        lines.append(
            f"| {story.story_id} | {story.published:%Y-%m-%d %H:%M} | {story.section} | "
            f"{langs} | `{story.source}` |"
        )
    lines += [
        "",
        "## Test pages (bad input)",
        "",
        "Linked only from `https://www.rbc.ua/rus/archive/2025/07/03` (not from RSS or all-news):",
        "",
        f"- `{BAD_EMPTY.url('uk')}`:",
        "  0 bytes (a crawl drops it as `empty_page`).",
        f"- `{BAD_VIDEO.url('uk')}`:",
        "  the full template, but `div.txt` holds only a YouTube `<iframe>`, no text.",
        f"- `{BAD_PDF.url('uk')}`:",
        "  PDF bytes served as `application/pdf` (`_headers.json`).",
        f"- `{BAD_TRUNCATED.url('uk')}`:",
        "  the page is cut mid-tag inside the article body; its only paragraph is shorter",
        "  than 100 characters.",
        "",
        "And one page a crawl must never fetch,",
        f"`{SECRET_DRAFT.url('uk')}`:",
        "linked once from `https://www.rbc.ua/rus/allnews/2`, disallowed by `robots.txt`.",
        "",
    ]
    return "\n".join(lines)


def build(out_dir: Path = OUT_DIR, stories_dir: Path = STORIES_DIR) -> int:
    """Render everything in memory first (a bad story file leaves the old mirror intact), then
    replace ``out_dir``. Returns the number of files written."""
    stories = load_stories(stories_dir)
    files, headers, glued = render(stories)
    files["_headers.json"] = (json.dumps(headers, indent=2, sort_keys=True) + "\n").encode()
    files["README.md"] = readme(stories, files, glued).encode("utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    for rel in sorted(files):
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[rel])
    return len(files)


def main() -> int:
    """Command line entry: rebuild the mirror, report the count, exit 1 on a bad story file."""
    try:
        count = build()
    except StoryError as exc:
        print(f"build_rbc: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {count} files to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
