"""Which benchmarks exist (the catalog) and which can run (registered implementations).

Benchmarks register with a decorator, timm-style:

    @register("DC-AI-C1")
    class ImageClassification(Benchmark): ...

and are looked up by id ("DC-AI-C1"), short id ("C1"), slug ("image_classification") or glob ("*rank*").

Implementations are found through the Python entry-point group `aibench.benchmarks`: each entry point names a
module whose import registers benchmarks. The built-in benchmarks are declared there in this project's
pyproject.toml, and any installed package can add its own the same way (docs/plugins.md). Modules named in
$AIBENCH_PLUGINS (comma-separated) are imported too, for benchmarks that are not installed as a package (the
test suite's fault-injecting ones). This module imports no benchmark by name.
"""

from __future__ import annotations

import fnmatch
import importlib
import os
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, TypeVar

from aibench.catalog import CATALOG, SUITES, BenchmarkInfo

if TYPE_CHECKING:
    from aibench.benchmarks.base import Benchmark

ENTRY_POINT_GROUP = "aibench.benchmarks"
# Ids outside the catalog: a plugin's own benchmark (with its BenchmarkInfo), or a test-only one ("TEST-crash").
TEST_PREFIX = "TEST-"

_BY_ID: dict[str, BenchmarkInfo] = {info.id: info for info in CATALOG}
_EXTRA: dict[str, BenchmarkInfo] = {}
_IMPLEMENTATIONS: dict[str, type[Benchmark]] = {}
_LOADED = False

B = TypeVar("B", bound="type[Benchmark]")


class UnknownBenchmarkError(LookupError):
    """A benchmark or suite name that does not exist."""


class NotRunnableError(LookupError):
    """A benchmark that is in the catalog but not implemented yet."""


class DuplicateBenchmarkError(ValueError):
    """Two different classes registered under one id."""


def register(bench_id: str, info: BenchmarkInfo | None = None) -> Callable[[B], B]:
    """Class decorator: `cls` implements `bench_id`.

    A catalog id (DC-AI-C1..C17) takes the catalog's description. Any other id needs `info` and must not look
    like a catalog id; ids starting with "TEST-" are reserved for test-only benchmarks. A second class for an
    id already taken is refused (re-importing the same class, e.g. a module reload, is not a second class).
    """
    if bench_id in _BY_ID:
        if info is not None:
            raise ValueError(f"{bench_id} is a catalog benchmark: its description comes from the catalog")
        described = _BY_ID[bench_id]
    elif bench_id.upper().startswith("DC-AI-"):
        raise UnknownBenchmarkError(
            f"cannot register {bench_id!r}: DC-AI-* ids are the catalog's (DC-AI-C1..DC-AI-C{len(CATALOG)})"
        )
    elif info is None or info.id != bench_id:
        raise ValueError(
            f"cannot register {bench_id!r}: an id outside the catalog needs info=BenchmarkInfo(id={bench_id!r}, ...)"
        )
    else:
        described = info

    def decorate(cls: B) -> B:
        existing = _IMPLEMENTATIONS.get(bench_id)
        if existing is not None and _qualname(existing) != _qualname(cls):
            raise DuplicateBenchmarkError(
                f"{bench_id} is already implemented by {_qualname(existing)}; {_qualname(cls)} cannot register "
                "under the same id (give a plugin benchmark its own id)"
            )
        cls.info = described
        _IMPLEMENTATIONS[bench_id] = cls
        if bench_id not in _BY_ID:
            _EXTRA[bench_id] = described
        return cls

    return decorate


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _load_implementations() -> None:
    """Import every module of the `aibench.benchmarks` entry-point group, then those in $AIBENCH_PLUGINS."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()
    for module in filter(None, (m.strip() for m in os.environ.get("AIBENCH_PLUGINS", "").split(","))):
        importlib.import_module(module)


def _all_infos() -> list[BenchmarkInfo]:
    return [*CATALOG, *_EXTRA.values()]


def resolve(name: str) -> BenchmarkInfo:
    """Find a benchmark by id, short id (C1) or slug; plugin benchmarks by their id or slug."""
    key = name.strip()
    _load_implementations()
    for info in _all_infos():
        short = info.id.removeprefix("DC-AI-")
        if key.upper() in (info.id.upper(), short.upper()) or key.lower() == info.slug:
            return info
    valid = ", ".join(f"{i.id} ({i.slug})" for i in _all_infos() if not i.id.startswith(TEST_PREFIX))
    raise UnknownBenchmarkError(f"unknown benchmark {name!r}; valid names: {valid}")


def list_benchmarks(pattern: str = "*", suite: str | None = None) -> list[BenchmarkInfo]:
    """Catalog entries (and plugin benchmarks, outside suites) whose id or slug matches a glob."""
    _load_implementations()
    if suite:
        infos = [_BY_ID[i] for i in suite_ids(suite)]
    else:
        infos = [i for i in _all_infos() if not i.id.startswith(TEST_PREFIX)]
    pat = pattern.lower()
    return [i for i in infos if fnmatch.fnmatch(i.id.lower(), pat) or fnmatch.fnmatch(i.slug, pat)]


def suite_ids(suite: str) -> tuple[str, ...]:
    if suite not in SUITES:
        raise UnknownBenchmarkError(f"unknown suite {suite!r}; valid suites: {', '.join(SUITES)}")
    return SUITES[suite]


def is_runnable(bench_id: str) -> bool:
    _load_implementations()
    return bench_id in _IMPLEMENTATIONS


def runnable_ids() -> list[str]:
    """Implemented catalog benchmarks in catalog order, then plugin benchmarks (test-only ones excluded)."""
    _load_implementations()
    return [i.id for i in _all_infos() if i.id in _IMPLEMENTATIONS and not i.id.startswith(TEST_PREFIX)]


def get_benchmark(name: str) -> type[Benchmark]:
    info = resolve(name)
    if info.id not in _IMPLEMENTATIONS:
        raise NotRunnableError(
            f"{info.id} ({info.task}) is in the catalog but not implemented yet; "
            f"runnable now: {', '.join(runnable_ids())}"
        )
    return _IMPLEMENTATIONS[info.id]
