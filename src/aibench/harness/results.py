"""Result files: a versioned JSON schema, atomic writes, and loading a results directory back.

Result files are written by sessions and read by people and tools, so both directions are defensive:
writing never leaves a half-written file or a temporary one behind, never writes `NaN`/`Infinity` (not JSON) and
gives files the permissions any other file of the user gets; reading validates every file against the schema and
reports a bad one by path instead of failing on the whole folder.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aibench.benchmarks.base import Benchmark

RESULT_SCHEMA_VERSION = "aibench.result/3"
SUMMARY_SCHEMA_VERSION = "aibench.summary/1"
SCHEMA_PATH = Path(__file__).with_name("result.schema.json")
MAX_RESULT_BYTES = 16 << 20  # a session's result is tens of kB; anything this large is not one

_UMASK = os.umask(0)
os.umask(_UMASK)


def file_mode() -> int:
    """What open() would give a new file under the process's umask (mkstemp's files are 0600)."""
    return 0o666 & ~_UMASK


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so a reader never sees a half-written file (temp file in the same folder, then rename).

    Non-finite numbers are refused (`allow_nan=False`): they are not JSON. Results pass through
    `finite_or_null` first, which turns them into null with the reason.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=False, default=str, allow_nan=False)
            f.write("\n")
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def finite_or_null(data: Any, path: str = "") -> tuple[Any, dict[str, str]]:
    """`data` with every NaN or infinite float replaced by None, and {json path: reason} for each replacement."""
    if isinstance(data, float) and not math.isfinite(data):
        return None, {path or "value": f"not a finite number ({data})"}
    if isinstance(data, dict):
        out, reasons = {}, {}
        for key, value in data.items():
            out[key], sub = finite_or_null(value, f"{path}.{key}" if path else str(key))
            reasons.update(sub)
        return out, reasons
    if isinstance(data, (list, tuple)):
        items, reasons = [], {}
        for i, value in enumerate(data):
            item, sub = finite_or_null(value, f"{path}[{i}]")
            items.append(item)
            reasons.update(sub)
        return items, reasons
    return data, {}


@lru_cache(maxsize=8)
def _validator(kind: str | None) -> Any:
    """The schema, narrowed to one kind's definition when the kind is known (so errors name the field at fault
    instead of "not valid under any of the given schemas")."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    if kind in schema["$defs"]:
        schema = {"$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]}
    return jsonschema.validators.validator_for(schema)(schema)


def validate_result(result: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if a result does not match the shipped schema."""
    import jsonschema

    kind = result.get("kind") if isinstance(result, dict) else None
    error = jsonschema.exceptions.best_match(_validator(kind if isinstance(kind, str) else None).iter_errors(result))
    if error is not None:
        raise error


class ResultFileError(ValueError):
    """A result file that is unreadable, not JSON, or not a valid AIBench result."""


def read_result(path: Path) -> dict[str, Any]:
    """One result file, parsed and validated; ResultFileError says what is wrong with it."""
    import jsonschema

    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            raise ResultFileError(f"larger than {MAX_RESULT_BYTES >> 20} MiB")
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except OSError as exc:
        raise ResultFileError(f"unreadable ({exc.strerror or exc})") from None
    except RecursionError:
        raise ResultFileError("nested too deeply to be a result") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ResultFileError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ResultFileError("not a JSON object")
    try:
        validate_result(data)
    except RecursionError:
        raise ResultFileError("nested too deeply to be a result") from None
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
        raise ResultFileError(f"does not match the result schema at {where}: {exc.message[:200]}") from None
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


@dataclass
class LoadedResults:
    results: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, what is wrong with it)


# The file each kind of result is written to (`aibench run`, `aibench profile`, `aibench infer`).
RESULT_FILES = {"training": "result.json", "profile": "profile.json", "inference": "inference.json"}


def load_results(results_dir: Path, kind: str = "training") -> LoadedResults:
    """Every valid result of `kind` below a results directory, in run order; invalid ones are skipped with
    the reason (a hand-edited or truncated file must not make the whole folder unreadable)."""
    loaded = LoadedResults()
    for path in sorted(results_dir.glob(f"**/{RESULT_FILES[kind]}")):
        try:
            result = read_result(path)
        except ResultFileError as exc:
            loaded.skipped.append((path, str(exc)))
            continue
        if result.get("kind") == kind:
            loaded.results.append(result)
    loaded.results.sort(key=lambda r: (r["benchmark"]["id"], r.get("run_index", 0)))
    return loaded


def benchmark_identity(cls: type[Benchmark]) -> dict[str, Any]:
    """What a result file says about its benchmark (training and inference results alike)."""
    info = cls.info
    return {
        "id": info.id,
        "task": info.task,
        "model": info.model,
        "dataset": info.dataset,
        "metric": info.metric,
        "quality_metric": cls.quality_metric,
        "higher_is_better": cls.higher_is_better,
        "paper_target": info.paper_target,
    }
