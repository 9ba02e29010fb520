"""Which benchmarks exist (the catalog) and which can run (registered implementations).

Benchmarks register with a decorator, timm-style:

    @register("DC-AI-C1")
    class ImageClassification(Benchmark): ...

and are looked up by id ("DC-AI-C1"), short id ("C1"), slug ("image_classification") or glob ("*rank*").
"""

from __future__ import annotations

import fnmatch
import importlib
import os
from typing import TYPE_CHECKING, Callable

from aibench.catalog import CATALOG, SUITES, BenchmarkInfo

if TYPE_CHECKING:
    from aibench.benchmarks.base import Benchmark

_BY_ID: dict[str, BenchmarkInfo] = {info.id: info for info in CATALOG}
_IMPLEMENTATIONS: dict[str, type["Benchmark"]] = {}
_LOADED = False


class UnknownBenchmarkError(LookupError):
    """A benchmark or suite name that does not exist."""


class NotRunnableError(LookupError):
    """A benchmark that is in the catalog but not implemented yet."""


def register(bench_id: str) -> Callable[[type["Benchmark"]], type["Benchmark"]]:
    if bench_id not in _BY_ID:
        raise UnknownBenchmarkError(f"cannot register {bench_id!r}: not in the AIBench catalog")

    def decorate(cls: type["Benchmark"]) -> type["Benchmark"]:
        cls.info = _BY_ID[bench_id]
        _IMPLEMENTATIONS[bench_id] = cls
        return cls

    return decorate


def _load_implementations() -> None:
    """Import the built-in benchmarks, then any modules named in $AIBENCH_PLUGINS (comma-separated), which
    is how out-of-tree benchmarks (and the test suite's fault-injecting ones) reach child processes too."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        importlib.import_module("aibench.benchmarks")
        for module in filter(None, os.environ.get("AIBENCH_PLUGINS", "").split(",")):
            importlib.import_module(module.strip())


def resolve(name: str) -> BenchmarkInfo:
    """Find a catalog entry by id, short id (C1) or slug."""
    key = name.strip()
    for info in CATALOG:
        short = info.id.removeprefix("DC-AI-")
        if key.upper() in (info.id, short) or key.lower() == info.slug:
            return info
    valid = ", ".join(f"{i.id} ({i.slug})" for i in CATALOG)
    raise UnknownBenchmarkError(f"unknown benchmark {name!r}; valid names: {valid}")


def list_benchmarks(pattern: str = "*", suite: str | None = None) -> list[BenchmarkInfo]:
    """Catalog entries whose id or slug matches a glob, optionally within a suite."""
    ids = suite_ids(suite) if suite else tuple(_BY_ID)
    return [
        _BY_ID[i]
        for i in ids
        if fnmatch.fnmatch(i.lower(), pattern.lower()) or fnmatch.fnmatch(_BY_ID[i].slug, pattern.lower())
    ]


def suite_ids(suite: str) -> tuple[str, ...]:
    if suite not in SUITES:
        raise UnknownBenchmarkError(f"unknown suite {suite!r}; valid suites: {', '.join(SUITES)}")
    return SUITES[suite]


def is_runnable(bench_id: str) -> bool:
    _load_implementations()
    return bench_id in _IMPLEMENTATIONS


def runnable_ids() -> list[str]:
    _load_implementations()
    return [i for i in _BY_ID if i in _IMPLEMENTATIONS]


def get_benchmark(name: str) -> type["Benchmark"]:
    info = resolve(name)
    _load_implementations()
    if info.id not in _IMPLEMENTATIONS:
        raise NotRunnableError(
            f"{info.id} ({info.task}) is in the catalog but not implemented yet; "
            f"runnable now: {', '.join(runnable_ids())}"
        )
    return _IMPLEMENTATIONS[info.id]
