"""What each layer of the extractor adds, against trafilatura, in one run.

For every development set it finds (the 181-page article-extraction-benchmark, the tuning and
validation parts of Readability's pages from ``benchmarks/readability_split.py``), it runs:
ours as shipped, ours without the second extractor (``INGEST_SECOND_OPINION`` off), and
trafilatura alone, on the same decoded pages, and prints per set: F1 (the shared harness's
metric for that set: 4-token shingles for dev, bag of words for Readability's pages), empty
bodies, the share of pages on which our evidence was unsure (the second extractor consulted),
the share on which it decided, the split of body sources, and median ms/page of each.

Reads ``../shared/data`` and ``../shared/eval/extract_bench.py`` (not part of a clone: says so
and exits). Usage: python benchmarks/extraction_layers.py [--sets dev,tune,validation]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT.parent / "shared" / "eval" / "extract_bench.py"
SPLIT = {"tune": "readability-tune", "validation": "readability-validation"}


def load_harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("extract_bench", HARNESS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Unsure(logging.Handler):
    """Counts the pages on which ``ingest.extract`` asked the second extractor."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("unsure"):
            self.count += 1


def pages_of(harness: ModuleType, name: str) -> tuple[str, list[dict[str, Any]]]:
    """(scoring kind, pages) of one set."""
    if name == "dev":
        return "dev", harness.load_dataset("dev", harness.DATA_DIRS["dev"])
    folder = ROOT / "eval-data" / SPLIT[name]
    if not folder.is_dir():
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "readability_split.py")], check=True
        )
    return "readability", harness.load_dataset("readability", str(folder))


def run_set(harness: ModuleType, name: str) -> None:
    """Each page through the three extractors in turn (so load on a noisy machine falls on
    all three alike), then the table."""
    import trafilatura

    import ingest.extract as extract

    kind, pages = pages_of(harness, name)
    score = harness.score_dev if kind == "dev" else harness.score_bow
    unsure = _Unsure()
    log = logging.getLogger("ingest.extract")
    log.addHandler(unsure)
    log.setLevel(logging.DEBUG)
    labels = ("ours", "ours, no second extractor", "trafilatura 2.3.1")
    texts: dict[str, list[str]] = {label: [] for label in labels}
    times: dict[str, list[float]] = {label: [] for label in labels}
    sources: Counter[str] = Counter()
    consulted = 0

    def ours(page: dict[str, Any], second: bool) -> str:
        extract.SECOND_OPINION = second
        item = extract.extract_clean(page["html"], page["url"])
        if second:
            sources[item.body_source or "none"] += 1
        return item.body or ""

    def traf(page: dict[str, Any]) -> str:
        result = trafilatura.extract(page["html"], url=page["url"] or None, include_comments=False)
        return result or ""

    calls: dict[str, Callable[[dict[str, Any]], str]] = {
        labels[0]: lambda p: ours(p, True),
        labels[1]: lambda p: ours(p, False),
        labels[2]: traf,
    }
    try:
        for page in pages[:3]:  # warm-up: imports, caches
            for call in calls.values():
                call(page)
        sources.clear()
        unsure.count = 0
        for page in pages:
            for label, call in calls.items():
                before = unsure.count
                start = time.perf_counter()
                texts[label].append(call(page))
                times[label].append((time.perf_counter() - start) * 1000)
                if label == labels[0] and unsure.count > before:
                    consulted += 1
    finally:
        extract.SECOND_OPINION = True
        log.removeHandler(unsure)
    n = len(pages)
    traf_ms = statistics.median(times[labels[2]])
    print(f"\n{name} ({n} pages, {'4-token shingles' if kind == 'dev' else 'bag of words'})")
    print(
        "| extractor | F1 | empty | median ms/page (÷ trafilatura) | unsure "
        "| second decides | body sources |"
    )
    print("|---|---|---|---|---|---|---|")
    for label in labels:
        got = texts[label]
        f1 = harness.aggregate(kind, [score(p, t) for p, t in zip(pages, got, strict=True)])["f1"]
        empty = sum(1 for t in got if not t.strip())
        ms = statistics.median(times[label])
        extra = " | | "
        if label == labels[0]:
            split = ", ".join(f"{k} {v * 100 / n:.0f}%" for k, v in sources.most_common())
            decided = sources.get("fallback", 0)
            extra = f"{consulted * 100 / n:.0f}% | {decided * 100 / n:.0f}% | {split}"
        print(f"| {label} | {f1:.3f} | {empty} | {ms:.1f} ({ms / traf_ms:.2f}) | {extra} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="dev,tune,validation")
    args = parser.parse_args()
    if not HARNESS.is_file():
        print(f"no extraction harness at {HARNESS} (../shared is not part of a clone)")
        return 1
    harness = load_harness()
    harness.block_network()
    for name in args.sets.split(","):
        run_set(harness, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
