"""`aibench profile` machinery: operator classes (pure), the step breakdown and the profiler run (real benchmarks,
tiny profile, a few steps)."""

from __future__ import annotations

import io
import itertools
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import torch
from fault_benchmarks import info
from rich.console import Console

import aibench.harness.operator_classes as ops
import aibench.registry as registry
from aibench.benchmarks.base import Benchmark, ProfileSettings, StepOutput
from aibench.benchmarks.quality import AtLeast
from aibench.harness.config import ConfigError
from aibench.harness.operator_classes import (
    aggregate_classes,
    attribute,
    classify_kernel,
    classify_op,
    is_wrapper,
    top_operators,
)
from aibench.harness.profiling import PHASES, ProfileConfig, ProfileError, print_profile, run_profile
from aibench.harness.results import validate_result

# -- operator classes (pure) ------------------------------------------------------------------------------------

# Names as torch 2.14's profiler reported them for C1, C9 and C16 on CPU.
REAL_OPS = [
    ("aten::convolution", ops.CONVOLUTION),
    ("aten::_convolution", ops.CONVOLUTION),
    ("aten::conv2d", ops.CONVOLUTION),
    ("aten::mkldnn_convolution", ops.CONVOLUTION),
    ("aten::convolution_backward", ops.CONVOLUTION),
    ("aten::_slow_conv2d_forward", ops.CONVOLUTION),
    ("aten::_slow_conv2d_backward", ops.CONVOLUTION),
    ("aten::thnn_conv2d", ops.CONVOLUTION),
    ("aten::cudnn_convolution", ops.CONVOLUTION),
    ("aten::addmm", ops.MATMUL),
    ("aten::mm", ops.MATMUL),
    ("aten::bmm", ops.MATMUL),
    ("aten::baddbmm", ops.MATMUL),
    ("aten::linear", ops.MATMUL),
    ("aten::matmul", ops.MATMUL),
    ("aten::native_batch_norm", ops.NORMALIZATION),
    ("aten::native_batch_norm_backward", ops.NORMALIZATION),
    ("aten::_batch_norm_impl_index", ops.NORMALIZATION),
    ("aten::cudnn_batch_norm", ops.NORMALIZATION),
    ("aten::native_layer_norm", ops.NORMALIZATION),
    ("aten::max_pool2d_with_indices", ops.POOLING),
    ("aten::max_pool2d_with_indices_backward", ops.POOLING),
    ("aten::adaptive_avg_pool2d", ops.POOLING),
    ("aten::upsample_nearest2d_backward", ops.POOLING),
    ("torchvision::roi_align", ops.POOLING),
    ("torchvision::_roi_align_backward", ops.POOLING),
    ("aten::relu_", ops.ELEMENTWISE),
    ("aten::threshold_backward", ops.ELEMENTWISE),
    ("aten::add_", ops.ELEMENTWISE),
    ("aten::add", ops.ELEMENTWISE),
    ("aten::mul", ops.ELEMENTWISE),
    ("aten::mul_", ops.ELEMENTWISE),
    ("aten::clamp_min_", ops.ELEMENTWISE),
    ("aten::sigmoid_backward", ops.ELEMENTWISE),
    ("aten::log_sigmoid_forward", ops.ELEMENTWISE),
    ("aten::bernoulli_", ops.ELEMENTWISE),
    ("aten::lerp_", ops.ELEMENTWISE),
    ("aten::addcdiv_", ops.ELEMENTWISE),
    ("aten::fill_", ops.ELEMENTWISE),
    ("aten::__and__", ops.ELEMENTWISE),
    ("aten::_foreach_add_", ops.ELEMENTWISE),  # by name; inside Optimizer.step it is optimizer (see below)
    ("aten::_foreach_mul_", ops.ELEMENTWISE),
    ("aten::copy_", ops.DATA_MOVEMENT),
    ("aten::_to_copy", ops.DATA_MOVEMENT),
    ("aten::to", ops.DATA_MOVEMENT),
    ("aten::cat", ops.DATA_MOVEMENT),
    ("aten::stack", ops.DATA_MOVEMENT),
    ("aten::view", ops.DATA_MOVEMENT),
    ("aten::_index_put_impl_", ops.DATA_MOVEMENT),
    ("aten::index", ops.DATA_MOVEMENT),
    ("aten::index_select", ops.DATA_MOVEMENT),
    ("aten::embedding", ops.DATA_MOVEMENT),
    ("aten::embedding_dense_backward", ops.DATA_MOVEMENT),
    ("aten::unfold_backward", ops.DATA_MOVEMENT),
    ("aten::constant_pad_nd", ops.DATA_MOVEMENT),
    ("aten::nll_loss_forward", ops.REDUCTION),
    ("aten::nll_loss_backward", ops.REDUCTION),
    ("aten::nll_loss_nd", ops.REDUCTION),
    ("aten::cross_entropy_loss", ops.REDUCTION),
    ("aten::_log_softmax", ops.REDUCTION),
    ("aten::_log_softmax_backward_data", ops.REDUCTION),
    ("aten::binary_cross_entropy_with_logits", ops.REDUCTION),
    ("aten::smooth_l1_loss_backward", ops.REDUCTION),
    ("aten::sum", ops.REDUCTION),
    ("aten::amax", ops.REDUCTION),
    ("aten::linalg_vector_norm", ops.REDUCTION),
    ("aten::_foreach_norm", ops.REDUCTION),
    ("torchvision::nms", ops.SORT_SELECT),
    ("aten::topk", ops.SORT_SELECT),
    ("aten::sort", ops.SORT_SELECT),
    ("aten::nonzero", ops.SORT_SELECT),
    ("aten::_unique2", ops.SORT_SELECT),
    ("aten::searchsorted", ops.SORT_SELECT),
    ("aten::_fused_adam_", ops.OPTIMIZER),
    ("aten::_fused_sgd_", ops.OPTIMIZER),
    ("cudaLaunchKernel", ops.RUNTIME),
    ("cudaStreamSynchronize", ops.RUNTIME),
    ("aten::empty", ops.OTHER),
    ("aten::empty_strided", ops.OTHER),
    ("aten::resize_", ops.OTHER),
    ("aten::_local_scalar_dense", ops.OTHER),
    ("aten::uniform_", ops.OTHER),
]


