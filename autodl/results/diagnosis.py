"""Bias / variance diagnosis of the best model, read against the noise of each split.

    avoidable bias  = train - human          (fit the training data better)
    variance        = train-dev - train      (generalize to unseen data of the same kind)
    data mismatch   = dev - train-dev        (dev data differs from the training data)
    overfitting dev = test - dev             (the search has tuned itself to dev)

Every error carries its sample size and standard error, every gap the standard error of the
difference. A gap is a problem only when it is clearly larger than its noise (``uncertainty.Z``
standard errors) and than an absolute floor; otherwise the diagnosis says how small a gap the
splits can resolve and how many examples would resolve this one. The split origin decides what
may be claimed: a dev split drawn from the same rows as train-dev cannot show a data mismatch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from autodl.data.dataset import Origin
from autodl.results.uncertainty import (
    ERROR_RATE,
    SplitError,
    Z,
    examples_needed,
    gap_se,
    resolvable,
)

LABELS = {
    "avoidable_bias": "avoidable bias",
    "variance": "variance",
    "data_mismatch": "data mismatch",
    "dev_vs_train_dev": "dev vs train-dev (same distribution)",
    "dev_overfitting": "overfitting to dev",
}
SPLIT_LABELS = {"train": "train", "train_dev": "train-dev", "dev": "dev", "test": "test (final model only)"}
CURVE_VERDICT = {
    "falling": "; the learning curve says more data helps (dev error still falling)",
    "flat": "; the learning curve says more data will not help (dev error has met train error)",
}
ROUNDING = 1e-9
"""Differences of errors this close to the floor are the floor (0.16 - 0.15 is 0.0100000000000001)."""
ORIGIN_TEXT = {
    "random": "dev and train-dev are drawn at random from the same rows, so they share a distribution",
    "by_file": "dev comes from other files than train and train-dev",
    "by_time": "dev follows train and train-dev in time",
}


@dataclass(frozen=True)
class Gap:
    """The difference between two errors, with its standard error and whether it stands out."""

    name: str
    size: float
    se: float
    floor: float
    low: str
    high: str

    @property
    def resolvable(self) -> float:
        """The smallest gap these splits can tell from noise."""
        return resolvable(self.se, self.floor)

    @property
    def clear(self) -> bool:
        """Larger than its noise and than the floor (only a positive gap is a problem); a gap equal
        to the floor, up to rounding, does not count."""
        return math.isfinite(self.se) and self.size > self.resolvable + ROUNDING


@dataclass(frozen=True)
class Reference:
    """A baseline the network is compared with: its name and its errors on the same splits."""

    name: str
    description: str
    errors: dict[str, SplitError]


@dataclass(frozen=True)
class Diagnosis:
    """The errors, the gaps between them, which gaps are problems, and what the numbers allow."""

    metric: str
    errors: dict[str, SplitError]
    human: float | None
    origin: Origin
    floor: float
    gaps: dict[str, Gap]
    problems: list[str]
    notes: list[str] = field(default_factory=list)
    family: str | None = None
    kind: str | None = None
    reference: Reference | None = None
    beats_reference: bool | None = None
    curve_trend: str | None = None
    curve_reading: str | None = None
    baselines: tuple[Reference, ...] = ()

    @property
    def past_human(self) -> bool:
        """The train error is clearly below the given human-level error."""
        train = self.errors["train"]
        return self.human is not None and train.error + Z * train.se < self.human

    @property
    def verdict(self) -> str:
        """The problems in words, largest first, or why none can be named; then what the learning
        curve says of more data, when one was measured."""
        return self._gaps_verdict() + CURVE_VERDICT.get(self.curve_trend or "", "")

    def _gaps_verdict(self) -> str:
        found = [LABELS[p] for p in self.problems]
        prefix = "past human level; " if self.past_human else ""
        if found:
            return prefix + " and ".join(found)
        unresolved = [g for g in self.gaps.values() if not g.clear and g.size > g.floor + ROUNDING]
        if unresolved:
            smallest = min(self.errors.values(), key=lambda s: s.n)
            return (f"{prefix}no gap stands out from the noise ({SPLIT_LABELS[smallest.name]} has "
                    f"{smallest.n} examples)")
        return f"{prefix}no clear problem: every gap is below its noise and the floor {self.floor:.4g}"

    def recommendations(self) -> list[str]:
        """Next steps for the problems, largest gap first, naming the spec fields to change."""
        steps: list[str] = []
        for problem in self.problems:
            steps += _remedies(problem, self)
        if self.beats_reference is False and self.reference is not None:
            steps.append(
                f"the {self.reference.name} baseline ({self.reference.description}) does as well: "
                "check the inputs and the model family before searching further"
            )
        if self.past_human:
            steps += ["error analysis: read the dev examples the model gets wrong",
                      "more data, and regularization (`model.dropout`, `model.l2`) to close the "
                      "remaining gap to dev"]
        if self.curve_trend == "falling" and "variance" not in self.problems:
            steps.append("more training data: the learning curve's dev error is still falling")
        steps += self._collect_more()
        return list(dict.fromkeys(steps))

    def _collect_more(self) -> list[str]:
        """'Collect about N more dev examples' for the unresolved gaps that would matter if real."""
        steps = []
        for gap in self.gaps.values():
            if gap.clear or gap.size <= gap.floor + ROUNDING:
                continue
            needed = examples_needed(gap.size, self.errors[gap.high], self.errors.get(gap.low))
            if needed is None:
                continue
            split = self.errors[gap.high]
            more = needed - split.n
            if more > 0:
                steps.append(f"collect about {more} more {SPLIT_LABELS[split.name]} examples (about "
                             f"{needed} per split would resolve the {LABELS[gap.name]} gap of {gap.size:.3g})")
        return steps

    def metrics(self) -> dict[str, float]:
        """Errors (with n and standard error) and gaps (with standard error) as flat metrics."""
        values: dict[str, float] = {}
        if self.human is not None:
            values["human_error"] = self.human
        for name, split in self.errors.items():
            values[f"{name}_error"] = split.error
            values[f"{name}_error_se"] = split.se
            values[f"{name}_n"] = float(split.n)
        for name, gap in self.gaps.items():
            values[name] = gap.size
            values[f"{name}_se"] = gap.se
        for baseline in self.baselines:
            for split_name, error in baseline.errors.items():
                values[f"baseline_{baseline.name}_{split_name}_error"] = error.error
        return values

    def report(self) -> str:
        """The diagnosis as Markdown: errors with sizes and uncertainty, gaps, verdict, notes, steps."""
        lines = [f"# Diagnosis ({self.metric})", "",
                 f"| split | examples | error | ± {Z:g} SE |", "| --- | --- | --- | --- |"]
        if self.human is not None:
            lines.append(f"| human-level | - | {self.human:.4g} | given |")
        lines += [f"| {SPLIT_LABELS[s.name]} | {s.n} | {s.error:.4g} | {Z * s.se:.2g} |"
                  for s in self.errors.values()]
        lines += self._baseline_rows()
        lines += ["", "| gap | size | ± 2 SE | smallest it can resolve | stands out |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {LABELS[g.name]} | {g.size:+.4g} | {Z * g.se:.2g} | {g.resolvable:.2g} | "
                  f"{'yes' if g.clear else 'no'} |" for g in self.gaps.values()]
        lines += ["", f"**Verdict:** {self.verdict}."]
        if self.beats_reference is False and self.reference is not None:
            lines += ["", f"**Warning:** the best network does not beat the {self.reference.name} baseline by "
                      "more than the noise."]
        if self.notes:
            lines += ["", *(f"- {note}" for note in self.notes)]
        steps = self.recommendations()
        if steps:
            lines += ["", "**Next steps:**", *(f"- {step}" for step in steps)]
        return "\n".join(lines) + "\n"

    def _baseline_rows(self) -> list[str]:
        """The baselines' dev and test errors beside the network's, on the same splits."""
        if not self.baselines:
            return []
        shown = [s for s in ("dev", "test") if s in self.errors]
        header = " | ".join(f"{SPLIT_LABELS[s].split(' ')[0]} error ± {Z:g} SE" for s in shown)
        lines = ["", f"| model | {header} |", "| --- |" + " --- |" * len(shown)]

        def cells(errors: dict[str, SplitError]) -> str:
            return " | ".join(f"{errors[s].error:.4g} ± {Z * errors[s].se:.2g}" if s in errors else "-"
                              for s in shown)

        lines.append(f"| the best network | {cells(self.errors)} |")
        lines += [f"| {b.name}: {b.description} | {cells(b.errors)} |" for b in self.baselines]
        return lines

    def to_record(self) -> dict[str, Any]:
        """JSON-ready, for ``best.json``; ``from_record`` reads it back."""
        return {
            "metric": self.metric, "human": self.human, "origin": self.origin, "floor": self.floor,
            "errors": {n: _split_record(s) for n, s in self.errors.items()},
            "gaps": {n: {"size": g.size, "se": g.se, "low": g.low, "high": g.high,
                         "resolvable": g.resolvable, "clear": g.clear} for n, g in self.gaps.items()},
            "problems": self.problems, "notes": self.notes, "family": self.family, "kind": self.kind,
            "reference": None if self.reference is None else _reference_record(self.reference),
            "baselines": [_reference_record(b) for b in self.baselines],
            "beats_reference": self.beats_reference,
            "curve_trend": self.curve_trend, "curve_reading": self.curve_reading,
            "verdict": self.verdict, "recommendations": self.recommendations(), "z": Z,
        }

    @classmethod
    def from_record(cls, stored: dict[str, Any]) -> Diagnosis:
        """The diagnosis ``to_record`` wrote."""
        floor = float(stored["floor"])
        reference = stored.get("reference")
        return cls(
            metric=stored["metric"], errors=_splits(stored["errors"]), human=stored.get("human"),
            origin=stored["origin"], floor=floor,
            gaps={n: Gap(n, g["size"], g["se"], floor, g["low"], g["high"]) for n, g in stored["gaps"].items()},
            problems=list(stored["problems"]), notes=list(stored.get("notes", [])),
            family=stored.get("family"), kind=stored.get("kind"),
            reference=None if reference is None else _reference(reference),
            baselines=tuple(_reference(b) for b in stored.get("baselines", [])),
            beats_reference=stored.get("beats_reference"),
            curve_trend=stored.get("curve_trend"), curve_reading=stored.get("curve_reading"),
        )


def _reference_record(reference: Reference) -> dict[str, Any]:
    return {"name": reference.name, "description": reference.description,
            "errors": {n: _split_record(s) for n, s in reference.errors.items()}}


def _reference(stored: dict[str, Any]) -> Reference:
    return Reference(stored["name"], stored["description"], _splits(stored["errors"]))


def _split_record(split: SplitError) -> dict[str, Any]:
    return {"error": split.error, "n": split.n, "se": split.se}


def _splits(stored: dict[str, Any]) -> dict[str, SplitError]:
    return {n: SplitError(n, float(s["error"]), int(s["n"]), float(s["se"])) for n, s in stored.items()}


def is_current(stored: Any) -> TypeGuard[dict[str, Any]]:
    """Whether a stored diagnosis has this version's shape (records of older searches do not)."""
    return isinstance(stored, dict) and {"errors", "gaps", "origin", "floor"} <= set(stored)


