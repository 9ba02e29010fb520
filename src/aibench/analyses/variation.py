"""Run-to-run variation and benchmarking cost, as the paper measures them (sections 5.3.1 and 5.3.2).

- Variation: per benchmark, the coefficient of variation of the epochs each session took to reach the paper's
  convergent quality (sample standard deviation, n - 1, over the mean), beside the paper's figure where it gives
  one. Whether the seeds were fixed is read from the sessions, not assumed: one seed for all sessions is "fixed",
  distinct seeds "varied".
- Cost: the wall time of entire sessions (started to finished, not only time to quality: the paper's cost is
  what a user waits for) summed per benchmark, for a set of benchmarks against the full suite; the saving is
  1 - subset / full (the paper: the subset saves 41%).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from aibench.analyses.summary import by_benchmark, coefficient_of_variation
from aibench.harness.display import safe_text

# Section 5.3.1's run-to-run variation of epochs to converge (the paper's Table 6, in %).
PAPER_EPOCHS_COV: dict[str, float] = {
    "DC-AI-C1": 1.12,  # image classification
    "DC-AI-C6": 12.08,  # speech recognition (fixed seed)
    "DC-AI-C9": 0.0,  # object detection
    "DC-AI-C15": 38.46,  # 3D face recognition
    "DC-AI-C16": 1.9,  # learning to rank
}
PAPER_SUBSET_SAVING = 0.41  # section 5.3.2: the subset's sessions against the whole suite's


def seeding(results: Sequence[dict[str, Any]]) -> str:
    """'fixed' when every session used one seed, 'varied' when they differ."""
    return "fixed" if len({r["seed"] for r in results}) == 1 else "varied"


def variation(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per benchmark: sessions, seeding, epochs to the convergent quality of each session that reached it, and
    their CoV (None below two such sessions) beside the paper's."""
    rows = []
    for bench_id, runs in by_benchmark(results).items():
        epochs = [r["metrics"]["epochs_to_convergent"] for r in runs if r["metrics"].get("epochs_to_convergent")]
        cov = coefficient_of_variation(epochs)
        rows.append(
            {
                "benchmark": bench_id,
                "task": runs[0]["benchmark"]["task"],
                "sessions": len(runs),
                "converged": len(epochs),
                "seeds": seeding(runs),
                "convergent": runs[0]["hyperparameters"].get("convergent"),
                "epochs_to_convergent": epochs,
                "epochs_mean": statistics.fmean(epochs) if epochs else None,
                "cov_percent": None if cov is None else 100 * cov,
                "paper_cov_percent": PAPER_EPOCHS_COV.get(bench_id),
            }
        )
    return rows


def session_wall_s(result: dict[str, Any]) -> float:
    """A whole session's wall time: from its start to its end as the result records them."""
    started = datetime.fromisoformat(result["started_at"])
    finished = datetime.fromisoformat(result["finished_at"])
    return (finished - started).total_seconds()


def suite_cost(results: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Wall seconds of entire sessions, summed per benchmark (every session in the results)."""
    cost: dict[str, float] = {}
    for bench_id, runs in by_benchmark(results).items():
        cost[bench_id] = sum(session_wall_s(r) for r in runs)
    return cost


def subset_saving(full: dict[str, float], subset: Sequence[str]) -> dict[str, Any]:
    """The subset's share of the full suite's session time and the saving, 1 - share (the paper's 41%).

    Every benchmark of the subset must be in `full`: a saving against a suite that lacks one is not a saving."""
    missing = [b for b in subset if b not in full]
    if missing:
        raise ValueError(f"the full-suite results have no sessions of {', '.join(missing)}")
    total = sum(full.values())
    part = sum(full[b] for b in subset)
    return {
        "full_s": total,
        "subset_s": part,
        "subset": list(subset),
        "benchmarks_in_full": len(full),
        "share": part / total if total else None,
        "saving": 1 - part / total if total else None,
        "paper_saving": PAPER_SUBSET_SAVING,
    }


def print_variation(rows: Sequence[dict[str, Any]], cost: dict[str, Any] | None, console: Console) -> None:
    table = Table(title="Run-to-run variation: epochs to the convergent quality (paper section 5.3.1)")
    for col in ("benchmark", "task", "sessions", "converged", "seeds", "epochs", "CoV", "paper CoV"):
        table.add_column(col, justify="left" if col in ("benchmark", "task", "seeds", "epochs") else "right")
    for r in rows:
        table.add_row(
            safe_text(r["benchmark"]),
            safe_text(r["task"]),
            str(r["sessions"]),
            str(r["converged"]),
            r["seeds"],
            ", ".join(str(e) for e in r["epochs_to_convergent"]) or "-",
            "-" if r["cov_percent"] is None else f"{r['cov_percent']:.1f}%",
            "-" if r["paper_cov_percent"] is None else f"{r['paper_cov_percent']:.2f}%",
        )
    console.print(table)
    few = [r["benchmark"] for r in rows if r["sessions"] < 4]
    if few:
        console.print(safe_text(f"fewer than 4 sessions (the paper used 4-10): {', '.join(few)}"))
    if cost:
        console.print(
            safe_text(
                f"cost: the subset ({', '.join(cost['subset'])}) took {cost['subset_s']:.0f} s of entire sessions, "
                f"the {cost['benchmarks_in_full']} benchmarks {cost['full_s']:.0f} s: {100 * cost['share']:.1f}% "
                f"of it, a saving of {100 * cost['saving']:.1f}% (paper: {100 * cost['paper_saving']:.0f}%)"
            )
        )
