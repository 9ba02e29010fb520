"""Choose a subset of the suite from the user's own measurements, by the paper's criteria (section 3.3).

The paper chose C1, C9 and C16 by "diversity of model complexity, computational cost, convergence rate,
repeatability, and having widely-accepted metrics", without giving a procedure. This is one, documented so that
the same inputs always give the same choice:

1. Features per benchmark, from its training sessions (`aibench run`) and, where given, its `aibench profile`:
   - model complexity: log10 of the learnable parameters;
   - computational cost: log10 of the forward FLOPs per sample (both as the sessions counted them, at the
     sessions' profile);
   - convergence rate: the mean epochs to the convergent quality (a benchmark no session of which converged takes
     the most epochs any of its sessions completed, and is marked);
   - from a profile: the share of each operator class in the step's time, and the runtime breakdown (data,
     forward, backward, optimizer, other).
2. Each feature is standardized (zero mean, unit variance over the benchmarks); each of the groups (complexity,
   cost, convergence, operator mix, breakdown) is then scaled by 1/sqrt(its feature count), so that seven
   operator classes weigh as much as one parameter count, not seven times as much.
3. k-means (scikit-learn, 20 initializations, seed 0) for k = 1, 2, ...: the smallest k whose clusters explain at
   least `coverage` of the features' total variance (between-cluster sum of squares over the total), unless k is
   given.
4. From each cluster, the benchmark with a widely accepted metric (the paper says C2's and C5's are not) that is
   most repeatable: the lowest coefficient of variation of epochs to the convergent quality (benchmarks with
   fewer than two converged sessions rank after those with a measured CoV); ties go to the benchmark nearest the
   cluster's centre.

What the subset covers is measured on the chosen benchmarks themselves: 1 - (sum of squared distances of every
benchmark to its nearest chosen one) / (total sum of squares), the share of the suite's feature variance the
subset represents. Its cost is its entire sessions' wall time against the suite's (`variation.subset_saving`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from aibench.analyses.summary import by_benchmark, coefficient_of_variation
from aibench.analyses.variation import subset_saving, suite_cost
from aibench.catalog import SUITES
from aibench.harness.display import safe_text

# The paper (section 4.1): "This task has no widely accepted evaluation metric" for these two.
NO_ACCEPTED_METRIC = {
    "DC-AI-C2": "image generation: the paper uses the estimated Earth-Mover distance, 'no widely accepted metric'",
    "DC-AI-C5": "image-to-image: the paper adopts FCN scores, 'no widely accepted evaluation metric'",
}
BREAKDOWN_PARTS = ("data", "forward", "backward", "optimizer", "other")
DEFAULT_COVERAGE = 0.75
KMEANS_INIT = 20


def _counted(result: dict[str, Any]) -> bool:
    char = result.get("characterization") or {}
    return char.get("parameters") is not None and char.get("forward_flops_per_sample") is not None


def features(
    sessions: Iterable[dict[str, Any]], profiles: Iterable[dict[str, Any]] = ()
) -> tuple[list[str], dict[str, list[str]], np.ndarray, dict[str, dict[str, Any]]]:
    """(benchmarks, feature names by group, raw feature matrix, facts per benchmark).

    Profile features are used only when every benchmark has a profile: a column missing for some benchmarks
    cannot be standardized honestly."""
    by_bench = by_benchmark(sessions)
    profs = {b: runs[-1] for b, runs in by_benchmark(profiles).items()}
    if not by_bench:
        raise ValueError("no training sessions in the results")
    unusable = [b for b, runs in by_bench.items() if not any(_counted(r) for r in runs)]
    if unusable:
        raise ValueError(f"sessions of {', '.join(unusable)} have no characterization (parameters and FLOPs)")
    ids = list(by_bench)  # in benchmark order
    use_profiles = bool(profs) and all(b in profs for b in ids)
    classes = sorted({c["class"] for p in profs.values() for c in p.get("operator_classes") or []})
    groups: dict[str, list[str]] = {
        "model complexity": ["log10 parameters"],
        "computational cost": ["log10 forward FLOPs per sample"],
        "convergence rate": ["epochs to convergent quality"],
    }
    if use_profiles:
        groups["operator mix"] = [f"share: {c}" for c in classes]
        groups["runtime breakdown"] = [f"share: {p}" for p in BREAKDOWN_PARTS]
    rows, facts = [], {}
    for b in ids:
        runs = by_bench[b]
        char = next(r["characterization"] for r in runs if _counted(r))
        epochs = [r["metrics"]["epochs_to_convergent"] for r in runs if r["metrics"].get("epochs_to_convergent")]
        converged = bool(epochs)
        if not converged:
            epochs = [max(r["metrics"].get("epochs_completed") or 0 for r in runs)]
        cov = coefficient_of_variation(epochs) if converged else None
        row = [
            math.log10(max(char["parameters"], 1)),
            math.log10(max(char["forward_flops_per_sample"], 1.0)),
            float(np.mean(epochs)),
        ]
        if use_profiles:
            p = profs[b]
            shares = {c["class"]: c["share"] for c in p.get("operator_classes") or []}
            row += [shares.get(c, 0.0) for c in classes]
            row += [p["breakdown"]["share"].get(part, 0.0) for part in BREAKDOWN_PARTS]
        rows.append(row)
        facts[b] = {
            "sessions": len(runs),
            "parameters": char["parameters"],
            "forward_flops_per_sample": char["forward_flops_per_sample"],
            "epochs_to_convergent": float(np.mean(epochs)),
            "converged": converged,
            "cov": cov,
            "accepted_metric": b not in NO_ACCEPTED_METRIC,
            "profile": b in profs,
        }
    return ids, groups, np.asarray(rows, dtype=np.float64), facts


def standardize(x: np.ndarray, groups: dict[str, list[str]]) -> np.ndarray:
    """z-scores per column (a constant column is all zeros), each group scaled by 1/sqrt(its size)."""
    from sklearn.preprocessing import StandardScaler

    z = StandardScaler().fit_transform(x)
    weights = np.concatenate([np.full(len(cols), 1 / math.sqrt(len(cols))) for cols in groups.values()])
    return z * weights


def explained(z: np.ndarray, centres: np.ndarray) -> float:
    """1 - sum of squared distances to the nearest centre / total sum of squares about the mean."""
    total = float(((z - z.mean(0)) ** 2).sum())
    if total == 0:
        return 1.0
    nearest = ((z[:, None, :] - centres[None, :, :]) ** 2).sum(-1).min(1)
    return 1 - float(nearest.sum()) / total


def _repeatability_rank(cov: float | None, distance: float) -> tuple[bool, float, float]:
    """Measured CoV first, lowest first; then nearest the cluster's centre."""
    return (cov is None, cov if cov is not None else 0.0, distance)


