"""Quality targets as rules over the metric dict that `evaluate()` returns.

A target is not always `value >= target`: perplexity, WER and MSE are lower-is-better (`AtMost`), WGAN's
Earth-Mover estimate must land in a band (`Within`), and CycleGAN's FCN score needs three metrics at once
(`AllOf`). Rules serialise to JSON (results, logs, the generated compliance rulesets) and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass(frozen=True)
class AtLeast:
    metric: str
    value: float

    def met(self, metrics: Mapping[str, float]) -> bool:
        return self.metric in metrics and metrics[self.metric] >= self.value

    def shortfall(self, metrics: Mapping[str, float]) -> float:
        """How far the metrics are from meeting the rule, relative to the target (0 when met)."""
        return max(0.0, (self.value - metrics[self.metric]) / abs(self.value or 1.0))

    def describe(self) -> str:
        return f"{self.metric} >= {self.value:g}"

    def with_value(self, value: float) -> AtLeast:
        return AtLeast(self.metric, value)

    def to_json(self) -> dict[str, Any]:
        return {"rule": "at_least", "metric": self.metric, "value": self.value}


@dataclass(frozen=True)
class AtMost:
    metric: str
    value: float

    def met(self, metrics: Mapping[str, float]) -> bool:
        return self.metric in metrics and metrics[self.metric] <= self.value

    def shortfall(self, metrics: Mapping[str, float]) -> float:
        return max(0.0, (metrics[self.metric] - self.value) / abs(self.value or 1.0))

    def describe(self) -> str:
        return f"{self.metric} <= {self.value:g}"

    def with_value(self, value: float) -> AtMost:
        return AtMost(self.metric, value)

    def to_json(self) -> dict[str, Any]:
        return {"rule": "at_most", "metric": self.metric, "value": self.value}


@dataclass(frozen=True)
class Within:
    """|metric - value| <= tolerance (a band, e.g. WGAN's "EM distance reaching 0.5 +/- 0.005")."""

    metric: str
    value: float
    tolerance: float

    def __post_init__(self) -> None:
        if not self.tolerance >= 0:
            raise ValueError(f"a band's tolerance must be >= 0, got {self.tolerance}")

    def met(self, metrics: Mapping[str, float]) -> bool:
        return self.metric in metrics and abs(metrics[self.metric] - self.value) <= self.tolerance

    def shortfall(self, metrics: Mapping[str, float]) -> float:
        return max(0.0, (abs(metrics[self.metric] - self.value) - self.tolerance) / abs(self.value or 1.0))

    def describe(self) -> str:
        return f"{self.metric} in {self.value:g} +/- {self.tolerance:g}"

    def with_value(self, value: float) -> Within:
        return Within(self.metric, value, self.tolerance)

    def to_json(self) -> dict[str, Any]:
        return {"rule": "within", "metric": self.metric, "value": self.value, "tolerance": self.tolerance}


@dataclass(frozen=True)
class AllOf:
    """Every rule at once (CycleGAN: per-pixel accuracy, per-class accuracy and class IoU)."""

    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        if len(self.rules) < 2:
            raise ValueError("AllOf needs at least two rules; use the rule itself")

    @property
    def metric(self) -> str:
        return self.rules[0].metric

    @property
    def value(self) -> float:
        return self.rules[0].value

    def met(self, metrics: Mapping[str, float]) -> bool:
        return all(r.met(metrics) for r in self.rules)

    def shortfall(self, metrics: Mapping[str, float]) -> float:
        return max(r.shortfall(metrics) for r in self.rules)  # missing any one rule misses the target

    def describe(self) -> str:
        return " and ".join(r.describe() for r in self.rules)

    def with_value(self, value: float) -> AllOf:
        raise ValueError(f"the target {self.describe()!r} has several metrics; one --target value cannot set it")

    def to_json(self) -> dict[str, Any]:
        return {"rule": "all_of", "rules": [r.to_json() for r in self.rules]}


Rule: TypeAlias = AtLeast | AtMost | Within | AllOf


def metrics_of(rule: Rule) -> tuple[str, ...]:
    """The metric names a rule reads."""
    if isinstance(rule, AllOf):
        return tuple(dict.fromkeys(m for r in rule.rules for m in metrics_of(r)))
    return (rule.metric,)


def rule_from_json(data: Mapping[str, Any]) -> Rule:
    kind = data["rule"]
    if kind == "at_least":
        return AtLeast(str(data["metric"]), float(data["value"]))
    if kind == "at_most":
        return AtMost(str(data["metric"]), float(data["value"]))
    if kind == "within":
        return Within(str(data["metric"]), float(data["value"]), float(data["tolerance"]))
    if kind == "all_of":
        return AllOf(tuple(rule_from_json(r) for r in data["rules"]))
    raise ValueError(f"unknown quality rule {kind!r}")


def first_met(rule: Rule, curve: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first point of a quality curve (result["curve"]) whose metrics meet the rule."""
    return next((p for p in curve if rule.met(p["quality"])), None)
