"""The `aibench` command line. Usage errors exit with code 2 and say what to do instead."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from rich.table import Table

from aibench.benchmarks.base import MEMORY_FORMATS, PRECISIONS, PROFILES, Benchmark
from aibench.catalog import SUITES
from aibench.datasets.embedded import DataLayoutError
from aibench.harness.config import ConfigError, check_profile, threads_from_env
from aibench.harness.display import make_console
from aibench.registry import (
    NotRunnableError,
    UnknownBenchmarkError,
    get_benchmark,
    is_runnable,
    list_benchmarks,
    resolve,
    runnable_ids,
    suite_ids,
)

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aibench",
        description="AIBench Training: AI benchmarks as timed training "
        "sessions (time to quality, throughput, repeatability).",
    )
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("list", help="list the benchmarks and whether they run yet")
    ls.add_argument("pattern", nargs="?", default="*", help="glob over ids and names, e.g. '*rank*'")
    ls.add_argument("--suite", help=f"one of: {', '.join(SUITES)}")

    run = sub.add_parser("run", help="run training sessions (default: the subset on the small profile)")
    run.add_argument("benchmarks", nargs="*", help="ids (DC-AI-C1 or C1) or names; default: --suite subset")
    run.add_argument("--suite", help=f"one of: {', '.join(SUITES)}")
    run.add_argument("--profile", default="small", help=f"one of: {', '.join(PROFILES)} (default small)")
    run.add_argument("--runs", type=int, default=1, help="sessions per benchmark, with distinct seeds")
    run.add_argument("--seed", type=int, help="seed of the first run (run i uses seed+i-1); default random")
    run.add_argument("--data-root", type=Path, help="folder holding the real datasets (see README)")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    run.add_argument("--out", type=Path, help="results folder (default results/<UTC time>)")
    run.add_argument("--batch-size", type=int, help="override the profile's batch size")
    run.add_argument("--lr", type=float, help="override the profile's learning rate")
    run.add_argument("--precision", default="fp32", help=f"one of: {', '.join(PRECISIONS)} (bf16 = autocast)")
    run.add_argument(
        "--memory-format",
        default="contiguous",
        help=f"one of: {', '.join(MEMORY_FORMATS)} (channels_last: convolutional benchmarks)",
    )
    run.add_argument(
        "--target",
        type=float,
        help="a different value for the profile's quality target "
        "(single-metric targets; recorded, and the log marks it as overridden)",
    )
    run.add_argument(
        "--backbone-weights",
        type=Path,
        help="start from a trained backbone where a benchmark "
        "accepts one (DC-AI-C9: a DC-AI-C1 weights.pt); never the default, recorded in the result",
    )
    dp = run.add_argument_group(
        "data parallel (torchrun)",
        "each session as several processes with "
        "DistributedDataParallel; the flags are torchrun's own (docs/distributed.md)",
    )
    dp.add_argument("--nproc-per-node", type=int, default=1, help="processes (ranks) per node; on GPUs one each")
    dp.add_argument("--nnodes", type=int, default=1, help="nodes; run the same command on every node")
    dp.add_argument("--node-rank", type=int, default=0, help="this node's rank, 0..nnodes-1 (node 0 writes results)")
    dp.add_argument("--rdzv-endpoint", help="HOST:PORT of the rendezvous, the same on every node (multi-node)")
    dp.add_argument("--master-addr", help="static rendezvous instead: node 0's address (with --master-port)")
    dp.add_argument("--master-port", type=int, help="static rendezvous port (default 29500)")
    dp.add_argument(
        "--sync-batchnorm",
        action="store_true",
        help="GPUs: BatchNorm statistics over all ranks (SyncBatchNorm) instead of per rank",
    )
    run.add_argument("--epochs", type=int, help="quasi-entire session: train exactly N epochs, no early stop")
    run.add_argument("--max-epochs", type=int, help="override the epoch budget")
    run.add_argument("--eval-interval", type=int, help="evaluate every N epochs")
    run.add_argument("--time-limit", type=float, help="wall-clock limit of one session, seconds")
    run.add_argument("--no-save-weights", action="store_true", help="do not save final weights")

    gen = sub.add_parser("generate-data", help="write the embedded data sets in their real on-disk layout")
    gen.add_argument("benchmarks", nargs="*")
    gen.add_argument("--suite")
    gen.add_argument("--profile", default="small", help="tiny or small")
    gen.add_argument("--out", type=Path, required=True, help="data root to write (usable as --data-root)")

    chk = sub.add_parser("check", help="check session logs with MLCommons' compliance checker")
    chk.add_argument("logs", nargs="+", type=Path, help="mllog.txt files or results folders")

    rules = sub.add_parser("ruleset", help="write the compliance checker's rulesets (generated from the registry)")
    rules.add_argument("--out", type=Path, required=True, help="folder to write ruleset.yaml and <id>.yaml into")

    base = sub.add_parser("baselines", help="score the cheap non-deep baselines of benchmarks on their data")
    base.add_argument("benchmarks", nargs="*", help="ids or names; default: --suite subset")
    base.add_argument("--suite", help=f"one of: {', '.join(SUITES)}")
    base.add_argument("--profile", default="small", help=f"one of: {', '.join(PROFILES)} (default small)")
    base.add_argument("--data-root", type=Path, help="folder holding the real datasets (see README)")

    summ = sub.add_parser("summarize", help="print the summary of a results folder")
    summ.add_argument("results", type=Path)

    var = sub.add_parser("variation", help="run-to-run variation (epochs-to-converge CoV) and the subset's cost")
    var.add_argument("results", nargs="+", type=Path, help="results folders (4-10 sessions a benchmark, as the paper)")
    var.add_argument("--out", type=Path, help="JSON file to write")

    subs = sub.add_parser("subset", help="choose a subset of the suite from your own measurements (paper 3.3)")
    subs.add_argument("results", nargs="+", type=Path, help="results folders of `aibench run` and `aibench profile`")
    subs.add_argument("--k", type=int, help="benchmarks to choose (default: the smallest k covering --coverage)")
    subs.add_argument(
        "--coverage", type=float, default=0.75, help="share of feature variance the clusters must explain (0.75)"
    )
    subs.add_argument("--out", type=Path, help="JSON file to write")

    cmp_ = sub.add_parser("compare", help="time-to-quality speedups of systems with bootstrap intervals")
    cmp_.add_argument("results", nargs="+", type=Path, help="results folders: A, then one or more B to compare with A")
    cmp_.add_argument("--suite", default="subset", help="suite the geometric mean is taken over (default subset)")
    cmp_.add_argument("--out", type=Path, help="JSON file to write")

    rep = sub.add_parser("report", help="one self-contained HTML report of results folders (one system each)")
    rep.add_argument(
        "results", nargs="+", type=Path, help="results folders: sessions, profiles, infer runs, characterize"
    )
    rep.add_argument("-o", "--out", type=Path, default=Path("report.html"), help="HTML file to write (report.html)")
    rep.add_argument("--title", default="AIBench report", help="the report's title")

    pr = sub.add_parser("profile", help="operator hotspots, step breakdown, hardware counters and a Chrome trace")
    pr.add_argument("benchmarks", nargs="*", help="ids (DC-AI-C1 or C1) or names; default: --suite subset")
    pr.add_argument("--suite", help=f"one of: {', '.join(SUITES)}")
    pr.add_argument("--profile", default="small", help=f"one of: {', '.join(PROFILES)} (default small)")
    pr.add_argument("--steps", type=int, default=5, help="steps profiled under torch.profiler (default 5)")
    pr.add_argument("--timed-steps", type=int, default=10, help="steps timed for the breakdown (default 10)")
    pr.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps (default 3)")
    pr.add_argument(
        "--skip-prelude",
        action="store_true",
        help="skip on-the-clock preludes where a benchmark can (C16's teacher cannot be skipped)",
    )
    pr.add_argument("--no-eval", action="store_true", help="do not time one evaluation")
    pr.add_argument(
        "--ncu",
        action="store_true",
        help="CUDA only: also run the timed steps under Nsight Compute "
        "for the paper's micro-architectural metrics (slow: ncu replays every kernel)",
    )
    pr.add_argument("--ncu-target", action="store_true", help=argparse.SUPPRESS)  # the child that ncu profiles
    pr.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    pr.add_argument("--precision", default="fp32", help=f"one of: {', '.join(PRECISIONS)}")
    pr.add_argument("--memory-format", default="contiguous", help=f"one of: {', '.join(MEMORY_FORMATS)}")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--data-root", type=Path, help="folder holding the real datasets (see README)")
    pr.add_argument("--top", type=int, default=15, help="operators/kernels listed (default 15)")
    pr.add_argument("--out", type=Path, help="results folder (default results/profile-<UTC time>)")

    from aibench.harness.inference import DEFAULT_MIN_DURATION_S, SCENARIOS

    inf = sub.add_parser(
        "infer",
        help="inference through MLCommons LoadGen: latency percentiles, throughput, accuracy, energy per inference",
    )
    inf.add_argument("benchmark", help="id (DC-AI-C1 or C1) or name")
    inf.add_argument("--profile", default="small", help=f"one of: {', '.join(PROFILES)} (default small)")
    weights = inf.add_mutually_exclusive_group()
    weights.add_argument("--checkpoint", type=Path, help="weights.pt saved by `aibench run` (default: untrained)")
    weights.add_argument(
        "--results", type=Path, help="an `aibench run` results folder: use its newest successful session's weights"
    )
    inf.add_argument(
        "--scenario",
        action="append",
        dest="scenarios",
        choices=SCENARIOS,
        metavar="SCENARIO",
        help=f"repeatable; one of {', '.join(SCENARIOS)} (default: all with weights, "
        "the three performance ones without)",
    )
    inf.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_MIN_DURATION_S,
        help=f"minimum seconds per performance scenario (default {DEFAULT_MIN_DURATION_S:g})",
    )
    inf.add_argument(
        "--min-queries",
        type=int,
        help="minimum queries (default: the least LoadGen's early stopping accepts: 64 SingleStream, 459 Server)",
    )
    inf.add_argument("--target-qps", type=float, help="Server arrival rate (default: 30%% of Offline samples/s)")
    inf.add_argument(
        "--latency-bound-ms",
        type=float,
        help="Server p99 bound (default: max(4 x SingleStream p99, 2 x one full batch))",
    )
    inf.add_argument("--max-batch", type=int, help="largest batch per infer() call (default: the profile's)")
    inf.add_argument("--seed", type=int, default=0)
    inf.add_argument("--data-root", type=Path, help="folder holding the real datasets (see README)")
    inf.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    inf.add_argument("--precision", default="fp32", help=f"one of: {', '.join(PRECISIONS)}")
    inf.add_argument("--out", type=Path, help="results folder (default results/infer-<UTC time>)")

    char = sub.add_parser("characterize", help="parameters, FLOPs per sample and epochs to quality per benchmark")
    char.add_argument("benchmarks", nargs="*", help="ids or names; default: --suite subset")
    char.add_argument("--suite", help=f"one of: {', '.join(SUITES)}")
    char.add_argument(
        "--profile", default="small", help="profile counted beside the full profile's shapes (default small)"
    )
    char.add_argument("--results", type=Path, help="results folder of training sessions, for epochs to quality")
    char.add_argument("--out", type=Path, help="JSON file to write (default results/characterize-<UTC time>.json)")
    char.add_argument(
        "--mlperf",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="count the seven MLPerf Training workloads beside them (default: with --suite full)",
    )
    return p


def _select(names: list[str], suite: str | None) -> tuple[str, ...]:
    if names and suite:
        raise UsageError("give benchmark names or --suite, not both")
    ids = [resolve(n).id for n in names] if names else list(suite_ids(suite or "subset"))
    missing = [i for i in ids if not is_runnable(i)]
    if missing:
        get_benchmark(missing[0])  # raises NotRunnableError with the runnable list
    return tuple(dict.fromkeys(ids))


def cmd_list(args: argparse.Namespace) -> int:
    table = Table(title=f"AIBench benchmarks{f' (suite {args.suite})' if args.suite else ''}")
    for col in ("id", "task", "model", "dataset", "metric", "paper target", "convergent", "runnable"):
        table.add_column(col)
    for info in list_benchmarks(args.pattern, args.suite):
        table.add_row(
            info.id,
            info.task,
            info.model,
            info.dataset,
            info.metric,
            info.paper_target,
            info.convergent_quality,
            "yes" if is_runnable(info.id) else "not yet",
        )
    make_console(width=200).print(table)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from aibench.analyses.summary import print_sessions, print_summary, summarize
    from aibench.harness.config import Overrides
    from aibench.harness.display import make_display
    from aibench.harness.distributed import Launch, LaunchError
    from aibench.harness.results import load_results, write_json_atomic
    from aibench.harness.runner import Interrupted, ResultsFolder, ResultsUnwritable, RunPlan, default_out_dir, run_plan

    ids = _select(args.benchmarks, args.suite)
    threads_from_env()
    overrides = Overrides(
        batch_size=args.batch_size,
        learning_rate=args.lr,
        precision=args.precision,
        memory_format=args.memory_format,
        epochs=args.epochs,
        max_epochs=args.max_epochs,
        eval_interval=args.eval_interval,
        time_limit_s=args.time_limit,
        target=args.target,
        sync_batchnorm=args.sync_batchnorm,
    )
    try:
        launch = Launch(
            nproc_per_node=args.nproc_per_node,
            nnodes=args.nnodes,
            node_rank=args.node_rank,
            rdzv_endpoint=args.rdzv_endpoint,
            master_addr=args.master_addr,
            master_port=args.master_port,
        )
    except LaunchError as exc:
        raise UsageError(str(exc)) from None
    if launch.nnodes > 1 and args.seed is None:
        raise UsageError(
            "a multi-node run needs --seed S, the same on every node: the nodes must agree on each session's seed"
        )
    plan_args = dict(
        benchmarks=ids,
        profile=args.profile,
        runs=args.runs,
        out_dir=args.out or default_out_dir(),
        data_root=args.data_root,
        device=args.device,
        overrides=overrides,
        save_weights=not args.no_save_weights,
        backbone_weights=args.backbone_weights,
        launch=launch,
    )
    if args.seed is not None:
        plan_args["seed"] = args.seed
    plan = RunPlan(**plan_args)
    _check_device(args.device)
    folder = ResultsFolder(plan.out_dir)  # this run's alone: refused if taken, or holding an earlier run
    if launch.node_rank > 0:
        return _serve(plan, folder)

    display = make_display()
    display.message(
        f"AIBench: {', '.join(ids)} | profile {plan.profile} | {plan.runs} run(s) | seed {plan.seed} "
        f"| results in {plan.out_dir}"
    )
    done: list[dict] = []

    def save_summary(result: dict) -> None:
        done.append(result)
        try:  # from the folder's files, so it describes every session there
            write_json_atomic(plan.out_dir / "summary.json", summarize(load_results(plan.out_dir).results))
        except OSError as exc:
            display.message(f"could not write {plan.out_dir / 'summary.json'}: {exc}")

    stopped: str | None = None
    try:
        run_plan(plan, display, on_result=save_summary)
    except Interrupted as exc:
        stopped = str(exc.args[0])
    except ResultsUnwritable as exc:
        stopped = f"the results folder cannot be written ({exc.__cause__})"
    finally:
        display.close()
        folder.close()
    summary = summarize(done)
    if plan.runs > 1:
        print_sessions(done)
    print_summary(summary)
    print(f"results: {plan.out_dir}/ (summary.json, <benchmark>/run-<i>/{{result.json,mllog.txt}})")
    if stopped in ("SIGINT", "SIGTERM"):
        print(f"interrupted ({stopped}): finished sessions were kept", file=sys.stderr)
        return EXIT_INTERRUPTED if stopped == "SIGINT" else EXIT_TERMINATED
    if stopped:
        print(f"stopped: {stopped}; the {len(done)} session(s) above are what was measured", file=sys.stderr)
        return 1
    return 0 if all(r["status"] in ("success", "completed") for r in done) else 1


def _serve(plan: Any, folder: Any) -> int:
    """Node 1..N-1 of a multi-node run: this node's ranks of each session; node 0 writes the results."""
    from aibench.harness.display import make_display
    from aibench.harness.runner import Interrupted, serve_plan

    display = make_display()
    try:
        codes = serve_plan(plan, display)
    except Interrupted as exc:
        print(f"interrupted ({exc.args[0]})", file=sys.stderr)
        return EXIT_INTERRUPTED if exc.args[0] == "SIGINT" else EXIT_TERMINATED
    finally:
        display.close()
        folder.close()
    print(
        f"node {plan.launch.node_rank}: {len(codes)} session(s) served, {sum(c != 0 for c in codes)} failed; "
        f"the results are written on node 0 (its --out); this node's logs: {plan.out_dir}/<benchmark>/run-<i>/"
    )
    return 0 if all(c == 0 for c in codes) else 1


