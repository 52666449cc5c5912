"""Render the hand-made offline mirror of Ukrainska Pravda and Euronews (``ingest/demo/sites/``).

Why a generator and not saved pages: the two real pages we have of these sites
(``tests/fixtures/news_pages/ua_pravda_rus_2026-01-08_ru.html`` and
``en_euronews_2026-01-06_en.html``) belong to their publishers and are test material only, so
the mirror is made of texts written for the project, poured into the skeleton of those real
templates. Each story shows up in several places (its page in one or two languages, the other
version's hreflang links, related-story boxes, an RSS feed or three sitemaps); rendering all of
them from one JSON file per story (``sites_stories/*.json``) keeps every link consistent.

Story files, one JSON object each (``<site>-NN-<slug>.json``):

* ``"site": "pravda"``: ``id`` (the 7-digit number in the URL, shared by the uk and ru
  versions), ``published`` / ``modified`` (Kyiv local time, ``2025-07-01T16:42``; modified may
  be null), ``image`` (path under the site's image host), ``authors`` and ``tags`` (lists of
  ``{"slug", "uk", "ru"}``: one link path, a name per language), and ``versions`` with both
  ``uk`` and ``ru``, each ``{title, description, photo_caption, photo_source, body}``; ``body``
  is 3-5 paragraphs (the read-also paragraph added here makes 4-6 ``<p>``).
* ``"site": "euronews"``: ``published`` / ``updated`` (Paris local time with seconds; updated
  may be null), ``headline`` (the long ``<h1>``; the URL slug is made from it), ``title``
  (og:title, the article's title), ``summary``, ``author``, ``author_profile`` (number in
  ``/profiles/N``), ``section`` (the ``article:section`` value), ``breadcrumbs`` (``[name,
  path]`` pairs), ``tags``, ``image`` / ``caption`` / ``credit`` (top photo), optional
  ``inline_image`` ``{image, caption, credit}`` inside the text, optional ``alternates``
  (``{"fr": url}``: language versions that have no page here) and ``body`` (4-6 paragraphs).

Every article body must hold at least 700 characters of text.

Usage: ``python3 tools/mirror/build_sites.py`` wipes ``ingest/demo/sites/`` and writes it
anew. Standard library only, and deterministic: the same story files give byte-identical
output (stories are sorted, no clock is read, no time-zone database is consulted, the one
gzip file carries a fixed mtime).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STORIES_DIR = HERE / "sites_stories"
OUT_DIR = REPO / "ingest" / "demo" / "sites"

PRAVDA = "https://www.pravda.com.ua"
PRAVDA_IMG = "https://uimg.pravda.com.ua/buckets/upstatic/images/doc/"
EURONEWS = "https://www.euronews.com"
EURONEWS_IMG = "https://images.euronews.com/articles/stories/"
# The feed URLs of ingest/site_entries/pravda.toml (uk and ru; no English story here).
PRAVDA_FEEDS = {"uk": f"{PRAVDA}/rss/view_news/", "ru": f"{PRAVDA}/rus/rss/view_news/"}
# The sitemap URL of ingest/site_entries/euronews.toml, and the two assumed around it.
NEWS_SITEMAP = f"{EURONEWS}/sitemaps/en/latest-news.xml"
SITEMAP_INDEX = f"{EURONEWS}/sitemaps/en/index.xml"
MONTH_SITEMAP = f"{EURONEWS}/sitemaps/en/articles-2025-07.xml.gz"
SLUG_MAX = 90  # real Euronews slugs are the headline cut at 90 characters, even mid-word
MIN_BODY_CHARS = 700
GZIP_MTIME = 0  # fixed, so the .gz is byte-identical on every build

PRAVDA_ROBOTS = "User-agent: *\nDisallow: /search/\n"
EURONEWS_ROBOTS = (
    f"User-agent: *\nDisallow: /search\n\nSitemap: {SITEMAP_INDEX}\nSitemap: {NEWS_SITEMAP}\n"
)


class StoryError(ValueError):
    """A story file that cannot be rendered; the message names the file and the field."""


# --- time ---------------------------------------------------------------------------------------


def _last_sunday(year: int, month: int) -> date:
    """Last Sunday of a month (the EU summer-time switch days are March's and October's)."""
    day = (date(year, month + 1, 1) if month < 12 else date(year + 1, 1, 1)) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def eu_local(local: datetime, standard: int) -> datetime:
    """Attach the offset of an EU time zone (``standard`` hours, +1 in summer) to a local time.

    Summer time runs from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
    Sunday of October. Computed instead of read from ``zoneinfo`` so that the output cannot
    depend on whether, or which, time-zone database the machine has.
    """
    one_utc = time(1)
    start = datetime.combine(_last_sunday(local.year, 3), one_utc) + timedelta(hours=standard)
    end = datetime.combine(_last_sunday(local.year, 10), one_utc) + timedelta(hours=standard + 1)
    hours = standard + 1 if start <= local < end else standard
    return local.replace(tzinfo=timezone(timedelta(hours=hours)))


def kyiv(local: datetime) -> datetime:
    """Kyiv local time, aware (EET +02:00 / EEST +03:00)."""
    return eu_local(local, 2)


def paris(local: datetime) -> datetime:
    """Paris local time, aware (CET +01:00 / CEST +02:00), Euronews' clock."""
    return eu_local(local, 1)


def offset_text(moment: datetime) -> str:
    """ "+02:00": the offset as the Euronews meta tags print it."""
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def euronews_stamp(moment: datetime) -> str:
    """ "2025-07-01 09:30:12 +02:00": the real page's article:published_time format."""
    return f"{moment:%Y-%m-%d %H:%M:%S} {offset_text(moment)}"


# --- stories ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    """An author or a tag of a Pravda story: one link slug, one name per language."""

    slug: str
    names: dict[str, str]


@dataclass(frozen=True)
class PravdaVersion:
    """One language version of a Pravda story."""

    lang: str
    title: str
    description: str
    photo_caption: str
    photo_source: str
    body: tuple[str, ...]


@dataclass(frozen=True)
class PravdaStory:
    """A Ukrainska Pravda news story, in Ukrainian and Russian under one numeric id."""

    source: str
    story_id: int
    published: datetime
    modified: datetime | None
    image: str
    authors: tuple[Named, ...]
    tags: tuple[Named, ...]
    versions: dict[str, PravdaVersion]

    def url(self, lang: str) -> str:
        """``/news/YYYY/MM/DD/ID/``, with ``/rus`` in front for the Russian version."""
        prefix = "/rus" if lang == "ru" else ""
        return f"{PRAVDA}{prefix}/news/{self.published:%Y/%m/%d}/{self.story_id}/"


@dataclass(frozen=True)
class InlineImage:
    """A picture inside the Euronews text, as the real template's image widget holds it."""

    image: str
    caption: str
    credit: str


@dataclass(frozen=True)
class EuronewsStory:
    """A Euronews English story."""

    source: str
    published: datetime
    updated: datetime | None
    headline: str
    title: str
    summary: str
    author: str
    author_profile: int
    section: str
    breadcrumbs: tuple[tuple[str, str], ...]
    tags: tuple[str, ...]
    image: str
    caption: str
    credit: str
    inline_image: InlineImage | None
    alternates: dict[str, str]
    body: tuple[str, ...]

    @property
    def slug(self) -> str:
        """The headline as the site turns it into a path: apostrophes dropped, cut at 90."""
        return euronews_slug(self.headline)

    @property
    def url(self) -> str:
        """``https://www.euronews.com/YYYY/MM/DD/<slug>``."""
        return f"{EURONEWS}/{self.published:%Y/%m/%d}/{self.slug}"

    @property
    def lastmod(self) -> datetime:
        """The last change: the update time, else the publication time."""
        return self.updated or self.published


def euronews_slug(headline: str) -> str:
    """Lower case ASCII, apostrophes dropped ("won't" → "wont"), other runs → "-", 90 max."""
    ascii_text = unicodedata.normalize("NFKD", headline).encode("ascii", "ignore").decode()
    text = re.sub(r"['’]", "", ascii_text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:SLUG_MAX]


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise StoryError(f"{where}: {key!r} must be a non-empty string")
    return value.strip()


def _when(data: dict[str, Any], key: str, where: str, *, optional: bool = False) -> datetime | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise StoryError(f"{where}: {key!r} must be a local date-time like 2025-07-01T16:42")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise StoryError(f"{where}: {key!r} is not a date-time: {value!r}") from None
    if parsed.tzinfo is not None:
        raise StoryError(f"{where}: {key!r} must be local time without an offset")
    return parsed


