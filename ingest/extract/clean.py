"""Boilerplate removal on the article fragment: rules as data, one cleaner for every path.

The cleaner works on the small article fragment (never the whole page) with BeautifulSoup and
the lxml parser. Rules come in the two kinds trafilatura uses: elements removed with their
content, and elements unwrapped so their text stays. Pictures are not deleted but moved out of
the text into ``images`` with their caption and credit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html import escape
from urllib.parse import urljoin

from bs4 import BeautifulSoup
from bs4.element import Comment, NavigableString, PageElement, Tag

from ingest.items import ArticleItem, Image
from ingest.sites import Site, get_site

# --- rules -------------------------------------------------------------------------------------

# Removed with everything inside: never article text.
REMOVE_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "frame",
    "object",
    "embed",
    "video",
    "audio",
    "canvas",
    "svg",
    "form",
    "input",
    "button",
    "select",
    "textarea",
    "nav",
    "aside",
    "footer",
    "header",
    "ins",
    "link",
    "meta",
)

# Generic boilerplate containers, matched on class/id across news templates. Written as CSS
# for readability; attribute_rules() compiles them for one walk (soupsieve per rule was slow).
_BOILERPLATE_CONTAINERS = (
    "[id*=read-more]",
    "[class*=read-more]",
    "[class*=read_more]",
    "[class*=readmore]",
    "[class*=related]",
    "[class*=share]",
    "[class*=social]",
    "[class*=subscribe]",
    "[class*=newsletter]",
    "[class*=promo]",
    "[class*=advert]",
    "[class*=adsbygoogle]",
    "[id*=google_ads]",
    "[class*=banner]",
    "[class*=lang-switch]",
    "[class*=tags-list]",
    "[class=tags]",
    "[class*=breadcrumb]",
    "[class*=comments]",
    "[hidden]",
    "[aria-hidden=true]",
)

# A block whose text starts like this is a cross-link, a prompt or a menu, in uk / ru / en.
DROP_TEXT_PREFIXES = (
    "Читайте також",
    "Читайте также",
    "Read also",
    "Read more:",
    "See also:",
    "Дивіться також",
    "Смотрите также",
    "Підписуйтесь",
    "Подписывайтесь",
    "Підпишіться",
    "Подпишитесь",
    "Subscribe to",
    "Follow us",
    # Generic English add-on headings left behind when their block goes.
    "You may also like",
    "You might also like",
    "Related articles",
    "Related stories",
    "Related:",
    "Don't miss",
    "Don’t miss",
    "Join the conversation",
    "Sponsored links",
    "Recent articles",
    "Popular this week",
    "Most popular",
    "Share this article",
    "Advertisement",
)
DROP_TEXT_RE = re.compile(
    "^(?:" + "|".join(re.escape(p) for p in DROP_TEXT_PREFIXES) + ")", re.IGNORECASE
)
# "ua en ru", "UA | RU | EN": a language menu flattened into text.
LANGUAGE_MENU_RE = re.compile(
    r"^(?:(?:ua|uk|ukr|ru|rus|en|eng|укр|рус|eng)\s*[|/·•]?\s*){2,4}$", re.IGNORECASE
)

# The placeholder a consent manager puts where an embedded video or post would be ("This
# content is provided by YouTube... accept cookies", "Externer Inhalt ... einverstanden"): a
# short block naming an embed provider or external content, asking for consent and offering to
# show it. The same
# pattern across sites and CMPs, in the languages we crawl.
_EMBED_RE = re.compile(
    r"youtube|vimeo|twitter|\bx\.com|instagram|facebook|tiktok|spotify|soundcloud|podcast|"
    r"datawrapper|flourish|external content|third[- ]party content|externe[rn]? inhalt|"
    r"contenu externe|contenido externo|treści zewnętrzn|зовнішн\w* контент|внешн\w* контент",
    re.IGNORECASE,
)
_CONSENT_RE = re.compile(
    r"cookie|consent|accept|privacy settings|enable javascript|einverstanden|zustimm|"
    r"akzeptier|datenschutz|einwillig|aktivier|consentement|accepter|cookies|consentimiento|"
    r"aceptar|zgod|akceptuj|згод|прийня|соглас|принять",
    re.IGNORECASE,
)
_SHOW_RE = re.compile(
    r"\b(?:to (?:see|view|watch|load|display|show)|click|tap|anzuzeigen|anzeigen|laden|"
    r"angezeigt|afficher|voir|ver|mostrar|cargar|wyświetl|zobacz|переглян|подивит|показ|"
    r"посмотр|загруз|завантаж)",
    re.IGNORECASE,
)
_PLACEHOLDER_CHARS = 400


def is_consent_placeholder(text: str) -> bool:
    """Whether a short block is an embed's consent placeholder, not article text: it names
    the embed, asks for consent and offers to show it (all three: a news paragraph about
    YouTube's privacy settings names two at most)."""
    return (
        len(text) < _PLACEHOLDER_CHARS
        and _EMBED_RE.search(text) is not None
        and _CONSENT_RE.search(text) is not None
        and _SHOW_RE.search(text) is not None
    )


BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
     "li", "blockquote", "pre", "table", "tr", "td", "th", "dl", "dt", "dd", "figure",
     "figcaption", "center"}
)  # fmt: skip
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
IMAGE_SRC_ATTRS = ("data-src", "data-original", "data-lazy-src", "src")
CREDIT_SELECTORS = "[class*=credit], [class*=author], [class*=copyright], [class*=source]"
_WS_RE = re.compile(r"\s+")
_PARENS_RE = re.compile(r"^\((.*)\)$")


