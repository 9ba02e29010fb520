"""Where datasets live: a user's `--data-root`, or an embedded copy generated once into a cache.

Both are laid out the same way (one folder per dataset under one root), so the real reader is the only reader.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Generator = Callable[[Path, Mapping[str, Any], int], None]


class DataLayoutError(ValueError):
    """The data root lacks what a reader needs, or a file in it is corrupt."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str                  # e.g. "imagenet"
    required: tuple[str, ...]  # paths relative to the data root that must exist
    generate: Generator        # writes an embedded copy under a root: generate(root, params, seed)
    version: int = 1           # bump when the generator's output changes, to invalidate caches
    layout_hint: str = ""      # one line describing the real layout, for error messages


def missing_paths(spec: DatasetSpec, root: Path) -> list[Path]:
    return [root / rel for rel in spec.required if not (root / rel).exists()]


def check_layout(spec: DatasetSpec, root: Path) -> None:
    missing = missing_paths(spec, root)
    if missing:
        raise DataLayoutError(
            f"--data-root {root} does not hold the {spec.name} dataset: missing {missing[0]}"
            + (f" (expected {spec.layout_hint})" if spec.layout_hint else "")
            + ". Omit --data-root to use the embedded data that aibench generates (tiny/small profiles), "
            "or run `aibench generate-data --out DIR` to write an embedded copy in this layout."
        )


def cache_home() -> Path:
    """Root of generated embedded data: $AIBENCH_DATA_CACHE, else ~/.cache/aibench/data."""
    env = os.environ.get("AIBENCH_DATA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "aibench" / "data"


def _fingerprint(spec: DatasetSpec, params: Mapping[str, Any], seed: int) -> str:
    blob = json.dumps({"name": spec.name, "v": spec.version, "params": dict(params), "seed": seed}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def embedded_root(spec: DatasetSpec, params: Mapping[str, Any], seed: int = 0) -> Path:
    """The data root of the embedded copy for these generator parameters (one root per parameter set)."""
    return cache_home() / f"{spec.name}-{_fingerprint(spec, params, seed)}"


def ensure_embedded(spec: DatasetSpec, params: Mapping[str, Any], seed: int = 0) -> Path:
    """Generate the embedded copy once; later calls return the cached root.

    The generator writes into a temporary sibling that is renamed into place, so an interrupted
    generation never leaves a half-written dataset that looks complete.
    """
    root = embedded_root(spec, params, seed)
    if (root / ".complete").exists():
        return root
    tmp = root.with_name(root.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    spec.generate(tmp, params, seed)
    (tmp / ".complete").write_text(json.dumps({"dataset": spec.name, "params": dict(params), "seed": seed}))
    if root.exists():  # a stale, incomplete copy
        shutil.rmtree(root)
    try:
        tmp.rename(root)
    except OSError:  # another process won the race; its copy is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return root