def _paragraphs(data: dict[str, Any], where: str, low: int, high: int) -> tuple[str, ...]:
    body = data.get("body")
    if (
        not isinstance(body, list)
        or not low <= len(body) <= high
        or not all(isinstance(p, str) and p.strip() for p in body)
    ):
        raise StoryError(f"{where}: 'body' must be a list of {low}-{high} paragraphs")
    paragraphs = tuple(p.strip() for p in body)
    if sum(len(p) for p in paragraphs) < MIN_BODY_CHARS:
        raise StoryError(f"{where}: the body is shorter than {MIN_BODY_CHARS} characters")
    return paragraphs


def _named(raw: Any, key: str, where: str) -> tuple[Named, ...]:
    if not isinstance(raw, list) or not raw:
        raise StoryError(f"{where}: {key!r} must be a non-empty list")
    out: list[Named] = []
    for entry in raw:
        if not isinstance(entry, dict) or set(entry) != {"slug", "uk", "ru"}:
            raise StoryError(f"{where}: each of {key!r} must be {{slug, uk, ru}}")
        slug = _text(entry, "slug", where)
        if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug):
            raise StoryError(f"{where}: {key} slug {slug!r} must be latin, lower case, hyphenated")
        out.append(Named(slug, {"uk": _text(entry, "uk", where), "ru": _text(entry, "ru", where)}))
    return tuple(out)


def load_pravda(data: dict[str, Any], where: str) -> PravdaStory:
    """A Pravda story file, checked."""
    story_id = data.get("id")
    if (
        not isinstance(story_id, int)
        or isinstance(story_id, bool)
        or not (1_000_000 <= story_id <= 9_999_999)
    ):
        raise StoryError(f"{where}: 'id' must be a 7-digit number")
    published = _when(data, "published", where)
    assert published is not None
    modified = _when(data, "modified", where, optional=True)
    versions = data.get("versions")
    if not isinstance(versions, dict) or set(versions) != {"uk", "ru"}:
        raise StoryError(f"{where}: 'versions' must hold exactly uk and ru")
    parsed: dict[str, PravdaVersion] = {}
    for lang in ("uk", "ru"):
        raw = versions[lang]
        at = f"{where} [{lang}]"
        if not isinstance(raw, dict):
            raise StoryError(f"{at}: a version must be an object")
        parsed[lang] = PravdaVersion(
            lang=lang,
            title=_text(raw, "title", at),
            description=_text(raw, "description", at),
            photo_caption=_text(raw, "photo_caption", at),
            photo_source=_text(raw, "photo_source", at),
            body=_paragraphs(raw, at, 3, 5),
        )
    return PravdaStory(
        source=where,
        story_id=story_id,
        published=kyiv(published),
        modified=kyiv(modified) if modified else None,
        image=_text(data, "image", where),
        authors=_named(data.get("authors"), "authors", where),
        tags=_named(data.get("tags"), "tags", where),
        versions=parsed,
    )


def load_euronews(data: dict[str, Any], where: str) -> EuronewsStory:
    """A Euronews story file, checked."""
    published = _when(data, "published", where)
    assert published is not None
    updated = _when(data, "updated", where, optional=True)
    profile = data.get("author_profile")
    if not isinstance(profile, int) or isinstance(profile, bool) or profile <= 0:
        raise StoryError(f"{where}: 'author_profile' must be a positive number")
    crumbs = data.get("breadcrumbs")
    if not isinstance(crumbs, list) or not all(
        isinstance(c, list) and len(c) == 2 and all(isinstance(x, str) for x in c) for c in crumbs
    ):
        raise StoryError(f"{where}: 'breadcrumbs' must be a list of [name, path] pairs")
    tags = data.get("tags")
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
        raise StoryError(f"{where}: 'tags' must be a non-empty list of strings")
    inline_raw = data.get("inline_image")
    inline = None
    if inline_raw is not None:
        if not isinstance(inline_raw, dict):
            raise StoryError(f"{where}: 'inline_image' must be an object")
        inline = InlineImage(
            image=_text(inline_raw, "image", where),
            caption=_text(inline_raw, "caption", where),
            credit=_text(inline_raw, "credit", where),
        )
    alternates = data.get("alternates", {})
    if not isinstance(alternates, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.startswith("https://")
        for k, v in alternates.items()
    ):
        raise StoryError(f"{where}: 'alternates' must map language codes to https URLs")
    return EuronewsStory(
        source=where,
        published=paris(published),
        updated=paris(updated) if updated else None,
        headline=_text(data, "headline", where),
        title=_text(data, "title", where),
        summary=_text(data, "summary", where),
        author=_text(data, "author", where),
        author_profile=profile,
        section=_text(data, "section", where),
        breadcrumbs=tuple((c[0], c[1]) for c in crumbs),
        tags=tuple(t.strip() for t in tags),
        image=_text(data, "image", where),
        caption=_text(data, "caption", where),
        credit=_text(data, "credit", where),
        inline_image=inline,
        alternates=dict(sorted(alternates.items())),
        body=_paragraphs(data, where, 4, 6),
    )


def load_stories(directory: Path) -> tuple[list[PravdaStory], list[EuronewsStory]]:
    """Every story file, each site's stories newest first; ids and URLs must be unique."""
    pravda: list[PravdaStory] = []
    euronews: list[EuronewsStory] = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoryError(f"{path.name}: unreadable JSON ({exc})") from None
        if not isinstance(data, dict):
            raise StoryError(f"{path.name}: the file must hold one JSON object")
        site = data.pop("site", None)
        if site == "pravda":
            pravda.append(load_pravda(data, path.name))
        elif site == "euronews":
            euronews.append(load_euronews(data, path.name))
        else:
            raise StoryError(f"{path.name}: 'site' must be pravda or euronews")
    if len({s.story_id for s in pravda}) != len(pravda):
        raise StoryError("two Pravda stories share an id")
    if len({s.url for s in euronews}) != len(euronews):
        raise StoryError("two Euronews stories share a URL")
    pravda.sort(key=lambda s: (-s.published.timestamp(), -s.story_id))
    euronews.sort(key=lambda s: (-s.published.timestamp(), s.slug))
    return pravda, euronews


# --- shared -------------------------------------------------------------------------------------


def e(text: str) -> str:
    """HTML-escaped text or attribute value."""
    return escape(text, quote=True)


def json_ld(data: dict[str, Any]) -> str:
    """A JSON-LD block, safe inside <script> ("</" cannot close it)."""
    text = json.dumps(data, ensure_ascii=False, indent=4).replace("</", "<\\/")
    return f'<script type="application/ld+json">\n{text}\n</script>'


def file_for(url: str) -> str:
    """Mirror file of a URL, as ``ingest.demo.resolve`` finds it: <host>/<path>[/index.html]."""
    split = urlsplit(url)
    path = split.path.strip("/")
    rel = f"{split.hostname}/{path}" if path else f"{split.hostname}"
    return rel if Path(path).suffix else f"{rel}/index.html"


def header_key(url: str) -> str:
    """The ``_headers.json`` key of a URL: host and path as requested (``MirrorServer``)."""
    split = urlsplit(url)
    return f"{split.hostname}{split.path}"


# --- Ukrainska Pravda ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PravdaLang:
    """The words of the Pravda template in one language."""

    code: str
    root: str  # home page of the language
    site_name: str
    months: tuple[str, ...]  # genitive, January first: "1 липня, 16:42"
    support: str
    sections_title: str
    sections: tuple[tuple[str, str], ...]  # (path under root, name)
    projects_title: str
    topics_title: str
    read_also: str
    link_copied: str
    main_news: str
    all_news: str
    comment_rules: str
    comment_rules_link: str
    ad_label: str
    rights: str
    footer_menu: tuple[tuple[str, str], ...]
    footer_note: str
    feed_description: str
    breadcrumb_home: str
    news_section: str


PRAVDA_PROJECTS = (
    ("https://www.pravda.com.ua/", "Українська правда", "Украинская правда"),
    ("https://www.epravda.com.ua/", "Економічна правда", "Экономическая правда"),
    ("https://www.eurointegration.com.ua/", "Європейська правда", "Европейская правда"),
    ("https://life.pravda.com.ua/", "Життя", "Жизнь"),
    ("https://champion.com.ua/", "Чемпіон", "Чемпион"),
    ("https://www.istpravda.com.ua/", "Історична правда", "Историческая правда"),
    ("https://blogs.pravda.com.ua/", "Блоги", "Блоги"),
)

