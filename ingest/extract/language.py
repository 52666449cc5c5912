"""Language detection of article bodies.

This module owns everything the pipeline knows about "which language is this
text in": the text normalisation done before detection, the seeded langdetect
factory (deterministic from run to run, unlike langdetect's module-global
``detect()``), the evidence rules that separate the Cyrillic look-alikes
(uk/ru/be/bg/mk/sr/kk) where langdetect alone is weak on single sentences.

How the Cyrillic evidence is used: langdetect decides *how much* of the text
is Cyrillic-Slavic (its probability mass on the look-alike group), and the
letters and function words the text itself shows decide *how that mass is
split* inside the group.  Evidence never moves probability between a Latin
language and a Cyrillic one.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from langdetect.detector import Detector
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException
from langdetect.utils.ngram import NGram
from langdetect.utils.unicode_block import unicode_block

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

__all__ = [
    "best_language",
    "cyrillic_evidence",
    "detect_language",
    "langdetect_languages",
    "langdetect_probabilities",
    "language_probabilities",
    "normalise_text",
]

# --------------------------------------------------------------------------
# Tunables (small, named, documented).
# --------------------------------------------------------------------------

#: Below this many letters (after normalisation) nothing is reported: one
#: short word is noise for any detector, and a wrong language is worse than
#: None.  Two short words ("Мое имя Лем.") are already worth answering.
MIN_LETTERS = 6

#: langdetect reads at most this many characters; the evidence rules read the
#: same slice so both judge the same text and cost stays bounded: 1,500
#: characters decide as well as 10,000 on article bodies, at a fraction of
#: the cost (BENCHMARKS.md).
MAX_CHARS = 1_500

#: Normalisation looks at no more than this much of a body (bounded cost on
#: huge pages; URL/number removal shortens it before the MAX_CHARS cut).
MAX_INPUT_CHARS = 4 * MAX_CHARS

#: Within the Cyrillic group langdetect's verdict is smoothed with this floor
#: before the text's evidence is added: on one sentence langdetect says
#: "bg 0.99999" as readily when wrong as when right, so its vote inside the
#: group is worth a few nats, not certainty.
LANGDETECT_FLOOR = 0.1

#: Log-weight (nats) per occurrence of a letter that is *not* in a language's
#: alphabet: e.g. every "ї" counts against ru/bg/be, every "ы" against uk/bg.
LETTER_PENALTY = 3.0

#: Letters and spellings inside capitalised words (names: "Київ" in a Russian
#: text, "Дмитрий" in a Bulgarian one) are weaker evidence than in common words.
NAME_FACTOR = 0.4

#: Log-weight per occurrence of a frequent function word of a language.
FUNCTION_WORD_WEIGHT = 2.5

#: Log-weight per occurrence of a spelling a language does not allow
#: (e.g. Bulgarian writes "ь" only before "о"; Russian "ъ" only before е/ё/ю/я).
PATTERN_PENALTY = 2.0

#: Languages langdetect has no profile for start from the langdetect vote of
#: their closest known relative, minus this handicap: their own letters and
#: words must then carry them (Belarusian "ў", Serbian "ћ"/"ђ").
UNKNOWN_HANDICAP = -1.5

#: With site candidates, the answer leaves them only when the other languages
#: together are at least this probable ("a German body on a uk/ru/en site
#: stays German").
KEEP_NON_CANDIDATE = 0.9

#: With site candidates, a Cyrillic look-alike the site does not declare starts
#: with this handicap against the declared ones: langdetect's short-text
#: "bg 0.99999" alone does not beat them, the text's own evidence (a Bulgarian
#: "ъ"/"че"/"са") does.
NON_CANDIDATE_PRIOR = -1.0

# --------------------------------------------------------------------------
# Linguistic data.
# --------------------------------------------------------------------------

#: langdetect code -> ISO 639-1.
LANGDETECT_TO_ISO = {"zh-cn": "zh", "zh-tw": "zh"}

#: Lower-case Cyrillic alphabets of the look-alike group ("'" stands for the
#: in-word apostrophe of Ukrainian/Belarusian, where Russian writes "ъ").
ALPHABETS: dict[str, frozenset[str]] = {
    "uk": frozenset("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'"),
    "ru": frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя"),
    "be": frozenset("абвгдеёжзійклмнопрстуўфхцчшыьэюя'"),
    "bg": frozenset("абвгдежзийѝклмнопрстуфхцчшщъьюя"),
    "mk": frozenset("абвгдѓеѐжзѕиѝјклљмнњопрстќуфхцчџш"),
    "sr": frozenset("абвгдђежзијклљмнњопрстћуфхцчџш"),
    "kk": frozenset("аәбвгғдеёжзийкқлмнңоөпрстуұүфхһцчшщъыіьэюя"),
}

#: The look-alike group: langdetect confuses these with each other on short
#: text, and be/sr/kk are not in langdetect's profiles at all.
CYRILLIC_GROUP = frozenset(ALPHABETS)

#: The group in a fixed order: every loop over it (and so every float sum and
#: every tie) must not follow set order, which changes with PYTHONHASHSEED.
GROUP_ORDER: tuple[str, ...] = tuple(sorted(CYRILLIC_GROUP))

#: Languages langdetect has no profile for -> the known relatives whose
#: langdetect vote they inherit (minus UNKNOWN_HANDICAP).  Kazakh inherits
#: nothing: its own letters (ә ғ қ ң ө ұ ү һ) are frequent enough to carry it.
RELATIVES: dict[str, tuple[str, ...]] = {"be": ("uk", "ru"), "sr": ("mk",), "kk": ()}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Frequent function words that are distinctive *within the group*.  A word
#: listed for several languages credits each of them, so a shared word only
#: separates those languages from the rest ("и" is ru/bg/mk/sr, never uk/be).
#: Words spelled alike in all of uk/ru/bg (на, не, за, по, до, в, а, то, при,
#: без, над, про, через, там, тут, так...) are deliberately absent.
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "uk": _words(
        "і й що це та як від був була було були але або щоб вже ще з із зі "
        "його її їх він вона вони ми ви чи де який яка яке які якщо коли дуже "
        "навіть також лише тільки цей ця ці цього цієї цих має можна треба "
        "буде бути тобто після щодо під між ні мене мені нього неї свої "
        "свій своє всі усі теж проте адже бо хоча поки ось отже зараз саме "
        "може можу можуть є для"
    ),
    "ru": _words(
        "и что чтобы это этот эта эти этого этом как от был была было были но "
        "он она оно они его ее её их мы вы ты меня мне который которая "
        "которое которые которых которого если или также только уже еще ещё "
        "уж когда где кто с со к ко о об из нет будет быть может могу могут "
        "очень можно нужно надо сейчас тоже даже чем после между под лишь всё "
        "всех ничего него нее ней себя том чего потом теперь бы да ни во для той"
    ),
    "be": _words(
        "і што гэта гэты гэтая гэтага як ад але або быў была было былі яго для "
        "яна ён яны таксама ці каб пра дзе калі з ужо яшчэ таму толькі "
        "вельмі будзе мае можна трэба свае бо ні"
    ),
    "bg": _words(
        "и е са се ще че да това този тази тези който която което които във "
        "със към от но като или уж след беше бил била били бъде той тя ни ги "
        "му си най има няма когато защото обаче също трябва може вече само "
        "дали чрез между пред под с из ми ви мене него"
    ),
    "mk": _words(
        "и е се да што во со ќе кој која кое кои ова оваа овој тоа таа тие "
        "беше бил била било биле има нема дека но од ги го му си само веќе "
        "може пред под или ни ми ви мене него треба"
    ),
    "sr": _words(
        "и је су се да што који која које ће био била било били када где али "
        "само још већ као јер од из са си пре под о он она оно они их ко "
        "могу после том има може буде треба или ни ми ви мене"
    ),
    "kk": _words("және мен бұл деп үшін бар ол олар"),
}

#: Spellings only some languages of the group allow, as (regex on a lower-case
#: word, languages that allow it); each match counts against the others.
#: Every rule is a fact of the written languages, not of a sample:
#:
#: * Bulgarian writes "ь" only before "о"; Russian "ъ" only before е/ё/ю/я.
#: * Ukrainian (and Belarusian) write "ь" only after д т з с ц л н ("рь" only
#:   before "о": "трьох"), never before е/и, and before я/ю only after л/н
#:   ("мільярд"): Russian "дочь", "ночь", "можешь", "семь", "царь", "любовь",
#:   "статья", "семье", "чьи" have no Ukrainian spelling ("донька", "ніч",
#:   "можеш", "сім", "стаття", "сім'ї", "чиї").
#: * "-тся", "-лся" are Russian (uk "-ться", "-вся"; be "-цца"); "-ий" is not
#:   Bulgarian; a doubled consonant + final "я" ("життя", "знання",
#:   "весілля") is Ukrainian (ru "-тие", "-ние", be "-нне").
#: * Ukrainian writes "і", never "и", at the start of a word ("інший",
#:   "історія", "іти"; Russian "иной", "история", "идти"), and "ія"/"іє" where
#:   Russian and Bulgarian have "ия"/"ие" ("Росія", "знання" / "Россия",
#:   "знание").
#: * Bulgarian and Macedonian lost the case endings: no word of theirs ends in
#:   "у" or "ю" but a few (FINAL_U_WORDS); Russian and Ukrainian accusative,
#:   dative and first-person forms ("нашу", "землю", "могу", "люблю") and the
#:   preposition "у" end in them everywhere.
#: * Belarusian akanye leaves at most one "о" per word.
#:
#: The weight is LETTER_PENALTY for a spelling the language's orthography
#: rules out, like a letter outside its alphabet, and PATTERN_PENALTY for one
#: it allows in a few words (names, loanwords: "Георгий", "шия", "табу").
SPELLING_RULES: tuple[tuple[re.Pattern[str], frozenset[str], float], ...] = (
    (re.compile(r"ь(?!о)"), frozenset({"uk", "ru", "be", "kk"}), LETTER_PENALTY),
    (re.compile(r"ъ(?![еёюя])"), frozenset({"bg"}), LETTER_PENALTY),
    (
        re.compile(r"(?:^|[^дтзсцлнр])ь|рь(?!о)|ь[еёиы]|[^лн]ь[юя]"),
        CYRILLIC_GROUP - {"uk", "be"},
        LETTER_PENALTY,
    ),
    (re.compile(r"тся$|лся$"), frozenset({"ru", "kk"}), LETTER_PENALTY),
    (re.compile(r"^и."), CYRILLIC_GROUP - {"uk", "be"}, LETTER_PENALTY),
    (re.compile(r"ий$"), frozenset({"uk", "ru", "kk"}), PATTERN_PENALTY),
    (re.compile(r"([бвгджзклмнпрстфхцчшщ])\1я$"), frozenset({"uk"}), PATTERN_PENALTY),
    (re.compile(r"и[ея]|[аеоуюя]е$|ая$"), CYRILLIC_GROUP - {"uk"}, PATTERN_PENALTY),
    (re.compile(r"[ую]$|[ое]го$|ое$"), CYRILLIC_GROUP - {"bg", "mk"}, PATTERN_PENALTY),
    (re.compile(r"о.*о"), CYRILLIC_GROUP - {"be"}, PATTERN_PENALTY),
)

#: Bulgarian and Macedonian words that do end in "у"/"ю"/"-ого"/"-ое"
#: (pronouns, "much", "very", and loanwords): the ending rules leave them alone.
ENDING_EXCEPTIONS = _words(
    "му ну многу нему кому никому некому секому шоу табу рагу бижу гуру кенгуру какаду "
    "меню интервю ревю много него кого никого някого некого строго долго полого "
    "кое някое никое некое секое"
)

#: Each spelling rule with the languages it counts against (indexes in GROUP_ORDER).
_FORBIDDEN_BY = tuple(
    (pattern, tuple(i for i, lang in enumerate(GROUP_ORDER) if lang not in allowed), weight)
    for pattern, allowed, weight in SPELLING_RULES
)

#: Apostrophes seen inside Ukrainian/Belarusian words (м'ясо, м’ясо, мʼясо).
APOSTROPHES = "'’ʼ‘`´′"

# --------------------------------------------------------------------------
# Normalisation.
# --------------------------------------------------------------------------

_CYR = "\u0400-\u04ff"
# An apostrophe between two Cyrillic letters is part of the word.
_APOSTROPHE_RE = re.compile(rf"(?<=[{_CYR}])[{APOSTROPHES}](?=[{_CYR}])")
# Latin i/I/ï typed instead of Cyrillic і/І/ї inside a Cyrillic word (an old
# keyboard habit in Ukrainian text): only when a Cyrillic letter is adjacent.
_LATIN_I_RE = re.compile(rf"(?<=[{_CYR}])[iIï]|[iIï](?=[{_CYR}])")
_LATIN_I_MAP = str.maketrans({"i": "і", "I": "І", "ï": "ї"})
# A lone Latin "i" between two Cyrillic words is the Ukrainian conjunction "і".
_LONE_I_RE = re.compile(rf"(?<=[{_CYR}] )i(?= [{_CYR}])")
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_SENTENCE_END_RE = re.compile(r"[.!?…]")


def _c1_table() -> dict[int, str | None]:
    """Map C0/C1 controls: C1 bytes are cp1252 mojibake, so repair the ones
    cp1252 defines (U+0092 -> ’) and drop the rest; C0 controls become spaces
    (tab/newline) or disappear."""
    table: dict[int, str | None] = {}
    for code in range(0x20):
        table[code] = " " if chr(code) in "\t\n\r\v\f" else None
    table[0x7F] = None
    for code in range(0x80, 0xA0):
        try:
            repaired = bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            repaired = ""
        table[code] = repaired if repaired and repaired.isprintable() else None
    return table


_CONTROL_TABLE = _c1_table()


def _is_noise(token: str) -> bool:
    """URLs, e-mail addresses/handles and digit-only tokens ("2024", "3,5%")
    say nothing about the language but do feed langdetect's n-grams."""
    if "@" in token or "://" in token or token[:4].lower() == "www.":
        return True
    return any(c.isdigit() for c in token) and not any(c.isalpha() for c in token)


