"""`aibench report`: one self-contained HTML file of a user's measurements, with the paper's kinds of figures.

Each results folder given is one system (a label from its folder name); its training sessions, profiles, inference
runs and characterization files are read with the schema checks of `load_results` (JSON only, never pickle;
invalid files are listed in the report, not trusted). Plotly draws the figures: its JavaScript is inlined once, so
the file opens with no network, and every figure stays interactive (hover shows the exact number, log axes zoom),
which a report spanning eight orders of magnitude of FLOPs needs more than a static image; matplotlib would give
pictures of numbers the reader cannot query.

Everything a results file says is text to escape: strings reach the page only through `html.escape` (tables) or
through JSON with `<`, `>` and `&` written as \\u escapes (figures), so a benchmark called "<script>" is shown,
not run. After the figures are drawn, the page writes the numbers each figure holds into `#plotted` and any
script error into `#errors`, so a headless browser test can check both.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aibench.analyses.compare import compare, interval_text, verdict_text
from aibench.analyses.summary import benchmark_order, summarize
from aibench.analyses.variation import PAPER_EPOCHS_COV, suite_cost, variation
from aibench.harness.results import ResultFileError, load_results, read_result


@dataclass
class SystemResults:
    """One results folder: what it holds, by kind."""

    label: str
    sessions: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    inference: list[dict[str, Any]] = field(default_factory=list)
    characterization: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def load_system(folder: Path, label: str | None = None) -> SystemResults:
    out = SystemResults(label or folder.name)
    for kind, target in (("training", out.sessions), ("profile", out.profiles), ("inference", out.inference)):
        loaded = load_results(folder, kind)
        target += loaded.results
        out.skipped += [(str(p), why) for p, why in loaded.skipped]
    for path in sorted(folder.glob("**/characterize*.json")):
        try:
            data = read_result(path)
        except ResultFileError as exc:
            out.skipped.append((str(path), str(exc)))
            continue
        if data.get("kind") == "characterization":
            out.characterization.append(data)
    return out


def _safe_json(data: Any) -> str:
    """JSON that cannot close a <script> element or open markup."""
    text = json.dumps(data, allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, spec: str = ".4g") -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not math.isfinite(value):
        return "–"
    return format(value, spec) if isinstance(value, (int, float)) else str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Figures:
    """Plotly figures as JSON specs, drawn by the page's script."""

    def __init__(self) -> None:
        self.specs: list[dict[str, Any]] = []

    def add(self, title: str, traces: list[dict[str, Any]], layout: dict[str, Any] | None = None) -> str:
        fig_id = f"fig{len(self.specs)}"
        base = {"title": {"text": title}, "height": 420, "margin": {"t": 50, "l": 70, "r": 20, "b": 60}}
        self.specs.append({"id": fig_id, "data": traces, "layout": {**base, **(layout or {})}})
        return f'<div class="fig" id="{fig_id}"></div>'


def _line(x: list[Any], y: list[Any], name: str) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines+markers", "x": x, "y": y, "name": name}


def _quality_figures(systems: list[SystemResults], figs: Figures) -> str:
    parts = []
    benches = sorted({r["benchmark"]["id"] for s in systems for r in s.sessions}, key=benchmark_order)
    for bench in benches:
        by_time: list[dict[str, Any]] = []
        by_epoch: list[dict[str, Any]] = []
        target, metric = None, None
        for s in systems:
            for r in (r for r in s.sessions if r["benchmark"]["id"] == bench):
                metric = r["benchmark"]["quality_metric"]
                rule = r["hyperparameters"].get("target_rule") or {}
                target = rule.get("value", target)
                points = [(c["epoch"], c["elapsed_s"], c["quality"].get(metric)) for c in r.get("curve") or []]
                points = [p for p in points if p[2] is not None]
                name = _e(f"{s.label} run {r.get('run_index', '?')} (seed {r['seed']})")
                quality = [p[2] for p in points]
                by_time.append(_line([p[1] for p in points], quality, name))
                by_epoch.append(_line([p[0] for p in points], quality, name))
        shapes = []
        if target is not None:
            shapes = [
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": target,
                    "y1": target,
                    "line": {"dash": "dash", "color": "crimson"},
                }
            ]
        layout = {"shapes": shapes, "yaxis": {"title": {"text": _e(metric)}}, "height": 340}
        parts.append(
            '<div class="pair">'
            + figs.add(
                _e(f"{bench}: quality against time (target dashed)"),
                by_time,
                {**layout, "xaxis": {"title": {"text": "seconds"}}},
            )
            + figs.add(
                _e(f"{bench}: quality against epochs"), by_epoch, {**layout, "xaxis": {"title": {"text": "epoch"}}}
            )
            + "</div>"
        )
    return "".join(parts)


