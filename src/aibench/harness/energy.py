"""Energy measurement: NVML's energy counter on NVIDIA GPUs, RAPL (powercap) on CPUs.

Purpose: energy to quality of a training session and energy per inference. The rule is the same as for every other
metric: a figure is either read from a hardware energy counter or it is absent, with the reason. Nothing here
integrates power samples or models consumption; when no counter can be read, ``open_energy_meter`` says so.

Why not Zeus (``zeus`` 0.16.0 on PyPI, ``ZeusMonitor``): it pulls in pandas, scikit-learn, pydantic, httpx, tyro and
amdsmi for a task that needs two file reads and one NVML call, its RAPL reader is hard-wired to the module constant
``/sys/class/powercap/intel-rapl`` (tests could only monkeypatch it), and it tracks wrap-around in one spawned process
per RAPL file. The reader below takes the powercap root and the NVML module as arguments so tests can fake both.

RAPL accounting: ``intel-rapl:N`` is a CPU package (its ``name`` is ``package-N``) and ``intel-rapl:N:M`` are its
subzones (``core``, ``uncore``, ``dram``). Only package and dram zones are counted: core and uncore are parts of the
package, so adding them to it would count the same joules twice, while dram is outside the package. Recent kernels
expose AMD's RAPL MSRs under the same ``intel-rapl`` names (package only; AMD has no dram zone). Platform zones
(``psys``) and the ``intel-rapl-mmio`` duplicates are ignored for the same double-counting reason.
"""

from __future__ import annotations

import importlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_POLL_INTERVAL_S = 5.0
_RAPL_ZONE = re.compile(r"^intel-rapl:(\d+)(?::(\d+))?$")


@dataclass
class EnergySample:
    """Cumulative joules per domain since the meter opened, e.g. ``{"gpu0": .., "package-0": .., "dram": ..}``."""

    joules: dict[str, float]


class EnergyMeter:
    """An open energy counter (or several). ``read`` is cheap; call it at the boundaries you want to measure."""

    source: str
    domains: list[str]
    #: parts of the system this meter does *not* cover, with the reason (e.g. ``{"cpu": "no RAPL powercap ..."}``),
    #: so a report can say what its joules leave out.
    missing: dict[str, str]

    def read(self) -> EnergySample:
        raise NotImplementedError

    def close(self) -> None:
        """Stop any background poller and release the counter; safe to call more than once."""


def read_energy(meter: EnergyMeter | None) -> tuple[EnergySample | None, str | None]:
    """A reading, or why there is none: a failing counter costs its own figure, never the run it measures."""
    if meter is None:
        return None, None
    try:
        return meter.read(), None
    except Exception as exc:
        return None, f"energy meter read failed: {type(exc).__name__}: {exc}"


def energy_between(start: EnergySample, end: EnergySample) -> dict[str, float]:
    """Joules per domain between two samples of the same meter, plus ``"total"`` (their sum)."""
    if start.joules.keys() != end.joules.keys():
        raise ValueError(f"samples come from different meters: {sorted(start.joules)} vs {sorted(end.joules)}")
    out = {d: end.joules[d] - start.joules[d] for d in start.joules}
    out["total"] = sum(out.values())
    return out


# --- RAPL ------------------------------------------------------------------------------------------------------------


def _read_uj(path: Path) -> int:
    return int(path.read_text().strip())


@dataclass
class _RaplCounter:
    """One ``energy_uj`` file, unwrapped: ``total_uj`` grows monotonically although the file wraps at ``max_uj``."""

    path: Path
    max_uj: int
    last_uj: int
    total_uj: int = 0

    def update(self) -> None:
        now = _read_uj(self.path)
        # The counter runs from 0 to max_energy_range_uj and starts again at 0. A smaller reading means it wrapped
        # (once: the poller interval is chosen well below the fastest possible wrap time, see _RaplMeter).
        self.total_uj += now - self.last_uj if now >= self.last_uj else (self.max_uj - self.last_uj) + now
        self.last_uj = now


@dataclass
class _RaplMeter(EnergyMeter):
    counters: dict[str, _RaplCounter]
    poll_interval_s: float
    source: str = "rapl"
    missing: dict[str, str] = field(default_factory=dict)
    polls: int = 0  # poller passes so far (tests wait on it)

    def __post_init__(self) -> None:
        self.domains = list(self.counters)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # A counter can wrap more than once during a long session (AMD's 32-bit counter wraps after ~65 kJ, a few
        # minutes at full load), and one read at the end could not tell one wrap from two. A daemon thread reads
        # every counter often enough to see each wrap.
        self._thread = threading.Thread(target=self._poll, name="rapl-energy-poller", daemon=True)
        self._thread.start()

    def _update_all(self) -> None:
        with self._lock:
            for c in self.counters.values():
                c.update()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            try:
                self._update_all()
            except (OSError, ValueError):
                pass  # a transient read error; read() surfaces persistent ones to the caller
            self.polls += 1

    def read(self) -> EnergySample:
        self._update_all()
        with self._lock:
            return EnergySample({d: c.total_uj / 1e6 for d, c in self.counters.items()})

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2 * self.poll_interval_s + 1)


