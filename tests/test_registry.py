import pytest

from aibench import registry
from aibench.catalog import CATALOG, SUITES


def test_catalog_has_the_seventeen_benchmarks():
    assert [i.id for i in CATALOG] == [f"DC-AI-C{n}" for n in range(1, 18)]
    assert all(i.paper_target and i.metric and i.model for i in CATALOG)


def test_suites():
    assert SUITES["subset"] == ("DC-AI-C1", "DC-AI-C9", "DC-AI-C16")
    assert len(SUITES["full"]) == 17


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


def test_subset_is_runnable():
    assert set(SUITES["subset"]) <= set(registry.runnable_ids())


def test_unimplemented_benchmark_is_an_error_not_a_stub():
    missing = [i.id for i in CATALOG if not registry.is_runnable(i.id)]
    if not missing:
        pytest.skip("every benchmark is implemented")
    with pytest.raises(registry.NotRunnableError, match="not implemented yet"):
        registry.get_benchmark(missing[0])


@pytest.mark.parametrize("bench_id", registry.runnable_ids())
def test_registered_benchmarks_declare_every_profile(bench_id):
    cls = registry.get_benchmark(bench_id)
    assert set(cls.profiles) == {"tiny", "small", "full"}
    assert cls.quality_metric
    assert cls.dataset.required
    for settings in cls.profiles.values():
        assert settings.batch_size > 0 and settings.learning_rate > 0 and settings.max_epochs >= 1
    assert cls.profiles["full"].data == {}, "the full profile reads real data only"
    assert cls.profiles["small"].max_epochs > 1
