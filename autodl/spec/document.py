"""The whole spec: the ``Spec`` model, reading it from YAML, and the two validation passes
(each field on its own, then the checks across fields), in the way Ludwig validates a config.

Loading a spec never runs code: YAML is read with ``safe_load`` and nothing here imports
TensorFlow, Optuna or MLflow.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, PrivateAttr, ValidationError

from autodl.errors import SpecError, first_line
from autodl.spec import metrics, params, space
from autodl.spec.fields import Section
from autodl.spec.messages import format_errors
from autodl.spec.sections import (
    DataSpec,
    DiagnosticsSpec,
    ExportSpec,
    ModelSpec,
    OptimizerSpec,
    RuntimeSpec,
    SearchSpec,
    TrackingSpec,
    TrainingSpec,
)


class Spec(Section):
    """A whole search: data, model family and space, optimizer, training, search, tracking."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    seed: int = 0
    data: DataSpec
    model: ModelSpec
    optimizer: OptimizerSpec = OptimizerSpec()
    training: TrainingSpec = TrainingSpec()
    search: SearchSpec = SearchSpec()
    tracking: TrackingSpec = TrackingSpec()
    diagnostics: DiagnosticsSpec = DiagnosticsSpec()
    runtime: RuntimeSpec = RuntimeSpec()
    export: ExportSpec = ExportSpec()
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _text: str = PrivateAttr(default="")
    _document: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """The spec file's folder: relative data paths start here."""
        return self._base_dir

    @property
    def text(self) -> str:
        """The spec as written, logged with every search."""
        return self._text

    def searched(self) -> dict[str, space.Distribution]:  # type: ignore[override]  # no prefix: names carry their section
        """Every searched hyperparameter, keyed ``section.field``."""
        found: dict[str, space.Distribution] = {}
        for name, section in self.sections().items():
            found.update(section.searched(name))
        return found

    def sections(self) -> dict[str, Section]:
        """The sections whose fields are hyperparameters: a custom model compiles its own
        optimizer, and only a time series has a window length to search."""
        found: dict[str, Section] = {"model": self.model}
        if self.model.family != "custom":
            found["optimizer"] = self.optimizer
        found["training"] = self.training
        if self.data.series is not None:
            found["data"] = self.data
        return found

    def with_distributions(self, dists: Mapping[str, space.Distribution]) -> Spec:
        """A copy whose searched fields take these distributions (a coarse-to-fine stage)."""
        updates: dict[str, dict[str, Any]] = {}
        for name, dist in dists.items():
            section, field_name = name.split(".", 1)
            updates.setdefault(section, {})[field_name] = dist
        copy_ = self.model_copy(
            update={k: getattr(self, k).model_copy(update=v) for k, v in updates.items()}
        )
        copy_._base_dir, copy_._text, copy_._document = self._base_dir, self._text, self._document
        return copy_

    def facts(self) -> dict[str, str]:
        """The facts of this search the spec alone tells: the model family, a task it fixes, and
        the kind of a time series; the data tells the rest (``params.facts``)."""
        series = self.data.series is not None  # windows of a series, forecast: always regression
        task = "regression" if series else None if self.data.task == "auto" else self.data.task
        embeddings = "pretrained" if getattr(self.model, "embeddings", None) else "learned"
        return params.facts(self.model.family, "sequence" if series else None, task, embeddings)

    def parameters(self) -> list[params.Param]:
        """Every hyperparameter, each after the ones its conditions refer to."""
        return params.ordered(params.collect(self.sections()))

    def with_overrides(self, **changes: Any) -> Spec:
        """A copy with command-line overrides applied; keys are dotted paths, ``None`` skipped."""
        data = copy.deepcopy(self._document)
        for dotted, value in changes.items():
            if value is None:
                continue
            node = data
            *parents, leaf = dotted.split(".")
            for depth, key in enumerate(parents):
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    above = ".".join(parents[: depth + 1])
                    raise SpecError(f"{dotted}: {above} is a value, not a section, so it has no field "
                                    f"{dotted[len(above) + 1:]}. Received: {above}={node!r}")
            node[leaf] = value
        return _validate(data, self._base_dir, self._text, "command line")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file (draft 2020-12), for editors' YAML language servers."""
    schema = Spec.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "autodl search spec",
    }


def objective_problem(metric: str, task: str) -> str | None:
    """Why ``metric`` cannot be the objective of ``task``, or ``None`` when it can."""
    tasks = metrics.tasks_for(metric)
    if task in tasks:
        return None
    usable = ", ".join(f"dev_{m}" for m in metrics.TASK_METRICS[task])
    return (
        f"search.objective.metric: {metric} is measured for {' and '.join(tasks)} tasks, but the "
        f"task is {task}; use one of {usable}. Received: search.objective.metric={metric!r}"
    )