@pytest.mark.parametrize(("name", "expected"), REAL_OPS)
def test_operator_classes(name: str, expected: str) -> None:
    assert classify_op(name) == expected
    assert not is_wrapper(name)


REAL_KERNELS = [
    (
        "void cudnn::cnn::conv2d_grouped_direct_kernel<float, float, float, float, float, true, false, 0, 0, 0>",
        ops.CONVOLUTION,
    ),
    ("sm80_xmma_fprop_implicit_gemm_indexed_tf32f32_tf32f32_f32_nhwckrsc_nchw_tilesize128x128x16", ops.CONVOLUTION),
    ("sm90_xmma_dgrad_implicit_gemm_f32f32_tf32f32_f32_nhwckrsc_nchw", ops.CONVOLUTION),
    ("void cudnn::bn_fw_tr_1C11_kernel_NCHW<float, float, int, 512, true, 1>", ops.NORMALIZATION),
    (
        "void at::native::batch_norm_collect_statistics_kernel<at::native::InvStd, float, float, float, int>",
        ops.NORMALIZATION,
    ),
    ("ampere_sgemm_128x64_nn", ops.MATMUL),
    ("sm90_xmma_gemm_f32f32_tf32f32_f32_tn_n_tilesize128x128x32_warpgroupsize1x1x1_execute_segment_k_off", ops.MATMUL),
    ("void cutlass::Kernel2<cutlass_80_tensorop_s1688gemm_128x128_16x4_nn_align4>", ops.MATMUL),
    (
        "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>, "
        "std::array<char*, 3ul> >(int, at::native::CUDAFunctor_add<float>, std::array<char*, 3ul>)",
        ops.ELEMENTWISE,
    ),
    (
        "void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous namespace)::"
        "TensorListMetadata<3>, at::native::(anonymous namespace)::BinaryOpListAlphaFunctor<float, 3, 2, 2>, "
        "std::plus<float>, float>",
        ops.ELEMENTWISE,
    ),
    (
        "void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous namespace)::"
        "FusedAdamMathFunctor<float, 4, (at::native::ADAM_MODE)0, false>>",
        ops.OPTIMIZER,
    ),
    (
        "void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, at::native::func_wrapper_t<float, "
        "at::native::sum_functor<float, float, float>::operator()>, unsigned int, float, 4, 4> >",
        ops.REDUCTION,
    ),
    (
        "void at::native::(anonymous namespace)::cunn_SoftMaxForward<4, float, float, float, "
        "at::native::(anonymous namespace)::LogSoftMaxForwardEpilogue>",
        ops.REDUCTION,
    ),
    ("void at::native::(anonymous namespace)::max_pool_forward_nchw<float, float>", ops.POOLING),
    ("void vision::ops::(anonymous namespace)::roi_align_forward_kernel_impl<float>", ops.POOLING),
    ("void vision::ops::(anonymous namespace)::nms_kernel_impl<float>", ops.SORT_SELECT),
    ("void at::native::sbtopk::gatherTopK<float, unsigned int, 2, false>", ops.SORT_SELECT),
    ("Memcpy HtoD (Pageable -> Device)", ops.DATA_MOVEMENT),
    ("Memset (Device)", ops.DATA_MOVEMENT),
    ("void at::native::(anonymous namespace)::CatArrayBatchedCopy<float, unsigned int, 4, 64, 64>", ops.DATA_MOVEMENT),
    (
        "void at::native::(anonymous namespace)::indexSelectLargeIndex<float, long, unsigned int, 2, 2, -2, true>",
        ops.DATA_MOVEMENT,
    ),
    (
        "void cudnn::engines_precompiled::nchwToNhwcKernel<float, float, float, false, true, (cudnnKernelDataType_t)2>",
        ops.DATA_MOVEMENT,
    ),
]