def choose_subset(
    sessions: Sequence[dict[str, Any]],
    profiles: Sequence[dict[str, Any]] = (),
    k: int | None = None,
    coverage: float = DEFAULT_COVERAGE,
    seed: int = 0,
) -> dict[str, Any]:
    """The subset, why each benchmark was picked, the feature space it covers and its cost."""
    from sklearn.cluster import KMeans

    ids, groups, raw, facts = features(sessions, profiles)
    n = len(ids)
    if k is not None and not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the {n} benchmarks measured, got {k}")
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    z = standardize(raw, groups)
    tried = []
    for kk in [k] if k else range(1, n + 1):
        km = KMeans(n_clusters=kk, n_init=KMEANS_INIT, random_state=seed).fit(z)
        share = explained(z, km.cluster_centers_)
        tried.append({"k": kk, "explained": share})
        if k or share >= coverage - 1e-12:
            break
    picks, clusters = [], []
    for c in range(km.n_clusters):
        members = [ids[i] for i in np.flatnonzero(km.labels_ == c)]
        dist = {b: float(((z[ids.index(b)] - km.cluster_centers_[c]) ** 2).sum()) for b in members}
        eligible = [b for b in members if facts[b]["accepted_metric"]] or members
        best = min(eligible, key=lambda b: _repeatability_rank(facts[b]["cov"], dist[b]))
        reason = []
        if len(members) == 1:
            reason.append("alone in its cluster")
        else:
            cov = facts[best]["cov"]
            reason.append(
                f"lowest epochs-to-converge CoV of its cluster ({100 * cov:.1f}%)"
                if cov is not None
                else "no CoV measured in its cluster (fewer than 2 converged sessions): nearest the cluster's centre"
            )
        dropped = [b for b in members if not facts[b]["accepted_metric"]]
        if dropped and len(dropped) == len(members):
            reason.append("no member has a widely accepted metric")
        elif dropped:
            reason.append(f"{', '.join(dropped)} passed over: {'; '.join(NO_ACCEPTED_METRIC[b] for b in dropped)}")
        picks.append(best)
        clusters.append({"members": members, "pick": best, "reason": "; ".join(reason)})
    order = sorted(picks, key=ids.index)
    cover = explained(z, z[[ids.index(b) for b in order]])
    paper = list(SUITES["subset"])
    cost = None
    full_cost = suite_cost(sessions)
    if all(b in full_cost for b in order):
        cost = subset_saving(full_cost, order)
    return {
        "subset": order,
        "clusters": sorted(clusters, key=lambda c: ids.index(c["pick"])),
        "k": km.n_clusters,
        "k_search": tried,
        "coverage_target": None if k else coverage,
        "covered": cover,
        "features": {g: cols for g, cols in groups.items()},
        "profiles_used": "operator mix" in groups,
        "facts": facts,
        "paper_subset": paper,
        "matches_paper": sorted(order) == sorted(paper),
        "cost": cost,
        "rule": f"k-means (scikit-learn, {KMEANS_INIT} inits, seed {seed}) on standardized, group-weighted "
        f"features; {'k given' if k else f'smallest k explaining >= {coverage:.0%} of the variance'}; per cluster "
        "the most repeatable benchmark with a widely accepted metric",
    }