def default_floor(task: str, dev: SplitError) -> float:
    """The absolute floor under which no gap matters: one point of error rate for classification,
    2% of the dev error for regression."""
    return 0.01 if task in ("binary", "multiclass") else 0.02 * abs(dev.error)


def diagnose(
    metric: str,
    errors: dict[str, SplitError],
    *,
    human: float | None = None,
    origin: Origin = "random",
    floor: float = 0.01,
    family: str | None = None,
    kind: str | None = None,
    reference: Reference | None = None,
    curve_trend: str | None = None,
    curve_reading: str | None = None,
    baselines: tuple[Reference, ...] = (),
) -> Diagnosis:
    """Compare the errors of ``errors`` (``train`` and ``dev`` at least; ``train_dev``, ``test``
    when the data has them) and name the gaps that stand out from their noise."""
    train, dev = errors["train"], errors["dev"]
    train_dev, test = errors.get("train_dev"), errors.get("test")
    gaps: dict[str, Gap] = {}
    notes: list[str] = []
    if human is not None:
        gaps["avoidable_bias"] = Gap("avoidable_bias", train.error - human, gap_se(train, None), floor,
                                     "human", "train")
        if train.error + Z * train.se < human:
            notes.append(
                f"The train error {train.error:.4g} ± {Z * train.se:.2g} is below the human-level error "
                f"{human:.4g}: the model is past human level, so avoidable bias can no longer be read "
                "from it; what is left is error analysis, more data and regularization."
            )
    elif reference is None or metric == ERROR_RATE:
        notes.append(
            f"No human-level error was given, so avoidable bias is not claimed; the train error is "
            f"{train.error:.4g} ± {Z * train.se:.2g}. Set diagnostics.human_error (the error a person, "
            "or the best known system, makes on this task) to read it."
        )
    if train_dev is None:
        gaps["variance"] = Gap("variance", dev.error - train.error, gap_se(train, dev), floor, "train", "dev")
        notes.append("Without a train-dev split, variance and data mismatch cannot be told apart: the whole "
                     "train-to-dev gap is read as variance.")
    else:
        gaps["variance"] = Gap("variance", train_dev.error - train.error, gap_se(train, train_dev), floor,
                               "train", "train_dev")
        name = "dev_vs_train_dev" if origin == "random" else "data_mismatch"
        gaps[name] = Gap(name, dev.error - train_dev.error, gap_se(train_dev, dev), floor, "train_dev", "dev")
        notes.append(f"Split origin: {ORIGIN_TEXT[origin]}" + (
            "; a dev-vs-train-dev gap there is noise or the search overfitting dev, never a data mismatch."
            if origin == "random" else "; a dev-vs-train-dev gap beyond its noise is a data mismatch."))
    if test is not None:
        gaps["dev_overfitting"] = Gap("dev_overfitting", test.error - dev.error, gap_se(dev, test), floor,
                                      "dev", "test")
    notes += _noise_notes(gaps, errors)
    beats = None
    if reference is not None and "dev" in reference.errors:
        beats, note = _against(reference, dev, floor, human is None and metric != ERROR_RATE)
        notes.append(note)
    if curve_reading:
        notes.append(curve_reading)
    problems = sorted((g.name for g in gaps.values() if g.clear and g.name != "dev_vs_train_dev"),
                      key=lambda n: -gaps[n].size)
    return Diagnosis(metric, errors, human, origin, floor, gaps, problems, notes, family, kind, reference,
                     beats, curve_trend, curve_reading, baselines)


