"""The report opens in a real browser (headless Chromium, file://, no server, no network)
and every figure decodes there.

The report's inline script writes ``data-images-total`` / ``data-images-loaded`` on
``<body>`` once the page has loaded; ``--dump-dom`` prints the DOM after that. A page with
one corrupted image shows the check can fail. Skipped when Chromium is not installed
(CI installs Debian's ``chromium``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from analysis_support import make_run, shared_data
from switchvae.analysis.html import FigureBlock, Section, render_page
from switchvae.analysis.report import ReportOptions, write_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)
TIMEOUT_S = 60
WINDOW = "1200,3000"

pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="Chromium is not installed (apt-get install chromium)"
)


def _chromium(page: Path, profile: Path, *extra: str) -> str:
    """Run headless Chromium on ``file://page``; return its stdout."""
    command = [
        BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", f"--window-size={WINDOW}",
        *extra, page.resolve().as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _image_counts(page: Path, profile: Path) -> tuple[int, int]:
    """(images on the page, images decoded) as the page's own script counted them."""
    dom = _chromium(page, profile, "--virtual-time-budget=5000", "--dump-dom")
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    total = re.search(r'data-images-total="(\d+)"', body.group(1))
    loaded = re.search(r'data-images-loaded="(\d+)"', body.group(1))
    assert total and loaded, f"the load check did not run: {body.group(0)}"
    return int(total.group(1)), int(loaded.group(1))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    run_dir = make_run(root, shared_data(tmp_path_factory))
    options = ReportOptions(reconstructions=3, steps=4, prior_samples=4)
    return write_report(run_dir, options=options)


def test_every_report_image_loads(report: Path, tmp_path: Path):
    total, loaded = _image_counts(report, tmp_path / "profile")
    expected = len(re.findall(r"<img ", report.read_text()))
    assert total == expected == 7 and loaded == total


def test_a_broken_image_is_caught(tmp_path: Path):
    good = tmp_path / "good.png"
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(good.read_bytes()[:40])  # header only: does not decode
    page = tmp_path / "page.html"
    figures = [FigureBlock("good", good), FigureBlock("broken", broken)]
    page.write_text(render_page("t", "s", [Section("figures", figures=figures)]))
    assert _image_counts(page, tmp_path / "profile") == (2, 1)


def test_report_screenshot_shows_the_page(report: Path, tmp_path: Path):
    shot = tmp_path / "report.png"
    _chromium(report, tmp_path / "profile", f"--screenshot={shot}")
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (3000, 1200)
    header = pixels[:60].reshape(-1, 3).mean(axis=0)
    assert header.max() < 90  # the dark title bar rendered with its CSS
    figure_rows = (np.abs(np.diff(pixels, axis=1)).sum(axis=(1, 2)) > 5000).sum()
    assert figure_rows > 500  # plenty of rows with detail: tables and figures drew