# --- the cleaner -------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Cleaned:
    """The article fragment after cleaning."""

    body_html: str  # rebuilt from the clean blocks: <p> and <h2>..<h6> only
    paragraphs: list[str]
    images: list[Image] = field(default_factory=list)

    @property
    def body(self) -> str:
        """Paragraphs as text, one block each, separated by a blank line."""
        return "\n\n".join(self.paragraphs)


def collapse(text: str) -> str:
    """Whitespace-collapsed text (NBSP and line breaks included)."""
    return _WS_RE.sub(" ", text).strip()


def image_src(img: Tag, base_url: str) -> str | None:
    """The real picture URL of a lazy-loaded ``<img>`` (data-src before a placeholder src)."""
    for attr in IMAGE_SRC_ATTRS:
        value = img.get(attr)
        if isinstance(value, str) and value.strip() and not value.startswith("data:"):
            return urljoin(base_url, value.strip())
    return None


def split_credit(caption: str, credit: str | None) -> tuple[str | None, str | None]:
    """Caption as shown (credit included) and the bare credit without its brackets."""
    caption = collapse(caption)
    if credit:
        credit = collapse(credit)
        match = _PARENS_RE.match(credit)
        credit = match.group(1).strip() if match else credit
    return caption or None, credit or None


def image_from(container: Tag, base_url: str, caption_sel: str, credit_sel: str) -> Image | None:
    """An Image from a picture container (figure, a site's wrapper, a lone ``<img>``)."""
    img = container if container.name == "img" else container.find("img")
    src = image_src(img, base_url) if isinstance(img, Tag) else None
    if src is None:
        return None
    caption_el = container.select_one(caption_sel) if caption_sel else None
    if caption_el is None:
        caption_el = container.find("figcaption")
    credit_el = container.select_one(credit_sel) if credit_sel else None
    if credit_el is None and isinstance(caption_el, Tag):
        credit_el = caption_el.select_one(CREDIT_SELECTORS)
    caption_text = caption_el.get_text(" ") if isinstance(caption_el, Tag) else ""
    credit_text = credit_el.get_text(" ") if isinstance(credit_el, Tag) else None
    caption, credit = split_credit(caption_text, credit_text)
    return Image(src=src, caption=caption, credit=credit)


def gone(tag: PageElement) -> bool:
    """Whether ``tag`` was decomposed. bs4's ``decomposed`` property misses the instance
    attribute on a live tag and falls into ``Tag.__getattr__``, a search of the whole subtree:
    cleaning was quadratic in nesting depth (5000 nested divs: 5 s, now 0.1 s)."""
    return bool(vars(tag).get("_decomposed", False))


class UnsupportedRule(ValueError):
    """A container rule that is not ``[attr]``, ``[attr=value]`` or ``[attr*=value]``."""


@dataclass(frozen=True)
class _AttributeRule:
    """What the rules ask of one attribute: present at all, equal to, or containing a value."""

    present: bool
    equals: frozenset[str]
    contains: re.Pattern[str] | None


