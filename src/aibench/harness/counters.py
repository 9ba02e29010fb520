"""Hardware counters: ``perf stat`` on CPUs and Nsight Compute (``ncu``) on NVIDIA GPUs.

The paper's micro-architectural characterization (section 5.2.2) used nvprof metrics; nvprof does not support compute
capability 7.5 and newer, so the GPU side uses ncu's equivalents (``NCU_METRICS``). On CPUs, ``perf stat`` gives IPC and
miss rates where the machine exposes a PMU; virtual machines without PMU passthrough report ``<not supported>``.
Anything that was not counted is reported as unavailable with the reason, never filled in.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# --- perf stat -------------------------------------------------------------------------------------------------------

PERF_EVENTS = ("cycles", "instructions", "cache-references", "cache-misses", "branches", "branch-misses", "task-clock")
_PERF_STATUS = {"<not supported>": "not supported", "<not counted>": "not counted"}
_ALIASES = {"cpu-cycles": "cycles", "branch-instructions": "branches"}
_DERIVED = {  # name: (numerator, denominator)
    "ipc": ("instructions", "cycles"),
    "cache_miss_rate": ("cache-misses", "cache-references"),
    "branch_miss_rate": ("branch-misses", "branches"),
}
# Default (human-readable) format: "  1,234,567   cycles   #  3.0 GHz   (83.33%)" or "  208.68 msec task-clock  # ..."
_HUMAN_LINE = re.compile(r"^\s*(<not supported>|<not counted>|[\d.,]+)\s+(.*?)\s*$")
_HUMAN_PCT = re.compile(r"\((\d+(?:\.\d+)?)%\)\s*$")
# A -x, row: value (no thousands separators there), then an empty or alphabetic unit, unlike "45,940,682  cycles".
_CSV_ROW = re.compile(r"^(<not supported>|<not counted>|[\d.]+),([^,\d\s][^,]*)?,")


def _base_event(name: str) -> str:
    """``cpu_core/cycles/`` -> ``cycles``, ``cycles:u`` -> ``cycles``, ``cpu-cycles`` -> ``cycles``."""
    m = re.fullmatch(r"[\w.-]+/([\w.-]+)/\w*", name)
    base = (m[1] if m else name).split(":", 1)[0]
    return _ALIASES.get(base, base)


def _number(text: str) -> float | None:
    text = text.strip().replace(",", "")  # perf's and ncu's thousands separators (C/en locale assumed)
    try:
        return float(text)
    except ValueError:
        return None


def _event(value: str, unit: str, pct: str | None) -> dict[str, Any]:
    status = _PERF_STATUS.get(value.strip(), "counted")
    return {
        "value": _number(value) if status == "counted" else None,
        "unit": unit.strip(),
        "running_pct": _number(pct) if pct else None,
        "status": status,
    }


def _parse_csv_lines(lines: list[str]) -> dict[str, dict[str, Any]]:
    events: dict[str, dict[str, Any]] = {}
    for row in csv.reader(lines):
        # value, unit, event, [variance%,] run time, running %, metric value, metric unit. Rows with an empty value are
        # metric-only lines (perf's TopDown groups); interval (-I) and aggregation (-A/--per-*) prefixes are not used.
        if len(row) < 3 or not row[0].strip() or not row[2].strip():
            continue
        rest = row[3:]
        if rest and rest[0].endswith("%"):  # -r N adds the variance after the event name
            rest = rest[1:]
        events[row[2].strip()] = _event(row[0], row[1], rest[1] if len(rest) > 1 else None)
    return events


def _parse_human_lines(lines: list[str]) -> dict[str, dict[str, Any]]:
    events: dict[str, dict[str, Any]] = {}
    for line in lines:
        if "seconds" in line.split("#", 1)[0]:  # "1.0 seconds time elapsed", "... seconds user"
            continue
        m = _HUMAN_LINE.match(line)
        if not m:
            continue
        pct = _HUMAN_PCT.search(line)
        tokens = m[2].split("#", 1)[0].split()
        if len(tokens) == 1:
            unit, name = "", tokens[0]
        elif len(tokens) == 2 and tokens[1].startswith("("):  # old perf: "1708.76 task-clock (msec)"
            unit, name = tokens[1].strip("()"), tokens[0]
        elif len(tokens) == 2:
            unit, name = tokens
        else:
            continue
        events[name] = _event(m[1], unit, pct[1] if pct else None)
    return events


def parse_perf_stat(text: str) -> dict[str, Any]:
    """Parse ``perf stat -x,`` output (or perf's default human-readable output).

    Returns ``{"events": {name: {"value", "unit", "running_pct", "status"}}, "derived": {"ipc", "cache_miss_rate",
    "branch_miss_rate"}, "unavailable": {derived name: reason}, "multiplexed": [event names]}``. ``status`` is
    ``counted``, ``not supported`` or ``not counted``. Events with a PMU or modifier (``cpu_core/cycles/``,
    ``cycles:u``) count toward their base event; on hybrid CPUs the core types are summed. ``multiplexed`` lists events
    that ran for less than 100% of the time: perf scales those counts up by enabled/running time. A derived metric
    whose inputs were not all counted is listed in ``unavailable`` with the reason, never estimated.
    """
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    events = (_parse_csv_lines if any(_CSV_ROW.match(ln) for ln in lines) else _parse_human_lines)(lines)

    by_base: dict[str, list[dict[str, Any]]] = {}
    for name, ev in events.items():
        by_base.setdefault(_base_event(name), []).append(ev)
    derived: dict[str, float] = {}
    unavailable: dict[str, str] = {}
    for metric, (num, den) in _DERIVED.items():
        values: dict[str, float] = {}
        problems: list[str] = []
        for base in (num, den):
            evs = by_base.get(base, [])
            bad = [ev["status"] for ev in evs if ev["status"] != "counted"]
            if not evs:
                problems.append(f"{base} is not in the perf output")
            elif bad:
                problems.append(f"{base} was <{bad[0]}>")
            elif any(ev["value"] is None for ev in evs):
                problems.append(f"{base} has an unreadable value")
            else:
                values[base] = sum(ev["value"] for ev in evs)
        if problems:
            unavailable[metric] = "; ".join(problems)
        elif values[den] == 0:
            unavailable[metric] = f"{den} counted 0"
        else:
            derived[metric] = values[num] / values[den]
    multiplexed = [
        n
        for n, ev in events.items()
        if ev["status"] == "counted" and ev["running_pct"] is not None and ev["running_pct"] < 100
    ]
    return {"events": events, "derived": derived, "unavailable": unavailable, "multiplexed": multiplexed}


def _perf_env() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C"}  # no locale thousands separators in the numbers


def perf_stat_availability() -> str | None:
    """None if ``perf stat`` counts hardware events here, else the reason why not."""
    if shutil.which("perf") is None:
        return "perf is not installed (Debian: apt-get install linux-perf)"
    try:
        paranoid = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
    except (OSError, ValueError):
        paranoid = None
    if paranoid is not None and paranoid > 2 and os.geteuid() != 0:
        return (
            f"kernel.perf_event_paranoid is {paranoid} (above 2 forbids perf_event_open to unprivileged users); "
            "run as root or `sysctl kernel.perf_event_paranoid=2`"
        )
    try:
        out = subprocess.run(
            ["perf", "stat", "-x,", "-e", "cycles,instructions", "--", "true"],
            capture_output=True,
            text=True,
            timeout=30,
            env=_perf_env(),
        )
    except (OSError, subprocess.SubprocessError) as e:
        return f"perf stat could not run ({e})"
    parsed = parse_perf_stat(out.stderr)
    if out.returncode != 0 or not parsed["events"]:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return f"perf stat failed (exit {out.returncode}): {tail}"
    bad = {n: ev["status"] for n, ev in parsed["events"].items() if ev["status"] != "counted"}
    if bad:
        statuses = sorted(set(bad.values()))
        return (
            f"perf stat: hardware events {', '.join(bad)} are {' / '.join(f'<{s}>' for s in statuses)} on this "
            "machine (typical of VMs without PMU passthrough)"
        )
    return None


class PerfStat:
    """Count CPU events of a process (default: this one) over a ``with`` block.

    Attaches ``perf stat -x, -e <events> -p <pid>``; on exit stops it with SIGINT and parses its stderr into
    ``result`` (see ``parse_perf_stat``). Never raises for a missing or failing perf: ``result["unavailable"]`` then
    has a ``"perf_stat"`` entry with the reason. perf needs a moment to open its counters, so ``__enter__`` waits
    0.1 s; blocks much shorter than that are not measured meaningfully.
    """

    def __init__(self, pid: int | None = None, events: Sequence[str] = PERF_EVENTS) -> None:
        self.pid = os.getpid() if pid is None else pid
        self.events = tuple(events)
        self.result: dict[str, Any] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._err: Any = None

    def _fail(self, reason: str) -> None:
        self.result = {"events": {}, "derived": {}, "unavailable": {"perf_stat": reason}, "multiplexed": []}

    def __enter__(self) -> PerfStat:
        if shutil.which("perf") is None:
            self._fail("perf is not installed (Debian: apt-get install linux-perf)")
            return self
        self._err = tempfile.TemporaryFile()  # a file, not a pipe: perf must never block on a full pipe
        cmd = ["perf", "stat", "-x,", "-e", ",".join(self.events), "-p", str(self.pid)]
        try:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._err, env=_perf_env())
        except OSError as e:
            self._fail(f"perf stat could not start ({e})")
            return self
        try:
            self._proc.wait(timeout=0.1)  # returns early only if perf failed to attach
        except subprocess.TimeoutExpired:
            pass
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        attached = proc.poll() is None
        if attached:
            proc.send_signal(signal.SIGINT)  # perf prints its counts on SIGINT, then exits
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._fail("perf stat did not stop within 10 s of SIGINT")
                return
        self._err.seek(0)
        text = self._err.read().decode(errors="replace")
        self._err.close()
        parsed = parse_perf_stat(text)
        if not parsed["events"]:
            tail = (text.strip().splitlines() or ["no output"])[-1]
            self._fail(f"perf stat produced no counts (exit {proc.returncode}): {tail}")
            return
        parsed["command"] = proc.args
        self.result = parsed


# --- Nsight Compute --------------------------------------------------------------------------------------------------

# The paper's nvprof metrics and their Nsight Compute equivalents, from NVIDIA's "Nvprof Transition Guide > Metric
# Comparison" table in the Nsight Compute CLI documentation
# (https://docs.nvidia.com/nsight-compute/NsightComputeCli/index.html#nvprof-metric-comparison):
#   achieved_occupancy -> sm__warps_active.avg.pct_of_peak_sustained_active
#   gld_efficiency     -> smsp__sass_average_data_bytes_per_sector_mem_global_op_ld.pct
#   gst_efficiency     -> smsp__sass_average_data_bytes_per_sector_mem_global_op_st.pct
#   dram_utilization   -> dram__throughput.avg.pct_of_peak_sustained_elapsed
# (nvprof's dram_utilization was a 0-10 level; the ncu metric is a percentage of peak.) The table has no
# ipc_efficiency row. Its nearest equivalent is achieved instructions per active cycle as a percentage of the peak
# sustained rate, sm__inst_executed.avg.pct_of_peak_sustained_active (a metric ncu reports; appending
# .pct_of_peak_sustained_active to .per_cycle_active would stack two submetrics, which ncu's naming does not allow).
# Raw IPC is kept alongside it.
NCU_METRICS: dict[str, str] = {
    "achieved_occupancy": "sm__warps_active.avg.pct_of_peak_sustained_active",
    "ipc_efficiency": "sm__inst_executed.avg.pct_of_peak_sustained_active",
    "ipc": "sm__inst_executed.avg.per_cycle_active",
    "gld_efficiency": "smsp__sass_average_data_bytes_per_sector_mem_global_op_ld.pct",
    "gst_efficiency": "smsp__sass_average_data_bytes_per_sector_mem_global_op_st.pct",
    "dram_utilization": "dram__throughput.avg.pct_of_peak_sustained_elapsed",
}
# ncu's default sections print some of these metrics under display names (Occupancy.section: "Achieved Occupancy" is
# sm__warps_active.avg.pct_of_peak_sustained_active; ComputeWorkloadAnalysis.section: "Executed Ipc Active" is
# sm__inst_executed.avg.per_cycle_active), so a --page details report without --metrics still yields them.
_NCU_DISPLAY = {
    ("Occupancy", "Achieved Occupancy"): "achieved_occupancy",
    ("Compute Workload Analysis", "Executed Ipc Active"): "ipc",
}
_NCU_ID_COLUMNS = {
    "ID",
    "Process ID",
    "Process Name",
    "Host Name",
    "Kernel Name",
    "Kernel Time",
    "Context",
    "Stream",
    "Block Size",
    "Grid Size",
    "Device",
    "CC",
}
_CUDA_NCU = Path("/usr/local/cuda/bin/ncu")


def _find_ncu() -> str | None:
    return shutil.which("ncu") or (str(_CUDA_NCU) if _CUDA_NCU.is_file() else None)


def ncu_availability() -> str | None:
    """None if an ``ncu`` executable exists, else the reason. (Whether this user may read the GPU's performance
    counters, ERR_NVGPUCTRPERM, only shows when ncu profiles a kernel.)"""
    if _find_ncu() is None:
        return (
            f"Nsight Compute (ncu) is not on PATH or at {_CUDA_NCU}; install the CUDA toolkit's nsight-compute package"
        )
    return None


def ncu_command(
    argv: Sequence[str],
    report_csv: bool = True,
    launch_skip: int = 0,
    launch_count: int = 50,
    metrics: Sequence[str] = tuple(NCU_METRICS.values()),
    from_start: bool = True,
) -> list[str]:
    """The ncu command line that profiles ``argv``: the paper's metrics for ``launch_count`` kernel launches after
    skipping ``launch_skip`` (warm-up), child processes included, printed as ``--page details`` CSV on stdout.
    ``from_start=False`` profiles only between the target's cudaProfilerStart/Stop (`CudaProfilerRange`)."""
    cmd = [
        _find_ncu() or "ncu",
        "--metrics",
        ",".join(metrics),
        "--launch-skip",
        str(launch_skip),
        "--launch-count",
        str(launch_count),
        "--target-processes",
        "all",
    ]
    if not from_start:
        cmd += ["--profile-from-start", "off"]
    if report_csv:
        cmd += ["--csv", "--page", "details"]
    return [*cmd, "--", *argv]


def _ncu_rows(text: str) -> list[list[str]]:
    """The CSV table of an ncu report: ncu's own "==PROF==" lines and the program's output come before (and may come
    after) it, so keep quoted lines from the header on."""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith('"ID"')), None)
    if start is None:
        raise ValueError('no ncu CSV table (a header row starting with "ID") in the text')
    return list(csv.reader(ln for ln in lines[start:] if ln.lstrip().startswith('"')))