PRAVDA_LANG = {
    "uk": PravdaLang(
        code="uk",
        root=f"{PRAVDA}/",
        site_name="Українська правда",
        months=(
            "січня",
            "лютого",
            "березня",
            "квітня",
            "травня",
            "червня",
            "липня",
            "серпня",
            "вересня",
            "жовтня",
            "листопада",
            "грудня",
        ),
        support="Підтримати УП",
        sections_title="Розділи",
        sections=(
            ("news/", "Новини"),
            ("articles/", "Публікації"),
            ("columns/", "Колонки"),
            ("interview/", "Інтерв'ю"),
            ("podcasts/", "Подкасти"),
            ("projects/", "Спецпроєкти"),
            ("archives/calendar/", "Архів"),
        ),
        projects_title="Проєкти «Української правди»",
        topics_title="Теми",
        read_also="Читайте також:",
        link_copied="Посилання скопійовано",
        main_news="Головне на Українській правді",
        all_news="Усі новини",
        comment_rules="Шановні читачі, просимо дотримуватися",
        comment_rules_link="Правил коментування",
        ad_label="Реклама:",
        rights="© 2000-2025, Українська правда",
        footer_menu=(
            ("mediakit/", "Реклама на сайті"),
            ("rules/", "Правила використання матеріалів УП"),
            ("ai-policy/", "Політика ШІ"),
            ("internship/", "Стажування"),
        ),
        footer_note=(
            "Використання матеріалів сайту дозволене лише з посиланням на «Українську правду», "
            "для інтернет-видань — з гіперпосиланням, відкритим для пошукових систем."
        ),
        feed_description="Останні новини «Української правди»",
        breadcrumb_home="Головна",
        news_section="Новини",
    ),
    "ru": PravdaLang(
        code="ru",
        root=f"{PRAVDA}/rus/",
        site_name="Украинская правда",
        months=(
            "января",
            "февраля",
            "марта",
            "апреля",
            "мая",
            "июня",
            "июля",
            "августа",
            "сентября",
            "октября",
            "ноября",
            "декабря",
        ),
        support="Поддержать УП",
        sections_title="Разделы",
        sections=(
            ("news/", "Новости"),
            ("articles/", "Публикации"),
            ("columns/", "Колонки"),
            ("interview/", "Интервью"),
            ("podcasts/", "Подкасты"),
            ("projects/", "Спецпроекты"),
            ("archives/calendar/", "Архив"),
        ),
        projects_title="Проекты «Украинской правды»",
        topics_title="Темы",
        read_also="Читайте также:",
        link_copied="Ссылка скопирована",
        main_news="Главное на Украинской правде",
        all_news="Все новости",
        comment_rules="Уважаемые читатели, просим соблюдать",
        comment_rules_link="Правила комментирования",
        ad_label="Реклама:",
        rights="© 2000-2025, Украинская правда",
        footer_menu=(
            ("mediakit/", "Реклама на сайте"),
            ("rules/", "Правила использования материалов УП"),
            ("ai-policy/", "Политика ИИ"),
            ("internship/", "Стажировка"),
        ),
        footer_note=(
            "Использование материалов сайта разрешено только со ссылкой на «Украинскую правду», "
            "для интернет-изданий — с гиперссылкой, открытой для поисковых систем."
        ),
        feed_description="Последние новости «Украинской правды»",
        breadcrumb_home="Главная",
        news_section="Новости",
    ),
}


def pravda_date(moment: datetime, lang: str) -> str:
    """ "1 липня, 16:42": the byline date of the real template (no year)."""
    month = PRAVDA_LANG[lang].months[moment.month - 1]
    return f"{moment.day} {month}, {moment:%H:%M}"


def pravda_author_url(author: Named, lang: str) -> str:
    """``/authors/<slug>/`` (``/rus/authors/`` in Russian), as on the real page."""
    return f"{PRAVDA_LANG[lang].root}authors/{author.slug}/"


def pravda_tag_url(tag: Named, lang: str) -> str:
    """``/tags/<slug>/`` (``/rus/tags/`` in Russian), as on the real page."""
    return f"{PRAVDA_LANG[lang].root}tags/{tag.slug}/"


def pravda_lang_menu(story: PravdaStory, lang: str) -> str:
    """The "Укр Рос" switcher (``div.lang_menu``), linking the two versions of the story."""
    items = []
    for code, label in (("uk", "Укр"), ("ru", "Рос")):
        active = " lang_menu_item_active" if code == lang else ""
        items.append(
            f'<a href="{e(story.url(code))}" class="lang_menu_item {active}">'
            f'<span class="options_text">{label}</span></a>'
        )
    return '<div class="lang_menu">\n' + "\n".join(items) + "\n</div>"


def pravda_header(story: PravdaStory, lang: str) -> str:
    """Site header as in the real template: logo, language menu, pop-up menus, main menu."""
    words = PRAVDA_LANG[lang]
    sections = "\n".join(
        f'<li><a href="{words.root}{path}">{e(name)}</a></li>' for path, name in words.sections
    )
    projects = "\n".join(
        f'<li><a href="{url}">{e(uk if lang == "uk" else ru)}</a></li>'
        for url, uk, ru in PRAVDA_PROJECTS
    )
    topics = "\n".join(
        f'<li><a href="{e(pravda_tag_url(t, lang))}">{e(t.names[lang])}</a></li>'
        for t in story.tags
    )
    main_menu = "\n".join(
        f'<li class="main_topic"><a href="{words.root}{path}">{e(name)}</a></li>'
        for path, name in words.sections
    )
    menu = pravda_lang_menu(story, lang)
    return (
        '<div class="unit_header_banner"></div>\n'
        '<header class="header">\n<div class="header_main"><div class="layout_wrapper">'
        '<div class="header_wrapper">\n'
        '<div class="header_wrapper_l"><a class="top_menu_link" href="#">'
        '<span class="icon_menu"></span><span class="icon_close"></span></a></div>\n'
        '<div class="header_wrapper_t"><a class="theme_link" id="theme-toggle" href="#">'
        '<span class="icon_night"></span><span class="icon_day"></span></a></div>\n'
        f'<div class="header_wrapper_c"><div class="header_logo"><a href="{words.root}">'
        f'<img src="{PRAVDA}/up/img/up-logo.svg" alt="{e(words.site_name)}"></a></div></div>\n'
        f"{menu}\n"
        '<div class="header_wrapper_r"><a class="top_options_club" '
        'href="https://club.pravda.com.ua/?utm_source=site">'
        f'<span class="options_text">{e(words.support)}</span></a></div>\n'
        "</div></div></div>\n"
        '<div class="popup menu_popup"><div class="layout_wrapper">\n'
        f"{menu}\n"
        '<div class="top_menu_wrapper">\n'
        f'<nav class="top_menu_item"><div class="top_menu_title"><span>{e(words.sections_title)}'
        f'</span></div>\n<ul class="top_menu">\n{sections}\n</ul></nav>\n'
        f'<nav class="top_menu_item"><div class="top_menu_title"><span>{e(words.projects_title)}'
        f'</span></div>\n<ul class="top_menu_proj">\n{projects}\n</ul></nav>\n'
        f'<nav class="top_menu_item"><div class="top_menu_title"><span>{e(words.topics_title)}'
        f'</span></div>\n<ul class="top_menu_sp">\n{topics}\n</ul></nav>\n'
        "</div></div></div>\n"
        '<div class="popup search_popup"><div class="layout_wrapper">'
        f'<div class="search_form_wrapper"><form action="{PRAVDA}/search/">'
        '<div class="search_form">'
        '<input class="search_field" type="text" name="search">'
        '<input class="search_button" type="submit" value=""></div></form></div></div></div>\n'
        "</header>\n"
        '<nav class="main_menu_wrapper"><div class="layout_wrapper"><ul class="main_menu">\n'
        f"{main_menu}\n"
        "</ul></div></nav>"
    )


def pravda_footer(lang: str) -> str:
    """Site footer: copyright, social links, rules menu, the reprint note."""
    words = PRAVDA_LANG[lang]
    socials = (
        "https://www.facebook.com/UkrainskaPravda",
        "https://x.com/UkrPravda_news",
        "https://t.me/ukrpravda_news",
        "https://www.youtube.com/channel/UChparf_xrUZ_CJGQY5g4aEg",
        f"{words.root}rss-info/",
    )
    social = "".join(f'<a href="{u}"><span class="icon"></span></a>' for u in socials)
    menu = "\n".join(
        f'<li><a href="{words.root}{path}">{e(name)}</a></li>' for path, name in words.footer_menu
    )
    return (
        '<footer class="footer"><div class="layout_wrapper">\n'
        f'<div class="footer_logo"><a href="{words.root}"><img src="{PRAVDA}/up/img/up-logo.svg" '
        f'alt="{e(words.site_name)}"></a></div>\n'
        f'<div class="footer_copy">{e(words.rights)}</div>\n'
        f'<div class="footer_social_wrapper">{social}</div>\n'
        '<div class="footer_info"><div class="footer_info_menu"><ul class="footer_menu">\n'
        f"{menu}\n</ul></div>\n"
        f'<div class="footer_info_text"><p>{e(words.footer_note)}</p></div></div>\n'
        "</div></footer>"
    )