def cmd_generate(args: argparse.Namespace) -> int:
    if args.profile == "full":
        raise UsageError("the full profile uses the real datasets; embedded data exists for tiny and small")
    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}; valid profiles: tiny, small")
    for bench_id in _select(args.benchmarks, args.suite):
        cls = get_benchmark(bench_id)
        cls.dataset.generate(args.out, cls.profiles[args.profile].data, 0)
        print(f"{bench_id}: wrote {cls.dataset.name} under {args.out} ({cls.dataset.layout_hint})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import tempfile

    from aibench.harness.compliance import write_rulesets
    from aibench.harness.display import safe_text
    from aibench.harness.results import load_results

    logs: list[Path] = []
    for path in args.logs:
        found = sorted(path.glob("**/mllog.txt")) if path.is_dir() else [path]
        if not found or not all(p.is_file() for p in found):
            raise UsageError(f"no session log at {path}")
        logs += found
    failed = 0
    with tempfile.TemporaryDirectory(prefix="aibench-rules-") as folder:
        ids = sorted(set(runnable_ids()) | {i for i in map(_logged_benchmark, logs) if i and is_runnable(i)})
        entry = write_rulesets(Path(folder), ids)
        for log in logs:
            problem = _unfit_log(log)
            if problem is None:
                try:
                    proc = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "mlperf_logging.compliance_checker",
                            "--config",
                            str(entry),
                            "--log_output",
                            "/dev/null",
                            str(log),
                        ],
                        capture_output=True,
                        text=True,
                        timeout=CHECK_TIMEOUT_S,
                    )
                    if proc.returncode != 0:
                        problem = (proc.stdout + proc.stderr).strip()
                except subprocess.TimeoutExpired:
                    problem = f"MLCommons' checker did not finish within {CHECK_TIMEOUT_S:g} s"
            failed += problem is not None
            print(safe_text(f"{'PASS' if problem is None else 'FAIL'} {log}"))
            if problem is not None:
                print(safe_text(problem))
    for path in args.logs:  # the result files beside the logs are checked against their schema too
        if path.is_dir():
            skipped = load_results(path).skipped
            _report_skipped(skipped)
            failed += len(skipped)
    return 1 if failed else 0