@pytest.mark.parametrize(("name", "expected"), REAL_KERNELS)
def test_kernel_classes(name: str, expected: str) -> None:
    assert classify_kernel(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "aibench.train_step",
        "aibench.data",
        "aibench.step#3",
        "ProfilerStep#4",
        "Optimizer.step#SGD.step",
        "Optimizer.zero_grad#Adam.zero_grad",
        "autograd::engine::evaluate_function: ConvolutionBackward0",
        "enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__",
        "ConvolutionBackward0",
        "NativeBatchNormBackward0",
        "GeneratedBackwardFor_torchvision_roi_align_default",
        "torch::autograd::AccumulateGrad",
    ],
)
def test_wrappers_are_not_operators(name: str) -> None:
    assert is_wrapper(name)
    assert classify_op(name) == ops.OTHER


def test_attribution_by_enclosing_range() -> None:
    step = ["aibench.train_step", "aibench.step#1"]
    # Optimizer time is attributed by the Optimizer.step range, whatever the op's name (CPU Adam runs plain ops).
    assert attribute(["aten::_foreach_add_", "Optimizer.step#SGD.step", *step]) == ops.OPTIMIZER
    assert attribute(["aten::add_", "Optimizer.step#Adam.step", *step]) == ops.OPTIMIZER
    assert attribute(["aten::empty", "aten::lerp_", "Optimizer.step#Adam.step", *step]) == ops.OPTIMIZER
    assert attribute(["Optimizer.step#SGD.step", *step]) == ops.OPTIMIZER  # its own self time
    # The same ops outside the optimizer (gradient clipping) keep their own class.
    assert attribute(["aten::_foreach_mul_", *step]) == ops.ELEMENTWISE
    assert attribute(["aten::_foreach_norm", *step]) == ops.REDUCTION
    # Input pipeline.
    assert (
        attribute(
            [
                "aten::_upsample_bilinear2d_aa",
                "enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__",
                "aibench.data",
                "aibench.step#1",
            ]
        )
        == ops.DATA_LOADING
    )
    assert attribute(["aibench.data", "aibench.step#1"]) == ops.DATA_LOADING
    # Unclassified ops inherit from the enclosing operator; wrappers' own self time is other.
    assert attribute(["aten::empty", "aten::mkldnn_convolution", "aten::_convolution", *step]) == ops.CONVOLUTION
    assert attribute(["aten::empty", "autograd::engine::evaluate_function: AddBackward0"]) == ops.OTHER
    assert attribute(["aten::copy_", "aten::convolution", *step]) == ops.DATA_MOVEMENT  # own class wins
    assert attribute(["aibench.train_step", "aibench.step#1"]) == ops.OTHER
    assert attribute([]) == ops.OTHER