def pravda_read_also(target: PravdaStory, lang: str) -> str:
    """The "Читайте також:" paragraph linking another story (fundus strips these lines)."""
    words = PRAVDA_LANG[lang]
    title = target.versions[lang].title
    return f'<p>{e(words.read_also)} <a href="{e(target.url(lang))}">{e(title)}</a></p>'


def pravda_image_box(story: PravdaStory, version: PravdaVersion) -> str:
    """The in-text photo as the real template has it: ``div.image-box`` with caption, source."""
    src = PRAVDA_IMG + story.image
    return (
        '<div class="image-box image-box_center ">\n'
        f'<picture><source type="image/webp" srcset="{e(src)}?w=1210&amp;q=90&amp;f=webp">'
        f'<img src="{e(src)}?w=1210&amp;q=90" alt="{e(version.photo_caption)}" loading="lazy">'
        "</picture>\n"
        f'<div class="image-box__caption">{e(version.photo_caption)}</div>\n'
        f'<div class="image-box__author">{e(version.photo_source)}</div>\n'
        "</div>"
    )


def pravda_text(story: PravdaStory, lang: str, read_also: PravdaStory | None) -> str:
    """Inside ``div.post_article_text``: paragraphs, the read-also line after the second, the
    photo after the third."""
    version = story.versions[lang]
    blocks: list[str] = []
    for n, paragraph in enumerate(version.body, 1):
        blocks.append(f"<p>{e(paragraph)}</p>")
        if n == 2 and read_also is not None:
            blocks.append(pravda_read_also(read_also, lang))
        if n == 3:
            blocks.append(pravda_image_box(story, version))
    return "\n".join(blocks)


def pravda_json_ld(story: PravdaStory, lang: str) -> str:
    """The NewsArticle block (the real page's ``Article`` block, reduced to its skeleton)."""
    words = PRAVDA_LANG[lang]
    version = story.versions[lang]
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": version.title,
        "description": version.description,
        "articleSection": words.news_section,
        "keywords": [t.names[lang] for t in story.tags],
        "inLanguage": lang,
        "isAccessibleForFree": True,
        "datePublished": story.published.isoformat(),
        "dateModified": (story.modified or story.published).isoformat(),
        "mainEntityOfPage": {"@type": "WebPage", "@id": story.url(lang)},
        "image": {
            "@type": "ImageObject",
            "url": PRAVDA_IMG + story.image,
            "caption": version.photo_caption,
        },
        "author": [
            {"@type": "Person", "name": a.names[lang], "url": pravda_author_url(a, lang)}
            for a in story.authors
        ],
        "publisher": {
            "@type": "NewsMediaOrganization",
            "name": words.site_name,
            "url": words.root,
            "logo": {"@type": "ImageObject", "url": f"{PRAVDA}/up/img/up-logo.jpg"},
            "@id": f"{PRAVDA}/#organization",
        },
    }
    crumbs = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": n, "item": {"@id": url, "name": name}}
            for n, (url, name) in enumerate(
                (
                    (words.root, words.breadcrumb_home),
                    (f"{words.root}news/", words.news_section),
                    (story.url(lang), version.title),
                ),
                1,
            )
        ],
    }
    return json_ld(data) + "\n" + json_ld(crumbs)


def pravda_other_news(others: list[PravdaStory], lang: str) -> str:
    """The "main news" sidebar of the real template: other stories, with author and date."""
    words = PRAVDA_LANG[lang]
    items = []
    for other in others:
        version = other.versions[lang]
        authors = ", ".join(a.names[lang] for a in other.authors)
        items.append(
            '<div class="article article_story_grid"><div class="article_body">\n'
            f'<div class="article_media"><img src="{e(PRAVDA_IMG + other.image)}?w=770" '
            'alt="" loading="lazy"></div>\n'
            '<div class="article_content">'
            f'<div class="article_title"><a href="{e(other.url(lang))}">{e(version.title)}</a>'
            f'</div>\n<div class="article_date">{e(authors)}, '
            f"{pravda_date(other.published, lang)}</div></div>\n"
            "</div></div>"
        )
    return (
        '<aside class="section_other_news">\n'
        f'<div class="section_title section_title_sm"><span>{e(words.main_news)}</span></div>\n'
        '<div class="section_other_news_wrapper">\n' + "\n".join(items) + "\n</div>\n"
        f'<a class="button button_more" href="{words.root}news/">'
        f'<span class="button_text">{e(words.all_news)}</span></a>\n'
        "</aside>"
    )


def pravda_page(story: PravdaStory, lang: str, same_site: list[PravdaStory]) -> str:
    """One Pravda article page in ``lang``."""
    words = PRAVDA_LANG[lang]
    version = story.versions[lang]
    url = story.url(lang)
    others = [s for s in same_site if s is not story]
    i = same_site.index(story)
    # The read-also target: the next older story, else the newest other one.
    read_also = same_site[i + 1] if i + 1 < len(same_site) else (others[0] if others else None)
    image = PRAVDA_IMG + story.image
    title = f"{version.title} | {words.site_name}"
    head = "\n".join(
        [
            '<meta charset="utf-8"/>',
            '<meta name="robots" content="index, follow, max-image-preview:large">',
            '<meta name="viewport" content="width=device-width,initial-scale=1">',
            f'<link rel="alternate" hreflang="x-default" href="{e(story.url("uk"))}">',
            f'<link rel="alternate" hreflang="uk" href="{e(story.url("uk"))}">',
            f'<link rel="alternate" hreflang="ru" href="{e(story.url("ru"))}">',
            f'<link rel="canonical" href="{e(url)}" />',
            f"<title>{e(title)}</title>",
            f'<meta name="title" content="{e(title)}">',
            f'<meta name="description" content="{e(version.description)}"/>',
            f'<meta property="og:title" content="{e(version.title)}"/>',
            f'<meta property="og:description" content="{e(version.description)}"/>',
            f'<meta property="og:site_name" content="{e(words.site_name)}"/>',
            '<meta property="og:type" content="article"/>',
            f'<meta property="og:url" content="{e(url)}"/>',
            f'<meta property="og:image" content="{e(image)}?w=1200&amp;q=85"/>',
            '<meta name="twitter:card" content="summary_large_image">',
            '<meta name="twitter:site" content="@ukrpravda_news">',
            f'<meta name="twitter:title" content="{e(version.title)}"/>',
            pravda_json_ld(story, lang),
        ]
    )
    authors = "\n".join(
        f'<a href="{e(pravda_author_url(a, lang))}" class="post_article_author_item">'
        f'<span class="post_author_media"></span>'
        f'<span class="post_author_name">{e(a.names[lang])}</span></a>'
        for a in story.authors
    )
    tags = "\n".join(
        f'<a href="{e(pravda_tag_url(t, lang))}">{e(t.names[lang])}</a>' for t in story.tags
    )
    social = "".join(
        f'<a href="" class="button"><span class="{icon}"></span></a>'
        for icon in ("icon_fb", "icon_x", "icon_telegram")
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n'
        f"<head>\n{head}\n</head>\n"
        "<body>\n"
        f"{pravda_header(story, lang)}\n"
        '<div class="main"><div class="section_article section_article_middle">\n'
        '<article class="post_article">\n'
        '<header class="post_article_header"><div class="post_article_header_content">\n'
        f'<h1 class="post_article_title">{e(version.title)}</h1>\n'
        f'<div class="post_article_author">\n{authors}\n'
        f'<span class="post_author_date">{pravda_date(story.published, lang)}</span>\n</div>\n'
        "</div></header>\n"
        '<div class="layout_wrapper_article">\n'
        '<aside class="post_article_service">\n'
        f'<div class="post_article_social post_article_social_top">{social}'
        '<a href="" class="copy_button"><span class="icon_link"></span></a>'
        f'<div class="tooltip">{e(words.link_copied)}</div></div>\n'
        '<div class="post_statistic"><div class="post_views" id="articleCountView"></div></div>\n'
        "</aside>\n"
        '<div class="post_article_body_wrapper">\n<div class="post_article_body">\n'
        f'<div class="post_article_text">\n{pravda_text(story, lang, read_also)}\n</div>\n'
        f'<div class="post_news_tags">\n{tags}\n</div>\n'
        '<div class="unit_header_banner"></div>\n'
        f'<div class="advtext1">{e(words.comment_rules)} '
        f'<a href="https://bit.ly/3fTzHw1">{e(words.comment_rules_link)}</a></div>\n'
        "</div>\n"
        '<aside class="post_article_side"><div class="unit_header_banner">'
        f'<div class="advtext">{e(words.ad_label)}</div>'
        '<div><div class="nts-ad nts-ad-h600"></div></div></div></aside>\n'
        "</div>\n"
        f"{pravda_other_news(others, lang)}\n"
        "</div>\n"
        "</article>\n"
        "</div></div>\n"
        f"{pravda_footer(lang)}\n"
        "</body>\n</html>\n"
    )


