"""The `aibench` command line. Usage errors exit with code 2 and say what to do instead."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from aibench.benchmarks.base import PRECISIONS, PROFILES
from aibench.catalog import SUITES
from aibench.datasets.embedded import DataLayoutError
from aibench.registry import (NotRunnableError, UnknownBenchmarkError, get_benchmark, is_runnable,
                              list_benchmarks, resolve, suite_ids)

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aibench", description="AIBench Training: AI benchmarks as timed training "
                                "sessions (time to quality, throughput, repeatability).")
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

    summ = sub.add_parser("summarize", help="print the summary of a results folder")
    summ.add_argument("results", type=Path)

    char = sub.add_parser("characterize", help="parameters, FLOPs per sample and epochs to quality per benchmark")
    char.add_argument("benchmarks", nargs="*", help="ids or names; default: --suite subset")
    char.add_argument("--suite", help=f"one of: {', '.join(SUITES)}")
    char.add_argument("--profile", default="small",
                      help="profile counted beside the full profile's shapes (default small)")
    char.add_argument("--results", type=Path, help="results folder of training sessions, for epochs to quality")
    char.add_argument("--out", type=Path, help="JSON file to write (default results/characterize-<UTC time>.json)")
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
        table.add_row(info.id, info.task, info.model, info.dataset, info.metric, info.paper_target,
                      info.convergent_quality, "yes" if is_runnable(info.id) else "not yet")
    Console(width=200).print(table)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from aibench.analyses.summary import print_sessions, print_summary, summarize
    from aibench.harness.config import Overrides
    from aibench.harness.display import make_display
    from aibench.harness.results import write_json_atomic
    from aibench.harness.runner import Interrupted, RunPlan, default_out_dir, run_plan

    ids = _select(args.benchmarks, args.suite)
    overrides = Overrides(batch_size=args.batch_size, learning_rate=args.lr, precision=args.precision,
                          epochs=args.epochs, max_epochs=args.max_epochs, eval_interval=args.eval_interval,
                          time_limit_s=args.time_limit)
    plan_args = dict(benchmarks=ids, profile=args.profile, runs=args.runs, out_dir=args.out or default_out_dir(),
                     data_root=args.data_root, device=args.device, overrides=overrides,
                     save_weights=not args.no_save_weights)
    if args.seed is not None:
        plan_args["seed"] = args.seed
    plan = RunPlan(**plan_args)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError(f"--device {args.device}: no CUDA device is available here; use --device cpu or auto")

    display = make_display()
    display.message(f"AIBench: {', '.join(ids)} | profile {plan.profile} | {plan.runs} run(s) | seed {plan.seed} "
                    f"| results in {plan.out_dir}")
    done: list[dict] = []

    def save_summary(result: dict) -> None:
        done.append(result)
        write_json_atomic(plan.out_dir / "summary.json", summarize(done))

    interrupted = False
    try:
        run_plan(plan, display, on_result=save_summary)
    except Interrupted:
        interrupted = True
    finally:
        display.close()
    summary = summarize(done)
    if plan.runs > 1:
        print_sessions(done)
    print_summary(summary)
    print(f"results: {plan.out_dir}/ (summary.json, <benchmark>/run-<i>/{{result.json,mllog.txt}})")
    if interrupted:
        print("interrupted: finished sessions were kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0 if all(r["status"] in ("success", "completed") for r in done) else 1


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
    from aibench.harness.mlperf_log import RULESET_PATH

    logs: list[Path] = []
    for path in args.logs:
        found = sorted(path.glob("**/mllog.txt")) if path.is_dir() else [path]
        if not found or not all(p.is_file() for p in found):
            raise UsageError(f"no session log at {path}")
        logs += found
    failed = 0
    for log in logs:
        proc = subprocess.run([sys.executable, "-m", "mlperf_logging.compliance_checker", "--config",
                               str(RULESET_PATH.resolve()), "--log_output", "/dev/null", str(log)],
                              capture_output=True, text=True)
        ok = proc.returncode == 0
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {log}")
        if not ok:
            print((proc.stdout + proc.stderr).strip())
    return 1 if failed else 0


def cmd_summarize(args: argparse.Namespace) -> int:
    from aibench.analyses.summary import print_sessions, print_summary, summarize
    from aibench.harness.results import load_results

    results = load_results(args.results)
    if not results:
        raise UsageError(f"no result.json files under {args.results}")
    print_sessions(results)
    print_summary(summarize(results))
    return 0


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")


def _check_results_dir(path: Path | None) -> None:
    if path is not None and not path.is_dir():
        raise UsageError(f"results folder {path} does not exist; give the --out folder of an `aibench run`")


def _timestamped(kind: str, suffix: str = "") -> Path:
    from aibench.harness.runner import default_out_dir

    stamp = default_out_dir()
    return stamp.parent / f"{kind}-{stamp.name}{suffix}"


def cmd_characterize(args: argparse.Namespace) -> int:
    from aibench.analyses.characterize import characterize, print_characterization
    from aibench.harness.results import write_json_atomic

    _check_profile(args.profile)
    _check_results_dir(args.results)
    ids = _select(args.benchmarks, args.suite)
    console = Console(width=200)
    result = characterize(ids, args.profile, args.results, progress=lambda m: console.print(f"[dim]{m}[/dim]"))
    out = args.out or _timestamped("characterize", ".json")
    write_json_atomic(out, result)
    print_characterization(result, console)
    print(f"written: {out}")
    return 0


COMMANDS = {"list": cmd_list, "run": cmd_run, "generate-data": cmd_generate, "check": cmd_check,
            "summarize": cmd_summarize, "characterize": cmd_characterize}


def main(argv: list[str] | None = None) -> int:
    from aibench.harness.config import ConfigError

    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError, UnknownBenchmarkError, NotRunnableError, DataLayoutError) as exc:
        print(f"aibench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
