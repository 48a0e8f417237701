"""The sections of a spec (data, model families, optimizer, training, search, tracking,
diagnostics, runtime, export) as pydantic models: each field's type, range and default.

Nothing here imports TensorFlow, Optuna or MLflow.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union, get_args

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from autodl.spec import metrics, space
from autodl.spec.backbones import BACKBONES, WEIGHTS_CHOICES
from autodl.spec.fields import Section, flag, fraction, hyper, one_of, positive_int
from autodl.spec.names import (
    EXPORT_FORMATS,
    OPTIMIZERS,
    PRUNERS,
    SCHEDULES,
    STRATEGIES,
    WRAPPING_PRUNERS,
    settings_used,
)
from autodl.spec.registry import Registry

ACTIVATIONS = ("relu", "elu", "gelu", "selu", "swish", "tanh", "sigmoid", "leaky_relu")
DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
# Fields typed hyper(...), positive_int(...), one_of(...), fraction(...), flag() or PENALTY are
# Annotated types built at run time; mypy cannot read a call as a type (pyproject.toml turns its
# valid-type check off for this module), so they are Any to mypy.

# pydantic checks a Literal built from the registry; mypy cannot read its names and takes Any
PrunerName: TypeAlias = Literal[PRUNERS.names]  # type: ignore[name-defined]  # names known at run time
WrappedPrunerName: TypeAlias = Literal[
    tuple(n for n in PRUNERS.names if n not in WRAPPING_PRUNERS)
]
ExportFormat: TypeAlias = Literal[EXPORT_FORMATS.names]  # type: ignore[name-defined]  # as PrunerName
StrategyName: TypeAlias = Literal[STRATEGIES.names]  # type: ignore[name-defined]  # as PrunerName


class SplitSpec(Section):
    """How examples are split: by fractions that add up to 1, or by file (train on some files,
    evaluate on others)."""

    train: float = Field(default=0.7, gt=0, lt=1)
    train_dev: float = Field(default=0.1, ge=0, lt=1)
    dev: float = Field(default=0.1, gt=0, lt=1)
    test: float = Field(default=0.1, ge=0, lt=1)
    train_files: list[str] | None = Field(
        default=None, min_length=1, description="Files whose rows make train and train-dev."
    )
    dev_files: list[str] | None = Field(
        default=None, min_length=1, description="Files whose rows make dev (and test, unless test_files)."
    )
    test_files: list[str] | None = Field(default=None, min_length=1, description="Files whose rows make test.")

    @model_validator(mode="after")
    def _consistent(self) -> SplitSpec:
        if self.by_files:
            if not (self.train_files and self.dev_files):
                raise ValueError("splitting by file needs both train_files and dev_files")
            given = {"train", "dev"} & self.model_fields_set
            if given:
                raise ValueError(
                    f"{' and '.join(sorted(given))} fractions do not apply when splitting by file "
                    "(train_dev is the share of the train files held out, test the share of the dev "
                    "files unless test_files names files)"
                )
            named = [*self.train_files, *self.dev_files, *(self.test_files or [])]
            twice = sorted({f for f in named if named.count(f) > 1})
            if twice:
                raise ValueError(f"a file can feed one split only, but {', '.join(twice)} is named twice")
            return self
        total = self.train + self.train_dev + self.dev + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"the split fractions must add up to 1, but they add up to {total:g} (fractions "
                "left out default to train 0.7, train_dev 0.1, dev 0.1, test 0.1)"
            )
        return self

    @property
    def by_files(self) -> bool:
        return bool(self.train_files or self.dev_files or self.test_files)

    def fractions(self) -> dict[str, float]:
        return {"train": self.train, "train_dev": self.train_dev, "dev": self.dev, "test": self.test}


class DataSpec(Section):
    """Where the examples are, how to read them, and how to split them."""

    source: str = Field(
        description="A built-in name (digits, sunspots, co2), keras:<name>, or a file or folder "
        "relative to the spec file."
    )
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    split: SplitSpec = SplitSpec()
    label: str | None = Field(default=None, description="Table files: the label column (default: label, "
                              "else the last column).")
    features: list[str] | None = Field(default=None, min_length=1, description="Table files: the numeric "
                                       "feature columns (default: all but the label).")
    text: str | None = Field(default=None, description="Table files: a column of text to classify.")
    series: str | None = Field(default=None, description="Forecast this numeric column (a time series).")
    window: positive_int(2) = 24
    horizon: int = Field(default=1, ge=1, description="Forecast this many steps after the window.")
    stride: int = Field(default=1, ge=1, description="Steps between the starts of two windows.")
    image_size: tuple[int, int] | None = Field(default=None, description="Image folders: resize to "
                                               "[height, width].")
    color_mode: Literal["rgb", "grayscale"] = "rgb"
    stream: Union[bool, Literal["auto"]] = Field(
        default="auto", description="Image folders and CSV/TSV files: read examples from disk through "
        "tf.data while training instead of loading them whole; auto streams above 1 GiB."
    )

    @model_validator(mode="after")
    def _one_reading(self) -> DataSpec:
        chosen = [k for k in ("features", "text", "series") if getattr(self, k) is not None]
        if len(chosen) > 1:
            raise ValueError(f"set only one of features, text and series, but got {', '.join(chosen)}")
        if self.series is not None and self.task not in ("auto", "regression"):
            raise ValueError(f"forecasting a series is a regression task, but task is {self.task}")
        return self


INITIALIZERS = ("auto", "he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "lecun_normal")
PENALTY = hyper(space.ValueKind(float, minimum=0.0, maximum=1.0))
ON_TEXT: space.Conditions = (("data.kind", ("text",)),)
ON_IMAGES: space.Conditions = (("data.kind", ("image",)),)
TEXT_SETTINGS = ("vocab_size", "sequence_length", "embedding_dim")
"""Read by TextVectorization and the Embedding, so only on text."""
LEARNED: space.Conditions = (("model.embeddings", ("learned",)),)
PRETRAINED: space.Conditions = (("model.embeddings", ("pretrained",)),)


def text_conditions() -> dict[str, space.Conditions]:
    """The text settings only on text; the embedding's width only when it is learned (pretrained
    vectors bring their own), and whether they train only when they are pretrained."""
    return {**dict.fromkeys(TEXT_SETTINGS, ON_TEXT), "embedding_dim": ON_TEXT + LEARNED,
            "embeddings_trainable": ON_TEXT + PRETRAINED}


EMBEDDINGS_HELP = ("Text: initialize the Embedding from pretrained word vectors, a GloVe or fastText "
                   "text file (word v1 ... vd per line), relative to the spec file; embedding_dim "
                   "then comes from the file.")
AUGMENTATION = ("flip", "rotation", "zoom", "translation")
"""Image augmentation layers, so only on images."""


class CnnSpec(Section):
    """Convolutional network: Conv2D blocks for images, Conv1D for text and numeric sequences."""

    family: Literal["cnn"]
    blocks: positive_int() = 2
    filters: positive_int() = 32
    filters_growth: one_of("double", "constant") = "double"
    kernel_size: positive_int() = 3
    strides: positive_int() = 1
    padding: one_of("same", "valid") = "same"
    pooling: one_of("max", "avg", "none") = "max"
    batch_norm: flag() = False
    residual: flag() = False
    activation: one_of(*ACTIVATIONS) = "relu"
    initializer: one_of(*INITIALIZERS) = "auto"
    l1: PENALTY = 0.0
    l2: PENALTY = 0.0
    dropout: fraction(0.95) = 0.25
    dense_layers: positive_int(0) = 1
    dense_units: positive_int() = 128
    head: one_of("flatten", "global_avg", "global_max") = "flatten"
    flip: one_of("none", "horizontal", "vertical", "horizontal_and_vertical") = "none"
    rotation: fraction(0.5) = 0.0
    zoom: fraction(0.9) = 0.0
    translation: fraction(0.5) = 0.0
    vocab_size: positive_int(2) = 10000
    sequence_length: positive_int() = 64
    embedding_dim: positive_int() = 64
    embeddings: str | None = Field(default=None, min_length=1, description=EMBEDDINGS_HELP)
    embeddings_trainable: flag() = True

    @classmethod
    def applies_when(cls) -> dict[str, space.Conditions]:
        """Text settings on text only, augmentation on images only, and ``padding`` only without
        residual blocks (those always pad to keep the size)."""
        return {**text_conditions(), **dict.fromkeys(AUGMENTATION, ON_IMAGES),
                "padding": (("model.residual", (False,)),)}


class RnnSpec(Section):
    """Recurrent network for text (vectorize, embed) or numeric sequences, then a dense head."""

    family: Literal["rnn"]
    vocab_size: positive_int(2) = 10000
    sequence_length: positive_int() = 64
    embedding_dim: positive_int() = 64
    embeddings: str | None = Field(default=None, min_length=1, description=EMBEDDINGS_HELP)
    embeddings_trainable: flag() = True
    cell: one_of("lstm", "gru", "simple") = "lstm"
    units: positive_int() = 64
    layers: positive_int() = 1
    bidirectional: flag() = False
    dropout: fraction(0.95) = 0.0
    recurrent_dropout: fraction(0.95) = 0.0
    l1: PENALTY = 0.0
    l2: PENALTY = 0.0
    initializer: one_of(*INITIALIZERS) = "auto"
    dense_units: positive_int(0) = 0
    head_dropout: fraction(0.95) = 0.0

    @classmethod
    def applies_when(cls) -> dict[str, space.Conditions]:
        """Text settings on text only (numeric sequences go in directly)."""
        return text_conditions()


class MlpSpec(Section):
    """Fully connected network for tables (or flattened images and sequences)."""

    family: Literal["mlp"]
    layers: positive_int() = 2
    units: positive_int() = 64
    activation: one_of(*ACTIVATIONS) = "relu"
    initializer: one_of(*INITIALIZERS) = "auto"
    batch_norm: flag() = False
    dropout: fraction(0.95) = 0.0
    l1: PENALTY = 0.0
    l2: PENALTY = 0.0


FINE_TUNED: space.Conditions = (("model.fine_tune", ("top", "all")),)


class TransferSpec(Section):
    """A pretrained ``keras.applications`` backbone under a new head, for images: the head trains
    first with the backbone frozen; ``fine_tune: top`` or ``all`` then unfreezes the backbone's
    last ``fine_tune_layers`` layers (or all of them) for the rest of the epochs."""

    family: Literal["transfer"]
    backbone: one_of(*BACKBONES.names) = "mobilenet_v3_small"
    weights: str = Field(
        default="imagenet", min_length=1,
        description="imagenet (Keras's cache, ~/.keras/models, or a download), none (random), or a "
        "weights file (.weights.h5 / .h5) of the backbone without its top, relative to the spec file.",
    )
    fine_tune: one_of("frozen", "top", "all") = "frozen"
    fine_tune_layers: positive_int() = 20
    fine_tune_learning_rate: hyper(space.ValueKind(float, minimum=1e-12)) = 1e-4
    head_epochs: fraction() = 0.5
    image_size: positive_int(32) = 96
    dropout: fraction(0.95) = 0.2
    dense_units: positive_int(0) = 0

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: str) -> str:
        if value not in WEIGHTS_CHOICES and not value.endswith(".h5"):
            raise ValueError(f"expected {' or '.join(WEIGHTS_CHOICES)}, or a path to a weights file "
                             "ending in .weights.h5 or .h5")
        return value

    @model_validator(mode="after")
    def _big_enough(self) -> TransferSpec:
        smallest = min(space.candidates(self.image_size))
        for name in space.candidates(self.backbone):
            backbone = BACKBONES.get(name)
            if smallest < backbone.min_size:
                raise ValueError(
                    f"image_size {smallest} is too small for backbone {name}, which needs at least "
                    f"{backbone.min_size}x{backbone.min_size} pixels; raise image_size (the model "
                    f"resizes its inputs) or choose another backbone. Received: "
                    f"model.image_size={space.describe(self.image_size)}"
                )
        return self

    @classmethod
    def applies_when(cls) -> dict[str, space.Conditions]:
        """The fine-tuning settings only when the backbone is fine-tuned; how many layers only
        for ``top``."""
        return {"fine_tune_learning_rate": FINE_TUNED, "head_epochs": FINE_TUNED,
                "fine_tune_layers": (("model.fine_tune", ("top",)),)}


class CustomSpec(Section):
    """Your own KerasTuner-style hypermodel: ``build(hp)`` returns a compiled Keras model."""

    family: Literal["custom"]
    build: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$",
        description="module:function or module:HyperModelClass; the module is looked up beside "
        "the spec file first, and imported only when a search starts.",
    )


@dataclass(frozen=True)
class Family:
    """A model family: the section of its fields, named by its ``family`` literal."""

    section: type[Section]

    @property
    def name(self) -> str:
        return str(get_args(self.section.model_fields["family"].annotation)[0])


FAMILIES: Registry[Family] = Registry("model family", "model.family", [
    Family(CnnSpec), Family(RnnSpec), Family(MlpSpec), Family(TransferSpec), Family(CustomSpec),
])
MODEL_SPECS: dict[str, type[Section]] = {family.name: family.section for family in FAMILIES}
COMPILED_HERE = tuple(family.name for family in FAMILIES if family.section is not CustomSpec)
"""The families whose models autodl compiles (a custom ``build(hp)`` compiles its own)."""
if TYPE_CHECKING:
    # mypy cannot read a Union built from the registry: it sees the same sections, written out
    ModelSpec: TypeAlias = Union[CnnSpec, RnnSpec, MlpSpec, TransferSpec, CustomSpec]
else:
    # the union of the registered families' sections
    ModelSpec = Annotated[Union[tuple(MODEL_SPECS.values())], Field(discriminator="family")]


class OptimizerSpec(Section):
    """The optimizer and its settings; each may be searched."""

    name: one_of(*OPTIMIZERS.names) = "adam"
    learning_rate: hyper(space.ValueKind(float, minimum=1e-12)) = space.FloatRange(
        1e-4, 1e-1, "log"
    )
    momentum: fraction(0.9999) = 0.0
    nesterov: flag() = False
    rho: fraction(0.9999) = 0.9
    beta_1: fraction(0.9999) = 0.9
    beta_2: fraction(0.99999) = 0.999
    epsilon: hyper(space.ValueKind(float, minimum=1e-12, maximum=1.0)) = 1e-7
    weight_decay: fraction() = 0.004
    clipnorm: hyper(space.ValueKind(float, minimum=1e-9, nullable=True)) = None
    clipvalue: hyper(space.ValueKind(float, minimum=1e-9, nullable=True)) = None
    schedule: one_of(*SCHEDULES.names) = "constant"
    decay_rate: hyper(space.ValueKind(float, minimum=1e-9)) = 0.9
    decay_epochs: positive_int() = 5

    @classmethod
    def applies_when(cls) -> dict[str, space.Conditions]:
        """Each setting only for the optimizers and schedules that read it (from their registries)."""
        return {**settings_used(OPTIMIZERS, "optimizer", "name"),
                **settings_used(SCHEDULES, "optimizer", "schedule")}


class TrainingSpec(Section):
    """How long and in what batches each trial trains."""

    epochs: positive_int() = 10
    batch_size: positive_int() = 32
    early_stopping: hyper(space.ValueKind(int, minimum=1, nullable=True)) = None
    loss: one_of("mse", "mae") = "mse"
    class_weight: Union[Literal["none", "balanced"], dict[str, Annotated[float, Field(gt=0)]]] = Field(
        default="none", description="Classification: weigh each class's examples in the loss; balanced "
        "gives class c the weight n / (k * n_c) on train, a mapping of class label to weight sets them "
        "(classes left out weigh 1).",
    )

    @classmethod
    def applies_when(cls) -> dict[str, space.Conditions]:
        """The regression loss only for regression, and only for models autodl compiles."""
        return {"loss": (("data.task", ("regression",)), ("model.family", COMPILED_HERE))}


class PrunerSpec(Section):
    """Which Optuna pruner stops hopeless trials, and when it may start."""

    name: PrunerName = Field(default="percentile", description="The default, the 25th percentile pruner (it "
                             "keeps the best quarter), was chosen by bench/pruning.py; see docs/pruning.md.")
    warmup_epochs: int = Field(default=1, ge=0, description="Epochs each trial runs before it can be pruned "
                               "(the default measured by bench/pruning.py; see docs/pruning.md).")
    startup_trials: int = Field(default=5, ge=0, description="Trials that finish before pruning starts.")
    percentile: float = Field(default=25.0, gt=0, lt=100, description="For name: percentile.")
    wraps: WrappedPrunerName = Field(default="median", description="For name: patient: the pruner it asks once "
                              "the objective has stopped improving.")
    patience: int = Field(default=3, ge=0, description="For name: patient: the wrapped pruner is asked "
                          "only when the best of the last patience + 1 epochs is worse than the "
                          "best before them.")
    min_delta: float = Field(default=0.0, ge=0, description="For name: patient: the smallest change that "
                             "counts as an improvement.")


class ObjectiveSpec(Section):
    """The one metric the search optimizes."""

    metric: str = "dev_accuracy"
    direction: Literal["maximize", "minimize"] | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in metrics.OBJECTIVES:
            hint = difflib.get_close_matches(value, metrics.OBJECTIVES, n=1)
            did = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ValueError(f"expected one of {', '.join(metrics.OBJECTIVES)}{did}")
        return value

    @property
    def resolved_direction(self) -> Literal["maximize", "minimize"]:
        """The given direction, or the natural one for the metric (minimize losses and errors)."""
        if self.direction is not None:
            return self.direction
        return "minimize" if metrics.direction(self.metric) == "minimize" else "maximize"


class ConstraintsSpec(Section):
    """Satisficing limits: a trial above any of them is kept, shown as infeasible, never best."""

    latency_ms: float | None = Field(default=None, gt=0, description="Median time to predict one batch.")
    params: int | None = Field(default=None, gt=0, description="Number of model parameters.")
    model_size_mb: float | None = Field(default=None, gt=0, description="Size of the weights in MB.")
    train_time_s: float | None = Field(default=None, gt=0, description="Seconds spent fitting the trial.")

    def limits(self) -> dict[str, float]:
        """The limits that are set, by measurement name."""
        return {name: float(value) for name, value in self if value is not None}


class CrossValidationSpec(Section):
    """K-fold cross-validation of each trial, for small data where one dev split is too noisy to
    choose by."""

    folds: int = Field(default=5, ge=2, le=20, description="Folds of train + train-dev (stratified for "
                       "classes, in time order for a series); a trial's value is the mean held-out score.")


class SearchSpec(Section):
    """How trials are sampled, pruned, budgeted and stored."""

    strategy: StrategyName = Field(default="auto", description="auto: random search for the first 10 trials, "
                                   "then multivariate TPE; random, tpe, coarse_to_fine or grid.")
    trials: int = Field(default=20, ge=1, description="Total trials in the study (a resumed study counts "
                        "the ones it already has).")
    timeout: float | None = Field(default=None, gt=0, description="Seconds before no new trial starts.")
    max_epochs: int | None = Field(default=None, ge=1, description="Total epochs over all trials of the "
                                   "study; no trial starts once they are spent.")
    grid_points: int = Field(default=3, ge=2, description="grid: values per numeric range, evenly spaced "
                             "on its scale (an int range with fewer values uses them all).")
    stages: int = Field(default=3, ge=1, description="coarse_to_fine: number of stages sharing the trials.")
    keep: float = Field(default=0.25, gt=0, description="coarse_to_fine: the best trials each later stage "
                        "zooms onto: a top quantile (below 1) or a count (1 or more).")
    margin: float = Field(default=0.1, ge=0, description="coarse_to_fine: widen each zoomed range by this "
                          "share of its width, on the parameter's scale.")
    pruner: PrunerSpec = PrunerSpec()
    objective: ObjectiveSpec = ObjectiveSpec()
    constraints: ConstraintsSpec = ConstraintsSpec()
    max_failed_trials: int = Field(default=5, ge=1, description="Stop after this many failed trials in a row.")
    cv: CrossValidationSpec | None = Field(
        default=None, description="Cross-validate each trial on folds of train + train-dev; its value is "
        "the mean held-out score, pruning watches the first fold, and the saved model is refit on all "
        "of train. Meant for tables of a few hundred rows.",
    )
    enqueue: list[dict[str, Any]] = Field(
        default_factory=list, description="Configurations to try first, in order, each a mapping of "
        "searched hyperparameters (dotted names) to values; the ones left out are sampled.",
    )
    enqueue_defaults: bool = Field(
        default=False, description="Try the default configuration first (before search.enqueue): every "
        "searched parameter at its default, as `autodl sample --defaults` prints it; a custom "
        "hypermodel's hp calls at their default= values.",
    )
    storage: str | None = Field(
        default=None, description="Optuna storage URL; default: optuna.db beside the MLflow store."
    )


class TrackingSpec(Section):
    """Where MLflow records the search."""

    uri: str = DEFAULT_TRACKING_URI
    enabled: bool = True
    system_metrics: bool = Field(
        default=False, description="Log each trial run's CPU and memory use (and GPU utilization and "
        "memory on a GPU) through MLflow's system metrics; needs psutil (and nvidia-ml-py for GPUs): "
        "pip install 'autodl[system-metrics]'."
    )


class DiagnosticsSpec(Section):
    """What the bias / variance diagnosis compares against, and what it measures besides."""

    human_error: float | None = Field(
        default=None, ge=0, description="Human-level (Bayes proxy) error, in the diagnosis metric's units: "
        "a fraction for classification (0.02 = 2% misclassified), the metric itself for regression. "
        "Unset, avoidable bias is not claimed (for regression the baselines are the reference)."
    )
    tolerance: float | None = Field(
        default=None, ge=0, description="The absolute floor: a gap smaller than this is never a problem, "
        "however small its noise (default: 0.01 for classification, 2% of the dev error for regression)."
    )
    baselines: bool = Field(
        default=True, description="Score the trivial baseline (majority class, mean, last value) and a "
        "classical scikit-learn model on the same splits, beside the best network."
    )
    learning_curve: bool = Field(
        default=False, description="At the end of a search, retrain the best configuration on growing "
        "shares of train and plot train and dev error against the training-set size (as `autodl diagnose`)."
    )
    learning_curve_shares: list[float] = Field(
        default_factory=lambda: [0.25, 0.5, 1.0], min_length=2,
        description="The shares of train the learning curve trains on, growing, each in (0, 1].",
    )

    @field_validator("learning_curve_shares")
    @classmethod
    def _growing_shares(cls, shares: list[float]) -> list[float]:
        if any(not 0 < s <= 1 for s in shares) or sorted(set(shares)) != shares:
            raise ValueError("expected growing shares of train, each in (0, 1], e.g. [0.25, 0.5, 1.0]")
        return shares


class RuntimeSpec(Section):
    """How trials use the hardware. A GPU is used when TensorFlow sees one."""

    mixed_precision: bool = Field(default=False, description="Compute in float16 with float32 weights, "
                                  "on a GPU only (on a CPU, trials run in float32 with a notice).")
    xla: Union[bool, Literal["auto"]] = Field(
        default="auto", description="Compile each model with XLA (Keras's jit_compile): auto uses it where "
        "the model supports it."
    )
    threads: int | None = Field(default=None, ge=1, description="CPU threads per worker process "
                                "(default: the cores divided among the workers).")
    trials_per_process: int | None = Field(
        default=None, ge=1, description="Run trials in worker processes replaced after this many trials, "
        "which gives back the memory TensorFlow keeps for every trial (default: one process)."
    )


class ExportSpec(Section):
    """Where the best model is saved, and what a finished search exports beside it."""

    dir: str | None = Field(default=None, description="Default: best_model/<name>.")
    formats: list[ExportFormat] = Field(
        default_factory=lambda: ["keras", "saved_model"],
        description="Formats a finished search writes to <dir>/export ([] for none); "
        "`autodl export` writes all four unless --formats says otherwise.",
    )
    retrain: bool = Field(default=False, description="Refit the best configuration on train + train-dev "
                          "for the best trial's epoch count before exporting.")
    include_dev: bool = Field(default=False, description="With retrain: train on dev as well (its scores "
                              "are then no longer held out).")
    registry: Union[bool, str] = Field(
        default=False, description="Register the export in the MLflow model registry: true under the "
        "spec's name, or under this name."
    )
    ensemble: int | None = Field(
        default=None, ge=1, strict=True, description="Export the average of the predicted probabilities "
        "(or values) of this many best feasible complete trials as one model (null or 1: the best "
        "model alone).",
    )

    @model_validator(mode="after")
    def _dev_needs_retrain(self) -> ExportSpec:
        if self.include_dev and not self.retrain:
            raise ValueError("include_dev adds dev to a retraining; set retrain: true as well")
        return self
