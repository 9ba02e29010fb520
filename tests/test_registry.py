import subprocess
import sys
from pathlib import Path

import pytest

from aibench import registry
from aibench.benchmarks.base import Benchmark
from aibench.catalog import CATALOG, SUITES, BenchmarkInfo


@pytest.mark.parametrize("name", ["DC-AI-C16", "C16", "c16", "learning_to_rank"])
def test_resolve_accepts_ids_short_ids_and_slugs(name):
    assert registry.resolve(name).id == "DC-AI-C16"


def test_glob_lookup():
    assert [i.id for i in registry.list_benchmarks("*rank*")] == ["DC-AI-C16"]
    assert [i.id for i in registry.list_benchmarks(suite="subset")] == list(SUITES["subset"])


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(registry.UnknownBenchmarkError, match="DC-AI-C1 .image_classification."):
        registry.resolve("resnet")
    with pytest.raises(registry.UnknownBenchmarkError, match="subset, full"):
        registry.suite_ids("everything")


def test_unimplemented_benchmark_is_an_error_not_a_stub():
    missing = [i.id for i in CATALOG if not registry.is_runnable(i.id)]
    if not missing:
        pytest.skip("every benchmark is implemented")
    with pytest.raises(registry.NotRunnableError, match="not implemented yet"):
        registry.get_benchmark(missing[0])


def test_test_benchmarks_use_reserved_ids_and_never_shadow_real_ones():
    assert registry.get_benchmark("TEST-slow").__module__ == "fault_benchmarks"
    assert not any(i.startswith("TEST-") for i in registry.runnable_ids())
    assert not any(i.id.startswith("TEST-") for i in registry.list_benchmarks())
    real = registry.get_benchmark("DC-AI-C1")

    class Impostor(Benchmark):  # type: ignore[misc]
        pass

    with pytest.raises(registry.DuplicateBenchmarkError, match="already implemented by aibench"):
        registry.register("DC-AI-C1")(Impostor)
    assert registry.get_benchmark("DC-AI-C1") is real
    with pytest.raises(registry.UnknownBenchmarkError, match="catalog"):
        registry.register("DC-AI-C99")
    with pytest.raises(ValueError, match="needs info"):
        registry.register("MY-bench")
    with pytest.raises(registry.DuplicateBenchmarkError):
        registry.register("TEST-slow", BenchmarkInfo("TEST-slow", "x", "x", "x", "x", "x", "x", "x", "x"))(Impostor)


def test_an_installed_package_adds_a_benchmark_through_the_entry_point(tmp_path: Path):
    """A user's package, found by the `aibench.benchmarks` entry-point group: no edit of this repository."""
    pkg = tmp_path / "my_bench"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from aibench.registry import register\n"
        "from aibench.catalog import BenchmarkInfo\n"
        "import fault_benchmarks\n"
        "@register('ACME-1', BenchmarkInfo('ACME-1', 'acme_regression', 'regression', 'linear', 'fake', 'score',"
        " '-', '-', '-'))\n"
        "class Acme(fault_benchmarks.Slow):\n    pass\n"
    )
    dist = tmp_path / "my_bench-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-bench\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[aibench.benchmarks]\nACME-1 = my_bench\n")
    env = {**__import__("os").environ, "PYTHONPATH": f"{tmp_path}:{__import__('os').environ['PYTHONPATH']}"}
    out = subprocess.run(
        [sys.executable, "-m", "aibench.cli", "list", "acme*"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert "ACME-1" in out and "yes" in out
    code = "from aibench import registry; print(registry.get_benchmark('acme_regression').__module__)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.strip()
        == "my_bench"
    )


@pytest.mark.parametrize("bench_id", registry.runnable_ids())
def test_registered_benchmarks_declare_a_valid_contract(bench_id):
    cls = registry.get_benchmark(bench_id)
    assert set(cls.profiles) == {"tiny", "small", "full"}
    assert cls.dataset.required or cls.dataset.validate, "every dataset declares its layout (paths or a check)"
    assert cls.baselines, "every benchmark declares cheap baselines for its task"
    from aibench.benchmarks.quality import metrics_of

    for name, settings in cls.profiles.items():
        assert settings.batch_size > 0 and settings.learning_rate > 0 and settings.max_epochs >= 1
        assert cls.quality_metric in metrics_of(settings.target)
        assert (settings.data is None) == (name == "full"), "the full profile reads real data only"
        if settings.data is not None:
            assert isinstance(settings.data, cls.dataset.params)
    assert cls.profiles["small"].max_epochs > 1
    assert cls.profiles["full"].convergent is not None and cls.profiles["small"].convergent is not None


@pytest.mark.slow
@pytest.mark.parametrize("bench_id", registry.runnable_ids())
def test_cheap_baselines_score_clearly_below_the_small_target(bench_id):
    """Embedded data that a colour histogram or an item-transition count solves measures nothing: each declared
    baseline, scored by the benchmark's own metric on the generated small data, misses the target by >= 20% (an
    oracle, told what the model is not, must miss it too)."""
    from aibench.analyses.baselines import run_baselines
    from aibench.datasets.embedded import ensure_embedded

    cls = registry.get_benchmark(bench_id)
    root = ensure_embedded(cls.dataset, cls.profiles["small"].data)
    rows = run_baselines(cls, "small", root)
    assert len(rows) == len(cls.baselines) >= 1
    for row in rows:
        assert not row["meets_target"] and (row["oracle"] or row["shortfall"] >= 0.2), row