# A session log's lines are a few hundred bytes; the checker's parser is quadratic in a line's length, so a
# multi-megabyte line would take it minutes. Such a log is refused before the checker sees it.
MAX_LOG_LINE_BYTES = 64 << 10
MAX_LOG_BYTES = 256 << 20
CHECK_TIMEOUT_S = 120.0


def _unfit_log(log: Path) -> str | None:
    """Why a file cannot be a session log, before the checker spends minutes on it; None if it can."""
    try:
        if log.stat().st_size > MAX_LOG_BYTES:
            return f"larger than {MAX_LOG_BYTES >> 20} MiB: not a session log"
        with open(log, "rb") as f:
            for number, line in enumerate(iter(lambda: f.readline(MAX_LOG_LINE_BYTES + 1), b""), start=1):
                if len(line) > MAX_LOG_LINE_BYTES and not line.endswith(b"\n"):
                    return (
                        f"line {number} is longer than {MAX_LOG_LINE_BYTES >> 10} KiB: not a session log line "
                        "(MLCommons' checker would take minutes on it)"
                    )
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    return None


def _logged_benchmark(log: Path) -> str | None:
    """The submission_benchmark a session log names (to generate its ruleset)."""
    import json

    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            for line in f:
                if '"submission_benchmark"' in line and ":::MLLOG " in line:
                    return str(json.loads(line.split(":::MLLOG ", 1)[1])["value"])
    except (OSError, ValueError, KeyError):
        pass
    return None