def pravda_rss(stories: list[PravdaStory], lang: str) -> str:
    """RSS 2.0 of one language: title, link, guid, pubDate (+0300 in July), description."""
    words = PRAVDA_LANG[lang]
    items = []
    for story in stories:
        version = story.versions[lang]
        url = xml_escape(story.url(lang))
        items.append(
            "<item>\n"
            f"<title>{xml_escape(version.title)}</title>\n"
            f"<link>{url}</link>\n"
            f'<guid isPermaLink="true">{url}</guid>\n'
            f"<pubDate>{format_datetime(story.published)}</pubDate>\n"
            f"<description>{xml_escape(version.description)}</description>\n"
            "</item>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0">\n<channel>\n'
        f"<title>{xml_escape(words.site_name)}</title>\n"
        f"<link>{words.root}</link>\n"
        f"<description>{xml_escape(words.feed_description)}</description>\n"
        f"<language>{lang}</language>\n"
        f"<lastBuildDate>{format_datetime(stories[0].published)}</lastBuildDate>\n"
        + "".join(items)
        + "</channel>\n</rss>\n"
    )


# --- Euronews -----------------------------------------------------------------------------------

# The language switcher of the real page: (href, lang, hreflang, label).
EURONEWS_EDITIONS = (
    ("https://fr.euronews.com", "fr-FR", "fr", "Français"),
    ("https://de.euronews.com", "de-DE", "de", "Deutsch"),
    ("https://it.euronews.com", "it-IT", "it", "Italiano"),
    ("https://es.euronews.com", "es-ES", "es", "Español"),
    ("https://pt.euronews.com", "pt-PT", "pt", "Português"),
    ("https://pl.euronews.com", "pl-PL", "pl", "Polski"),
    ("https://ru.euronews.com", "ru-RU", "ru", "Русский"),
    ("https://tr.euronews.com", "tr-TR", "tr", "Türkçe"),
    ("https://gr.euronews.com", "el-GR", "el", "Ελληνικά"),
    ("https://hu.euronews.com", "hu-HU", "hu", "Magyar"),
    ("https://parsi.euronews.com", "fa-IR", "fa", "فارسی"),
    ("https://arabic.euronews.com", "ar-AE", "ar", "العربية"),
)
EURONEWS_NAV = (
    ("/just-in", "Latest"),
    ("/my-europe", "Europe"),
    ("/news", "World"),
    ("/tag/eu-policy", "EU Policy"),
    ("/business", "Business"),
    ("/travel", "Travel"),
    ("/next", "Next"),
    ("/culture", "Culture"),
    ("/green", "Green"),
    ("/health", "Health"),
    ("/video", "Videos"),
)
EURONEWS_SECONDARY = (
    ("/newsletters", "Newsletters"),
    ("https://events.euronews.com/events", "Events"),
    ("https://podcasts.euronews.com/", "Podcasts"),
    ("/video", "Videos"),
    ("https://www.africanews.com/", "Africanews"),
)
EURONEWS_FOOTER = (
    ("Themes", (("/my-europe", "Europe"), ("/news", "World"), ("/business", "Business"),
                ("/green", "Green"), ("/next", "Next"), ("/culture", "Culture"))),
    ("Services", (("/live", "Live"), ("/just-in", "Latest"), ("/weather", "Weather"),
                  ("/follow-us", "Follow us"), ("/apps", "Apps"))),
    ("More", (("/about", "About Euronews"), ("/terms-and-conditions", "Terms and Conditions"),
              ("/cookie-policy", "Cookie Policy"), ("/contact", "Contact"))),
)  # fmt: skip


def tag_path(tag: str) -> str:
    """``/tag/<slug>`` as the real page links its tags."""
    return "/tag/" + re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")


def euronews_switcher(story: EuronewsStory) -> str:
    """``div.c-language-switcher``: English (this page) and the other editions; an edition the
    story exists in links that version, the others their home page, as on the real page."""
    items = [
        '<li id="menu-item-1" role="menuitem" class="u-position-relative has-separator">'
        '<a class="js-alternateLink c-language-switcher__list__item is-active" '
        f'href="{e(story.url)}" lang="en-GB" hreflang="en">English</a></li>'
    ]
    for n, (home, locale, code, label) in enumerate(EURONEWS_EDITIONS, 2):
        href = story.alternates.get(code, home)
        items.append(
            f'<li id="menu-item-{n}" role="menuitem" class="u-position-relative has-separator">'
            '<a class="js-alternateLink c-language-switcher__list__item" '
            f'href="{e(href)}" lang="{locale}" hreflang="{code}">{e(label)}</a></li>'
        )
    return (
        '<div id="adb-header-language-switcher" class="c-language-switcher">\n'
        '<input class="u-display-none" id="c-language-switcher-list-open" type="checkbox">\n'
        '<label for="c-language-switcher-list-open" id="btn-language-switcher" '
        'class="c-language-switcher__btn u-chevron-be-a">English</label>\n'
        '<ul id="menu-language-switcher" class="c-language-switcher__list" role="menu">\n'
        + "\n".join(items)
        + "\n</ul>\n</div>"
    )


def euronews_header(story: EuronewsStory) -> str:
    """Site header: accessibility bar, language switcher, secondary links, search, main nav."""
    secondary = "\n".join(
        f'<a class="c-header-nav-secondary-link" href="{href}">'
        f'<span class="c-header-nav-secondary-link__text">{e(name)}</span></a>'
        for href, name in EURONEWS_SECONDARY
    )
    nav = "\n".join(
        f'<li class="c-navigation-bar__item"><a class="c-navigation-bar__link" href="{href}">'
        f"{e(name)}</a></li>"
        for href, name in EURONEWS_NAV
    )
    shortcuts = "".join(
        f'<li><a class="accessibility-bar__link" href="#{target}">{e(text)}</a></li>'
        for target, text in (
            ("enw-navigation-bar", "Go to navigation"),
            ("enw-main-content", "Go to main content"),
            ("search-autocomplete", "Go to search"),
            ("enw-site-footer", "Go to footer"),
        )
    )
    return (
        f'<nav id="accessibility-bar"><ul id="accessibility-bar__menu">{shortcuts}</ul></nav>\n'
        '<header class="o-site-hr">\n'
        '<div class="helper-site-row o-site-hr__first-level u-hide-for-mobile-only">'
        '<div class="helper-site-container o-site-hr__first-level__container">\n'
        f"{euronews_switcher(story)}\n"
        f"{secondary}\n"
        '<form id="search-autocomplete" class="c-search-engine c-search-form" action="/search">'
        '<input class="c-search-engine__input c-search-form__input" type="search" name="query">'
        '<button class="c-search-engine__button c-search-form__button">Search</button></form>\n'
        "</div></div>\n"
        '<div class="helper-site-row o-site-hr__second-level">'
        '<div class="helper-site-container o-site-hr__second-level__container">\n'
        '<div class="o-site-hr__second-level__burger-logo">'
        '<div class="c-logo" id="adb-header-logo">'
        '<a class="c-logo__link" href="/"><img src="https://static.euronews.com/website/images/'
        'vector/logos/logo-euronews-72-17.svg" alt="Euronews"></a></div></div>\n'
        '<nav id="enw-navigation-bar" class="c-navigation-bar u-hide-for-mobile-only">'
        f'<ul class="c-navigation-bar__wrappable-list">\n{nav}\n</ul></nav>\n'
        "</div></div>\n"
        "</header>"
    )