def _objective_problems(spec: Spec) -> list[str]:
    """The objective must be a metric the task produces (checked again once ``auto`` is resolved)."""
    if spec.data.task == "auto":
        return []
    problem = objective_problem(spec.search.objective.metric, spec.data.task)
    return [problem] if problem else []


def _enqueue_problems(spec: Spec) -> list[str]:
    """Each configuration to try first names searched hyperparameters, with values they can take."""
    searched = spec.searched()
    problems = []
    for i, config in enumerate(spec.search.enqueue):
        where = f"search.enqueue[{i}]"
        for name, value in config.items():
            if spec.model.family == "custom" and name.startswith("model."):
                continue  # a hypermodel's parameters are known once its build(hp) runs
            if name not in searched:
                hint = difflib.get_close_matches(name, list(searched), n=1)
                known = f"did you mean {hint[0]!r}?" if hint else (
                    f"the searched ones are {', '.join(searched)}." if searched else "this spec searches none.")
                problems.append(f"{where}: {name} is not a searched hyperparameter; {known} "
                                f"Received: {where}.{name}={value!r}")
            elif not params.possible(searched[name], value):
                problems.append(f"{where}: {name} cannot be {value!r} (it is {space.describe(searched[name])}). "
                                f"Received: {where}.{name}={value!r}")
    return problems


def _validate(data: Any, base_dir: Path, text: str, where: str) -> Spec:
    """Two passes: each field on its own (pydantic), then checks across fields."""
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_errors(exc, where, data, Spec)) from None
    problems = (params.check(params.collect(spec.sections())) + _objective_problems(spec)
                + _enqueue_problems(spec))
    if spec.search.strategy == "coarse_to_fine" and spec.search.stages > spec.search.trials:
        problems.append(
            f"search.stages: {spec.search.stages} stages need at least as many trials, but "
            f"search.trials is {spec.search.trials}. Received: search.stages={spec.search.stages}"
        )
    if spec.search.strategy == "grid" and spec.model.family == "custom":
        problems.append(
            "search.strategy: grid needs every hyperparameter in the spec, but a custom model "
            "defines its own in build(hp); use random, tpe or coarse_to_fine. "
            "Received: search.strategy='grid'"
        )
    if spec.model.family == "custom" and "optimizer" in spec.model_fields_set:
        problems.append(
            "optimizer: a custom model is compiled by its build(hp), which chooses the optimizer; "
            "remove this section (search the optimizer with hp calls instead). "
            f"Received: optimizer={data.get('optimizer')!r}"
        )
    if problems:
        raise SpecError("\n".join([f"Invalid spec {where}:", *(f"  {p}" for p in problems)]))
    spec._base_dir = base_dir
    spec._text = text
    spec._document = data
    return spec


def read_text(path: Path) -> str:
    """The text of the spec file at ``path``; a path that is missing, a folder, unreadable, or not
    UTF-8 text is a ``SpecError`` naming the file and what to do."""
    try:
        if path.is_dir():
            raise SpecError(f"{path} is a folder, not a spec file. Pass the path of a YAML spec file.")
        if not path.exists():
            raise SpecError(f"Spec file not found: {path}. Pass the path of a YAML spec file.")
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(
            f"Cannot read the spec file {path}: {exc.strerror or type(exc).__name__}. Pass the path of "
            "a YAML spec file you may read."
        ) from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError(f"{path} is UTF-16 text: save the spec as UTF-8 text.")
    nul = raw.find(b"\0")
    if nul >= 0:
        raise SpecError(
            f"{path} is not a text file (a NUL byte at offset {nul}): a spec is YAML text. Pass the "
            "spec file, saved as UTF-8 text."
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}): save the "
            "spec as UTF-8 text."
        ) from None


def parse_yaml(text: str, where: str) -> Any:
    """The YAML document in ``text``; a syntax error is a ``SpecError`` that says where."""
    try:
        return yaml.safe_load(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise SpecError(
            f"{where}: the character U+{code:04X} at line {line}, column {column} is not allowed in "
            "YAML (control characters other than tab and newline); remove it."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        position = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or first_line(exc)
        raise SpecError(f"{where}: YAML syntax error{position}: {problem}.") from None
    except RecursionError:
        raise SpecError(f"{where}: the YAML is nested too deeply to read.") from None


def load_spec(path: Path) -> Spec:
    """Read and validate the YAML spec at ``path`` or raise ``SpecError``."""
    path = Path(path)
    text = read_text(path)
    data = parse_yaml(text, str(path))
    if data is None:
        raise SpecError(f"{path} is empty: a spec needs at least name, data and model.")
    if not isinstance(data, dict):
        raise SpecError(
            f"{path}: a spec is a mapping of sections (name, data, model, ...). "
            f"Received: spec={data!r}"
        )
    return _validate(data, path.parent.resolve(), text, str(path))