def test_kernel_attribution_prefers_launching_operator() -> None:
    gemm = "sm90_xmma_gemm_f32f32_tf32f32_f32_tn_n_tilesize128x128x32"
    launch = ["cudaLaunchKernel", "aten::cudnn_convolution", "aten::_convolution", "aten::convolution"]
    assert attribute(launch, kernel=gemm) == ops.CONVOLUTION
    assert attribute(["cudaLaunchKernel", "aten::addmm", "aten::linear"], kernel=gemm) == ops.MATMUL
    elementwise = "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>>"
    assert (
        attribute(["cudaLaunchKernel", "aten::_foreach_add_", "Optimizer.step#SGD.step"], kernel=elementwise)
        == ops.OPTIMIZER
    )
    assert attribute(["cudaLaunchKernel", "aten::empty"], kernel=gemm) == ops.MATMUL  # falls back to the name
    assert attribute([], kernel="Memcpy HtoD (Pageable -> Device)") == ops.DATA_MOVEMENT


def test_aggregation() -> None:
    rows = aggregate_classes(
        [(ops.CONVOLUTION, 3.0), (ops.OTHER, 0.5), (ops.CONVOLUTION, 1.0), (ops.MATMUL, 0.5), (ops.POOLING, 0.0)]
    )
    assert [r["class"] for r in rows] == [ops.CONVOLUTION, ops.MATMUL, ops.OTHER]
    assert rows[0]["self_s"] == 4.0 and rows[0]["share"] == pytest.approx(0.8)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    top = top_operators(
        [
            ("aibench.train_step", 9.0, 1),
            ("aten::mm", 2.0, 4),
            ("aten::add_", 1.0, 10),
            ("autograd::engine::evaluate_function: MmBackward0", 0.5, 4),
            ("aten::mm", 1.0, 2),
        ],
        total_s=10.0,
        top=1,
    )
    assert top == [{"name": "aten::mm", "class": ops.MATMUL, "self_s": 3.0, "share": 0.3, "calls": 6}]


def test_every_class_is_documented() -> None:
    assert set(ops.CLASS_HELP) == set(ops.CLASSES)
    assert {c for c, _ in ops.OPERATOR_CLASSES} | {c for c, _ in ops.KERNEL_CLASSES} <= set(ops.CLASSES)


# -- the run on a controlled benchmark ----------------------------------------------------------------------------

FORWARD_S, BACKWARD_S, OPTIMIZER_S, OTHER_S = 0.02, 0.06, 0.04, 0.015
SLACK_S = 0.03  # sleeps overshoot on a busy machine


class _SlowBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        time.sleep(BACKWARD_S)
        return grad


class _SlowSGD(torch.optim.SGD):
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        time.sleep(OPTIMIZER_S)
        return super().step(closure)