def normalise_text(text: str) -> str:
    """Return the text detection should see: NFC, controls repaired or
    dropped, URLs/e-mails and digit-only tokens removed, whitespace
    collapsed, Latin-i homoglyphs and apostrophes fixed in Cyrillic words."""
    text = unicodedata.normalize("NFC", text[:MAX_INPUT_CHARS].translate(_CONTROL_TABLE))
    text = " ".join(token for token in text.split() if not _is_noise(token))
    text = _LATIN_I_RE.sub(lambda m: m.group().translate(_LATIN_I_MAP), text)
    text = _LONE_I_RE.sub("і", text)
    return _APOSTROPHE_RE.sub("'", text)


# --------------------------------------------------------------------------
# langdetect, seeded and owned here.
# --------------------------------------------------------------------------

_factory: Any = None
_factory_lock = threading.Lock()


def _get_factory() -> Any:
    """Load langdetect's profiles once (slow) into a private, seeded factory:
    the module-global ``langdetect.detect`` is unseeded and shared."""
    global _factory
    if _factory is None:
        with _factory_lock:
            if _factory is None:
                factory = DetectorFactory()
                factory.load_profile(PROFILES_DIRECTORY)
                factory.set_seed(0)
                _factory = factory
    return _factory


class _FastDetector(Detector):  # type: ignore[misc]  # langdetect is untyped
    """langdetect's ``Detector`` with its per-character Python loops rewritten: the same
    n-grams, the same seeded trials, the same floating-point operations in the same order, so
    bit-identical probabilities (checked on the langid and extraction benchmark texts).
    ``append`` concatenated one character at a time, and ``cleaning_text`` and
    ``_extract_ngrams`` looked up each character's Unicode block for every occurrence; the
    seeded trials (``_update_lang_prob``, about half of what is left) are langdetect's own."""

    text: str  # set by Detector.__init__

    def append(self, text: str) -> None:
        text = self.URL_RE.sub(" ", text)
        text = self.MAIL_RE.sub(" ", text)
        text = NGram.normalize_vi(text)
        # langdetect keeps a space only when the character before it is not one.
        self.text += _SPACES_RE.sub(" ", text[: self.max_text_length])

    def cleaning_text(self) -> None:
        text = self.text
        latin = sum(1 for ch in text if "A" <= ch <= "z")
        non_latin = sum(1 for ch in text if ch >= "\u0300" and _not_latin_ext_additional(ch))
        if latin * 2 < non_latin:
            self.text = "".join(ch for ch in text if ch < "A" or ch > "z")

    def _extract_ngrams(self) -> list[str]:
        text: str = self.text.translate(_normalization_table(self.text))
        known = self.word_lang_prob_map
        result: list[str] = []
        grams = " "
        for ch in text:
            last = grams[-1]
            if last == " ":
                if ch == " ":
                    continue
                grams = " " + ch
            elif len(grams) >= 3:
                grams = grams[1:] + ch
            else:
                grams += ch
            # langdetect's "capital word": this letter and the one before are upper case.
            if ch.isupper() and last.isupper():
                continue
            if ch != " " and ch in known:
                result.append(ch)
            if len(grams) >= 2:
                if grams[-2:] in known:
                    result.append(grams[-2:])
                if len(grams) == 3 and grams in known:
                    result.append(grams)
        return result


