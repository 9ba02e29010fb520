"""The memory allocator of session processes.

On a CPU, training frees and re-allocates the same large blocks every step. With glibc's defaults, blocks above
the dynamic mmap threshold are returned to the OS on free and page-faulted in again on the next step, and
freed memory at the top of the heap is trimmed; on a busy 2-core machine this made bf16 ResNet-50 training 7x
slower than fp32. PyTorch's CPU performance guides advise jemalloc or tcmalloc, or glibc tuned to keep memory.

`AIBENCH_ALLOCATOR` chooses, for the session processes (set in their environment before they start):

- `glibc-tuned` (default): glibc with `MALLOC_MMAP_THRESHOLD_` at its maximum (32 MiB on 64-bit) and
  `MALLOC_TRIM_THRESHOLD_` at 1 GiB, so freed blocks stay in the process for the next step;
- `glibc`: glibc's defaults;
- `jemalloc` / `tcmalloc`: preloaded (`LD_PRELOAD`) where the library is installed (Debian: libjemalloc2,
  libgoogle-perftools4); an error naming the package otherwise.

Every result records the allocator its session ran with (`system.allocator`).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping

ALLOCATORS = ("glibc-tuned", "glibc", "jemalloc", "tcmalloc")
DEFAULT_ALLOCATOR = "glibc-tuned"

_GLIBC_TUNED = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
# jemalloc settings from PyTorch's CPU tuning guide: keep dirty pages, background purging.
_JEMALLOC_CONF = "oversize_threshold:1,background_thread:true,metadata_thp:auto,dirty_decay_ms:-1,muzzy_decay_ms:-1"
_LIBRARIES = {"jemalloc": ("libjemalloc.so*", "libjemalloc2"), "tcmalloc": ("libtcmalloc.so*", "libgoogle-perftools4")}
_LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib")
_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_CONF", "GLIBC_TUNABLES", "LD_PRELOAD")


class AllocatorError(ValueError):
    """An unknown allocator, or one that is not installed."""


def chosen_allocator(environ: Mapping[str, str] = os.environ) -> str:
    name = environ.get("AIBENCH_ALLOCATOR", DEFAULT_ALLOCATOR).strip() or DEFAULT_ALLOCATOR
    if name not in ALLOCATORS:
        raise AllocatorError(f"AIBENCH_ALLOCATOR must be one of {', '.join(ALLOCATORS)}, got {name!r}")
    return name


def find_library(name: str) -> str | None:
    pattern, _ = _LIBRARIES[name]
    for folder in _LIB_DIRS:
        found = sorted(glob.glob(os.path.join(folder, pattern)))
        if found:
            return found[-1]
    return None


def session_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment a session process starts with: `environ` plus the chosen allocator's settings."""
    name = chosen_allocator(environ)
    env = dict(environ)
    env["AIBENCH_ALLOCATOR"] = name
    if name == "glibc-tuned":
        for key, value in _GLIBC_TUNED.items():
            env.setdefault(key, value)  # a user's own setting wins
    elif name in _LIBRARIES:
        library = find_library(name)
        if library is None:
            raise AllocatorError(
                f"AIBENCH_ALLOCATOR={name}: the library is not installed "
                f"(Debian: apt-get install {_LIBRARIES[name][1]}); unset it to use glibc"
            )
        env["LD_PRELOAD"] = " ".join(filter(None, [library, environ.get("LD_PRELOAD", "")]))
        if name == "jemalloc":
            env.setdefault("MALLOC_CONF", _JEMALLOC_CONF)
    return env


def describe_allocator(environ: Mapping[str, str] = os.environ) -> dict[str, object]:
    """The allocator this process runs with, as its environment set it up."""
    return {
        "name": environ.get("AIBENCH_ALLOCATOR", "glibc (not started by aibench run)"),
        "settings": {k: environ[k] for k in _VARIABLES if environ.get(k)},
    }