_RULE_RE = re.compile(r"^\[([\w-]+)(?:(\*?=)([\w-]+))?\]$")


def attribute_rules(selectors: Iterable[str]) -> dict[str, _AttributeRule]:
    """The attribute selectors as one rule per attribute name, checked with a set and one
    regex instead of soupsieve, whose matching of every selector on every tag of the fragment
    dominated the cleaner's time. Same semantics as CSS in an HTML document: values
    case-sensitive, a multi-valued attribute (class) matched as its space-joined value."""
    present: set[str] = set()
    equals: dict[str, set[str]] = {}
    contains: dict[str, list[str]] = {}
    for selector in selectors:
        match = _RULE_RE.match(selector.strip())
        if match is None:
            raise UnsupportedRule(selector)
        name, op, value = match.groups()
        if op is None:
            present.add(name)
        elif op == "=":
            equals.setdefault(name, set()).add(value)
        else:
            contains.setdefault(name, []).append(value)
    return {
        name: _AttributeRule(
            present=name in present,
            equals=frozenset(equals.get(name, ())),
            contains=re.compile("|".join(map(re.escape, contains[name])))
            if name in contains
            else None,
        )
        for name in present | set(equals) | set(contains)
    }


CONTAINER_RULES = attribute_rules(_BOILERPLATE_CONTAINERS)
# Page chrome by its tag: removed, unless one of them holds most of the fragment's text.
_CHROME_TAGS = frozenset({"nav", "aside", "footer", "header", "form", "ins"})
_REMOVE_TAG_SET = frozenset(REMOVE_TAGS)


def is_boilerplate_container(tag: Tag) -> bool:
    """Whether ``tag`` matches one of the ``_BOILERPLATE_CONTAINERS`` rules."""
    for name, value in tag.attrs.items():
        rule = CONTAINER_RULES.get(name)
        if rule is None:
            continue
        if rule.present:
            return True
        text = " ".join(value) if isinstance(value, list) else str(value)
        if text in rule.equals or (rule.contains is not None and rule.contains.search(text)):
            return True
    return False


_PROSE_PARAGRAPHS = 3  # paragraphs of _PROSE_CHARS or more that make a block article text
_PROSE_CHARS = 100
_PROSE_LINKS = 0.15  # the most link text such a block may have


def reads_like_article(tag: Tag, whole: int) -> bool:
    """Whether a block a boilerplate rule matched holds article text all the same: most of the
    fragment's text (``whole`` characters), or several paragraphs of prose with few links.

    Class names are evidence, not verdicts: templates wrap whole stories in "read-more-content",
    "paywalled" or "widget" blocks, and deleting them emptied real articles.
    """
    text = tag.get_text()
    length = len(text.strip())
    if not length:
        return False
    if length * 2 > whole:
        return True
    links = sum(len(a.get_text().strip()) for a in tag.find_all("a"))
    if links > length * _PROSE_LINKS:
        return False
    prose = 0
    for block in tag.find_all("p"):
        if len(block.get_text().strip()) >= _PROSE_CHARS:
            prose += 1
            if prose >= _PROSE_PARAGRAPHS:
                return True
    return False


def _remove_boilerplate(root: Tag) -> None:
    """One walk over the fragment: comments, ``REMOVE_TAGS`` and boilerplate containers go
    (a container that reads like article text is kept, see ``reads_like_article``)."""
    whole = -1
    for node in list(root.descendants):
        if gone(node):  # inside a subtree already removed
            continue
        if isinstance(node, Tag):
            if node.name in _REMOVE_TAG_SET and node.name not in _CHROME_TAGS:
                node.decompose()
            elif node.name in _CHROME_TAGS or is_boilerplate_container(node):
                if whole < 0:
                    whole = len(root.get_text().strip())
                if node.name in _CHROME_TAGS:
                    # ASP.NET pages wrap the whole page in one <form>: chrome by its tag,
                    # unless it holds most of the text.
                    if len(node.get_text().strip()) * 2 <= whole:
                        node.decompose()
                elif not reads_like_article(node, whole):
                    node.decompose()
        elif isinstance(node, Comment):
            node.extract()


_PICTURE_TAGS = frozenset({"figure", "img"})