_SPACES_RE = re.compile(" {2,}")


_NORMALIZED: dict[int, str] = {}  # code point -> langdetect's normalised character


def _normalization_table(text: str) -> dict[int, str]:
    """A ``str.translate`` table for langdetect's per-character normalisation: each distinct
    character is normalised once per process, then whole texts are mapped in C."""
    for ch in set(text):
        if ord(ch) not in _NORMALIZED:
            _NORMALIZED[ord(ch)] = str(NGram.normalize(ch))
    return _NORMALIZED


@functools.lru_cache(maxsize=65_536)
def _not_latin_ext_additional(ch: str) -> bool:
    return bool(unicode_block(ch) != "Latin Extended Additional")


def langdetect_languages() -> frozenset[str]:
    """ISO codes langdetect has profiles for."""
    codes = cast(list[str], _get_factory().get_lang_list())
    return frozenset(LANGDETECT_TO_ISO.get(code, code) for code in codes)


def langdetect_probabilities(text: str, restrict: Iterable[str] | None = None) -> dict[str, float]:
    """Plain seeded langdetect (ISO 639-1 codes); empty when it has no answer.

    ``restrict`` limits langdetect to those languages (via its prior map),
    which gives its own preference among them; unknown codes are ignored.
    """
    factory = _get_factory()
    detector = _FastDetector(factory)
    if restrict is not None:
        wanted = set(restrict)
        codes = cast(list[str], factory.get_lang_list())
        prior = {code: 1.0 for code in codes if LANGDETECT_TO_ISO.get(code, code) in wanted}
        if not prior:
            return {}
        detector.set_prior_map(prior)
    detector.append(text)
    try:
        ranked = detector.get_probabilities()
    except LangDetectException:
        return {}
    probs: dict[str, float] = {}
    for entry in ranked:
        code = LANGDETECT_TO_ISO.get(str(entry.lang), str(entry.lang))
        probs[code] = probs.get(code, 0.0) + float(entry.prob)
    # By code, not by langdetect's ranking (whose ties follow its profile files' order).
    return dict(sorted(probs.items()))