def _summary_section(systems: list[SystemResults], figs: Figures) -> str:
    html_parts: list[str] = []
    ttq_traces: list[dict[str, Any]] = []
    cov_traces: list[dict[str, Any]] = []
    flops_traces: list[dict[str, Any]] = []
    for s in systems:
        if not s.sessions:
            continue
        rows = summarize(s.sessions)["benchmarks"]
        rows.sort(key=lambda r: benchmark_order(r["benchmark"]))
        table_rows = [
            [
                r["benchmark"],
                r["task"],
                r["target"],
                f"{r['reached_target']}/{r['runs']}",
                _fmt(r["time_to_quality_s"], ".1f"),
                _fmt(r["epochs_to_quality_mean"], ".2f"),
                _fmt(r["throughput_samples_per_s"], ".1f"),
                _fmt(None if r["fraction_of_peak"] is None else 100 * r["fraction_of_peak"], ".1f"),
            ]
            for r in rows
        ]
        html_parts.append(f"<h3>{_e(s.label)}</h3>")
        html_parts.append(
            _table(
                ["benchmark", "task", "target", "reached", "time to quality (s)", "epochs", "samples/s", "% of peak"],
                table_rows,
            )
        )
        names = [_e(r["benchmark"]) for r in rows]
        times = [r["time_to_quality_s"] for r in rows]
        lows, highs = [], []
        for r in rows:
            reached = [t for t in (_ttq(x) for x in s.sessions if x["benchmark"]["id"] == r["benchmark"]) if t]
            ci = r.get("time_to_quality_ci") or {}
            lo = ci.get("low_s") if ci else (min(reached) if reached else None)
            hi = ci.get("high_s") if ci else (max(reached) if reached else None)
            score = r["time_to_quality_s"]
            lows.append(None if score is None or lo is None else score - lo)
            highs.append(None if score is None or hi is None else hi - score)
        ttq_traces.append(
            {
                "type": "bar",
                "name": _e(s.label),
                "x": names,
                "y": times,
                "error_y": {"type": "data", "symmetric": False, "array": highs, "arrayminus": lows},
            }
        )
        var = variation(s.sessions)
        cov_traces.append(
            {
                "type": "bar",
                "name": _e(f"{s.label} (seeds {'/'.join(sorted({v['seeds'] for v in var}))})"),
                "x": [_e(v["benchmark"]) for v in var],
                "y": [v["cov_percent"] for v in var],
            }
        )
        achieved = [r["train_flops_per_s"] / 1e9 if r["train_flops_per_s"] else None for r in rows]
        peak = [r["train_flops_per_s"] / r["fraction_of_peak"] / 1e9 if r["fraction_of_peak"] else None for r in rows]
        flops_traces.append({"type": "bar", "name": _e(f"{s.label}: achieved"), "x": names, "y": achieved})
        flops_traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "marker": {"symbol": "line-ew-open", "size": 24},
                "name": _e(f"{s.label}: measured matmul peak"),
                "x": names,
                "y": peak,
            }
        )
    if not ttq_traces:
        return "<p>No training sessions in these results.</p>"
    paper = [
        {
            "type": "scatter",
            "mode": "markers",
            "marker": {"symbol": "diamond", "size": 11},
            "name": "paper (section 5.3.1)",
            "x": list(PAPER_EPOCHS_COV),
            "y": list(PAPER_EPOCHS_COV.values()),
        }
    ]
    return (
        "".join(html_parts)
        + figs.add(
            "Time to quality (MLPerf score; bars: bootstrap interval from 5 sessions, else min-max)",
            ttq_traces,
            {"yaxis": {"title": {"text": "seconds"}, "type": "log"}, "barmode": "group"},
        )
        + figs.add(
            "Run-to-run variation: CoV of epochs to the convergent quality (%)",
            cov_traces + paper,
            {"yaxis": {"title": {"text": "CoV %"}}, "barmode": "group"},
        )
        + figs.add(
            "Achieved training FLOP/s against the measured matmul peak",
            flops_traces,
            {"yaxis": {"title": {"text": "GFLOP/s"}, "type": "log"}, "barmode": "group"},
        )
    )


