"""Rulesets for MLCommons' compliance checker (`mlperf_logging.compliance_checker`), generated from the registry.

As MLPerf ships `closed_common.yaml` plus one file per benchmark (e.g. `closed_resnet.yaml`, which checks that an
evaluation reached the target), AIBench generates

- `ruleset.yaml`: the order of events every session follows (init, run, epochs, evaluations, the prelude as an
  MLPerf block, run_stop with an AIBench status), the submission keys, and, by `submission_benchmark`, the
  benchmark's own file;
- `<benchmark id>.yaml`: the benchmark's quality targets per profile; a `success` session must end with an
  evaluation that meets the target of its profile (or, when the user overrode it with `--target`, the logged
  target, which the log marks as overridden).

The checker reads a ruleset by absolute path: `aibench ruleset --out DIR`, then
`python -m mlperf_logging.compliance_checker --config $(realpath DIR/ruleset.yaml) LOG`. `aibench check` does this
in a temporary folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from aibench.harness.mlperf_log import RUN_STATUSES
from aibench.registry import get_benchmark, runnable_ids

ENTRY = "ruleset.yaml"
# Statuses of sessions that trained: their logs carry the optimizer keys.
TRAINED_STATUSES = ("success", "target_not_reached", "completed")

# Evaluates a quality rule (the JSON of aibench.benchmarks.quality) on a metric dict. Defined in BEGIN and kept in
# `s`, the checker's state, because checks only see the checker's globals.
_MET = """
def _met(rule, m):
    kind = rule['rule']
    if kind == 'all_of':
        return all(s['met'](r, m) for r in rule['rules'])
    if rule['metric'] not in m:
        return False
    v = m[rule['metric']]
    if kind == 'at_least':
        return v >= rule['value']
    if kind == 'at_most':
        return v <= rule['value']
    if kind == 'within':
        return abs(v - rule['value']) <= rule['tolerance']
    return False
