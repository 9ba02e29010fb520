"""Workload characterization (paper section 5.2.1): parameters, FLOPs and epochs to the convergent quality.

Parameters and FLOPs come from counting each benchmark's model at the `full` profile's shapes (the real
workload) and at the profile being run (what this machine trained); epochs to quality come from the results
of training sessions when a results folder is given; the paper's statements stand beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from aibench.analyses.mlperf_workloads import characterize_mlperf
from aibench.analyses.summary import coefficient_of_variation, olympic_mean, reached_target
from aibench.benchmarks.quality import first_met, rule_from_json
from aibench.catalog import PAPER_CHARACTERISTICS, PAPER_MLPERF_RANGES, PAPER_RANGES
from aibench.harness.display import safe_text
from aibench.harness.flops import FLOP_COUNTER, characterize_model
from aibench.harness.results import RESULT_SCHEMA_VERSION, load_results
from aibench.registry import get_benchmark


def _convergent_epoch(result: dict[str, Any]) -> int | None:
    """Epochs to the convergent quality, from the stored curve and the rule the session recorded (or, for
    older results, the registry's rule of its profile)."""
    rule_json = result["hyperparameters"].get("convergent_rule")
    if rule_json is None:
        convergent = get_benchmark(result["benchmark"]["id"]).profiles[result["profile"]].convergent
        if convergent is None:
            return None
        rule_json = convergent.to_json()
    point = first_met(rule_from_json(rule_json), result.get("curve", []))
    return int(point["epoch"]) if point else None


def _stats(values: list[int]) -> dict[str, Any]:
    return {
        "values": values,
        "mean": sum(values) / len(values),
        "olympic_mean": olympic_mean(values),
        "cv": coefficient_of_variation(values),
        "sessions": len(values),
    }


def epochs_to_quality(results: list[dict[str, Any]], benchmark_id: str) -> dict[str, Any]:
    """Epochs to the target and to the convergent quality over one benchmark's sessions in a results folder."""
    mine = [r for r in results if r["benchmark"]["id"] == benchmark_id]
    to_target = [r["metrics"]["epochs_to_quality"] for r in mine if reached_target(r)]
    converged = [e for e in (_convergent_epoch(r) for r in mine) if e is not None]
    if not to_target and not converged:
        return {
            "unavailable": f"no session of {benchmark_id} reached its target or convergent quality "
            f"({len(mine)} in the results)"
        }
    out: dict[str, Any] = {
        "profiles": sorted({r["profile"] for r in mine}),
        "targets": sorted({str(r["hyperparameters"]["target"]) for r in mine}),
        "convergent": sorted({str(r["hyperparameters"].get("convergent")) for r in mine}),
    }
    out["target"] = _stats(to_target) if to_target else {"unavailable": "no session reached the target"}
    out["convergent_quality"] = (
        _stats(converged) if converged else {"unavailable": "no session reached the convergent quality"}
    )
    return out


def characterize(
    ids: tuple[str, ...],
    profile: str,
    results_dir: Path | None = None,
    progress: Any = None,
    mlperf: bool = False,
) -> dict[str, Any]:
    """Parameters and FLOPs per sample of each benchmark at full shapes and at `profile`, epochs to quality from
    `results_dir`, and with `mlperf` the MLPerf Training workloads at their reference shapes beside them."""
    loaded = load_results(results_dir) if results_dir else None
    results = loaded.results if loaded else []
    rows = []
    for bench_id in ids:
        cls = get_benchmark(bench_id)
        if progress:
            progress(f"counting {bench_id} ({cls.info.model})")
        row: dict[str, Any] = {
            "id": bench_id,
            "task": cls.info.task,
            "model": cls.info.model,
            "full": characterize_model(cls, cls.profiles["full"]),
        }
        if profile != "full":
            row[profile] = characterize_model(cls, cls.profiles[profile])
        row["epochs_to_quality"] = (
            epochs_to_quality(results, bench_id)
            if results_dir
            else {"unavailable": "no results folder given (--results DIR)"}
        )
        row["paper"] = PAPER_CHARACTERISTICS.get(bench_id, "not in the text (Fig. 2 only)")
        rows.append(row)
    mlperf_rows = characterize_mlperf(progress=progress) if mlperf else []
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "kind": "characterization",
        "profile": profile,
        "skipped_results": [{"path": str(p), "reason": why} for p, why in (loaded.skipped if loaded else [])],
        "counter": FLOP_COUNTER,
        "units": {
            "flops": "floating-point operations (1 multiply-add = 2 FLOPs)",
            "macs": "multiply-accumulates = FLOPs / 2",
        },
        "results": str(results_dir) if results_dir else None,
        "paper_ranges": PAPER_RANGES,
        "ranges": suite_ranges(rows),
        "benchmarks": rows,
        "mlperf": mlperf_rows,
        "mlperf_ranges": suite_ranges(mlperf_rows, key="model"),
        "paper_mlperf_ranges": PAPER_MLPERF_RANGES,
    }