def parse_ncu_csv(text: str) -> dict[str, Any]:
    """Parse ``ncu --csv`` output, ``--page details`` (long: one row per launch and metric) or ``--page raw`` (wide:
    one row per launch, a column per metric, a second header row of units).

    Returns ``{"layout", "kernels": [{"id", "kernel", "metrics": {name: float | None}}], "units": {name: unit},
    "summary": {paper metric: {"ncu_metric", "mean", "launches"}}, "averaging": how, "unavailable": {paper metric:
    reason}}``. A value ncu printed as "n/a" (or anything non-numeric) is None. Details-page metrics are keyed
    ``"<Section Name>/<Metric Name>"`` unless the name is already an ncu metric name.
    """
    rows = _ncu_rows(text)
    header, body = rows[0], rows[1:]
    col = {name: i for i, name in enumerate(header)}
    kernels: dict[str, dict[str, Any]] = {}
    units: dict[str, str] = {}
    aliases: dict[str, str] = {}  # metric key in this report -> paper metric
    if "Metric Name" in col and "Metric Value" in col:
        layout = "details"
        for row in body:
            launch = row[col["ID"]]
            k = kernels.setdefault(launch, {"id": launch, "kernel": row[col["Kernel Name"]], "metrics": {}})
            section = row[col["Section Name"]] if "Section Name" in col else ""
            name = row[col["Metric Name"]]
            key = name if "__" in name or not section else f"{section}/{name}"
            k["metrics"][key] = _number(row[col["Metric Value"]])
            units[key] = row[col["Metric Unit"]] if "Metric Unit" in col else ""
            if (section, name) in _NCU_DISPLAY:
                aliases[key] = _NCU_DISPLAY[(section, name)]
    else:
        layout = "raw"
        metric_cols = [(i, h) for i, h in enumerate(header) if h not in _NCU_ID_COLUMNS]
        if body and body[0][col["ID"]] == "":  # the units row
            units = {h: body[0][i] for i, h in metric_cols}
            body = body[1:]
        for row in body:
            launch = row[col["ID"]]
            kernels[launch] = {
                "id": launch,
                "kernel": row[col["Kernel Name"]],
                "metrics": {h: _number(row[i]) for i, h in metric_cols if i < len(row)},
            }
    for paper, ncu_name in NCU_METRICS.items():
        aliases.setdefault(ncu_name, paper)

    launches = list(kernels.values())
    summary: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, str] = {}
    for paper in NCU_METRICS:
        keys = [key for key, p in aliases.items() if p == paper]
        values, present = [], 0
        for k in launches:
            found = [k["metrics"][key] for key in keys if key in k["metrics"]]
            present += bool(found)
            values += [v for v in found[:1] if v is not None]
        if values:
            summary[paper] = {
                "ncu_metric": NCU_METRICS[paper],
                "mean": sum(values) / len(values),
                "launches": len(values),
                "units": sorted({units.get(key, "") for key in keys if key in units}),
            }
        elif present:
            unavailable[paper] = (
                f"n/a in all {present} profiled launches: ncu could not collect "
                f"{NCU_METRICS[paper]} on this GPU or configuration"
            )
        else:
            unavailable[paper] = f"not in this report (profile with --metrics {NCU_METRICS[paper]})"
    return {
        "layout": layout,
        "kernels": launches,
        "units": units,
        "summary": summary,
        "averaging": (
            "unweighted mean over the profiled kernel launches that reported the metric: each launch "
            "counts once, whatever its duration"
        ),
        "unavailable": unavailable,
    }


class CudaProfilerRange:
    """cudaProfilerStart/Stop around a region, so ``ncu --profile-from-start off`` profiles only that region's
    kernels (the steady training steps, not model initialization)."""

    result: dict[str, Any] = {"note": "kernels of this region are profiled by the parent ncu process"}

    def __enter__(self) -> CudaProfilerRange:
        import torch

        torch.cuda.synchronize()
        torch.cuda.profiler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.cuda.synchronize()
        torch.cuda.profiler.stop()
