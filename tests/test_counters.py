"""perf stat and Nsight Compute: parsers on recorded outputs (tests/data/counters/README.md names the sources), and
the availability checks and PerfStat on this machine."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from aibench.harness import counters
from aibench.harness.counters import (
    NCU_METRICS,
    PERF_EVENTS,
    PerfStat,
    ncu_availability,
    ncu_command,
    parse_ncu_csv,
    parse_perf_stat,
    perf_stat_availability,
)

DATA = Path(__file__).resolve().parent / "data" / "counters"


def _perf(name: str) -> dict:
    return parse_perf_stat((DATA / name).read_text())


# --- perf stat parser ------------------------------------------------------------------------------------------------


def test_vm_hardware_events_not_supported_task_clock_real() -> None:
    r = _perf("perf_stat_vm_not_supported.csv")
    assert list(r["events"]) == list(PERF_EVENTS)
    for name in PERF_EVENTS[:-1]:
        assert r["events"][name] == {"value": None, "unit": "", "running_pct": 100.0, "status": "not supported"}
    assert r["events"]["task-clock"] == {"value": 153.91, "unit": "msec", "running_pct": 100.0, "status": "counted"}
    assert r["derived"] == {}
    assert r["unavailable"] == {
        "ipc": "instructions was <not supported>; cycles was <not supported>",
        "cache_miss_rate": "cache-misses was <not supported>; cache-references was <not supported>",
        "branch_miss_rate": "branch-misses was <not supported>; branches was <not supported>",
    }


def test_vm_human_readable_format() -> None:
    r = _perf("perf_stat_vm_not_supported_human.txt")
    assert r["events"]["cycles"]["status"] == "not supported"
    assert r["events"]["task-clock"] == {"value": 208.68, "unit": "msec", "running_pct": None, "status": "counted"}
    assert set(r["events"]) == set(PERF_EVENTS)  # "seconds time elapsed/user/sys" are not events
    assert r["unavailable"]["ipc"] == "instructions was <not supported>; cycles was <not supported>"


def test_attached_idle_process_is_not_counted() -> None:
    r = _perf("perf_stat_vm_attached_idle.csv")
    assert r["events"]["task-clock"] == {"value": None, "unit": "msec", "running_pct": 100.0, "status": "not counted"}


def test_real_counted_sapphire_rapids() -> None:
    r = _perf("perf_stat_spr_lkml.csv")
    assert r["events"]["cycles"] == {"value": 52288305.0, "unit": "", "running_pct": 100.0, "status": "counted"}
    assert r["events"]["instructions"]["value"] == 37977214
    assert r["events"]["cpu-clock"] == {"value": 225851.20, "unit": "msec", "running_pct": 100.0, "status": "counted"}
    assert "tma_backend_bound" not in str(r["events"])  # metric-only TopDown rows are not events
    assert r["derived"]["ipc"] == pytest.approx(37977214 / 52288305)
    assert round(r["derived"]["ipc"], 2) == 0.73  # perf's own "0.73 insn per cycle"
    assert r["derived"]["branch_miss_rate"] == pytest.approx(51102 / 7299859)
    assert round(100 * r["derived"]["branch_miss_rate"], 2) == 0.70  # perf's "0.70 of all branches"
    assert r["unavailable"] == {
        "cache_miss_rate": "cache-misses is not in the perf output; cache-references is not in the perf output"
    }
    assert r["multiplexed"] == []


def test_real_counted_sapphire_rapids_human_readable() -> None:
    r = _perf("perf_stat_spr_lkml_human.txt")
    assert r["events"]["cycles"]["value"] == 45940682
    assert r["events"]["cpu-clock"] == {"value": 226054.13, "unit": "msec", "running_pct": None, "status": "counted"}
    assert round(r["derived"]["ipc"], 2) == 0.80
    assert round(100 * r["derived"]["branch_miss_rate"], 2) == 0.88
    assert len(r["events"]) == 8


def test_real_hybrid_pmus_are_summed_and_multiplexing_flagged() -> None:
    r = _perf("perf_stat_hybrid_lkml.csv")
    assert r["events"]["cpu_atom/cycles/"] == {
        "value": 256500230.0,
        "unit": "",
        "running_pct": 54.0,
        "status": "counted",
    }
    assert r["derived"]["ipc"] == pytest.approx((4688595 + 37487490) / (6766433 + 256500230))
    assert r["multiplexed"] == [
        "cpu_atom/cycles/",
        "cpu_atom/instructions/",
        "cpu_atom/branches/",
        "cpu_atom/branch-misses/",
    ]
    human = _perf("perf_stat_hybrid_lkml_human.txt")
    assert human["events"]["cpu_atom/instructions/"] == {
        "value": 37721481.0,
        "unit": "",
        "running_pct": 63.33,
        "status": "counted",
    }
    assert human["events"]["cpu_core/instructions/"]["running_pct"] is None


def test_modifiers_repeat_variance_and_zero_denominator() -> None:
    # synthetic lines in perf's -x, layout: ":u" modifiers and the -r variance column
    r = parse_perf_stat(
        "# started on today\n\n1000,,cycles:u,5.00%,900,100.00,,\n2500,,instructions:u,4.00%,900,"
        "100.00,2.50,insn per cycle\n0,,branches:u,0.00%,900,100.00,,\n3,,branch-misses:u,0.00%,900,"
        "100.00,,\n"
    )
    assert r["events"]["cycles:u"]["running_pct"] == 100.0
    assert r["derived"] == {"ipc": 2.5}
    assert r["unavailable"]["branch_miss_rate"] == "branches counted 0"


# --- perf on this machine --------------------------------------------------------------------------------------------


def test_perf_stat_availability_reason_on_a_vm(monkeypatch: pytest.MonkeyPatch) -> None:
    class Done:
        returncode = 0
        stderr = (DATA / "perf_stat_vm_not_supported.csv").read_text()

    monkeypatch.setattr(counters.shutil, "which", lambda name: "/usr/bin/perf")
    monkeypatch.setattr(counters.subprocess, "run", lambda *a, **k: Done())
    assert perf_stat_availability() == (
        "perf stat: hardware events cycles, instructions, cache-references, cache-misses, branches, branch-misses are "
        "<not supported> on this machine (typical of VMs without PMU passthrough)"
    )


def test_perf_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counters.shutil, "which", lambda name: None)
    assert perf_stat_availability() == "perf is not installed (Debian: apt-get install linux-perf)"
    with PerfStat() as p:
        pass
    assert p.result["unavailable"] == {"perf_stat": "perf is not installed (Debian: apt-get install linux-perf)"}


@pytest.mark.skipif(shutil.which("perf") is None, reason="needs perf (Debian linux-perf)")
def test_perf_stat_context_manager_on_this_machine() -> None:
    with PerfStat() as p:
        # Busy for 0.3 s: a few milliseconds can end before perf's counters run on a busy VM ("not counted").
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:
            sum(range(10_000))
    r = p.result
    assert set(r["events"]) == set(PERF_EVENTS)
    assert r["events"]["task-clock"]["status"] == "counted"
    # IPC is derived exactly when cycles were counted; otherwise the reason names what perf said of cycles.
    counted = r["events"]["cycles"]["status"] == "counted"
    assert ("ipc" in r["derived"]) == counted
    assert counted or "cycles was <" in r["unavailable"]["ipc"]


@pytest.mark.skipif(shutil.which("perf") is None, reason="needs perf")
def test_perf_stat_on_a_missing_pid_is_unavailable_not_an_error() -> None:
    pid = 2**22 + 12345  # above pid_max on Linux: never a live process
    with PerfStat(pid=pid) as p:
        pass
    assert "perf_stat" in p.result["unavailable"]
    assert p.result["unavailable"]["perf_stat"].startswith("perf stat produced no counts")


# --- Nsight Compute --------------------------------------------------------------------------------------------------


def test_ncu_metric_table() -> None:
    assert NCU_METRICS["achieved_occupancy"] == "sm__warps_active.avg.pct_of_peak_sustained_active"
    assert NCU_METRICS["gld_efficiency"] == "smsp__sass_average_data_bytes_per_sector_mem_global_op_ld.pct"
    assert NCU_METRICS["gst_efficiency"] == "smsp__sass_average_data_bytes_per_sector_mem_global_op_st.pct"
    assert NCU_METRICS["dram_utilization"] == "dram__throughput.avg.pct_of_peak_sustained_elapsed"
    assert NCU_METRICS["ipc"] == "sm__inst_executed.avg.per_cycle_active"


def test_ncu_command() -> None:
    cmd = ncu_command(["python", "-m", "aibench", "run"], launch_skip=10, launch_count=5)
    assert Path(cmd[0]).name == "ncu"
    assert cmd[cmd.index("--metrics") + 1].split(",") == list(NCU_METRICS.values())
    assert cmd[cmd.index("--launch-skip") + 1] == "10" and cmd[cmd.index("--launch-count") + 1] == "5"
    assert cmd[cmd.index("--target-processes") + 1] == "all"
    assert cmd[cmd.index("--page") + 1] == "details" and "--csv" in cmd
    assert cmd[cmd.index("--") + 1 :] == ["python", "-m", "aibench", "run"]
    assert "--csv" not in ncu_command(["a.out"], report_csv=False)


def test_ncu_availability_on_this_machine() -> None:
    reason = ncu_availability()
    if shutil.which("ncu") is None and not Path("/usr/local/cuda/bin/ncu").is_file():
        assert reason == (
            "Nsight Compute (ncu) is not on PATH or at /usr/local/cuda/bin/ncu; install the CUDA "
            "toolkit's nsight-compute package"
        )
    else:
        assert reason is None


def test_real_ncu_details_report_v100() -> None:
    r = parse_ncu_csv((DATA / "ncu_details_v100_xplacer_excerpt.csv").read_text())
    assert r["layout"] == "details"
    assert [(k["id"], k["kernel"]) for k in r["kernels"]] == [
        ("0", "cuda_compute_step_factor"),
        ("1", "cuda_compute_flux"),
    ]
    k0, k1 = (k["metrics"] for k in r["kernels"])
    assert len(k0) == 52
    assert k0["Occupancy/Achieved Occupancy"] == 48.18 and k1["Occupancy/Achieved Occupancy"] == 38.71
    assert k0["GPU Speed Of Light/Duration"] == 10720 and r["units"]["GPU Speed Of Light/Duration"] == "nsecond"
    assert k1["Memory Workload Analysis/Memory Throughput"] == 300965714285.71
    assert r["summary"]["achieved_occupancy"]["mean"] == pytest.approx((48.18 + 38.71) / 2)
    assert r["summary"]["achieved_occupancy"]["launches"] == 2
    assert r["summary"]["ipc"]["mean"] == pytest.approx((1.06 + 1.36) / 2)
    assert "unweighted mean" in r["averaging"]
    assert set(r["unavailable"]) == {"ipc_efficiency", "gld_efficiency", "gst_efficiency", "dram_utilization"}
    assert r["unavailable"]["gld_efficiency"] == (
        "not in this report (profile with --metrics smsp__sass_average_data_bytes_per_sector_mem_global_op_ld.pct)"
    )


def test_ncu_raw_layout_synthetic() -> None:
    r = parse_ncu_csv((DATA / "ncu_raw_synthetic.csv").read_text())
    assert r["layout"] == "raw" and len(r["kernels"]) == 2
    m0 = r["kernels"][0]["metrics"]
    assert m0["gpu__time_duration.sum"] == 1234567  # "1,234,567"
    assert m0["smsp__sass_average_data_bytes_per_sector_mem_global_op_ld.pct"] is None  # "n/a"
    assert r["units"]["gpu__time_duration.sum"] == "nsecond"
    assert "Block Size" not in m0
    s = r["summary"]
    assert s["dram_utilization"]["mean"] == pytest.approx(80.0)
    assert s["achieved_occupancy"]["mean"] == pytest.approx(90.0)
    assert s["ipc_efficiency"]["mean"] == pytest.approx(11.0) and s["ipc"]["mean"] == pytest.approx(0.55)
    assert s["gst_efficiency"] == {
        "ncu_metric": NCU_METRICS["gst_efficiency"],
        "mean": 100.0,
        "launches": 1,
        "units": ["%"],
    }
    assert r["unavailable"]["gld_efficiency"].startswith("n/a in all 2 profiled launches")


def test_ncu_details_layout_synthetic_separators_and_na() -> None:
    r = parse_ncu_csv((DATA / "ncu_details_synthetic.csv").read_text())
    assert r["kernels"][0]["metrics"]["dram__throughput.avg.pct_of_peak_sustained_elapsed"] == 1012.5
    assert r["unavailable"]["achieved_occupancy"].startswith("n/a in all 1 profiled launches")


def test_ncu_text_without_a_table() -> None:
    with pytest.raises(ValueError, match="no ncu CSV table"):
        parse_ncu_csv(
            "==PROF== Connected to process 1\n==ERROR== ERR_NVGPUCTRPERM - The user does not have "
            "permission to access NVIDIA GPU Performance Counters\n"
        )