def euronews_footer(stories: list[EuronewsStory]) -> str:
    """Site footer: "Browse today's tags", the site map lists, socials, copyright."""
    tags = list(dict.fromkeys(t for s in stories for t in s.tags))
    tag_items = "\n".join(
        f'<li class="c-tags-list__item"><a class="c-cta" href="{tag_path(t)}">{e(t)}</a></li>'
        for t in tags
    )
    lists = []
    for n, (heading, links) in enumerate(EURONEWS_FOOTER, 1):
        items = "".join(
            f'<li><a class="c-footer-sitemap__list-item" href="{href}">{e(name)}</a></li>'
            for href, name in links
        )
        lists.append(
            f'<div class="c-footer-sitemap__list o-template-footer__element-{n}">'
            f'<label class="c-footer-sitemap__list-heading">{e(heading)}</label>'
            f'<ul class="c-footer-sitemap__list-fold">{items}</ul></div>'
        )
    socials = "".join(
        f'<li class="c-social-share__item"><a href="{u}">{name}</a></li>'
        for u, name in (
            ("https://www.facebook.com/euronews", "Facebook"),
            ("https://twitter.com/euronews", "X"),
            ("https://www.youtube.com/euronews", "YouTube"),
            ("https://www.linkedin.com/company/euronews", "LinkedIn"),
        )
    )
    return (
        '<footer id="enw-site-footer" class="perf-cv-auto c-footer">\n'
        '<section class="helper-site-row c-footer-search">'
        '<div class="helper-site-container c-footer-search__tags">'
        '<p class="c-footer-search__tag-title"><span class="u-margin-start-1">'
        "Browse today's tags</span></p>\n"
        f'<ul class="c-tags-list c-tags-list--grey-rendering">\n{tag_items}\n</ul>'
        "</div></section>\n"
        '<section class="c-footer-sitemap">'
        '<div class="o-template-footer o-template-footer--menu-3-col">\n'
        + "\n".join(lists)
        + '\n<div class="o-template-footer__element-socials">'
        '<div class="c-footer-sitemap__follow-socials">'
        f'<a class="c-cta" href="/follow-us">Follow us</a><ul class="c-social-share">{socials}</ul>'
        '<a class="c-cta" href="/newsletters">Newsletters</a></div></div>\n'
        "</div>\n"
        '<div class="c-footer-sitemap__copyright"><div class="c-footer-sitemap__copyright__text">'
        "Copyright © euronews 2025</div></div></section>\n"
        "</footer>"
    )


def euronews_media_object(story: EuronewsStory, position: str) -> str:
    """One teaser of a related story (the real page's ``the-media-object``)."""
    path = urlsplit(story.url).path
    return (
        f'<article class="the-media-object the-media-object--no-label" id="{position}">'
        f'<figure class="the-media-object__figure"><a href="{e(path)}">'
        f'<img class="the-media-object__image" src="{e(EURONEWS_IMG + story.image)}" alt=""></a>'
        '</figure><div class="the-media-object__content">'
        f'<a class="the-media-object__link" href="{e(path)}">'
        f'<h2 class="the-media-object__title">{e(story.title)}</h2></a></div></article>'
    )


def euronews_aside(others: list[EuronewsStory]) -> str:
    """The sidebar ``aside``: advertisement slots, "Top stories" and "Most read" (related)."""
    ad = (
        '<div class="c-ad-wrapper"><div class="c-ad c-ad-halfpage u-show-for-desktop">'
        '<div class="c-ad__adzone advertising js-adzone"></div><div class="c-ad__placeholder">'
        "<span>ADVERTISEMENT</span></div></div></div>"
    )
    top = "\n".join(
        f'<div class="c-top-stories__item">{euronews_media_object(s, f"top-{n}")}</div>'
        for n, s in enumerate(others, 1)
    )
    most = "\n".join(
        f'<div class="c-most-viewed__item"><span class="c-most-viewed__item__number">{n}</span>'
        f"{euronews_media_object(s, f'most-{n}')}</div>"
        for n, s in enumerate(reversed(others), 1)
    )
    return (
        '<aside class="o-article-newsy__aside">\n'
        f"{ad}\n"
        '<div class="perf-cv-auto c-top-stories" id="adb-article-top-stories">'
        '<h2 class="c-top-stories__title"><a href="/">Top stories</a></h2>\n'
        f"{top}\n</div>\n"
        f"{ad}\n"
        '<div class="perf-cv-auto c-most-viewed"><h2 class="c-most-viewed__title">Most read</h2>'
        f'<div class="c-most-viewed__list">\n{most}\n</div></div>\n'
        "</aside>"
    )


def euronews_inline_image(image: InlineImage) -> str:
    """A picture inside the text: the real template's image widget, figure and figcaption."""
    src = EURONEWS_IMG + image.image
    return (
        '<div class="widget widget--type-image widget--size-fullwidth widget--align-center">\n'
        '<div class="widget__wrapper"><div class="widget__contents">'
        f'<figure class="widget__figure"><img class="widgetImage__image" loading="lazy" '
        f'src="{e(src)}" alt="{e(image.caption)}">'
        '<figcaption class="widget__caption"><span class="widget__captionWrap">'
        f'<span class="widget__captionText">{e(image.caption)}</span> '
        f'<span class="widget__captionCredit">{e(image.credit)}</span></span></figcaption>'
        "</figure></div></div>\n</div>"
    )


def euronews_content(story: EuronewsStory) -> str:
    """Inside ``div.c-article-content``: the paragraphs, the (disabled) video player slot
    after the second and the inline picture, if any, after the third, as the real page has."""
    blocks: list[str] = []
    for n, paragraph in enumerate(story.body, 1):
        blocks.append(f"<p>{e(paragraph)}</p>")
        if n == 2:
            blocks.append(
                '<div id="connatix-container-disabled" class="connatix-container">'
                '<div id="connatix-player-disabled" data-ad-name="connatix"></div></div>'
            )
        if n == 3 and story.inline_image is not None:
            blocks.append(euronews_inline_image(story.inline_image))
    return "\n".join(blocks)


def euronews_date_line(story: EuronewsStory) -> str:
    """ "Published on 01/07/2025 - 09:30 GMT+2 • Updated 10:02", with the real page's markup."""
    published = story.published
    hours = int((published.utcoffset() or timedelta(0)).total_seconds()) // 3600
    line = (
        f'<div class="c-article-publication-date" data-timestamp="{int(published.timestamp())}">'
        f'Published on <time datetime="{euronews_stamp(published)}">'
        f"{published:%d/%m/%Y - %H:%M} GMT{hours:+d}</time>"
    )
    if story.updated is not None:
        line += (
            '<span class="c-article-publication-date__bullet">•</span>Updated '
            f'<time datetime="{story.updated:%H:%M}">{story.updated:%H:%M}</time>'
        )
    return line + "</div>"


