"""Benchmark pipelines.language.detect_language against plain seeded langdetect.

Why: langdetect alone confuses Ukrainian and Russian (and Russian and
Bulgarian) on single sentences; this script shows, on the shared dev data,
what our evidence rules change, per file and per language, in one run.

Usage (from the repo root):
    python benchmarks/langid_bench.py [--data DIR] [--rbc FILE] [--show-errors]

Default data: ../shared/data/langid relative to the repo root; the rbc.ua
headlines are looked up next to it (../rbc/...labelled.tsv).  Missing data is
reported and the script exits 0 (the data is not part of the repo).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "langid"
RBC_NAME = "rbc_ua_headlines_2026-05-09.labelled.tsv"
RBC_CANDIDATES = ("uk", "ru", "en")
UK_RU = frozenset({"uk", "ru"})

Detector = Callable[[str], str | None]


@dataclass
class Tally:
    """Per (file, language) counts for one detector."""

    n: int = 0
    right: int = 0
    as_uk_ru: int = 0  # wrongly answered uk or ru (uk->ru, ru->uk, bg->ru, ...)
    errors: list[tuple[str | None, str]] = field(default_factory=list)

    def add(self, truth: str, guess: str | None, text: str) -> None:
        """Count one answer."""
        self.n += 1
        if guess == truth:
            self.right += 1
            return
        if guess in UK_RU:
            self.as_uk_ru += 1
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


def samples(path: Path) -> list[tuple[str, str]]:
    """(lang, text) pairs: leipzig rows, rbc titles, and one sample per column
    of tatoeba's parallel ru/uk rows."""
    rows = read_tsv(path, quoted=path.name == RBC_NAME)
    for text_key in ("text", "title"):  # leipzig / rbc headlines
        if rows and text_key in rows[0]:
            return [(row["lang"], row[text_key]) for row in rows]
    return [(lang, row[lang]) for row in rows for lang in ("uk", "ru")]


def run(
    name: str,
    data: Sequence[tuple[str, str]],
    detectors: dict[str, Detector],
    known: frozenset[str],
    show_errors: bool,
) -> dict[str, dict[str, Tally]]:
    """Evaluate every detector on ``data`` and print one table block."""
    tallies: dict[str, dict[str, Tally]] = {d: {} for d in detectors}
    for truth, text in data:
        for det_name, detect in detectors.items():
            tallies[det_name].setdefault(truth, Tally()).add(truth, detect(text), text)
    names = list(detectors)
    head = "".join(f"{d:>10}" for d in names) + "".join(f"{'→uk/ru ' + d:>18}" for d in names)
    print(f"\n{name}\n{'lang':<6}{'n':>5}{head}")
    langs = sorted(tallies[names[0]], key=lambda lang: (lang not in known, lang))
    for lang in langs:
        cells = [tallies[d][lang] for d in names]
        mark = "" if lang in known else "  (unknown to langdetect)"
        acc = "".join(f"{pct(t.right, t.n):>10}" for t in cells)
        uk_ru = "".join(f"{pct(t.as_uk_ru, t.n):>18}" for t in cells)
        print(f"{lang:<6}{cells[0].n:>5}{acc}{uk_ru}{mark}")
    overall = []
    for d in names:
        ts = [t for lang, t in tallies[d].items() if lang in known]
        overall.append(pct(sum(t.right for t in ts), sum(t.n for t in ts)))
    print(
        f"{'known':<6}{sum(t.n for lg, t in tallies[names[0]].items() if lg in known):>5}"
        + "".join(f"{o:>10}" for o in overall)
        + "   (every language langdetect knows)"
    )
    if show_errors:
        for d in names[1:]:
            for lang in langs:
                for guess, text in tallies[d][lang].errors:
                    print(f"  [{d}] {lang}->{guess}: {text[:110]}")
    return tallies


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run every file, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    from pipelines import language

    known = language.langdetect_languages()

    def plain(text: str) -> str | None:
        probs = language.langdetect_probabilities(text)
        return max(probs, key=probs.__getitem__) if probs else None

    def ours(text: str) -> str | None:
        return language.detect_language(text)[0]

    def ours_cand(text: str) -> str | None:
        return language.detect_language(text, RBC_CANDIDATES)[0]

    started = time.perf_counter()
    files = sorted(data_dir.glob("*.tsv"))
    if not files:
        print(f"no *.tsv files in {data_dir}; nothing to benchmark.")
        return 0
    print(
        "accuracy per language; '→uk/ru' = share wrongly answered uk or ru "
        "(uk taken for ru, ru taken for uk, bg taken for ru, ...)"
    )
    for path in files:
        run(path.name, samples(path), {"plain": plain, "ours": ours}, known, args.show_errors)
    if rbc_path.is_file():
        run(
            f"{rbc_path.name} (ours+cand = candidates {list(RBC_CANDIDATES)})",
            samples(rbc_path),
            {"plain": plain, "ours": ours, "ours+cand": ours_cand},
            known,
            args.show_errors,
        )
    else:
        print(f"\nrbc headlines not found at {rbc_path} (pass --rbc FILE); skipped.")
    unknown = sorted({"be", "sr", "kk"} - known)
    print(f"\nnot in langdetect's profiles (reported, not in 'known'): {', '.join(unknown)}")
    print(f"elapsed {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