def cmd_ruleset(args: argparse.Namespace) -> int:
    from aibench.harness.compliance import write_rulesets

    entry = write_rulesets(args.out)
    print(
        f"wrote {entry} and one ruleset per benchmark; check a log with:\n"
        f"python -m mlperf_logging.compliance_checker --config {entry.resolve()} LOG"
    )
    return 0


def cmd_baselines(args: argparse.Namespace) -> int:
    from aibench.analyses.baselines import print_baselines, run_baselines

    check_profile(args.profile)
    ids = _select(args.benchmarks, args.suite)
    rows = []
    for bench_id in ids:
        cls = get_benchmark(bench_id)
        rows += run_baselines(cls, args.profile, _data_root(cls, args.profile, args.data_root))
    print_baselines(rows, make_console())
    return 0


def cmd_summarize(args: argparse.Namespace) -> int:
    from aibench.analyses.summary import print_sessions, print_summary, summarize
    from aibench.harness.results import load_results

    _check_results_dir(args.results)
    loaded = load_results(args.results)
    _report_skipped(loaded.skipped)
    if not loaded.results:
        raise UsageError(f"no valid session result.json under {args.results}")
    print_sessions(loaded.results)
    print_summary(summarize(loaded.results))
    return 1 if loaded.skipped else 0