def euronews_page(story: EuronewsStory, stories: list[EuronewsStory]) -> str:
    """One Euronews article page."""
    others = [s for s in stories if s is not story]
    image = EURONEWS_IMG + story.image
    keywords = ",".join(story.tags)
    alternates = [
        f'<link rel="alternate" hreflang="{code}" href="{e(url)}">'
        for code, url in story.alternates.items()
    ]
    website = {
        "@context": "https://schema.org/",
        "@type": "WebSite",
        "name": "Euronews.com",
        "url": f"{EURONEWS}/",
        "potentialAction": {
            "@type": "SearchAction",
            "target": f"{EURONEWS}/search?query={{search_term_string}}",
            "query-input": "required name=search_term_string",
        },
    }
    crumbs_ld = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": n, "name": name, "item": f"{EURONEWS}{path}"}
            for n, (name, path) in enumerate((("Home", "/"), *story.breadcrumbs), 1)
        ],
    }
    head = "\n".join(
        [
            '<meta charset="UTF-8">',
            f"<title>{e(story.headline)} | Euronews</title>",
            f'<meta name="description" content="{e(story.summary)}">',
            f'<meta name="keywords" content="{e(keywords)}">',
            '<meta name="robots" content="max-snippet:-1, max-image-preview:large">',
            f'<meta name="date.created" content="{story.published:%Y-%m-%d %H:%M:%S}">',
            f'<meta name="date.available" content="{euronews_stamp(story.published)}">',
            f'<meta name="date.updated" content="{story.lastmod:%Y-%m-%d %H:%M:%S}">',
            f'<meta name="date.modified" content="{euronews_stamp(story.lastmod)}">',
            f'<meta name="article:modified_time" content="{euronews_stamp(story.lastmod)}">',
            f'<meta name="article:published_time" content="{euronews_stamp(story.published)}">',
            *(f'<meta name="article:tag" content="{e(t)}">' for t in story.tags),
            f'<meta name="article:author" content="{e(story.author)}">',
            f'<meta name="article:section" content="{e(story.section)}">',
            f'<meta name="news_keywords" content="{e(keywords)}">',
            f'<link rel="canonical" href="{e(story.url)}">',
            f'<link rel="alternate" hreflang="en" href="{e(story.url)}">',
            *alternates,
            f'<link rel="alternate" hreflang="x-default" href="{EURONEWS}">',
            '<meta property="og:locale" content="en-GB">',
            # http://, not https://, exactly as on the real page.
            f'<meta property="og:url" content="{e(story.url.replace("https://", "http://", 1))}">',
            '<meta property="og:site_name" content="euronews">',
            '<meta property="og:type" content="article">',
            f'<meta property="og:title" content="{e(story.title)}">',
            f'<meta property="og:description" content="{e(story.summary)}">',
            f'<meta property="og:image" content="{e(image)}">',
            f'<meta property="og:image:alt" content="{e(story.headline)}">',
            '<meta name="twitter:site" content="@euronews">',
            f'<meta name="twitter:title" content="{e(story.title)}">',
            '<meta name="twitter:card" content="summary_large_image">',
            json_ld(website),
            '<link rel="alternate" type="application/rss+xml" '
            f'href="{EURONEWS}/rss?level=vertical&amp;name=news"/>',
        ]
    )
    crumbs = '<span class="c-article-breadcrumbs__separator u-chevron-ie-a"></span>'.join(
        [
            f'<a class="c-article-breadcrumbs__link" href="{EURONEWS}/"></a>',
            *(
                f'<a class="c-article-breadcrumbs__link" href="{EURONEWS}{path}">{e(name)}</a>'
                for name, path in story.breadcrumbs
            ),
        ]
    )
    share = (
        '<div class="c-article-partage-commentaire u-align-items-center u-display-flex">'
        '<span class="c-article-partage-commentaire__links js-c-article-partage-commentaire-share">'
        "<span>Share</span></span>"
        '<a class="c-article-partage-commentaire__links '
        'c-article-partage-commentaire__links__comments" href="#vuukle-comments">'
        "<span>Comments</span></a></div>"
    )
    read_more = "\n".join(
        '<div class="c-article-you-might-also-like__item"><h3>'
        f'<a class="c-article-you-might-also-like__link" href="{e(urlsplit(s.url).path)}">'
        f"{e(s.title)}</a></h3></div>"
        for s in others
    )
    tags = "\n".join(
        f'<li class="c-tags-list__item"><a class="c-cta" href="{tag_path(t)}">{e(t)}</a></li>'
        for t in story.tags
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        f"<head>\n{head}\n</head>\n"
        '<body class="u-overflow-x-hidden is-template-article">\n'
        f"{euronews_header(story)}\n"
        '<main id="enw-main-content" class="o-site-main">\n'
        '<article class="helper-site-row o-article-newsy">'
        '<div class="helper-site-container o-article-newsy__container">\n'
        '<div class="o-article-newsy__main">\n'
        '<header class="h-grid o-article-newsy__main__header">\n'
        '<nav class="c-article-breadcrumbs"><div class="c-article-breadcrumbs__list" '
        f'id="adb-article-breadcrumb">{crumbs}</div></nav>\n'
        f'<h1 class="c-article-redesign-title">{e(story.headline)}</h1>\n'
        '<div class="c-article-image-video u-position-relative">\n'
        '<div class="js-superdiv u-aspect-ratio-16x9 u-position-relative">'
        f'<img class="js-poster-img c-article-media__img" src="{e(image)}" '
        f'alt="{e(story.headline)}"></div>\n'
        '<div class="c-article-caption u-position-absolute">'
        '<i id="article-caption-content" class="c-article-caption__content">'
        f'<span class="c-article-caption__text">{e(story.caption)} '
        '<span class="u-color-white">- </span>'
        '<span class="c-article-caption__copyright">Copyright </span>'
        f'<span class="c-article-caption__credit">{e(story.credit)}</span></span>'
        '<button class="c-article-caption__close-button" aria-label="Close alert"></button>'
        "</i></div>\n"
        '<div class="c-article-image-copyright c-article-image-copyright--novideo">'
        f"Copyright {e(story.credit)}</div>\n"
        "</div>\n"
        "</header>\n"
        '<div class="h-grid o-article-newsy__main__body u-article-content">\n'
        '<div class="o-article-newsy__contributors-publication-date">'
        f'<div class="c-article-contributors">By <a href="/profiles/{story.author_profile}">'
        f"{e(story.author)}</a></div>\n{euronews_date_line(story)}</div>\n"
        f"{share}\n"
        f'<h2 class="c-article-summary">{e(story.summary)}</h2>\n'
        '<div class="c-article-content js-article-content">\n'
        f"{euronews_content(story)}\n"
        "</div>\n"
        '<a class="accessibility-bar__goto" href="#accessibility-bar__menu">'
        "Go to accessibility shortcuts</a>\n"
        f"{share}\n"
        '<div class="perf-cv-auto c-article-you-might-also-like" '
        'id="adb-article-you-might-also-like">'
        '<h2 class="c-article-you-might-also-like__title">Read more</h2>\n'
        f"{read_more}\n</div>\n"
        f'<div class="perf-cv-auto"><ul class="c-tags-list" id="adb-article-tags">\n{tags}\n'
        "</ul></div>\n"
        "</div>\n"
        "</div>\n"
        f"{euronews_aside(others)}\n"
        "</div></article>\n"
        "</main>\n"
        f"{json_ld(crumbs_ld)}\n"
        f"{euronews_footer(stories)}\n"
        "</body>\n</html>\n"
    )


def w3c(moment: datetime) -> str:
    """W3C date-time with offset (sitemaps' lastmod and news:publication_date)."""
    return moment.isoformat()


SITEMAP_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def news_sitemap(stories: list[EuronewsStory]) -> str:
    """The Google News sitemap: news:news, en + other hreflang alternates, lastmod."""
    urls = []
    for story in stories:
        links = [("en", story.url), *story.alternates.items()]
        alternates = "".join(
            f'<xhtml:link rel="alternate" hreflang="{code}" href="{xml_escape(url)}"/>\n'
            for code, url in links
        )
        urls.append(
            "<url>\n"
            f"<loc>{xml_escape(story.url)}</loc>\n"
            f"<lastmod>{w3c(story.lastmod)}</lastmod>\n"
            "<news:news>\n"
            "<news:publication><news:name>Euronews</news:name>"
            "<news:language>en</news:language></news:publication>\n"
            f"<news:publication_date>{w3c(story.published)}</news:publication_date>\n"
            f"<news:title>{xml_escape(story.title)}</news:title>\n"
            "</news:news>\n"
            f"{alternates}"
            "</url>\n"
        )
    return (
        SITEMAP_HEAD + '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9" '
        'xmlns:xhtml="http://www.w3.org/1999/xhtml">\n' + "".join(urls) + "</urlset>\n"
    )


def month_sitemap(stories: list[EuronewsStory]) -> bytes:
    """The month's plain urlset, gzip-compressed with a fixed mtime (byte-identical builds)."""
    urls = "".join(
        f"<url>\n<loc>{xml_escape(s.url)}</loc>\n<lastmod>{w3c(s.lastmod)}</lastmod>\n</url>\n"
        for s in stories
    )
    xml = (
        SITEMAP_HEAD
        + '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + urls
        + "</urlset>\n"
    )
    return gzip.compress(xml.encode("utf-8"), compresslevel=9, mtime=GZIP_MTIME)


def sitemap_index(stories: list[EuronewsStory]) -> str:
    """The sitemap index: the news sitemap and the month's gzip sitemap."""
    newest = w3c(max(s.lastmod for s in stories))
    entries = "".join(
        f"<sitemap>\n<loc>{xml_escape(url)}</loc>\n<lastmod>{newest}</lastmod>\n</sitemap>\n"
        for url in (NEWS_SITEMAP, MONTH_SITEMAP)
    )
    return (
        SITEMAP_HEAD
        + '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + entries
        + "</sitemapindex>\n"
    )


# --- the mirror ---------------------------------------------------------------------------------