def _open_rapl(powercap_root: Path, poll_interval_s: float) -> tuple[_RaplMeter | None, str | None]:
    if not powercap_root.is_dir():
        return None, f"no RAPL powercap interface ({powercap_root} absent)"
    zones: dict[tuple[int, int | None], Path] = {}
    for p in powercap_root.iterdir():
        m = _RAPL_ZONE.match(p.name)
        if m:
            zones[(int(m[1]), None if m[2] is None else int(m[2]))] = p
    packages = sorted(k[0] for k in zones if k[1] is None)
    if not packages:
        return None, (
            f"no RAPL package zones (intel-rapl:N) under {powercap_root}; the CPU or kernel does not expose RAPL"
        )
    counters: dict[str, _RaplCounter] = {}
    for (pkg, sub), path in sorted(zones.items(), key=lambda kv: (kv[0][0], -1 if kv[0][1] is None else kv[0][1])):
        try:
            name = (path / "name").read_text().strip()
        except OSError:
            continue
        if sub is None and not name.startswith("package"):
            continue  # psys and other platform zones overlap the packages
        if sub is not None and name != "dram":
            continue  # core/uncore are inside the package: counting them too would double-count
        domain = name if sub is None or len(packages) == 1 else f"dram-{pkg}"
        energy = path / "energy_uj"
        try:
            counters[domain] = _RaplCounter(energy, _read_uj(path / "max_energy_range_uj"), _read_uj(energy))
        except PermissionError:
            return None, (
                "RAPL energy_uj is not readable (permission denied); run as root or "
                f"`chmod a+r {powercap_root}/intel-rapl:*/energy_uj`"
            )
        except (OSError, ValueError) as e:
            return None, f"RAPL zone {path.name} cannot be read ({e})"
    if not counters:
        return None, f"no RAPL package or dram zones under {powercap_root}"
    return _RaplMeter(counters, poll_interval_s), None


# --- NVML ------------------------------------------------------------------------------------------------------------


@dataclass
class _NvmlMeter(EnergyMeter):
    nvml: Any
    handle: Any
    index: int
    start_mj: int
    source: str = "nvml"
    missing: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.domains = [f"gpu{self.index}"]
        self._open = True

    def read(self) -> EnergySample:
        # A 64-bit millijoule counter since the driver loaded: no wrap-around to correct, no poller needed.
        now = self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        return EnergySample({self.domains[0]: (now - self.start_mj) / 1e3})

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                self.nvml.nvmlShutdown()
            except self.nvml.NVMLError:
                pass


def _open_nvml(index: int, nvml: Any | None) -> tuple[_NvmlMeter | None, str | None]:
    if nvml is None:
        try:
            nvml = importlib.import_module("pynvml")  # the maintained `nvidia-ml-py` package; GPU machines only
        except ImportError:
            return None, "NVML unavailable: nvidia-ml-py not installed (pip install nvidia-ml-py)"
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as e:
        return None, f"NVML cannot be initialised ({e}); is the NVIDIA driver installed and loaded?"
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
    except nvml.NVMLError as e:
        nvml.nvmlShutdown()
        return None, f"NVML has no GPU with index {index} ({e})"
    try:
        start = nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except nvml.NVMLError as e:
        nvml.nvmlShutdown()
        return None, (
            f"GPU {index}: NVML total energy counter unsupported ({e}); it needs a Volta or newer GPU. "
            "Power samples are not integrated into an energy figure instead."
        )
    return _NvmlMeter(nvml, handle, index, start), None


# --- combined --------------------------------------------------------------------------------------------------------


@dataclass
class _CombinedMeter(EnergyMeter):
    parts: list[EnergyMeter]
    missing: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.source = "+".join(p.source for p in self.parts)
        self.domains = [d for p in self.parts for d in p.domains]

    def read(self) -> EnergySample:
        joules: dict[str, float] = {}
        for p in self.parts:
            joules.update(p.read().joules)
        return EnergySample(joules)

    def close(self) -> None:
        for p in self.parts:
            p.close()


def open_energy_meter(
    device: Any,
    *,
    powercap_root: Path = Path("/sys/class/powercap"),
    nvml: Any | None = None,
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
) -> tuple[EnergyMeter | None, str | None]:
    """(meter, None) when something can be measured, else (None, reason).

    ``device`` is a ``torch.device`` or its string. For a cuda device: NVML energy of that GPU
    (``nvmlDeviceGetTotalEnergyConsumption``, mJ, Volta and newer; if that call is unsupported the meter is
    unavailable, power samples are never integrated instead) plus RAPL of the host CPU when readable; the meter's
    ``missing`` says why RAPL is absent. GPU energy is required for a cuda device because a CPU-only figure would
    silently understate a GPU session. For cpu: RAPL only. ``nvml`` lets tests pass a stub of the ``pynvml`` module.
    """
    kind, _, idx = str(device).partition(":")
    if kind == "cpu":
        return _open_rapl(powercap_root, poll_interval_s)
    if kind != "cuda":
        return None, f"energy measurement is not implemented for device type {kind!r}"
    # cuda:N is the N-th GPU *visible to this process*; NVML numbers all GPUs, ignoring CUDA_VISIBLE_DEVICES, so the
    # two differ when CUDA_VISIBLE_DEVICES remaps. The index is used as given ("cuda" alone means cuda:0).
    index = int(idx) if idx else 0
    gpu, reason = _open_nvml(index, nvml)
    if gpu is None:
        return None, reason
    cpu, cpu_reason = _open_rapl(powercap_root, poll_interval_s)
    if cpu is None:
        gpu.missing = {"cpu": cpu_reason or ""}
        return gpu, None
    return _CombinedMeter([gpu, cpu]), None
