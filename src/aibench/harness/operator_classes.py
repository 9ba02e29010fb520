"""Operator hotspots: map profiler event names to operator classes and aggregate self time (paper, section 5.5).

Pure functions over names and numbers; `aibench.harness.profiling` feeds them torch.profiler events.

Two name spaces are classified, each by an ordered, table-driven list of patterns (first match wins):

- operators, as torch.profiler's CPU events name them: ``aten::convolution_backward``, ``torchvision::nms``,
  ``aten::_foreach_add_`` ... (`OPERATOR_CLASSES`, matched on a normalized base name, see `normalize`);
- device kernels (CUDA), whose names are unstable C++ templates: ``void cudnn::...``, ``ampere_sgemm_...``,
  ``sm90_xmma_gemm_...``, ``Memcpy HtoD ...`` (`KERNEL_CLASSES`, a fallback; see `attribute`).

Two classes come from where an event runs rather than from its name (`attribute`):

- ``optimizer``: everything inside an ``Optimizer.step#<Class>.step`` range, which torch.optim records around
  every ``step()``. On CPU, Adam and SGD run per-parameter loops of ordinary ops (``aten::add_``, ``mul_``,
  ``lerp_``, ``addcdiv_``) that no name could tell apart from the model's own; the foreach/fused kernels used on
  CUDA (``_foreach_*``, ``_fused_adam_``) are also used elsewhere (gradient clipping), so the range is the
  robust signal. Only the fused optimizer ops are "optimizer" by name alone.
- ``data loading``: everything inside the harness's ``aibench.data`` range (or a DataLoader's
  ``enumerate(DataLoader)#...`` range): decoding and augmentation ops of the input pipeline, and the Python
  time between them (its self time).

An event whose own name is unclassified (allocation such as ``aten::empty``, ``aten::resize_``) inherits the
class of its nearest classified enclosing operator, so the scratch buffers of a convolution count as
convolution. Self time of the harness's and torch's own ranges that no operator covers (Python code in a
training step, autograd bookkeeping) lands in ``other``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

CONVOLUTION = "convolution"
MATMUL = "matrix multiply"
ELEMENTWISE = "elementwise & activation"
NORMALIZATION = "normalization"
POOLING = "pooling & resampling"
DATA_MOVEMENT = "data movement"
SORT_SELECT = "sort & select"
REDUCTION = "reduction & loss"
OPTIMIZER = "optimizer"
DATA_LOADING = "data loading"
RUNTIME = "device runtime & sync"
OTHER = "other"

# Display order of the classes (results list them by time; this order breaks ties and documents the set).
CLASSES: tuple[str, ...] = (
    CONVOLUTION,
    MATMUL,
    ELEMENTWISE,
    NORMALIZATION,
    POOLING,
    DATA_MOVEMENT,
    SORT_SELECT,
    REDUCTION,
    OPTIMIZER,
    DATA_LOADING,
    RUNTIME,
    OTHER,
)

CLASS_HELP: dict[str, str] = {
    CONVOLUTION: "convolutions, forward and backward (incl. their scratch allocations)",
    MATMUL: "GEMMs: mm, bmm, addmm, baddbmm, linear, attention",
    ELEMENTWISE: "pointwise arithmetic, activations, dropout, fill",
    NORMALIZATION: "batch/layer/group norm, forward and backward",
    POOLING: "max/avg pooling, RoI align/pool, upsampling",
    DATA_MOVEMENT: "copies, concatenation, layout and views, indexing, gather/scatter, embedding lookups",
    SORT_SELECT: "sort, top-k, NMS, nonzero, unique, searchsorted",
    REDUCTION: "sums, means, norms, softmax, losses",
    OPTIMIZER: "every op inside Optimizer.step (by time range), and fused optimizer kernels",
    DATA_LOADING: "input pipeline inside the data-loading range (decode, augment, collate)",
    RUNTIME: "CUDA runtime calls: kernel launches, copies, synchronization (CUDA only)",
    OTHER: "allocation, RNG, scalar reads, autograd and Python overhead outside operators",
}

# ---------------------------------------------------------------------------------------------------------------
# Ranges and nodes that are not operators: excluded from operator rankings (their self time still counts, in
# `attribute`, so that class shares add up to the whole profiled time).
WRAPPER_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        r"^aibench\.",  # the harness's own record_function ranges
        r"^ProfilerStep#",
        r"^autograd::engine::",  # autograd::engine::evaluate_function: XBackward0
        r"^Optimizer\.",  # Optimizer.step#SGD.step, Optimizer.zero_grad#SGD.zero_grad
        r"^enumerate\(DataLoader\)",  # enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__
        r"^torch::autograd::",  # torch::autograd::AccumulateGrad (an autograd node)
        r"^[A-Za-z0-9_]*Backward\d*$",  # autograd nodes: ConvolutionBackward0, NativeBatchNormBackward0
        r"^GeneratedBackwardFor_",  # autograd nodes of custom ops (torchvision roi_align)
        r"^##.*##$",  # legacy user scopes
    )
)

OPTIMIZER_RANGE = re.compile(r"^Optimizer\.step#")
DATA_RANGES = re.compile(r"^aibench\.data$|^enumerate\(DataLoader\)")


def is_wrapper(name: str) -> bool:
    """True for profiler ranges and autograd nodes that are not operators."""
    return any(p.search(name) for p in WRAPPER_PATTERNS)


# ---------------------------------------------------------------------------------------------------------------
# Operators (CPU events). Matched against `normalize(name)`: namespace, leading/trailing underscores, the
# `_foreach_` prefix and forward/backward suffixes removed, so one pattern covers an op, its in-place and
# out-of-place variants and its backward: aten::native_batch_norm_backward -> native_batch_norm.

_SUFFIXES = (
    "_backward_data",
    "_backward_input",
    "_backward_weight",
    "_backward",
    "_forward",
    "_with_indices",
    "_impl_index",
    "_impl",
    "_out",
    "_nd",
    "_numpy",
)

_OPS: list[tuple[str, str]] = [
    # class, regex (re.search on the normalized name; anchor with ^...$ for exact names)
    (OPTIMIZER, r"^fused_(sgd|adam|adamw|adagrad|adamax|rmsprop|nadam|radam)"),
    (RUNTIME, r"^(cuda|cu|hip)[A-Z]\w*$"),  # matched on the raw name too, see classify_op
    (CONVOLUTION, r"convolution|(^|_)conv(\d|_|$)|conv_tbc|conv_depthwise"),
    (NORMALIZATION, r"batch_norm|layer_norm|group_norm|instance_norm|rms_norm|weight_norm|local_response_norm"),
    (POOLING, r"pool|roi_align|roi_pool|ps_roi|upsample|grid_sampler|interpolate|pixel_(un)?shuffle|affine_grid"),
    (
        MATMUL,
        r"^(mm|bmm|addmm|addbmm|baddbmm|addmv|mv|addr|matmul|linear|mkldnn_linear|dot|vdot|inner|outer|ger"
        r"|einsum|tensordot|bilinear|trilinear|chain_matmul|linalg_multi_dot|addmm_activation|scaled_mm|int_mm"
        r"|mkldnn_matmul|scaled_dot_product\w*|flash_attention\w*|efficient_attention\w*|cudnn_attention\w*)$",
    ),
    (REDUCTION, r"loss|(^|_)nll|cross_entropy|kl_div|softmax|ctc"),
    (
        REDUCTION,
        r"^(sum|nansum|mean|nanmean|prod|amax|amin|aminmax|max|min|argmax|argmin|norm|linalg_vector_norm"
        r"|linalg_norm|frobenius_norm|nuclear_norm|std|var|std_mean|var_mean|logsumexp|cumsum|cumprod"
        r"|cummax|cummin|logcumsumexp|all|any|count_nonzero|median|nanmedian|mode|sum_to_size|trace"
        r"|dist|cdist|renorm)$",
    ),
    (
        SORT_SELECT,
        r"^(sort|argsort|msort|topk|kthvalue|nms|batched_nms|unique\d?|unique_consecutive|unique_dim\w*"
        r"|nonzero|nonzero_static|argwhere|searchsorted|bucketize|histc|histogram\w*|bincount"
        r"|masked_select)$",
    ),
    (
        DATA_MOVEMENT,
        r"^(copy|copy_from|copy_from_and_resize|to|to_copy|contiguous|clone|cat|concat|concatenate"
        r"|stack|hstack|vstack|index|index_select|index_put|index_add|index_copy|index_fill|gather"
        r"|scatter|scatter_add|scatter_reduce|take|take_along_dim|embedding\w*|flip|roll|repeat"
        r"|repeat_interleave|tile|unfold|im2col|col2im|pad|constant_pad|reflection_pad\w*"
        r"|replication_pad\w*|narrow_copy|\w+_scatter|unsafe_index\w*|masked_scatter|view|view_as"
        r"|reshape|reshape_alias|unsafe_view|permute|transpose|t|mT|mH|numpy_T|adjoint|expand"
        r"|expand_as|as_strided|squeeze|unsqueeze|select|slice|narrow|split|split_with_sizes"
        r"|unsafe_split\w*|chunk|unbind|flatten|unflatten|movedim|moveaxis|alias|detach|lift_fresh"
        r"|resolve_conj|resolve_neg|broadcast_tensors|broadcast_to|meshgrid|pin_memory|diagonal"
        r"|set|channel_shuffle)$",
    ),
    (
        ELEMENTWISE,
        r"^(add|sub|rsub|mul|div|true_divide|floor_divide|remainder|fmod|neg|negative|abs|sign|sgn"
        r"|exp|exp2|expm1|log|log2|log10|log1p|sqrt|rsqrt|pow|square|reciprocal|sin|cos|tan|tanh"
        r"|asin|acos|atan|atan2|sinh|cosh|sigmoid|log_sigmoid|relu|relu6|leaky_relu|elu|selu|celu"
        r"|gelu|silu|mish|hardtanh|hardswish|hardsigmoid|softplus|softsign|softshrink|hardshrink"
        r"|threshold|clamp|clamp_min|clamp_max|clip|maximum|minimum|fmax|fmin|where|lerp|addcmul"
        r"|addcdiv|eq|ne|lt|le|gt|ge|equal|logical_and|logical_or|logical_not|logical_xor"
        r"|bitwise_and|bitwise_or|bitwise_xor|bitwise_not|and|or|xor|iand|ior|ixor"
        r"|floor|ceil|round|trunc|frac|masked_fill|dropout|native_dropout|feature_dropout"
        r"|alpha_dropout|bernoulli|isnan|isinf|isfinite|isneginf|isposinf|nan_to_num|erf|erfc"
        r"|erfinv|hypot|glu|prelu|prelu_kernel|rrelu\w*|xlogy|copysign|heaviside|triu|tril"
        r"|fill|zero|sigmoid_backward|tanh_backward|logit)$",
    ),
]
OPERATOR_CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((c, re.compile(p)) for c, p in _OPS)

# Device kernels (fallback when no launching operator classifies a kernel). Case-insensitive re.search.
_KERNELS: list[tuple[str, str]] = [
    (SORT_SELECT, r"sort|topk|radix|nms|unique|nonzero|bitonic|searchsorted"),
    (
        DATA_MOVEMENT,
        r"^memcpy|^memset|catarraybatchedcopy|copy_kernel|index_elementwise|indexselect|index_select"
        r"|gather|scatter|embedding|nchwtonhwc|nhwctonchw|transpose",
    ),
    (OPTIMIZER, r"fused_?adam|fused_?sgd|adamw?_?functor|sgd_?functor|fusedadam|fusedsgd"),
    (NORMALIZATION, r"batch_?norm|bn_fw|bn_bw|layer_?norm|group_?norm|instance_?norm|welford"),
    (POOLING, r"pool|roi_?align|roi_?pool|upsample|grid_?sampler"),
    (CONVOLUTION, r"conv|fprop|dgrad|wgrad|winograd|implicit_?gemm|im2col|col2im|cudnn"),
    (
        MATMUL,
        r"gemm|gemv|cublas|cutlass|xmma|^(ampere|volta|turing|hopper|sm\d+)_|splitkreduce|dot_kernel"
        r"|matmul|flash|fmha",
    ),
    (REDUCTION, r"softmax|nll_?loss|cross_?entropy|loss|reduce|norm_kernel|logsumexp"),
    (
        ELEMENTWISE,
        r"elementwise|vectorized|unrolled|pointwise|activation|relu|sigmoid|tanh|gelu|silu|threshold"
        r"|fill|dropout|bernoulli|distribution|philox|lerp|addcmul|addcdiv|multi_tensor_apply",
    ),
]
KERNEL_CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((c, re.compile(p, re.IGNORECASE)) for c, p in _KERNELS)


def normalize(name: str) -> str:
    """``aten::_native_batch_norm_legit_backward`` -> ``native_batch_norm_legit``; ``aten::_foreach_add_`` ->
    ``add``; ``aten::max_pool2d_with_indices_backward`` -> ``max_pool2d``."""
    base = name.rsplit("::", 1)[-1]
    base = base.split(".", 1)[0]  # overload names, if a profiler config records them
    if base.startswith("_foreach_"):
        base = base[len("_foreach_") :]
    base = base.strip("_") or base
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if base.endswith(suffix) and len(base) > len(suffix):
                base = base[: -len(suffix)].rstrip("_")
                changed = True
    return base


def classify_op(name: str) -> str:
    """Operator class of one operator name, from the name alone (`OPERATOR_CLASSES`); ``other`` if none fits."""
    if is_wrapper(name):
        return OTHER
    base = normalize(name)
    for cls, pattern in OPERATOR_CLASSES:
        if pattern.search(base) or (cls == RUNTIME and pattern.search(name)):
            return cls
    return OTHER


def classify_kernel(name: str) -> str:
    """Operator class of one device kernel from its name alone (`KERNEL_CLASSES`); ``other`` if none fits."""
    for cls, pattern in KERNEL_CLASSES:
        if pattern.search(name):
            return cls
    return OTHER


def context_class(chain: Sequence[str]) -> str | None:
    """``optimizer`` or ``data loading`` when an event lies inside such a range (`chain`: its own name, then
    the names of the ranges and operators enclosing it, innermost first); the innermost range decides."""
    for name in chain:
        if OPTIMIZER_RANGE.search(name):
            return OPTIMIZER
        if DATA_RANGES.search(name):
            return DATA_LOADING
    return None


def attribute(chain: Sequence[str], kernel: str | None = None) -> str:
    """The class that one event's self time counts toward.

    `chain` is the event's own name followed by its enclosing events' names, innermost first. For a device
    kernel, pass the chain of the CPU call that launched it (``cudaLaunchKernel``, then the operator that called
    it, ...) and the kernel's name as `kernel`.

    1. Inside ``Optimizer.step#...`` -> ``optimizer``; inside ``aibench.data`` -> ``data loading``.
    2. The event's own class by name, unless ``other``; then the nearest enclosing operator's class (a CPU
       event); for a kernel, the class of the innermost launching operator that has one (a GEMM that cuDNN runs
       for a 1x1 convolution is convolution time), else the kernel's own name class.
    3. ``other``.
    """
    ctx = context_class(chain)
    if ctx is not None:
        return ctx
    if kernel is None:
        if chain:
            own = classify_op(chain[0])
            if own != OTHER:
                return own
        ancestors = chain[1:]
    else:
        ancestors = chain
    for name in ancestors:
        if is_wrapper(name):
            continue
        cls = classify_op(name)
        if cls not in (OTHER, RUNTIME):
            return cls
    if kernel is not None:
        return classify_kernel(kernel)
    return OTHER


# ---------------------------------------------------------------------------------------------------------------
# Aggregation


def aggregate_classes(items: Iterable[tuple[str, float]]) -> list[dict[str, Any]]:
    """(class, seconds) pairs -> [{class, self_s, share}] by descending time; shares of the sum (0..1)."""
    totals: dict[str, float] = {}
    for cls, seconds in items:
        totals[cls] = totals.get(cls, 0.0) + seconds
    grand = sum(totals.values())
    order = {c: i for i, c in enumerate(CLASSES)}
    rows = sorted(totals.items(), key=lambda kv: (-kv[1], order.get(kv[0], len(order))))
    return [{"class": c, "self_s": s, "share": s / grand if grand > 0 else 0.0} for c, s in rows if s > 0]


def top_operators(
    rows: Iterable[tuple[str, float, int]], total_s: float, top: int, classify=classify_op
) -> list[dict[str, Any]]:
    """(name, self seconds, calls) rows -> the `top` operators by self time, wrappers excluded.

    `share` is of `total_s` (the self time of every event, wrappers included), so the shares of all operators
    and the ``other`` class add up to 1. Rows of the same name are merged.
    """
    merged: dict[str, list[float]] = {}
    for name, seconds, calls in rows:
        if is_wrapper(name):
            continue
        acc = merged.setdefault(name, [0.0, 0])
        acc[0] += seconds
        acc[1] += calls
    ranked = sorted(merged.items(), key=lambda kv: -kv[1][0])[: max(top, 0)]
    return [
        {
            "name": name,
            "class": classify(name),
            "self_s": s,
            "share": s / total_s if total_s > 0 else 0.0,
            "calls": int(calls),
        }
        for name, (s, calls) in ranked
        if s > 0
    ]