def _noise_notes(gaps: dict[str, Gap], errors: dict[str, SplitError]) -> list[str]:
    """For each gap that would matter if real but hides in the noise: how small a gap the splits
    resolve, and about how many examples would resolve this one."""
    notes = []
    for gap in gaps.values():
        if gap.clear or gap.size <= gap.floor + ROUNDING:
            continue
        high = errors[gap.high]
        if not math.isfinite(gap.se):
            notes.append(f"The {LABELS[gap.name]} gap of {gap.size:.3g} has no known uncertainty (the errors "
                         "were read from the study without the saved model), so it is not claimed.")
            continue
        needed = examples_needed(gap.size, high, errors.get(gap.low))
        more = f"; about {needed} examples per split would resolve a gap of this size" if needed else ""
        notes.append(f"{SPLIT_LABELS[high.name].capitalize()} has {high.n} examples: a {LABELS[gap.name]} gap "
                     f"under {gap.resolvable:.2g} cannot be told from noise (this one is {gap.size:.3g}){more}.")
    return notes


def _against(reference: Reference, dev: SplitError, floor: float, as_bias_reference: bool) -> tuple[bool, str]:
    """Whether the network's dev error is clearly below the baseline's, and the sentence saying so."""
    theirs = reference.errors["dev"]
    margin = theirs.error - dev.error
    noise = resolvable(gap_se(theirs, dev), floor)
    beats = margin > noise
    said = (f"The {reference.name} baseline ({reference.description}) has dev error {theirs.error:.4g} ± "
            f"{Z * theirs.se:.2g} against the network's {dev.error:.4g} ± {Z * dev.se:.2g}: ")
    said += ("the network is clearly better." if beats else
             f"the network does not beat it by more than the noise ({noise:.2g}).")
    if as_bias_reference:
        said += " No human-level error was given, so this baseline is the reference for bias."
    return beats, said


