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

from aibench.analyses.summary import coefficient_of_variation, olympic_mean
from aibench.catalog import PAPER_CHARACTERISTICS, PAPER_RANGES
from aibench.harness.flops import FLOP_COUNTER, characterize_model
from aibench.harness.results import RESULT_SCHEMA_VERSION, load_results
from aibench.registry import get_benchmark


def epochs_to_quality(results: list[dict[str, Any]], benchmark_id: str) -> dict[str, Any]:
    """Epochs to the target over the successful sessions of one benchmark in a results folder."""
    mine = [r for r in results if r["benchmark"]["id"] == benchmark_id]
    epochs = [r["metrics"]["epochs_to_quality"] for r in mine if r["status"] == "success"]
    if not epochs:
        return {"unavailable": f"no successful session of {benchmark_id} among {len(mine)} in the results"}
    return {"values": epochs, "mean": sum(epochs) / len(epochs), "olympic_mean": olympic_mean(epochs),
            "cv": coefficient_of_variation(epochs), "sessions": len(epochs),
            "profiles": sorted({r["profile"] for r in mine if r["status"] == "success"}),
            "targets": sorted({r["hyperparameters"]["target"] for r in mine if r["status"] == "success"})}


def characterize(ids: tuple[str, ...], profile: str, results_dir: Path | None = None,
                 progress: Any = None) -> dict[str, Any]:
    results = load_results(results_dir) if results_dir else []
    rows = []
    for bench_id in ids:
        cls = get_benchmark(bench_id)
        if progress:
            progress(f"counting {bench_id} ({cls.info.model})")
        row: dict[str, Any] = {"id": bench_id, "task": cls.info.task, "model": cls.info.model,
                               "full": characterize_model(cls, cls.profiles["full"])}
        if profile != "full":
            row[profile] = characterize_model(cls, cls.profiles[profile])
        row["epochs_to_quality"] = (epochs_to_quality(results, bench_id) if results_dir
                                    else {"unavailable": "no results folder given (--results DIR)"})
        row["paper"] = PAPER_CHARACTERISTICS.get(bench_id, "not in the text (Fig. 2 only)")
        rows.append(row)
    return {"schema_version": RESULT_SCHEMA_VERSION, "kind": "characterization", "profile": profile,
            "counter": FLOP_COUNTER, "units": {"flops": "floating-point operations (1 multiply-add = 2 FLOPs)",
                                               "macs": "multiply-accumulates = FLOPs / 2"},
            "results": str(results_dir) if results_dir else None, "paper_ranges": PAPER_RANGES,
            "benchmarks": rows}


def si(x: float) -> str:
    """8.178e9 -> '8.178 G': per-sample FLOPs span eight orders of magnitude across the suite."""
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:,.3f} {prefix}"
    return f"{x:.0f}"


def print_characterization(result: dict[str, Any], console: Console) -> None:
    profile = result["profile"]
    table = Table(title="Model characteristics per sample (FLOPs counted by FlopCounterMode; MACs = FLOPs/2)")
    for col in ("benchmark", "profile", "sample", "parameters", "forward FLOPs", "forward MACs",
                "train step FLOPs (fwd+bwd)", "counted on"):
        table.add_column(col, justify="right" if col.startswith(("param", "forward", "train")) else "left")
    for row in result["benchmarks"]:
        for prof in ("full", profile) if profile != "full" else ("full",):
            c = row[prof]
            table.add_row(row["id"] if prof == "full" else "", prof, c["sample"], si(c["parameters"]),
                          si(c["forward_flops_per_sample"]), si(c["forward_macs_per_sample"]),
                          si(c["train_step_flops_per_sample"]), c["counted_on"])
    console.print(table)
    conv = Table(title="Epochs to quality (from results) and the paper")
    for col in ("benchmark", "epochs to quality", "paper (section 5.2.1)"):
        conv.add_column(col)
    for row in result["benchmarks"]:
        e = row["epochs_to_quality"]
        if "unavailable" in e:
            text = e["unavailable"]
        else:
            cv = "CV needs 2+ sessions" if e["cv"] is None else f"CV {e['cv'] * 100:.1f}%"
            text = f"{e['mean']:.1f} mean over {e['sessions']} session(s) ({', '.join(e['profiles'])}; {cv})"
        conv.add_row(row["id"], text, row["paper"])
    console.print(conv)
    ranges = result["paper_ranges"]
    console.print(f"Paper's suite ranges: forward {ranges['forward']}; parameters {ranges['parameters']}; "
                  f"epochs {ranges['epochs']}.")
