"""Where datasets live: a user's `--data-root`, or an embedded copy generated once into a cache.

Both are laid out the same way (one folder per dataset under one root), so the real reader is the only reader.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

P = TypeVar("P")  # a generator's parameters: a frozen dataclass


class DataLayoutError(ValueError):
    """The data root lacks what a reader needs, or a file in it is corrupt."""


@dataclass(frozen=True)
class DatasetSpec(Generic[P]):
    name: str  # e.g. "imagenet"
    required: tuple[str, ...]  # paths relative to the data root that must exist
    generate: Callable[[Path, P, int], None]  # writes an embedded copy under a root: generate(root, params, seed)
    params: type[P]  # the generator's parameter dataclass
    version: int = 1  # bump when the generator's output changes, to invalidate caches
    layout_hint: str = ""  # one line describing the real layout, for error messages
    # Cheap structural checks of a user's root (raise DataLayoutError naming the path), run before any session.
    validate: Callable[[Path], None] | None = None


def missing_paths(spec: DatasetSpec[Any], root: Path) -> list[Path]:
    return [root / rel for rel in spec.required if not (root / rel).exists()]


def check_layout(spec: DatasetSpec[Any], root: Path) -> None:
    """A user's data root has the dataset's layout (before any session, so a bad root costs no training)."""
    missing = missing_paths(spec, root)
    if not missing and spec.validate is not None:
        spec.validate(root)
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


def params_json(params: Any) -> dict[str, Any]:
    """A generator's parameter dataclass as JSON-ready data (results, cache fingerprints)."""
    return dataclasses.asdict(params) if dataclasses.is_dataclass(params) and not isinstance(params, type) else {}


def _fingerprint(spec: DatasetSpec[Any], params: Any, seed: int) -> str:
    blob = json.dumps(
        {"name": spec.name, "v": spec.version, "params": params_json(params), "seed": seed}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def embedded_root(spec: DatasetSpec[P], params: P, seed: int = 0) -> Path:
    """The data root of the embedded copy for these generator parameters (one root per parameter set)."""
    return cache_home() / f"{spec.name}-{_fingerprint(spec, params, seed)}"


def ensure_embedded(spec: DatasetSpec[P], params: P, seed: int = 0) -> Path:
    """Generate the embedded copy once; later calls return the cached root."""
    return build_once(
        embedded_root(spec, params, seed),
        lambda tmp: spec.generate(tmp, params, seed),
        {"dataset": spec.name, "params": params_json(params), "seed": seed},
    )


def build_once(root: Path, build: Callable[[Path], None], marker: dict[str, Any]) -> Path:
    """Build a folder once: `build(tmp)` fills a private temporary sibling, which is renamed into place with a
    `.complete` marker inside, so `root` either does not exist or is complete. Two processes may build at
    once: the first rename wins and the other discards its copy; a complete copy is never deleted."""
    if (root / ".complete").exists():
        return root
    tmp = root.with_name(f"{root.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        build(tmp)
        (tmp / ".complete").write_text(json.dumps(marker))
        tmp.rename(root)  # fails if root exists (another process won): rename never replaces a non-empty folder
    except OSError:
        if not (root / ".complete").exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root