def _remedies(problem: str, diagnosis: Diagnosis) -> list[str]:
    """The usual remedies for one problem, with the spec fields of the model family."""
    family, kind = diagnosis.family, diagnosis.kind
    if problem == "avoidable_bias":
        wider = {"cnn": "raise `model.filters` / `model.dense_units`, or add `model.blocks`",
                 "rnn": "widen `model.units` or add `model.layers`",
                 "mlp": "widen `model.units` or add `model.layers`"}.get(family or "", "a bigger network")
        return [f"a bigger network: {wider}",
                "train longer: raise `training.epochs` (and `training.early_stopping` patience)",
                "a better optimizer or rate: `optimizer.name: adam`, search `optimizer.learning_rate` "
                "on a log scale"]
    if problem == "variance":
        steps = ["regularize: raise `model.dropout`, add `model.l2`",
                 "more training data" + (" (the learning curve's dev error is still falling)"
                                         if diagnosis.curve_trend == "falling" else "")]
        if family == "cnn" and kind == "image":
            steps.append("augment: `model.rotation`, `model.zoom`, `model.translation`, `model.flip`")
        steps.append("a smaller network")
        return steps
    if problem == "data_mismatch":
        return ["error analysis: read the dev examples the model gets wrong (analysis/ beside the model)",
                "make the training data more like dev (collect or synthesize similar examples, or move "
                "some dev-like data into train)"]
    if problem == "dev_overfitting":
        gap = diagnosis.gaps[problem]
        needed = examples_needed(gap.size, diagnosis.errors["test"], diagnosis.errors["dev"])
        more = f": about {needed} examples per split" if needed else ""
        return [f"a bigger dev set{more} (the search has tuned itself to this one)"]
    return []
