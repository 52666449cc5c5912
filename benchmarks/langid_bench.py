"""Benchmark pipelines.language.detect_language against plain seeded langdetect.

Why: langdetect alone confuses Ukrainian and Russian (and Russian and
Bulgarian) on single sentences; this script shows, on the shared dev data,
what our evidence rules change, per set and per language, with and without
the site's candidate languages, in one run.

The Leipzig sentences are split in two halves by a hash of the sentence
(``half()``, fixed before any tuning): rules were tuned looking at the "tune"
half only, so the "held" half's figures are the honest ones.  Paragraphs are
made of the same sentences, so they are reported whole.

Usage (from the repo root):
    python benchmarks/langid_bench.py [--data DIR] [--rbc FILE] [--show-errors]

Default data: ../shared/data/langid relative to the repo root; the rbc.ua
headlines are looked up next to it (../rbc/...labelled.tsv).  Missing data is
reported and the script exits 0 (the data is not part of the repo).
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "langid"
RBC_NAME = "rbc_ua_headlines_2026-05-09.labelled.tsv"
SITE_CANDIDATES = ("uk", "ru", "en")
UK_RU = frozenset({"uk", "ru"})

Detect = Callable[[str], str | None]
Sample = tuple[str, str]  # (true language, text)


def half(text: str) -> str:
    """'tune' or 'held': a fixed split of the Leipzig sentences by the first byte of the
    sentence's SHA-256 (about 50/50 per language), chosen before the rules were tuned."""
    return "tune" if hashlib.sha256(text.encode("utf-8")).digest()[0] % 2 == 0 else "held"


@dataclass
class Tally:
    """Per language counts for one detector."""

    n: int = 0
    right: int = 0
    as_uk_ru: int = 0  # wrongly answered uk or ru (uk->ru, ru->uk, bg->ru, ...)
    uk_as_ru: int = 0
    errors: list[tuple[str | None, str]] = field(default_factory=list)

    def add(self, truth: str, guess: str | None, text: str) -> None:
        """Count one answer."""
        self.n += 1
        if guess == truth:
            self.right += 1
            return
        if guess in UK_RU:
            self.as_uk_ru += 1
        if truth == "uk" and guess == "ru":
            self.uk_as_ru += 1
        self.errors.append((guess, text))


def pct(num: int, den: int) -> str:
    """Percentage with one decimal, '-' for an empty denominator."""
    return f"{100.0 * num / den:5.1f}%" if den else "    -"


def read_tsv(path: Path, *, quoted: bool) -> list[dict[str, str]]:
    """Rows of a headed TSV; the rbc file uses CSV-style quoting, langid not."""
    with path.open(encoding="utf-8", newline="") as handle:
        if quoted:
            return list(csv.DictReader(handle, delimiter="\t"))
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def samples(path: Path) -> list[Sample]:
    """(lang, text) pairs: leipzig rows, rbc titles, and one sample per column
    of tatoeba's parallel ru/uk rows."""
    rows = read_tsv(path, quoted=path.name == RBC_NAME)
    for text_key in ("text", "title"):  # leipzig / rbc headlines
        if rows and text_key in rows[0]:
            return [(row["lang"], row[text_key]) for row in rows]
    return [(lang, row[lang]) for row in rows for lang in ("uk", "ru")]