s['met'] = _met
"""


def _key(name: str, req: str, check: str | list[str] | None = None, post: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"NAME": name, "REQ": req}
    if check is not None:
        record["CHECK"] = check
    if post is not None:
        record["POST"] = post
    return {"KEY": record}


def common_ruleset(folder: Path, ids: list[str]) -> list[dict[str, Any]]:
    statuses = list(RUN_STATUSES)
    return [
        {
            "BEGIN": {
                "CODE": "s.update({'init_started': False, 'init_stopped': False, 'run_started': False, "
                "'run_stopped': False, 'in_epoch': False, 'last_epoch': 0, 'evals': 0, "
                "'opt_seen': False, 'status': None})"
            }
        },
        _key(
            "submission_benchmark",
            "EXACTLY_ONE",
            f"v['value'] in {ids!r}",
            f"enqueue_config('{folder.resolve()}/' + v['value'] + '.yaml')",
        ),
        _key("submission_org", "EXACTLY_ONE", "v['value'] != ''"),
        _key("submission_platform", "EXACTLY_ONE", "v['value'] != ''"),
        _key("submission_division", "EXACTLY_ONE", "v['value'] in ['closed', 'open']"),
        _key(
            "submission_status", "EXACTLY_ONE", "v['value'] in ['onprem', 'cloud', 'research', 'preview', 'available']"
        ),
        _key("aibench_profile", "EXACTLY_ONE", "v['value'] in ['tiny', 'small', 'full']"),
        _key("aibench_quality_target", "EXACTLY_ONE", "'rule' in v['metadata'] and 'override' in v['metadata']"),
        _key("seed", "EXACTLY_ONE", "is_integer(v['value'])"),
        _key("global_batch_size", "EXACTLY_ONE", "is_integer(v['value']) and v['value'] > 0"),
        # One set of optimizer keys per trained module (a GAN has two): the metadata names the module.
        _key("opt_name", "OPTIONAL", ["v['value'] != ''", "'module' in v['metadata']"], "s['opt_seen'] = True"),
        _key("opt_base_learning_rate", "OPTIONAL", "v['value'] > 0"),
        _key(
            "init_start", "EXACTLY_ONE", ["not s['init_stopped']", "not s['run_started']"], "s['init_started'] = True"
        ),
        _key("init_stop", "EXACTLY_ONE", ["s['init_started']", "not s['run_started']"], "s['init_stopped'] = True"),
        _key("run_start", "EXACTLY_ONE", "s['init_stopped']", "s['run_started'] = True"),
        # Logged once the data is read: a session that fails before has none.
        _key("train_samples", "OPTIONAL", "is_integer(v['value']) and v['value'] > 0"),
        _key("eval_samples", "OPTIONAL", "is_integer(v['value']) and v['value'] > 0"),
        # On-the-clock work before the first epoch (C16's teacher) is an MLPerf block with phase 'prelude'.
        _key(
            "block_start",
            "OPTIONAL",
            [
                "s['run_started'] and not s['run_stopped']",
                "not s['in_epoch']",
                "'first_epoch_num' in v['metadata'] and 'epoch_count' in v['metadata']",
            ],
        ),
        _key("block_stop", "OPTIONAL", ["'first_epoch_num' in v['metadata']", "not s['in_epoch']"]),
        _key(
            "epoch_start",
            "OPTIONAL",
            [
                "s['run_started'] and not s['run_stopped']",
                "not s['in_epoch']",
                "v['metadata']['epoch_num'] == s['last_epoch'] + 1",
            ],
            "s['in_epoch'] = True; s['last_epoch'] = v['metadata']['epoch_num']",
        ),
        _key(
            "epoch_stop",
            "OPTIONAL",
            ["s['in_epoch']", "v['metadata']['epoch_num'] == s['last_epoch']"],
            "s['in_epoch'] = False",
        ),
        _key(
            "eval_start", "OPTIONAL", "'epoch_num' in v['metadata'] and v['metadata']['epoch_num'] <= s['last_epoch']"
        ),
        _key("eval_stop", "OPTIONAL", "'epoch_num' in v['metadata']"),
        _key(
            "eval_accuracy",
            "OPTIONAL",
            [
                "'epoch_num' in v['metadata']",
                "v['metadata']['epoch_num'] <= s['last_epoch']",
                "isinstance(v['value'], (int, float))",
                "'metrics' in v['metadata']",
            ],
            "s['evals'] += 1",
        ),
        _key(
            "run_stop",
            "EXACTLY_ONE",
            [
                "s['run_started']",
                "'status' in v['metadata']",
                f"v['metadata']['status'] in {statuses!r}",
                "v['metadata']['status'] != 'success' or s['evals'] > 0",
            ],
            "s['run_stopped'] = True; s['status'] = v['metadata']['status']",
        ),
        {"END": {"CHECK": f"s['status'] not in {list(TRAINED_STATUSES)!r} or s['opt_seen']"}},
    ]


def benchmark_ruleset(bench_id: str) -> list[dict[str, Any]]:
    """The targets of one benchmark: a `success` log's last evaluation meets its profile's target."""
    cls = get_benchmark(bench_id)
    targets = {name: settings.target.to_json() for name, settings in cls.profiles.items()}
    begin = (
        f"s.update({{'targets': {targets!r}, 'profile': None, 'logged_rule': None, 'override': False, "
        f"'metrics': None}})\n" + _MET
    )
    return [
        {"BEGIN": {"CODE": begin}},
        _key("submission_benchmark", "EXACTLY_ONE", f"v['value'] == {bench_id!r}"),
        _key("aibench_profile", "EXACTLY_ONE", "v['value'] in s['targets']", "s['profile'] = v['value']"),
        _key(
            "aibench_quality_target",
            "EXACTLY_ONE",
            [
                "v['metadata']['override'] or s['profile'] is None"
                " or v['metadata']['rule'] == s['targets'][s['profile']]"
            ],
            "s['logged_rule'] = v['metadata']['rule']; s['override'] = v['metadata']['override']",
        ),
        _key("eval_accuracy", "OPTIONAL", "'metrics' in v['metadata']", "s['metrics'] = v['metadata']['metrics']"),
        _key(
            "run_stop",
            "EXACTLY_ONE",
            [
                "v['metadata']['status'] != 'success' or (s['metrics'] is not None and s['met'](s['logged_rule'] "
                "if s['override'] else s['targets'][s['profile']], s['metrics']))"
            ],
        ),
    ]


def write_rulesets(folder: Path, ids: list[str] | None = None) -> Path:
    """Write the entry ruleset and one file per benchmark into `folder`; returns the entry ruleset's path."""
    ids = ids if ids is not None else runnable_ids()
    folder.mkdir(parents=True, exist_ok=True)
    for bench_id in ids:
        _dump(folder / f"{bench_id}.yaml", benchmark_ruleset(bench_id), f"AIBench targets of {bench_id}")
    entry = folder / ENTRY
    _dump(entry, common_ruleset(folder, ids), "AIBench session rules")
    return entry


def _dump(path: Path, records: list[dict[str, Any]], title: str) -> None:
    header = (
        f"# {title}, generated by `aibench ruleset` from the benchmark registry: edit the code, not this file.\n"
        f"# Check a log: python -m mlperf_logging.compliance_checker --config {path.parent.resolve()}/{ENTRY} LOG\n"
    )
    path.write_text(header + yaml.safe_dump(records, sort_keys=False, width=120))