def _report_skipped(skipped: list[tuple[Path, str]]) -> None:
    from aibench.harness.display import safe_text

    for path, why in skipped:
        print(safe_text(f"aibench: skipped {path}: {why}"), file=sys.stderr)


def _check_results_dir(path: Path | None) -> None:
    if path is not None and not path.is_dir():
        raise UsageError(f"results folder {path} does not exist; give the --out folder of an `aibench run`")


def _timestamped(kind: str, suffix: str = "") -> Path:
    from aibench.harness.runner import default_out_dir

    path = default_out_dir(kind)
    return path.with_name(path.name + suffix)


def _data_root(cls: type[Benchmark], profile: str, data_root: Path | None) -> Path:
    """The user's dataset folder (layout checked), or the embedded data of a tiny/small profile."""
    from aibench.datasets.embedded import check_layout, ensure_embedded

    if data_root is not None:
        check_layout(cls.dataset, data_root)
        return data_root
    if profile == "full":
        raise UsageError("the full profile reads the real datasets: pass --data-root DIR (see README, 'Real data')")
    return ensure_embedded(cls.dataset, cls.profiles[profile].data)


def _assets(cls: type[Benchmark], profile: str, data_root: Path) -> dict[str, Path]:
    """The benchmark's evaluation assets (built once, off the clock), as a session would get them."""
    from aibench.harness.display import PlainDisplay
    from aibench.harness.runner import prepare_asset

    display = PlainDisplay(stream=sys.stderr)
    return {a.name: prepare_asset(cls, a, cls.profiles[profile], data_root, display) for a in cls.assets}