class _Sleepy(Benchmark):
    """Known phase durations; 3 batches an epoch, so a profile crosses epochs."""

    quality_metric = "score"
    profiles = {
        "tiny": ProfileSettings(
            batch_size=4, learning_rate=0.1, max_epochs=1, target=AtLeast("score", 1.0), options=None
        )
    }
    fail_at_step: int | None = None

    def build(self) -> None:
        self.model = torch.nn.Linear(3, 1)
        self.optimizer = _SlowSGD(self.model.parameters(), lr=0.1)
        self.ended: list[int] = []
        self.steps = 0

    def load_data(self) -> None:
        self.x, self.y = torch.randn(12, 3), torch.randn(12, 1)

    def train_batches(self, epoch: int) -> Iterable[Any]:
        return [(self.x[i : i + 4], self.y[i : i + 4]) for i in range(0, 12, 4)]

    def train_step(self, batch: Any) -> StepOutput:
        self.steps += 1
        if self.fail_at_step == self.steps:
            raise ValueError("boom")
        x, y = batch
        time.sleep(FORWARD_S)
        loss = ((_SlowBackward.apply(self.model(x)) - y) ** 2).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        time.sleep(OTHER_S)
        return StepOutput(loss=loss.detach(), samples=len(x))

    def end_epoch(self, epoch: int) -> None:
        self.ended.append(epoch)

    def evaluate(self) -> dict[str, float]:
        return {"score": 0.0}

    def train_samples(self) -> int:
        return 12

    def eval_samples(self) -> int:
        return 12


_SLEEPY_IDS = itertools.count(1)


@pytest.fixture
def sleepy() -> str:
    """A fresh test-only benchmark under its own reserved id (registrations are never removed)."""
    bench_id = f"TEST-sleepy-{next(_SLEEPY_IDS)}"
    created: list[Benchmark] = []

    class Sleepy(_Sleepy):
        def __init__(self, ctx: Any) -> None:
            super().__init__(ctx)
            created.append(self)

    registry.register(bench_id, info(bench_id, "known phase durations"))(Sleepy)
    Sleepy.created = created  # type: ignore[attr-defined]
    return bench_id


def _cfg(bench_id: str, tmp_path: Path, **kw: Any) -> ProfileConfig:
    args: dict[str, Any] = dict(
        benchmark=bench_id,
        data_root=tmp_path,
        out_dir=tmp_path / "out",
        profile="tiny",
        device="cpu",
        warmup_steps=1,
        timed_steps=2,
        profiled_steps=2,
    )
    args.update(kw)
    return ProfileConfig(**args)


def _hooks_state() -> tuple[Any, int, int]:
    from torch.optim import optimizer as optim_module

    return (
        torch.autograd.backward,
        len(optim_module._global_optimizer_pre_hooks),
        len(optim_module._global_optimizer_post_hooks),
    )


def test_breakdown_separates_the_phases(sleepy: str, tmp_path: Path) -> None:
    before = _hooks_state()

    class Counters:
        def __init__(self) -> None:
            self.result: dict[str, Any] | None = None

        def __enter__(self) -> Counters:
            return self

        def __exit__(self, *exc: Any) -> None:
            self.result = {"instructions": 42}

    messages: list[str] = []
    result = run_profile(
        _cfg(sleepy, tmp_path, warmup_steps=2, timed_steps=3, profiled_steps=2, top=5),
        emit=messages.append,
        counters=Counters,
    )
    assert _hooks_state() == before
    ms = result["breakdown"]["per_step_ms"]
    for phase, expected in (
        ("forward", FORWARD_S),
        ("backward", BACKWARD_S),
        ("optimizer", OPTIMIZER_S),
        ("other", OTHER_S),
    ):
        assert expected * 1000 <= ms[phase] <= (expected + SLACK_S) * 1000, (phase, ms)
    assert ms["total"] == pytest.approx(sum(ms[p] for p in PHASES))
    assert sum(result["breakdown"]["share"].values()) == pytest.approx(1.0)
    assert result["breakdown"]["samples_per_s"] == pytest.approx(4 / (ms["total"] / 1000))
    assert result["counters"] == {"instructions": 42}
    # 2 + 3 + 2 steps at 3 batches an epoch: epochs 1, 2 and 3, with end_epoch between them.
    assert result["steps"]["last_epoch"] == 3
    bench = registry.get_benchmark(sleepy).created[-1]  # type: ignore[attr-defined]
    assert bench.ended == [1, 2]
    assert result["prelude"] == {"ran": False, "time_s": None, "steps": 0, "note": "this benchmark has no prelude"}
    assert result["epoch"]["steps_per_epoch"] == 3
    assert result["epoch"]["train_s_estimated"] == pytest.approx(3 * ms["total"] / 1000)
    assert result["epoch"]["eval_s"] is not None
    classes = {r["class"]: r for r in result["operator_classes"]}
    assert ops.OPTIMIZER in classes  # SGD's ops, by the Optimizer.step range
    assert any("profiled" in m for m in messages)