def print_subset(result: dict[str, Any], console: Console) -> None:
    table = Table(title=f"Subset chosen from your measurements: {', '.join(result['subset'])}")
    for col in ("pick", "cluster", "why"):
        table.add_column(col)
    for c in result["clusters"]:
        table.add_row(safe_text(c["pick"]), safe_text(", ".join(c["members"])), safe_text(c["reason"]))
    console.print(table)
    facts = Table(title="Features per benchmark")
    for col in ("benchmark", "sessions", "parameters", "forward FLOPs/sample", "epochs to converge", "CoV", "metric"):
        facts.add_column(col, justify="left" if col in ("benchmark", "metric") else "right")
    for b, f in result["facts"].items():
        facts.add_row(
            safe_text(b),
            str(f["sessions"]),
            f"{f['parameters'] / 1e6:.3g} M",
            f"{f['forward_flops_per_sample'] / 1e6:.4g} M",
            f"{f['epochs_to_convergent']:.1f}" + ("" if f["converged"] else " (not converged)"),
            "-" if f["cov"] is None else f"{100 * f['cov']:.1f}%",
            "accepted" if f["accepted_metric"] else "not widely accepted",
        )
    console.print(facts)
    how = ", ".join(f"k={t['k']}: {100 * t['explained']:.0f}%" for t in result["k_search"])
    console.print(safe_text(f"rule: {result['rule']}"))
    console.print(safe_text(f"variance explained by the clusters: {how}"))
    console.print(f"the subset itself covers {100 * result['covered']:.1f}% of the suite's feature variance")
    if not result["profiles_used"]:
        console.print("operator mix and runtime breakdown not used: give `aibench profile` folders of every benchmark")
    verdict = "the same as" if result["matches_paper"] else "not"
    console.print(
        safe_text(f"paper's subset {', '.join(result['paper_subset'])}: this choice is {verdict} the paper's")
    )
    cost = result["cost"]
    if cost:
        console.print(
            f"cost: {cost['subset_s']:.0f} s of {cost['full_s']:.0f} s of entire sessions "
            f"({100 * cost['share']:.1f}%), "
            f"a saving of {100 * cost['saving']:.1f}% (paper: {100 * cost['paper_saving']:.0f}%)"
        )