def suite_ranges(rows: list[dict[str, Any]], key: str = "id") -> dict[str, Any]:
    """The lowest and highest full-shape forward FLOPs and parameter counts over the benchmarks counted, with
    which benchmark holds each end: the figures to set beside the paper's ranges."""
    if not rows:
        return {}
    out: dict[str, Any] = {"benchmarks": len(rows)}
    for field in ("forward_flops_per_sample", "parameters"):
        lo = min(rows, key=lambda r: r["full"][field])
        hi = max(rows, key=lambda r: r["full"][field])
        out[field] = {"min": lo["full"][field], "min_id": lo[key], "max": hi["full"][field], "max_id": hi[key]}
    return out


def _epochs_text(stats: dict[str, Any], bars: list[str]) -> str:
    if "unavailable" in stats:
        return stats["unavailable"]
    cv = "CV needs 2+ sessions" if stats["cv"] is None else f"CV {stats['cv'] * 100:.1f}%"
    return f"{stats['mean']:.1f} mean over {stats['sessions']} session(s) ({'; '.join(bars)}; {cv})"


def si(x: float) -> str:
    """8.178e9 -> '8.178 G': per-sample FLOPs span eight orders of magnitude across the suite."""
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:,.3f} {prefix}"
    return f"{x:.0f}"


def print_characterization(result: dict[str, Any], console: Console) -> None:
    profile = result["profile"]
    table = Table(title="Model characteristics per sample (FLOPs counted by FlopCounterMode; MACs = FLOPs/2)")
    for col in (
        "benchmark",
        "profile",
        "sample",
        "parameters",
        "forward FLOPs",
        "forward MACs",
        "train step FLOPs (fwd+bwd)",
        "counted on",
    ):
        table.add_column(col, justify="right" if col.startswith(("param", "forward", "train")) else "left")
    for row in result["benchmarks"]:
        for prof in ("full", profile) if profile != "full" else ("full",):
            c = row[prof]
            table.add_row(
                row["id"] if prof == "full" else "",
                prof,
                c["sample"],
                si(c["parameters"]),
                si(c["forward_flops_per_sample"]),
                si(c["forward_macs_per_sample"]),
                si(c["train_step_flops_per_sample"]),
                c["counted_on"],
            )
    console.print(table)
    conv = Table(title="Epochs to converge (convergent quality, as the paper counts them) and to the target")
    for col in ("benchmark", "epochs to convergent quality", "epochs to target", "paper (section 5.2.1)"):
        conv.add_column(col)
    for row in result["benchmarks"]:
        e = row["epochs_to_quality"]
        if "unavailable" in e:
            conv.add_row(row["id"], safe_text(e["unavailable"]), "", row["paper"])
        else:
            conv.add_row(
                row["id"],
                safe_text(_epochs_text(e["convergent_quality"], e["convergent"])),
                safe_text(_epochs_text(e["target"], e["targets"])),
                row["paper"],
            )
    console.print(conv)
    ranges = result["paper_ranges"]
    console.print(
        f"Paper's suite ranges: forward {ranges['forward']}; parameters {ranges['parameters']}; "
        f"epochs {ranges['epochs']}."
    )
    ours = result.get("ranges") or {}
    if ours:
        console.print(_range_text(f"These {ours['benchmarks']} benchmarks at full shapes", ours))
    if result.get("mlperf"):
        table = Table(title="MLPerf Training workloads at their reference shapes (the same counter)")
        for col in ("task", "model", "shapes from", "sample", "parameters", "forward FLOPs", "train step FLOPs"):
            table.add_column(col, justify="right" if col.startswith(("param", "forward", "train")) else "left")
        for row in result["mlperf"]:
            c = row["full"]
            table.add_row(
                row["task"],
                row["model"],
                row["reference"],
                c["sample"],
                si(c["parameters"]),
                si(c["forward_flops_per_sample"]),
                si(c["train_step_flops_per_sample"]),
            )
        console.print(table)
        paper = result["paper_mlperf_ranges"]
        console.print(f"Paper's MLPerf ranges: forward {paper['forward']}; parameters {paper['parameters']}.")
        console.print(_range_text("These MLPerf workloads", result["mlperf_ranges"]))


def _range_text(what: str, ranges: dict[str, Any]) -> str:
    f, n = ranges["forward_flops_per_sample"], ranges["parameters"]
    return (
        f"{what}: forward {f['min'] / 1e6:,.3g} ({f['min_id']}) to {f['max'] / 1e6:,.0f} ({f['max_id']}) M-FLOPs "
        f"({f['min'] / 2e6:,.3g} to {f['max'] / 2e6:,.0f} M-MACs); parameters {n['min'] / 1e6:,.3g} M "
        f"({n['min_id']}) to {n['max'] / 1e6:,.1f} M ({n['max_id']})."
    )