def render(
    pravda: list[PravdaStory], euronews: list[EuronewsStory]
) -> tuple[dict[str, bytes], dict[str, dict[str, Any]]]:
    """Every mirror file (path → bytes) and the ``_headers.json`` overrides."""
    files: dict[str, bytes] = {}
    headers: dict[str, dict[str, Any]] = {}

    def put(url: str, content: str | bytes, content_type: str | None = None) -> None:
        rel = file_for(url)
        if rel in files:
            raise StoryError(f"two pages for one file: {rel}")
        files[rel] = content.encode("utf-8") if isinstance(content, str) else content
        if content_type is not None:
            headers[header_key(url)] = {"Content-Type": content_type}

    if pravda:
        for story in pravda:
            for lang in ("uk", "ru"):
                put(story.url(lang), pravda_page(story, lang, pravda))
        # The feed URLs end in "/", so the mirror would call them HTML: say what they are.
        for lang, url in PRAVDA_FEEDS.items():
            put(url, pravda_rss(pravda, lang), "application/rss+xml; charset=utf-8")
        put(f"{PRAVDA}/robots.txt", PRAVDA_ROBOTS)
    if euronews:
        for article in euronews:
            put(article.url, euronews_page(article, euronews))
        put(NEWS_SITEMAP, news_sitemap(euronews), "application/xml; charset=utf-8")
        put(SITEMAP_INDEX, sitemap_index(euronews), "application/xml; charset=utf-8")
        put(MONTH_SITEMAP, month_sitemap(euronews), "application/x-gzip")
        put(f"{EURONEWS}/robots.txt", EURONEWS_ROBOTS)
    return files, headers


def readme(pravda: list[PravdaStory], euronews: list[EuronewsStory], count: int) -> str:
    """The mirror's README: where the templates come from, what is real, what is assumed."""
    lines = [
        "# Offline mirror of Ukrainska Pravda and Euronews (hand-made)",
        "",
        "Generated by `python3 tools/mirror/build_sites.py` from",
        "`tools/mirror/sites_stories/*.json`; do not edit these files by hand, edit a story file",
        "and rebuild. Served by `ingest.demo`",
        '(`mirror_root("sites")`), which maps `https://<host>/<path>` to `<host>/<path>` here (a',
        "path without an extension to `<path>/index.html`); `_headers.json` gives the RSS feeds",
        "(whose URLs end in `/`) and the sitemaps their XML content types.",
        "",
        "**No page here was saved from either site, and no text comes from them.** Every title,",
        "paragraph, caption, author and tag was written for this project (authors' names are",
        "invented). The pages are hand-made after the real templates of two saved pages:",
        "",
        "- Ukrainska Pravda: `tests/fixtures/news_pages/ua_pravda_rus_2026-01-08_ru.html`",
        "  (https://www.pravda.com.ua/rus/articles/2026/01/08/8015225/, from fundus' test data),",
        "  reduced to its skeleton: `<html lang>`, hreflang x-default/uk/ru, canonical, og: and",
        "  twitter: meta, the JSON-LD article (headline, datePublished, Person authors,",
        "  NewsMediaOrganization publisher) and BreadcrumbList, the header with the",
        '  `div.lang_menu` switcher ("Укр" / "Рос") twice, the pop-up and main menus,',
        "  `article.post_article`, `h1.post_article_title`, `a.post_article_author_item` and",
        "  `span.post_author_date`, the share buttons, `div.post_article_text` with an in-text",
        "  `div.image-box` photo (`image-box__caption`, `image-box__author`),",
        "  `div.post_news_tags`, the comment-rules line, the ad sidebar, the `section_other_news`",
        "  related-news box and the footer.",
        "- Euronews: `tests/fixtures/news_pages/en_euronews_2026-01-06_en.html`",
        "  (https://www.euronews.com/2026/01/06/as-trump-pitches-venezuelan-oil-dream-for-us-companies-experts-warn-it-wont-be-cheap-or-ea,",
        "  from fundus' test data), reduced to its skeleton: the `date.*`, `article:*` (published",
        "  time as `2025-07-01 09:30:12 +02:00`, tags, author, section) and `news_keywords` meta,",
        "  canonical, hreflang en + x-default (the home page, as on the real page), og: meta with",
        "  the short article title in og:title while `<h1>` holds the longer display headline,",
        "  the WebSite and BreadcrumbList JSON-LD (the real page has no NewsArticle block), the",
        "  header with `div.c-language-switcher`, the top photo with `div.c-article-caption` and",
        '  the image copyright line, the "By" byline and "Published on" date, the share bar,',
        "  `h2.c-article-summary`, `div.c-article-content` (with the disabled video-player slot",
        '  and, in some stories, the `widget--type-image` figure), the "Read more" box, the tag',
        "  list, the `aside` sidebar (ads, top stories, most read) and the footer.",
        "",
        "## URL shapes",
        "",
        "Real (seen on the real pages or declared in `ingest/site_entries/*.toml`):",
        "",
        "- Pravda stories `https://www.pravda.com.ua/news/YYYY/MM/DD/NNNNNNN/` (Ukrainian) and",
        "  `https://www.pravda.com.ua/rus/news/YYYY/MM/DD/NNNNNNN/` (Russian), one numeric id for",
        "  both: the real page links `/rus/news/2022/12/13/7380542/` and pairs",
        "  `/articles/…/8015225/` with `/rus/articles/…/8015225/` in its hreflang links. Author",
        "  links `/rus/authors/<id>/`, tag links `/rus/tags/<slug>/` (no `/rus` in Ukrainian).",
        "- Pravda feeds `https://www.pravda.com.ua/rss/view_news/` (uk) and",
        "  `https://www.pravda.com.ua/rus/rss/view_news/` (ru): the `feeds` of pravda.toml (not",
        "  checked live there either).",
        "- Euronews stories `https://www.euronews.com/YYYY/MM/DD/<slug>`, the slug being the",
        "  headline in lower case, apostrophes dropped, cut at 90 characters even mid-word (the",
        "  real page's URL and its related links all show the cut). Author links `/profiles/N`,",
        "  tags `/tag/<slug>`, the language editions on `fr.euronews.com` etc.",
        "- Euronews news sitemap `https://www.euronews.com/sitemaps/en/latest-news.xml`: the",
        "  `sitemaps` of euronews.toml (not checked live).",
        "",
        "Assumptions (not attested by the pages we have):",
        "",
        "- Pravda news pages use the same `post_article` template as the real `/articles/` page",
        "  (the site's news template may be `post_news`, as epravda's is; the site entry's",
        "  selectors cover both). The 7-digit ids around 7519000 for July 2025 are guessed from",
        "  real ids of January 2025 (7492292) and December 2025 (8011465). Image URLs point at",
        "  the real image host with invented paths; no image is mirrored.",
        "- The RSS 2.0 layout of the Pravda feeds (title, link, guid, pubDate in +0300,",
        "  description), and both `robots.txt` files (Pravda: everything allowed but `/search/`;",
        "  Euronews: `Disallow: /search` plus `Sitemap:` lines for the two sitemaps below).",
        "- The sitemap index `https://www.euronews.com/sitemaps/en/index.xml` and the gzip month",
        "  sitemap `https://www.euronews.com/sitemaps/en/articles-2025-07.xml.gz` (written with a",
        "  fixed gzip mtime so every build is byte-identical), and the Google News sitemap's",
        "  exact layout. The French alternate URL in the news sitemap has no page here.",
        "- No English Pravda feed (`/eng/rss/view_news/` in pravda.toml) and no Euronews RSS",
        "  feed (`/rss?level=vertical&name=news` in euronews.toml) are mirrored: both are 404.",
        "",
        "## Stories",
        "",
        f"{len(pravda)} Pravda stories (uk + ru) and {len(euronews)} Euronews stories (en);",
        f"{count} files in all, this README included.",
        "",
        "| URL | published | story file |",
        "|---|---|---|",
    ]
    for p in pravda:
        for lang in ("uk", "ru"):
            lines.append(f"| {p.url(lang)} | {p.published.isoformat()} | `{p.source}` |")
    for s in euronews:
        lines.append(f"| {s.url} | {s.published.isoformat()} | `{s.source}` |")
    lines += [
        "",
        "Feeds and sitemaps:",
        "",
        *(f"- {url}" for url in PRAVDA_FEEDS.values()),
        f"- {SITEMAP_INDEX}",
        f"- {NEWS_SITEMAP}",
        f"- {MONTH_SITEMAP}",
        f"- {PRAVDA}/robots.txt, {EURONEWS}/robots.txt",
        "",
    ]
    return "\n".join(lines)


def build(out_dir: Path = OUT_DIR, stories_dir: Path = STORIES_DIR) -> int:
    """Render everything in memory first (a bad story file leaves the old mirror intact), then
    replace ``out_dir``. Returns the number of files written."""
    pravda, euronews = load_stories(stories_dir)
    files, headers = render(pravda, euronews)
    files["_headers.json"] = (json.dumps(headers, indent=2, sort_keys=True) + "\n").encode()
    files["README.md"] = readme(pravda, euronews, len(files) + 1).encode("utf-8")
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
        print(f"build_sites: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {count} files to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