def run(
    name: str,
    data: Sequence[Sample],
    detectors: dict[str, Detect],
    known: frozenset[str],
    show_errors: bool,
) -> dict[str, dict[str, Tally]]:
    """Evaluate every detector on ``data`` and print one table block."""
    tallies: dict[str, dict[str, Tally]] = {d: {} for d in detectors}
    for truth, text in data:
        for det_name, detect in detectors.items():
            tallies[det_name].setdefault(truth, Tally()).add(truth, detect(text), text)
    names = list(detectors)
    ours = [d for d in names if d.startswith("ours")]
    head = "".join(f"{d:>12}" for d in names) + "".join(f"{'→uk/ru ' + d:>18}" for d in ours)
    print(f"\n{name}\n{'lang':<6}{'n':>5}{head}")
    langs = sorted(tallies[names[0]], key=lambda lang: (lang not in known, lang))
    for lang in langs:
        cells = [tallies[d][lang] for d in names]
        mark = "" if lang in known else "  (unknown to langdetect)"
        acc = "".join(f"{pct(t.right, t.n):>12}" for t in cells)
        uk_ru = "".join(f"{pct(tallies[d][lang].as_uk_ru, cells[0].n):>18}" for d in ours)
        print(f"{lang:<6}{cells[0].n:>5}{acc}{uk_ru}{mark}")
    overall = []
    for d in names:
        ts = [t for lang, t in tallies[d].items() if lang in known]
        overall.append(pct(sum(t.right for t in ts), sum(t.n for t in ts)))
    n_known = sum(t.n for lg, t in tallies[names[0]].items() if lg in known)
    print(
        f"{'known':<6}{n_known:>5}"
        + "".join(f"{o:>12}" for o in overall)
        + "   (every language langdetect knows)"
    )
    if "uk" in tallies[names[0]]:
        n_uk = tallies[names[0]]["uk"].n
        confusion = ", ".join(f"{d} {tallies[d]['uk'].uk_as_ru}/{n_uk}" for d in names)
        print(f"uk→ru  {confusion}")
    if show_errors:
        for d in ours:
            for lang in langs:
                for guess, text in tallies[d][lang].errors:
                    print(f"  [{d}] {lang}->{guess}: {text[:110]}")
    return tallies


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run every set, print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="langid data directory")
    parser.add_argument("--rbc", type=Path, default=None, help="rbc labelled headlines TSV")
    parser.add_argument("--show-errors", action="store_true", help="list our mistakes")
    args = parser.parse_args(argv)

    data_dir: Path = args.data
    if not data_dir.is_dir():
        print(f"langid data not found at {data_dir} (pass --data DIR); nothing to benchmark.")
        return 0
    rbc_path: Path = args.rbc or data_dir.parent / "rbc" / RBC_NAME

    sys.path.insert(0, str(REPO_ROOT))
    from ingest.extract import language

    known = language.langdetect_languages()

    def best(probs: dict[str, float]) -> str | None:
        # Highest probability, ties to the smaller code: the same rule as detect_language.
        return min(probs, key=lambda lang: (-probs[lang], lang)) if probs else None

    def plain(text: str) -> str | None:
        return best(language.langdetect_probabilities(text))

    def plain_cand(text: str) -> str | None:
        return best(language.langdetect_probabilities(text, restrict=SITE_CANDIDATES))

    def ours(text: str) -> str | None:
        return language.detect_language(text)[0]

    def ours_cand(text: str) -> str | None:
        return language.detect_language(text, SITE_CANDIDATES)[0]

    # Each set is scored several times (halves, then both): answers are memoised per text.
    detectors: dict[str, Detect] = {
        "plain": functools.cache(plain),
        "ours": functools.cache(ours),
        "plain+cand": functools.cache(plain_cand),
        "ours+cand": functools.cache(ours_cand),
    }
    started = time.perf_counter()
    sentences_path = data_dir / "leipzig_sentences_dev.tsv"
    paragraphs_path = data_dir / "leipzig_paragraphs_dev.tsv"
    tatoeba_path = data_dir / "tatoeba_rus_ukr_parallel_dev.tsv"
    missing = [p.name for p in (sentences_path, paragraphs_path, tatoeba_path) if not p.is_file()]
    if missing:
        print(f"missing in {data_dir}: {', '.join(missing)}; nothing to benchmark.")
        return 0
    print(
        "accuracy per language; +cand = with the site's candidate languages "
        f"{list(SITE_CANDIDATES)}; plain+cand = langdetect restricted to them; "
        "'→uk/ru' = share wrongly answered uk or ru (uk taken for ru, bg taken for ru, ...)"
    )
    sentences = samples(sentences_path)
    for part in ("held", "tune"):
        subset = [(lang, text) for lang, text in sentences if half(text) == part]
        title = "HELD-OUT half (not looked at while tuning)" if part == "held" else "tuning half"
        run(f"{sentences_path.name}: {title}", subset, detectors, known, args.show_errors)
    run(f"{sentences_path.name}: both halves", sentences, detectors, known, False)
    run(paragraphs_path.name, samples(paragraphs_path), detectors, known, args.show_errors)
    run(tatoeba_path.name, samples(tatoeba_path), detectors, known, args.show_errors)
    if rbc_path.is_file():
        run(rbc_path.name, samples(rbc_path), detectors, known, args.show_errors)
    else:
        print(f"\nrbc headlines not found at {rbc_path} (pass --rbc FILE); skipped.")
    unknown = sorted({"be", "sr", "kk"} - known)
    print(f"\nnot in langdetect's profiles (reported, not in 'known'): {', '.join(unknown)}")
    print(f"elapsed {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
