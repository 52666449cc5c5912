"""The package as users install it: the wheel, not this checkout. It must carry everything
``ingest demo`` reads (site entries, both hand-made mirrors); an editable install hides what a
wheel leaves out (a missing mirror was a FileNotFoundError only after ``pip install .``)."""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(
    ".venv", ".git", "data", "eval-data", "eval-runs", "build", "dist", "*.egg-info",
    "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "tests",
)  # fmt: skip


def test_the_wheel_runs_the_demo_without_this_checkout(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(source)],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("news_ingest-*.whl")
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    # The dependencies come from this environment's site-packages, offline: a path line in a
    # .pth file adds them, without running their own .pth files (this checkout's editable
    # install among them).
    (site_dir,) = (env_dir / "lib").glob("python3*/site-packages")
    (site_dir / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    run = tmp_path / "elsewhere"
    run.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import ingest; print(ingest.__file__)"],
        cwd=run, check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert str(site_dir) in where.stdout  # the wheel's copy, not this checkout
    result = subprocess.run(
        [str(env_dir / "bin" / "ingest"), "demo", "--db", str(run / "demo.db")],
        cwd=run, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sites: rbc 39, pravda 6, euronews 3" in result.stdout