def _set_threads() -> None:
    if threads := threads_from_env():
        import torch

        torch.set_num_threads(threads)


def _check_device(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: no CUDA device is available here; use --device cpu or auto")


def _cpu_counters() -> tuple[object | None, dict | None]:
    """`perf stat` around the timed steps where perf exists (its result says which events were counted)."""
    import shutil

    from aibench.harness.counters import PerfStat, perf_stat_availability

    if shutil.which("perf"):
        return PerfStat, None
    return None, {"unavailable": perf_stat_availability() or "perf is not installed"}


def _gpu_counters(args: argparse.Namespace, bench_id: str, device: str, out_dir: Path) -> dict:
    """The paper's five nvprof metrics through Nsight Compute, from a child profile run under ncu."""
    from aibench.harness.counters import ncu_availability, ncu_command, parse_ncu_csv

    if not device.startswith("cuda"):
        return {"unavailable": "not a CUDA device (Nsight Compute profiles NVIDIA GPUs)"}
    if not args.ncu:
        return {"unavailable": "not requested: add --ncu (Nsight Compute replays each kernel; slow)"}
    if reason := ncu_availability():
        return {"unavailable": reason}
    argv = [
        sys.executable,
        "-m",
        "aibench.cli",
        "profile",
        bench_id,
        "--profile",
        args.profile,
        "--device",
        device,
        "--precision",
        args.precision,
        "--warmup",
        str(args.warmup),
        "--timed-steps",
        "1",
        "--steps",
        "1",
        "--no-eval",
        "--ncu-target",
        "--out",
        str(out_dir / "ncu-target"),
    ]
    if args.data_root:
        argv += ["--data-root", str(args.data_root)]
    proc = subprocess.run(ncu_command(argv, from_start=False, launch_count=200), capture_output=True, text=True)
    (out_dir / "ncu.log").write_text(proc.stdout + proc.stderr)
    try:
        return {**parse_ncu_csv(proc.stdout), "log": "ncu.log"}
    except ValueError as exc:
        return {"unavailable": f"ncu produced no metrics (exit {proc.returncode}; see ncu.log): {exc}"}


def cmd_profile(args: argparse.Namespace) -> int:
    from aibench.harness.counters import CudaProfilerRange
    from aibench.harness.devices import resolve_device
    from aibench.harness.profiling import ProfileConfig, ProfileError, print_profile, run_profile
    from aibench.harness.results import write_json_atomic

    check_profile(args.profile)
    _check_device(args.device)
    for name in ("steps", "timed_steps", "warmup", "top"):
        if getattr(args, name) < (0 if name == "warmup" else 1):
            raise UsageError(f"--{name.replace('_', '-')} must be at least {0 if name == 'warmup' else 1}")
    ids = _select(args.benchmarks, args.suite)
    roots = {bench_id: _data_root(get_benchmark(bench_id), args.profile, args.data_root) for bench_id in ids}
    out = args.out or _timestamped("profile")
    device = str(resolve_device(args.device))
    console = make_console()
    errors = 0
    for bench_id in ids:
        cls = get_benchmark(bench_id)
        cfg = ProfileConfig(
            benchmark=bench_id,
            data_root=roots[bench_id],
            out_dir=out / bench_id,
            profile=args.profile,
            device=device,
            precision=args.precision,
            seed=args.seed,
            assets=_assets(cls, args.profile, roots[bench_id]),
            memory_format=args.memory_format,
            warmup_steps=args.warmup,
            timed_steps=args.timed_steps,
            profiled_steps=args.steps,
            run_prelude=not args.skip_prelude,
            evaluate=not args.no_eval,
            top=args.top,
        )
        counters: Any
        if args.ncu_target:
            counters, unavailable = CudaProfilerRange, None
        elif device == "cpu":
            counters, unavailable = _cpu_counters()
        else:
            counters, unavailable = None, {"unavailable": "perf stat counts CPU events; this profile runs on a GPU"}
        try:
            result = run_profile(cfg, emit=lambda text: print(text, file=sys.stderr, flush=True), counters=counters)
        except ProfileError as exc:  # e.g. C16 with --skip-prelude
            print(f"aibench: error: {exc}", file=sys.stderr)
            errors += 1
            continue
        if unavailable:
            result["counters"] = unavailable
        if not args.ncu_target:
            result["gpu_counters"] = _gpu_counters(args, bench_id, device, cfg.out_dir)
        write_json_atomic(cfg.out_dir / "profile.json", result)
        print_profile(result, console)
    print(f"profiles: {out}/<benchmark>/{{profile.json,trace.json}}")
    return EXIT_USAGE if errors else 0


def cmd_infer(args: argparse.Namespace) -> int:
    from aibench.harness.inference import InferenceConfig, find_checkpoint, print_inference, run_inference
    from aibench.harness.results import write_json_atomic

    cls = get_benchmark(args.benchmark)
    bench_id = cls.info.id
    check_profile(args.profile)
    _check_device(args.device)
    _check_results_dir(args.results)
    checkpoint = args.checkpoint
    if checkpoint is not None and not checkpoint.is_file():
        raise UsageError(
            f"--checkpoint {checkpoint}: no such file; `aibench run {bench_id}` saves "
            f"<results>/{bench_id}/run-<i>/weights.pt"
        )
    if args.results is not None:
        checkpoint = find_checkpoint(args.results, bench_id, args.profile)
    data_root = _data_root(cls, args.profile, args.data_root)
    _set_threads()
    out_dir = (args.out or _timestamped("infer")) / bench_id
    cfg = InferenceConfig(
        benchmark=bench_id,
        data_root=data_root,
        out_dir=out_dir,
        profile=args.profile,
        device=args.device,
        precision=args.precision,
        seed=args.seed,
        checkpoint=checkpoint,
        scenarios=tuple(args.scenarios) if args.scenarios else None,
        min_duration_s=args.duration,
        min_query_count=args.min_queries,
        target_qps=args.target_qps,
        latency_bound_ms=args.latency_bound_ms,
        max_batch=args.max_batch,
        assets=_assets(cls, args.profile, data_root),
    )
    print(
        f"AIBench infer: {bench_id} | profile {cfg.profile} | scenarios {', '.join(cfg.resolved_scenarios())} "
        f"| weights {checkpoint or 'untrained'} | results in {out_dir}"
    )
    try:
        result = run_inference(cfg, emit=lambda line: print(line, flush=True))
    except NotImplementedError as exc:  # a benchmark without infer()/score() yet
        raise UsageError(f"{bench_id} cannot run inference yet: {exc}") from exc
    write_json_atomic(out_dir / "inference.json", result)
    print_inference(result)
    print(f"results: {out_dir}/ (inference.json, <scenario>/mlperf_log_{{summary,detail,accuracy}}.*)")
    ok = result["status"] == "ok" and all(s.get("verdict") in ("VALID", "SCORED") for s in result["scenarios"].values())
    return 0 if ok else 1


def cmd_characterize(args: argparse.Namespace) -> int:
    from aibench.analyses.characterize import characterize, print_characterization
    from aibench.harness.results import write_json_atomic

    check_profile(args.profile)
    _check_results_dir(args.results)
    console = make_console(width=200)
    if args.suite and not args.benchmarks and args.suite in SUITES:
        # A suite is counted as far as it runs: a benchmark that is not registered yet is named, not fatal.
        absent = [i for i in suite_ids(args.suite) if not is_runnable(i)]
        for bench_id in absent:
            console.print(f"{bench_id} is not runnable yet (see `aibench list`): not counted", style="yellow")
        ids = tuple(i for i in suite_ids(args.suite) if is_runnable(i))
    else:
        ids = _select(args.benchmarks, args.suite)
    mlperf = args.mlperf if args.mlperf is not None else args.suite == "full"
    result = characterize(
        ids, args.profile, args.results, progress=lambda m: console.print(m, style="dim"), mlperf=mlperf
    )
    _report_skipped([(Path(s["path"]), s["reason"]) for s in result["skipped_results"]])
    out = args.out or _timestamped("characterize", ".json")
    write_json_atomic(out, result)
    print_characterization(result, console)
    print(f"written: {out}")
    return 0


def _load_folders(folders: list[Path], kind: str = "training") -> list[dict[str, Any]]:
    """Every valid result of `kind` in the folders; invalid files are reported and skipped."""
    from aibench.harness.results import load_results

    out: list[dict[str, Any]] = []
    for folder in folders:
        _check_results_dir(folder)
        loaded = load_results(folder, kind)
        _report_skipped(loaded.skipped)
        out += loaded.results
    return out


def cmd_variation(args: argparse.Namespace) -> int:
    from aibench.analyses.variation import print_variation, subset_saving, suite_cost, variation
    from aibench.harness.results import write_json_atomic

    sessions = _load_folders(args.results)
    if not sessions:
        raise UsageError(f"no valid session result.json under {', '.join(map(str, args.results))}")
    rows = variation(sessions)
    full = suite_cost(sessions)
    subset = SUITES["subset"]
    cost = subset_saving(full, subset) if all(b in full for b in subset) and len(full) > len(subset) else None
    print_variation(rows, cost, make_console(width=200))
    if args.out:
        write_json_atomic(args.out, {"variation": rows, "cost": cost, "session_wall_s": full})
        print(f"written: {args.out}")
    return 0


def cmd_subset(args: argparse.Namespace) -> int:
    from aibench.analyses.subset import choose_subset, print_subset
    from aibench.harness.results import write_json_atomic

    sessions = _load_folders(args.results)
    if not sessions:
        raise UsageError(f"no valid session result.json under {', '.join(map(str, args.results))}")
    profiles = _load_folders(args.results, "profile")
    try:
        result = choose_subset(sessions, profiles, k=args.k, coverage=args.coverage)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print_subset(result, make_console(width=200))
    if args.out:
        write_json_atomic(args.out, result)
        print(f"written: {args.out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from aibench.analyses.compare import compare, print_comparison
    from aibench.harness.results import write_json_atomic

    if len(args.results) < 2:
        raise UsageError("compare needs two results folders or more: A, then the B folders to compare with it")
    if args.suite not in SUITES:
        raise UsageError(f"unknown suite {args.suite!r}; one of: {', '.join(SUITES)}")
    base = _load_folders(args.results[:1])
    if not base:
        raise UsageError(f"no valid session result.json under {args.results[0]}")
    console = make_console(width=200)
    out = []
    for folder in args.results[1:]:
        other = _load_folders([folder])
        if not other:
            raise UsageError(f"no valid session result.json under {folder}")
        result = compare(base, other, suite=args.suite)
        result.update(a=str(args.results[0]), b=str(folder))
        print_comparison(result, str(args.results[0]), str(folder), console)
        out.append(result)
    if args.out:
        write_json_atomic(args.out, out)
        print(f"written: {args.out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from aibench.analyses.report import build_report

    for folder in args.results:
        _check_results_dir(folder)
    page = build_report(args.results, title=args.title)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(args.out)
    print(f"written: {args.out} ({len(page) / 1e6:.1f} MB, opens offline)")
    return 0


COMMANDS = {
    "list": cmd_list,
    "run": cmd_run,
    "generate-data": cmd_generate,
    "check": cmd_check,
    "ruleset": cmd_ruleset,
    "baselines": cmd_baselines,
    "summarize": cmd_summarize,
    "characterize": cmd_characterize,
    "infer": cmd_infer,
    "profile": cmd_profile,
    "variation": cmd_variation,
    "subset": cmd_subset,
    "compare": cmd_compare,
    "report": cmd_report,
}


def main(argv: list[str] | None = None) -> int:
    from aibench.harness.runner import Terminated, raise_on_sigterm

    args = _parser().parse_args(argv)
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        raise_on_sigterm()  # a batch scheduler's SIGTERM stops a run the way Ctrl-C does
    try:
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError, UnknownBenchmarkError, NotRunnableError, DataLayoutError) as exc:
        print(f"aibench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a plain OS call on a path: one line naming it, not a traceback
        path = exc.filename2 or exc.filename  # for a rename, the destination: the path the user named
        where = f"{path}: " if path else ""
        print(f"aibench: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Terminated:
        return EXIT_TERMINATED
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