def test_hooks_are_removed_when_a_step_fails(sleepy: str, tmp_path: Path) -> None:
    before = _hooks_state()
    registry.get_benchmark(sleepy).fail_at_step = 3  # the 2nd timed step
    with pytest.raises(ValueError, match="boom"):
        run_profile(_cfg(sleepy, tmp_path))
    assert _hooks_state() == before


def test_config_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        _cfg("DC-AI-C1", tmp_path, timed_steps=0)
    with pytest.raises(ConfigError):
        _cfg("DC-AI-C1", tmp_path, profile="huge")
    with pytest.raises(ConfigError):
        _cfg("DC-AI-C1", tmp_path, device="tpu")


# -- the real benchmarks ------------------------------------------------------------------------------------------


def _data_root(bench_id: str) -> Path:
    from aibench.datasets.embedded import ensure_embedded

    cls = registry.get_benchmark(bench_id)
    return ensure_embedded(cls.dataset, cls.profiles["tiny"].data)


@pytest.mark.parametrize("bench_id", registry.runnable_ids())
def test_profile_real_benchmark(bench_id: str, tmp_path: Path) -> None:
    before = _hooks_state()
    result = run_profile(_cfg(bench_id, tmp_path, data_root=_data_root(bench_id), top=10))
    assert _hooks_state() == before
    assert result["kind"] == "profile" and result["benchmark"]["id"] == bench_id
    assert result["steps"] == {"warmup": 1, "timed": 2, "profiled": 2, "last_epoch": result["steps"]["last_epoch"]}

    bd = result["breakdown"]
    assert set(bd["per_step_ms"]) == {*PHASES, "total"}
    for phase in ("forward", "backward", "optimizer"):
        assert bd["per_step_ms"][phase] > 0, phase
    assert bd["per_step_ms"]["total"] == pytest.approx(sum(bd["per_step_ms"][p] for p in PHASES))
    assert sum(bd["share"].values()) == pytest.approx(1.0)
    assert bd["samples_per_s"] > 0

    top = result["top_operators"]
    assert 0 < len(top) <= 10
    assert all(not is_wrapper(r["name"]) for r in top)
    assert [r["self_s"] for r in top] == sorted((r["self_s"] for r in top), reverse=True)
    classes = result["operator_classes"]
    assert sum(r["share"] for r in classes) == pytest.approx(1.0)
    seen = {r["class"] for r in classes}
    assert ops.OPTIMIZER in seen and seen & {ops.MATMUL, ops.CONVOLUTION}  # every model multiplies somewhere
    assert sum(r["share"] for r in top) <= 1.0 + 1e-9
    for row in top:  # the class shown is where most of the operator's time was attributed
        assert sum(row["class_shares"].values()) == pytest.approx(1.0)
        assert row["class"] == max(row["class_shares"], key=row["class_shares"].get)

    assert result["kernels"] is None and "kernels" in result["unavailable"]
    assert result["counters"] == {"unavailable": "not requested"}
    assert result["epoch"]["eval_s"] > 0 and 0 < result["epoch"]["eval_share"] < 1
    assert result["epoch"]["train_s_estimated"] > 0
    json.dumps(result)  # serializable as is
    validate_result(result)

    trace = json.loads((tmp_path / "out" / result["trace"]).read_text())
    assert isinstance(trace["traceEvents"], list) and trace["traceEvents"]
    names = {e.get("name") for e in trace["traceEvents"]}
    assert {"aibench.data", "aibench.train_step"} <= names

    out = io.StringIO()
    print_profile(result, Console(file=out, width=200))
    text = out.getvalue()
    for needle in ("Step breakdown", "Top operators", "Operator classes", top[0]["name"], "chrome://tracing"):
        assert needle in text


