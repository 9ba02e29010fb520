"""Result files: a versioned JSON schema, atomic writes, and loading a results directory back."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

RESULT_SCHEMA_VERSION = "aibench.result/3"
SUMMARY_SCHEMA_VERSION = "aibench.summary/1"
SCHEMA_PATH = Path(__file__).with_name("result.schema.json")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so a reader never sees a half-written file (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=False, default=str)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def validate_result(result: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if a result does not match the shipped schema."""
    import jsonschema

    jsonschema.validate(result, json.loads(SCHEMA_PATH.read_text()))


def load_results(results_dir: Path) -> list[dict[str, Any]]:
    """Every session result.json below a results directory, in run order."""
    found = [json.loads(p.read_text()) for p in sorted(results_dir.glob("**/result.json"))]
    return sorted(found, key=lambda r: (r["benchmark"]["id"], r["run_index"]))