# --------------------------------------------------------------------------
# Evidence inside the Cyrillic group.
# --------------------------------------------------------------------------


def _is_cyrillic(char: str) -> bool:
    return "\u0400" <= char <= "\u04ff"


def cyrillic_evidence(text: str) -> dict[str, float]:
    """Log-evidence (nats; only differences matter) for each group language.

    Three kinds, all visible in the text itself: letters outside a language's
    alphabet, spellings a language does not allow, and its frequent function
    words.  Capitalised words (mostly names) count NAME_FACTOR as much.
    """
    scores = [0.0] * len(GROUP_ORDER)
    previous_end = 0
    for match in _WORD_RE.finditer(text):
        word = match.group()
        # A capital after a sentence end (or at the start) is no sign of a name:
        # "Мы", "История", "Это" open sentences.  Acronyms stay weak everywhere.
        sentence_start = previous_end == 0 or bool(
            _SENTENCE_END_RE.search(text, previous_end, match.start())
        )
        previous_end = match.end()
        if not any(_is_cyrillic(char) for char in word):
            continue
        name_like = word[0].isupper() and (not sentence_start or word.isupper())
        factor = NAME_FACTOR if name_like else 1.0
        penalties, credits = _word_evidence(word.lower())
        for i, (penalty, credit) in enumerate(zip(penalties, credits, strict=True)):
            scores[i] += credit - penalty * factor
    return dict(zip(GROUP_ORDER, scores, strict=True))


