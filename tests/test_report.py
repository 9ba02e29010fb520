"""`aibench report`, `compare` and `subset` on real result files: two "systems" (the second a copy of the first's
sessions made twice as fast), a crafted file whose strings are markup, and the report opened in headless Chromium
(Debian's `chromium`), which must draw every figure without a script error and plot the numbers of the results."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from aibench.analyses.report import build_report
from aibench.analyses.summary import mlperf_time_to_train
from aibench.cli import main

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
EVIL = "<script>window.evil=1</script><img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def systems(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("systems")
    a, b = root / "system-a", root / "system-b"
    assert main(["run", "TEST-slow", "--profile", "tiny", "--runs", "5", "--seed", "3", "--out", str(a)]) == 0
    shutil.copytree(a, b)
    for path in b.glob("**/result.json"):
        result = json.loads(path.read_text())
        m = result["metrics"]
        m["time_to_quality_s"] /= 2
        for point in result["curve"]:
            point["elapsed_s"] /= 2
        result["system"]["hostname"] = "faster-host"
        path.write_text(json.dumps(result))
    return a, b


def _sessions(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("**/result.json"))]


def test_compare_sees_the_faster_system_and_subset_names_what_it_cannot_use(systems, capsys, tmp_path):
    a, b = systems
    out = tmp_path / "cmp.json"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    row = next(r for r in json.loads(out.read_text())[0]["benchmarks"] if r["benchmark"] == "TEST-slow")
    assert row["speedup"] == pytest.approx(2.0) and row["significance"] == "B faster"
    assert "geometric mean" in capsys.readouterr().out  # the subset is not in these results: said so
    # TEST-slow has no model to count: the subset cannot place it and says so (a usage error, exit 2).
    assert main(["subset", str(a), "--k", "1"]) == 2
    assert "sessions of TEST-slow have no characterization" in capsys.readouterr().err


def test_report_escapes_every_string_from_a_results_file(systems, tmp_path):
    a, _ = systems
    evil = tmp_path / "evil"
    shutil.copytree(a / "TEST-slow" / "run-1", evil / "TEST-slow" / "run-1")
    path = evil / "TEST-slow" / "run-1" / "result.json"
    result = json.loads(path.read_text())
    result["benchmark"]["task"] = EVIL
    result["benchmark"]["quality_metric"] = EVIL
    result["system"]["cpu_model"] = EVIL
    path.write_text(json.dumps(result))
    page = build_report([evil], title=EVIL)
    assert "<script>window.evil" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.evil=1&lt;/script&gt;" in page  # shown as text in tables and the title


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/setup.sh installs it)")
def test_report_opens_in_headless_chromium_without_errors_and_plots_the_results(systems, tmp_path):
    a, b = systems
    report = tmp_path / "report.html"
    assert main(["report", str(a), str(b), "-o", str(report)]) == 0
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000", "--dump-dom",
         report.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    errors = json.loads(re.search(r'<pre id="errors">(.*?)</pre>', dom, re.S).group(1))
    assert errors == []
    drawn = int(re.search(r'data-drawn="(\d+)"', dom).group(1))
    plotted = json.loads(re.search(r'<pre id="plotted">(.*?)</pre>', dom, re.S).group(1).replace("&amp;", "&"))
    assert drawn == len(plotted) >= 5  # time to quality, CoV, FLOP/s, quality against time and epochs
    # Time to quality as plotted is MLPerf's score of each system's sessions.
    figure = {p["title"]: p["traces"] for p in plotted}
    ttq = next(t for title, t in figure.items() if title.startswith("Time to quality"))
    for trace, folder in zip(ttq, (a, b), strict=True):
        sessions = _sessions(folder)
        score, _ = mlperf_time_to_train([s["metrics"]["time_to_quality_s"] for s in sessions])
        assert trace["y"] == [pytest.approx(score)]
    # Quality against time: every session's curve, point for point.
    curves = figure["TEST-slow: quality against time (target dashed)"]
    first = _sessions(a)[0]
    wanted = ([c["elapsed_s"] for c in first["curve"]], [c["quality"]["score"] for c in first["curve"]])
    assert any((t["x"], t["y"]) == (pytest.approx(wanted[0]), wanted[1]) for t in curves)