@pytest.mark.skipif("DC-AI-C16" not in registry.runnable_ids(), reason="needs DC-AI-C16")
def test_skipped_prelude_is_a_clear_error(tmp_path: Path) -> None:
    before = _hooks_state()
    with pytest.raises(ProfileError, match="--skip-prelude"):
        run_profile(_cfg("DC-AI-C16", tmp_path, data_root=_data_root("DC-AI-C16"), run_prelude=False))
    assert _hooks_state() == before


# -- the CUDA analysis path, on synthetic profiler events (no GPU needed) -----------------------------------------


class _Range:
    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end


class _Event:
    def __init__(
        self,
        id: int,
        name: str,
        parent: _Event | None = None,
        self_us: float = 0.0,
        device: str = "cpu",
        dur_us: float = 0.0,
        link: int = 0,
    ) -> None:
        from torch.autograd import DeviceType

        self.id, self.name, self.key, self.cpu_parent = id, name, name, parent
        self.device_type = DeviceType.CPU if device == "cpu" else DeviceType.CUDA
        self.is_async = False
        self.self_cpu_time_total = self_us if device == "cpu" else 0.0
        self.time_range = _Range(0.0, dur_us)
        self.linked_correlation_id = link
        self.count = 1


class _Prof:
    def __init__(self, events: list[_Event]) -> None:
        self._events = events

    def events(self) -> list[_Event]:
        return self._events

    def key_averages(self) -> list[_Event]:
        return [e for e in self._events if e.device_type.name == "CPU"]


def test_kernel_analysis_on_synthetic_events() -> None:
    from aibench.harness.profiling import _analyse

    step = _Event(1, "aibench.train_step", self_us=100)
    conv = _Event(2, "aten::cudnn_convolution", step, self_us=50)
    launch = _Event(3, "cudaLaunchKernel", conv, self_us=20)
    opt = _Event(4, "Optimizer.step#SGD.step", step, self_us=10)
    foreach = _Event(5, "aten::_foreach_add_", opt, self_us=20)
    events = [
        step,
        conv,
        launch,
        opt,
        foreach,
        _Event(10, "sm90_xmma_gemm_f32f32_tf32f32_f32_tn_n", device="cuda", dur_us=600, link=3),
        _Event(11, "sm90_xmma_gemm_f32f32_tf32f32_f32_tn_n", device="cuda", dur_us=200, link=2),
        _Event(
            12,
            "void at::native::multi_tensor_apply_kernel<BinaryOpListAlphaFunctor>",
            device="cuda",
            dur_us=150,
            link=5,
        ),
        _Event(13, "Memcpy HtoD (Pageable -> Device)", device="cuda", dur_us=50, link=0),
    ]
    hot = _analyse(_Prof(events), torch.device("cuda"), top=5, steps=2)
    kernels = {k["name"]: k for k in hot["kernels"]}
    gemm = kernels["sm90_xmma_gemm_f32f32_tf32f32_f32_tn_n"]
    assert gemm["calls"] == 2 and gemm["self_s"] == pytest.approx(800e-6) and gemm["share"] == pytest.approx(0.8)
    assert gemm["self_ms_per_step"] == pytest.approx(0.4)
    classes = {r["class"]: r["share"] for r in hot["kernel_classes"]}
    # The GEMM ran for a convolution (attributed by its launcher); foreach ran inside Optimizer.step.
    assert classes == pytest.approx({ops.CONVOLUTION: 0.8, ops.OPTIMIZER: 0.15, ops.DATA_MOVEMENT: 0.05})
    assert hot["device_total_s"] == pytest.approx(1000e-6)
    cpu = {r["class"]: r["self_s"] for r in hot["operator_classes"]}
    assert cpu == pytest.approx({ops.OTHER: 100e-6, ops.CONVOLUTION: 50e-6, ops.RUNTIME: 20e-6, ops.OPTIMIZER: 30e-6})
    assert [r["name"] for r in hot["top_operators"]] == [
        "aten::cudnn_convolution",
        "cudaLaunchKernel",
        "aten::_foreach_add_",
    ]
    assert hot["top_operators"][2]["class"] == ops.OPTIMIZER
    assert hot["top_operators"][2]["class_by_name"] == ops.ELEMENTWISE