def _ttq(result: dict[str, Any]) -> float | None:
    return result["metrics"].get("time_to_quality_s") if result["metrics"].get("epochs_to_quality") else None


NO_CHARACTERIZATION = (
    "<p>No characterization: run <code>aibench characterize --suite full --out DIR/characterize.json</code>.</p>"
)


def _characteristics(systems: list[SystemResults], figs: Figures) -> str:
    """Parameters against forward FLOPs (log-log), AIBench and MLPerf, as the paper's Figures 1 and 2."""
    char = next((c for s in systems for c in reversed(s.characterization)), None)
    traces: list[dict[str, Any]] = []
    if char:
        rows = char["benchmarks"]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "name": "AIBench (full shapes)",
                "x": [r["full"]["parameters"] for r in rows],
                "y": [r["full"]["forward_flops_per_sample"] for r in rows],
                "text": [_e(r["id"].removeprefix("DC-AI-")) for r in rows],
                "textposition": "top center",
            }
        )
        if char.get("mlperf"):
            m = char["mlperf"]
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers+text",
                    "name": "MLPerf Training (reference shapes)",
                    "marker": {"symbol": "square"},
                    "x": [r["full"]["parameters"] for r in m],
                    "y": [r["full"]["forward_flops_per_sample"] for r in m],
                    "text": [_e(r["model"]) for r in m],
                    "textposition": "bottom center",
                }
            )
    else:
        sessions = {
            r["benchmark"]["id"]: r
            for s in systems
            for r in s.sessions
            if (r.get("characterization") or {}).get("parameters") is not None
        }
        if not sessions:
            return NO_CHARACTERIZATION
        traces.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "name": "AIBench (sessions' shapes)",
                "x": [r["characterization"]["parameters"] for r in sessions.values()],
                "y": [r["characterization"]["forward_flops_per_sample"] for r in sessions.values()],
                "text": [_e(b.removeprefix("DC-AI-")) for b in sessions],
                "textposition": "top center",
            }
        )
    return figs.add(
        "Parameters against forward FLOPs per sample (log-log)",
        traces,
        {
            "xaxis": {"type": "log", "title": {"text": "learnable parameters"}},
            "yaxis": {"type": "log", "title": {"text": "forward FLOPs per sample"}},
            "height": 520,
        },
    )


def _profiles(systems: list[SystemResults], figs: Figures) -> str:
    profs = {p["benchmark"]["id"]: p for s in systems for p in s.profiles}
    if not profs:
        return "<p>No profiles: run <code>aibench profile --suite full --out FOLDER</code>.</p>"
    ids = sorted(profs, key=benchmark_order)
    classes = sorted({c["class"] for p in profs.values() for c in p.get("operator_classes") or []})
    op_traces = [
        {
            "type": "bar",
            "name": _e(c),
            "x": [_e(b) for b in ids],
            "y": [
                100 * next((x["share"] for x in profs[b].get("operator_classes") or [] if x["class"] == c), 0.0)
                for b in ids
            ],
        }
        for c in classes
    ]
    parts = ("data", "forward", "backward", "optimizer", "other")
    br_traces = [
        {
            "type": "bar",
            "name": part,
            "x": [_e(b) for b in ids],
            "y": [100 * profs[b]["breakdown"]["share"].get(part, 0.0) for b in ids],
        }
        for part in parts
    ]
    stacked = {"barmode": "stack", "yaxis": {"title": {"text": "% of step time"}}}
    return figs.add("Operator-class hotspots (share of self time)", op_traces, stacked) + figs.add(
        "Runtime breakdown of a training step", br_traces, stacked
    )


def _inference(systems: list[SystemResults], figs: Figures) -> str:
    traces = []
    for s in systems:
        for run in s.inference:
            lat = (run.get("scenarios") or {}).get("SingleStream", {}).get("latency_ms") or {}
            keys = [k for k in ("p50", "p90", "p95", "p99", "p99.9") if lat.get(k) is not None]
            if keys:
                traces.append(
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "x": keys,
                        "y": [lat[k] for k in keys],
                        "name": _e(f"{s.label}: {run['benchmark']['id']}"),
                    }
                )
    if not traces:
        return "<p>No LoadGen runs: run <code>aibench infer C1 --results FOLDER</code>.</p>"
    return figs.add(
        "LoadGen SingleStream latency percentiles", traces, {"yaxis": {"type": "log", "title": {"text": "ms"}}}
    )


