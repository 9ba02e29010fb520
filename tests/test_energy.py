"""Energy meters: RAPL on a fake powercap tree, NVML through a stub module, and the real call on this machine."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from aibench.harness import energy
from aibench.harness.energy import EnergySample, energy_between, open_energy_meter

MAX_UJ = 1_000_000  # a small max_energy_range_uj so tests can force wrap-arounds


def _write(path: Path, value: int | str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{value}\n")
    os.replace(tmp, path)  # atomic, like a sysfs read: the poller never sees a half-written file


def _zone(root: Path, name: str, label: str, energy_uj: int) -> Path:
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "name").write_text(label + "\n")
    _write(zone / "energy_uj", energy_uj)
    _write(zone / "max_energy_range_uj", MAX_UJ)
    return zone


@pytest.fixture
def powercap(tmp_path: Path) -> Path:
    """/sys/class/powercap as the kernel lays it out: one flat entry per zone and subzone."""
    root = tmp_path / "powercap"
    _zone(root, "intel-rapl:0", "package-0", 100_000)
    _zone(root, "intel-rapl:0:0", "core", 50_000)
    _zone(root, "intel-rapl:0:1", "dram", 10_000)
    _zone(root, "intel-rapl-mmio:0", "package-0", 0)  # the MMIO duplicate of the package: ignored
    return root


def test_rapl_counts_package_and_dram_not_core(powercap: Path) -> None:
    meter, reason = open_energy_meter("cpu", powercap_root=powercap)
    assert reason is None and meter is not None
    try:
        assert meter.source == "rapl"
        assert meter.domains == ["package-0", "dram"]  # core is inside the package: not added again
        start = meter.read()
        assert start.joules == {"package-0": 0.0, "dram": 0.0}
        _write(powercap / "intel-rapl:0" / "energy_uj", 600_000)  # +0.5 J
        _write(powercap / "intel-rapl:0:0" / "energy_uj", 450_000)  # core moves too, but is not counted
        _write(powercap / "intel-rapl:0:1" / "energy_uj", 260_000)  # +0.25 J
        diff = energy_between(start, meter.read())
        assert diff == pytest.approx({"package-0": 0.5, "dram": 0.25, "total": 0.75})
    finally:
        meter.close()


def test_rapl_wrap_around_is_corrected(powercap: Path) -> None:
    _write(powercap / "intel-rapl:0" / "energy_uj", 900_000)
    meter, _ = open_energy_meter("cpu", powercap_root=powercap, poll_interval_s=3600)
    assert meter is not None
    try:
        _write(powercap / "intel-rapl:0" / "energy_uj", 150_000)  # wrapped: 100_000 to the top, 150_000 after
        assert meter.read().joules["package-0"] == pytest.approx(0.25)
    finally:
        meter.close()


def test_poller_sees_each_of_two_wraps(powercap: Path) -> None:
    """Two wraps between reads: one read at the end would see 900k -> 50k (one wrap, 0.15 J); the poller saw 1.15 J."""
    pkg = powercap / "intel-rapl:0" / "energy_uj"
    _write(pkg, 900_000)
    meter, _ = open_energy_meter("cpu", powercap_root=powercap, poll_interval_s=0.01)
    assert meter is not None
    try:
        for value in (100_000, 950_000, 50_000):  # +200k (wrap), +850k, +100k (wrap)
            _write(pkg, value)
            seen = meter.polls
            deadline = time.monotonic() + 10
            while meter.polls < seen + 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            assert meter.polls >= seen + 2, "the poller thread did not run"
        assert meter.read().joules["package-0"] == pytest.approx(1.15)
    finally:
        meter.close()
    assert not meter._thread.is_alive()


def test_rapl_permission_denied_names_the_fix(powercap: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(path: Path) -> int:
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return int(path.read_text())

    monkeypatch.setattr(energy, "_read_uj", denied)
    meter, reason = open_energy_meter("cpu", powercap_root=powercap)
    assert meter is None
    assert reason is not None and reason.startswith("RAPL energy_uj is not readable (permission denied); run as root")
    assert "chmod a+r" in reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_rapl_permission_denied_real_chmod(powercap: Path) -> None:
    (powercap / "intel-rapl:0" / "energy_uj").chmod(0)
    meter, reason = open_energy_meter("cpu", powercap_root=powercap)
    assert meter is None and reason is not None and "permission denied" in reason


def test_no_powercap_tree(tmp_path: Path) -> None:
    meter, reason = open_energy_meter("cpu", powercap_root=tmp_path / "absent")
    assert meter is None
    assert reason == f"no RAPL powercap interface ({tmp_path / 'absent'} absent)"


def test_powercap_without_rapl_zones(tmp_path: Path) -> None:
    _zone(tmp_path, "dtpm", "dtpm", 0)
    meter, reason = open_energy_meter("cpu", powercap_root=tmp_path)
    assert meter is None and reason is not None and "no RAPL package zones" in reason


class StubNVML:
    """The part of pynvml the meter uses: a per-GPU counter in millijoules that grows on every read."""

    class NVMLError(Exception):
        pass

    def __init__(self, supported: bool = True, gpus: int = 2) -> None:
        self.supported, self.gpus = supported, gpus
        self.mj = {i: 1_000_000 * (i + 1) for i in range(gpus)}
        self.initialised = self.shutdowns = 0

    def nvmlInit(self) -> None:
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if index >= self.gpus:
            raise self.NVMLError("Invalid Argument")
        return index

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        if not self.supported:
            raise self.NVMLError("Not Supported")
        self.mj[handle] += 2_500  # 2.5 J per read
        return self.mj[handle]


def test_nvml_energy_of_the_requested_gpu(tmp_path: Path) -> None:
    nvml = StubNVML()
    meter, reason = open_energy_meter("cuda:1", powercap_root=tmp_path / "absent", nvml=nvml)
    assert reason is None and meter is not None
    assert meter.source == "nvml" and meter.domains == ["gpu1"]
    assert meter.missing == {"cpu": f"no RAPL powercap interface ({tmp_path / 'absent'} absent)"}
    first = meter.read()
    second = meter.read()
    assert first.joules["gpu1"] == pytest.approx(2.5)  # since open, not since driver load
    assert energy_between(first, second) == pytest.approx({"gpu1": 2.5, "total": 2.5})
    meter.close()
    meter.close()
    assert nvml.shutdowns == 1


def test_nvml_plus_rapl_for_a_cuda_device(powercap: Path) -> None:
    meter, reason = open_energy_meter("cuda", powercap_root=powercap, nvml=StubNVML())
    assert reason is None and meter is not None
    try:
        assert meter.source == "nvml+rapl"
        assert meter.domains == ["gpu0", "package-0", "dram"]
        start = meter.read()
        _write(powercap / "intel-rapl:0" / "energy_uj", 200_000)
        diff = energy_between(start, meter.read())
        assert diff == pytest.approx({"gpu0": 2.5, "package-0": 0.1, "dram": 0.0, "total": 2.6})
    finally:
        meter.close()


def test_nvml_energy_unsupported_is_unavailable_not_integrated(tmp_path: Path) -> None:
    nvml = StubNVML(supported=False)
    meter, reason = open_energy_meter("cuda:0", powercap_root=tmp_path, nvml=nvml)
    assert meter is None
    assert reason is not None and "total energy counter unsupported" in reason and "Volta" in reason
    assert nvml.shutdowns == 1


def test_nvml_missing_gpu_index(tmp_path: Path) -> None:
    meter, reason = open_energy_meter("cuda:7", powercap_root=tmp_path, nvml=StubNVML())
    assert meter is None and reason is not None and "index 7" in reason


def test_nvidia_ml_py_not_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    meter, reason = open_energy_meter("cuda:0", powercap_root=tmp_path)
    assert meter is None
    assert reason == "NVML unavailable: nvidia-ml-py not installed (pip install nvidia-ml-py)"


def test_other_device_types() -> None:
    meter, reason = open_energy_meter("mps")
    assert meter is None and reason == "energy measurement is not implemented for device type 'mps'"


def test_energy_between_rejects_samples_of_different_meters() -> None:
    with pytest.raises(ValueError):
        energy_between(EnergySample({"gpu0": 1.0}), EnergySample({"package-0": 2.0}))


@pytest.mark.skipif(Path("/sys/class/powercap").exists(), reason="a machine with powercap: the fake trees cover it")
def test_real_machine_cpu() -> None:
    """On the reference VM there is no powercap interface: the real call says so instead of estimating."""
    assert open_energy_meter("cpu") == (None, "no RAPL powercap interface (/sys/class/powercap absent)")


def test_real_machine_cuda_without_gpu() -> None:
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU machine: covered by the device check")
    meter, reason = open_energy_meter(torch.device("cuda:0"))
    assert meter is None and reason and reason.startswith("NVML")