def test_print_profile_with_kernels() -> None:
    result = {
        "benchmark": {"id": "DC-AI-C1", "task": "image classification", "model": "ResNet-50"},
        "profile": "small",
        "device": "cuda:0",
        "precision": "bf16",
        "threads": 8,
        "batch_size": 32,
        "steps": {"warmup": 3, "timed": 10, "profiled": 5},
        "prelude": {"ran": False, "time_s": None, "steps": 0, "note": "this benchmark has no prelude"},
        "breakdown": {
            "per_step_ms": {**dict.fromkeys(PHASES, 1.0), "total": 5.0},
            "share": dict.fromkeys(PHASES, 0.2),
            "samples_per_s": 6400.0,
        },
        "epoch": {"train_s_estimated": 1.0, "eval_s": 0.5, "eval_share": 1 / 3, "steps_per_epoch": 200},
        "top_operators": [
            {
                "name": "aten::cudnn_convolution",
                "class": ops.CONVOLUTION,
                "self_s": 0.1,
                "share": 0.5,
                "calls": 10,
                "self_ms_per_step": 20.0,
                "calls_per_step": 2.0,
                "class_shares": {ops.CONVOLUTION: 1.0},
            }
        ],
        "operator_classes": [{"class": ops.CONVOLUTION, "self_s": 0.1, "share": 1.0, "self_ms_per_step": 20.0}],
        "kernels": [
            {
                "name": "sm90_xmma_fprop_implicit_gemm_" + "x" * 100,
                "class": ops.CONVOLUTION,
                "self_s": 0.01,
                "share": 1.0,
                "calls": 5,
                "self_ms_per_step": 2.0,
                "calls_per_step": 1.0,
            }
        ],
        "kernel_classes": [{"class": ops.CONVOLUTION, "self_s": 0.01, "share": 1.0, "self_ms_per_step": 2.0}],
        "counters": {
            "events": {
                "cycles": {"value": 2e9, "unit": "", "status": "counted"},
                "instructions": {"value": 3e9, "unit": "", "status": "counted"},
            },
            "derived": {"ipc": 1.5},
            "unavailable": {"cache_miss_rate": "cache-misses was <not counted>"},
        },
        "gpu_counters": {
            "summary": {"achieved_occupancy": {"mean": 43.4, "launches": 2, "units": ["%"]}},
            "unavailable": {"dram_utilization": "not in this report"},
        },
        "trace": "trace.json",
        "out_dir": "/tmp/x",
        "unavailable": {},
    }
    out = io.StringIO()
    print_profile(result, Console(file=out, width=200))
    text = out.getvalue()
    for needle in (
        "Top device kernels",
        "Kernel classes",
        "sm90_xmma_fprop",
        "ipc = 1.5",
        "cycles 2,000,000,000",
        "cache_miss_rate: unavailable (cache-misses was <not counted>)",
        "ncu achieved_occupancy = 43.4 %",
        "ncu dram_utilization: unavailable",
        "/tmp/x/trace.json",
        "https://ui.perfetto.dev",
    ):
        assert needle in text