def _tags(root: Tag, names: frozenset[str]) -> list[Tag]:
    """``root.find_all(names)``, descendants in document order, as a list: a set lookup per
    tag does what bs4's filter machinery does, at a fraction of its cost."""
    return [node for node in root.descendants if isinstance(node, Tag) and node.name in names]


def _remove_matching(soup: Tag, selectors: Iterable[str]) -> None:
    """Decompose what the selectors match, all of them joined in one soupsieve walk."""
    selectors = list(selectors)
    if not selectors:
        return
    for el in soup.select(", ".join(selectors)):
        if not gone(el):
            el.decompose()


def _blocks(el: Tag) -> Iterator[tuple[str, str]]:
    """(text, tag name of the enclosing block) runs in reading order; each block ends a run.

    The walk keeps its own stack instead of recursing: broken pages nest thousands of
    unclosed elements, deeper than Python's recursion limit.
    """
    run: list[str] = []
    owner: list[str] = ["p"]

    def flush() -> Iterator[tuple[str, str]]:
        text = collapse("".join(run))
        run.clear()
        if text:
            yield text, owner[-1]

    stack: list[tuple[Iterator[PageElement], bool]] = [(iter(el.children), False)]
    while stack:
        children, is_block = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if is_block:
                yield from flush()
                owner.pop()
        elif isinstance(child, Comment):
            continue
        elif isinstance(child, NavigableString):
            run.append(str(child))
        elif isinstance(child, Tag):
            if child.name == "br":
                run.append("\n")
            elif child.name in BLOCK_TAGS:
                yield from flush()
                owner.append(child.name)
                stack.append((iter(child.children), True))
            else:
                stack.append((iter(child.children), False))
    yield from flush()


def clean_fragment(
    html: str, *, base_url: str, site: Site | None = None, title: str | None = None
) -> Cleaned:
    """Clean one article fragment: drop boilerplate, move pictures to images, sanitise.

    ``title`` lets a block that only repeats the headline (alt text glued to the body by
    flattening templates) be dropped.
    """
    soup = BeautifulSoup(html, "lxml")
    root: Tag = soup.body if soup.body is not None else soup
    _remove_boilerplate(root)
    if site is not None:
        _remove_matching(root, site.drop)

    sel = site.selectors if site else None
    # Pictures in reading order: captioned containers, and lone <img> kept without a caption.
    images: list[Image] = []
    found = (
        root.select(f"figure, img, {sel.images}")
        if sel and sel.images
        else _tags(root, _PICTURE_TAGS)  # the same, in document order, without soupsieve
    )
    for container in found:
        if gone(container):  # an <img> of a container already taken
            continue
        image = image_from(
            container, base_url, sel.image_caption if sel else "", sel.image_credit if sel else ""
        )
        if image is not None:
            images.append(image)
        container.decompose()

    extra = tuple(site.drop_text) if site else ()
    title_key = collapse(title).casefold() if title else None
    for block in _tags(root, BLOCK_TAGS):
        if gone(block):
            continue
        text = collapse(block.get_text(" "))
        if not text or (
            len(text) < 300
            and (
                DROP_TEXT_RE.match(text)
                or LANGUAGE_MENU_RE.match(text)
                or text.startswith(extra)
                or text.casefold() == title_key
                or is_consent_placeholder(text)
            )
        ):
            block.decompose()

    paragraphs: list[str] = []
    html_parts: list[str] = []
    for text, block_tag in _blocks(root):
        if LANGUAGE_MENU_RE.match(text) or text.casefold() == title_key:
            continue
        paragraphs.append(text)
        # Rebuilt from escaped text, so nothing of the page's markup (scripts, handlers,
        # javascript: links) can reach the stored HTML.
        out = "h2" if block_tag == "h1" else block_tag if block_tag in HEADING_TAGS else "p"
        html_parts.append(f"<{out}>{escape(text, quote=False)}</{out}>")
    return Cleaned(body_html="\n".join(html_parts), paragraphs=paragraphs, images=images)


def clean_item(item: ArticleItem) -> None:
    """Clean ``item.body_html`` in place: clean HTML, text body, in-body pictures to images."""
    cleaned = clean_fragment(
        item.body_html or "", base_url=item.url, site=get_site(item.site), title=item.title
    )
    item.body_html = cleaned.body_html
    item.body = cleaned.body
    known = {image.src for image in item.images}
    item.images.extend(i for i in cleaned.images if i.src not in known)