@functools.lru_cache(maxsize=65_536)
def _word_evidence(word: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(penalties, credits) of one lower-case word for each language in GROUP_ORDER:
    foreign letters and forbidden spellings, then function words.  Cached: words
    repeat (Zipf), and the rules are the costly part of the evidence."""
    penalties = [0.0] * len(GROUP_ORDER)
    credits = [0.0] * len(GROUP_ORDER)
    for i, lang in enumerate(GROUP_ORDER):
        alphabet = ALPHABETS[lang]
        penalties[i] += LETTER_PENALTY * sum(char not in alphabet for char in word)
        if word in FUNCTION_WORDS[lang]:
            credits[i] += FUNCTION_WORD_WEIGHT
    if word not in ENDING_EXCEPTIONS:
        for pattern, forbidden, weight in _FORBIDDEN_BY:
            if pattern.search(word):
                for i in forbidden:
                    penalties[i] += weight
    return tuple(penalties), tuple(credits)


def _group_priors(
    vote: Mapping[str, float], mass: float, candidates: frozenset[str]
) -> dict[str, float]:
    """Log-prior of each group language from langdetect's (smoothed) vote."""
    share = {lang: vote.get(lang, 0.0) / mass for lang in GROUP_ORDER}
    priors: dict[str, float] = {}
    for lang in GROUP_ORDER:
        if lang in RELATIVES:
            inherited = max((share[r] for r in RELATIVES[lang]), default=0.0)
            priors[lang] = math.log(inherited + LANGDETECT_FLOOR) + UNKNOWN_HANDICAP
        else:
            priors[lang] = math.log(share[lang] + LANGDETECT_FLOOR)
        if candidates and lang not in candidates:
            priors[lang] += NON_CANDIDATE_PRIOR
    return priors


def _split_cyrillic_mass(
    probs: Mapping[str, float],
    group_vote: Mapping[str, float],
    text: str,
    candidates: frozenset[str],
) -> dict[str, float]:
    """Re-divide langdetect's Cyrillic-group mass according to the evidence.

    ``group_vote`` is langdetect's opinion, used as prior inside the group.
    """
    mass = sum(p for lang, p in probs.items() if lang in CYRILLIC_GROUP)
    vote_mass = sum(p for lang, p in group_vote.items() if lang in CYRILLIC_GROUP)
    if mass <= 0.0:
        return dict(probs)
    evidence = cyrillic_evidence(text)
    priors = _group_priors(group_vote, vote_mass or 1.0, candidates)
    logits = {lang: priors[lang] + evidence[lang] for lang in GROUP_ORDER}
    top = max(logits.values())
    weights = {lang: math.exp(v - top) for lang, v in logits.items()}
    total = sum(weights.values())
    result = {lang: p for lang, p in probs.items() if lang not in CYRILLIC_GROUP}
    for lang, weight in weights.items():
        result[lang] = mass * weight / total
    return result


# --------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------


def _iso(code: str) -> str:
    """'uk-UA' / 'UK' / 'zh-cn' -> 'uk' / 'uk' / 'zh'."""
    code = code.strip().lower().replace("_", "-")
    return LANGDETECT_TO_ISO.get(code, code.split("-", 1)[0])


def _candidate_list(candidates: Sequence[str] | None) -> list[str]:
    """Candidates as unique ISO codes, in the site's order."""
    return list(dict.fromkeys(_iso(c) for c in candidates or () if c.strip()))


def language_probabilities(text: str, candidates: Sequence[str] | None = None) -> dict[str, float]:
    """Probabilities (ISO 639-1 -> p) after normalisation and evidence;
    empty when the text has too few letters or langdetect has no answer."""
    clean = normalise_text(text)[:MAX_CHARS]
    if sum(char.isalpha() for char in clean) < MIN_LETTERS:
        return {}
    probs = langdetect_probabilities(clean)
    if not probs:
        return {}
    wanted = frozenset(_candidate_list(candidates))
    group_vote = probs
    outside = sum(p for lang, p in probs.items() if lang not in wanted)
    if wanted and outside > 0.0 and any(lang in CYRILLIC_GROUP for lang in probs):
        # langdetect's own choice among the site's languages (ru vs uk for a
        # short Russian sentence it first took for Bulgarian) receives the
        # mass it gave to other languages; those keep their vote, handicapped.
        restricted = langdetect_probabilities(clean, restrict=wanted)
        group_vote = dict(probs)
        for lang, p in restricted.items():
            group_vote[lang] = group_vote.get(lang, 0.0) + outside * p
    return _split_cyrillic_mass(probs, group_vote, clean, wanted)


def detect_language(text: str, candidates: Sequence[str] | None = None) -> tuple[str | None, float]:
    """Return (ISO 639-1 code or None, confidence 0..1) for ``text``.

    ``candidates`` are the languages the site declares: the answer is
    restricted to them (probabilities renormalised over them) unless the
    languages outside them hold at least KEEP_NON_CANDIDATE of the
    probability, i.e. the text is clearly something else.
    """
    probs = language_probabilities(text, candidates)
    if not probs:
        return None, 0.0
    wanted = _candidate_list(candidates)
    cand_mass = sum(probs.get(lang, 0.0) for lang in wanted)
    if wanted and cand_mass > (1.0 - KEEP_NON_CANDIDATE) * sum(probs.values()):
        # A tie between candidates goes to the one the site lists first.
        chosen = max(wanted, key=lambda lang: probs.get(lang, 0.0))
        return chosen, min(1.0, probs.get(chosen, 0.0) / cand_mass)
    best = best_language(probs)
    return best, min(1.0, probs[best])


def best_language(probs: Mapping[str, float]) -> str:
    """The most probable language; an exact tie goes to the smaller code, a fixed rule
    (not dict order, which can follow set order and so the process's hash seed)."""
    return min(probs, key=lambda lang: (-probs[lang], lang))