def _comparison(systems: list[SystemResults]) -> str:
    if len(systems) < 2:
        return "<p>One system: give two results folders or more to compare them.</p>"
    parts = []
    base = systems[0]
    for other in systems[1:]:
        result = compare(base.sessions, other.sessions)
        rows = [
            [r["benchmark"], _fmt(r.get("speedup"), ".3f"), interval_text(r.get("interval")), verdict_text(r)]
            for r in result["benchmarks"]
        ]
        geo = result["geomean"]
        parts.append(f"<h3>{_e(other.label)} against {_e(base.label)}</h3>")
        parts.append(_table(["benchmark", "speedup (A time / B time)", "95% interval", "verdict"], rows))
        parts.append(
            f"<p>Geometric mean over the {_e(geo['suite'])} suite: {_e(_fmt(geo.get('geomean_speedup'), '.3f'))}</p>"
        )
    return "".join(parts)


def _systems_section(systems: list[SystemResults]) -> str:
    rows = []
    for s in systems:
        sysinfo = next((r["system"] for r in s.sessions), None) or {}
        cost = suite_cost(s.sessions)
        rows.append(
            [
                s.label,
                sysinfo.get("cpu_model"),
                sysinfo.get("cpu_cores"),
                sysinfo.get("memory_gib"),
                ", ".join(g.get("name", "?") if isinstance(g, dict) else str(g) for g in sysinfo.get("gpus") or [])
                or "none",
                sysinfo.get("torch"),
                sysinfo.get("aibench"),
                sysinfo.get("git_revision"),
                len(s.sessions),
                _fmt(sum(cost.values()), ".0f"),
            ]
        )
    return _table(
        ["system", "CPU", "cores", "memory GiB", "GPUs", "torch", "aibench", "revision", "sessions", "session s"], rows
    )


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.fig { min-height: 320px; } #plotted, #errors { display: none; }
"""

BOOT = """
(function () {
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); report(); });
  var origError = console.error;
  console.error = function () {
    errors.push(Array.prototype.join.call(arguments, ' '));
    origError.apply(console, arguments);
  };
  function report() { document.getElementById('errors').textContent = JSON.stringify(errors); }
  var specs = JSON.parse(document.getElementById('figures').textContent);
  var drawn = specs.map(function (s) {
    return Plotly.newPlot(s.id, s.data, s.layout, {responsive: true, displaylogo: false});
  });
  Promise.all(drawn).then(function (gds) {
    var plotted = gds.map(function (gd) {
      var title = gd.layout.title && gd.layout.title.text;
      return {id: gd.id, title: title, traces: gd.data.map(function (t) { return {name: t.name, x: t.x, y: t.y}; })};
    });
    document.getElementById('plotted').textContent = JSON.stringify(plotted);
    document.body.setAttribute('data-drawn', String(gds.length));
    report();
  }).catch(function (e) { errors.push(String(e)); report(); });
})();
"""


def build_report(folders: Sequence[Path], title: str = "AIBench report") -> str:
    """The report's HTML for these results folders (one system each)."""
    from plotly.offline import get_plotlyjs

    systems = [load_system(f) for f in folders]
    figs = Figures()
    sections = [
        ("Systems", _systems_section(systems)),
        ("Time to quality, variation and efficiency", _summary_section(systems, figs)),
        ("Quality against time and epochs", _quality_figures(systems, figs)),
        ("Model characteristics: AIBench and MLPerf", _characteristics(systems, figs)),
        ("Hotspots and runtime breakdown", _profiles(systems, figs)),
        ("Inference latency (LoadGen)", _inference(systems, figs)),
        ("Comparison of systems", _comparison(systems)),
    ]
    skipped = [(s.label, path, why) for s in systems for path, why in s.skipped]
    if skipped:
        sections.append(("Files not used", _table(["system", "file", "why"], skipped)))
    body = "".join(f"<h2>{_e(name)}</h2>{content}" for name, content in sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{STYLE}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{_e(title)}</h1><p>{_e(', '.join(str(f) for f in folders))}</p>{body}"
        f'<script type="application/json" id="figures">{_safe_json(figs.specs)}</script>'
        '<pre id="plotted"></pre><pre id="errors">[]</pre>'
        f"<script>{BOOT}</script></body></html>"
    )
