"""Spec loading and validation: good specs load, bad ones give one exact, dotted message; the
checks across sections; the JSON Schema and docs/spec.md kept in step with the spec."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from autodl.errors import SpecError
from autodl.spec.document import load_spec
from autodl.spec.space import Choice, FloatRange, IntRange
from tests.helpers import REPO, c2f_spec, minimal_spec

SPACES = sorted((REPO / "search_spaces").glob("*.yaml"))


@pytest.mark.parametrize("path", SPACES, ids=[p.name for p in SPACES])
def test_every_shipped_spec_validates(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name
    fixed_by_design = path.name.endswith("_classic.yaml") or spec.model.family == "custom"
    assert bool(spec.searched()) != fixed_by_design, "searched specs search, classic ones are fixed"


def test_minimal_spec_gets_good_practice_defaults(write_spec: Callable[..., Path]) -> None:
    spec = load_spec(write_spec(minimal_spec()))
    assert spec.optimizer.learning_rate == FloatRange(1e-4, 1e-1, "log")
    assert spec.search.strategy == "auto"
    assert (spec.search.pruner.name, spec.search.pruner.percentile) == ("percentile", 25.0)
    assert spec.search.objective.resolved_direction == "maximize"
    assert spec.tracking.uri == "sqlite:///mlruns/mlflow.db"
    assert spec.data.split.fractions() == {"train": 0.7, "train_dev": 0.1, "dev": 0.1, "test": 0.1}


def test_distributions_in_every_section(write_spec: Callable[..., Path]) -> None:
    spec = load_spec(
        write_spec(
            minimal_spec(
                model={"family": "cnn", "blocks": {"int": [1, 3]}, "filters": {"choice": [16, 32]}},
                training={"batch_size": {"choice": [32, 64]}, "epochs": 4},
            )
        )
    )
    assert spec.searched() == {
        "model.blocks": IntRange(1, 3),
        "model.filters": Choice((16, 32)),
        "optimizer.learning_rate": FloatRange(1e-4, 1e-1, "log"),
        "training.batch_size": Choice((32, 64)),
    }


def test_loss_objective_minimizes_by_default(write_spec: Callable[..., Path]) -> None:
    spec = load_spec(write_spec(minimal_spec(search={"objective": {"metric": "dev_loss"}})))
    assert spec.search.objective.resolved_direction == "minimize"


def test_overrides_revalidate(write_spec: Callable[..., Path]) -> None:
    spec = load_spec(write_spec(minimal_spec()))
    changed = spec.with_overrides(**{"search.trials": 3, "seed": 7, "tracking.uri": None})
    assert (changed.search.trials, changed.seed) == (3, 7)
    assert changed.model.filters == spec.model.filters
    with pytest.raises(SpecError, match=r"search.trials: Input should be greater than or equal to 1"):
        spec.with_overrides(**{"search.trials": 0})


BAD_SPECS: list[tuple[str, dict | str, str]] = [
    ("unknown top-level key", {**minimal_spec(), "serach": {}},
     "  serach: unknown key; did you mean 'search'? Received: serach={}"),
    ("misspelled model key", minimal_spec(model={"family": "cnn", "filtres": 32}),
     "  model.filtres: unknown key; did you mean 'model.filters'? Received: model.filtres=32"),
    ("misspelled nested key", minimal_spec(search={"pruner": {"name": "median", "warmup": 2}}),
     "  search.pruner.warmup: unknown key; did you mean 'search.pruner.warmup_epochs'? "
     "Received: search.pruner.warmup=2"),
    ("unknown key without a close match", minimal_spec(training={"zzz": 1}),
     "  training.zzz: unknown key. Allowed keys: epochs, batch_size, early_stopping, loss, "
     "class_weight. "
     "Received: training.zzz=1"),
    ("wrong type", minimal_spec(training={"epochs": "ten"}),
     "  training.epochs: expected an integer >= 1 or a distribution. Received: training.epochs='ten'"),
    ("float where int", minimal_spec(model={"family": "cnn", "filters": 3.5}),
     "  model.filters: expected an integer >= 1 or a distribution. Received: model.filters=3.5"),
    ("bool where int", minimal_spec(model={"family": "cnn", "blocks": True}),
     "  model.blocks: expected an integer >= 1 or a distribution. Received: model.blocks=True"),
    ("low > high", minimal_spec(model={"family": "cnn", "blocks": {"int": [4, 2]}}),
     "  model.blocks: low must be <= high, but got low=4, high=2. "
     "Received: model.blocks={'int': [4, 2]}"),
    ("float low > high", minimal_spec(optimizer={"learning_rate": {"float": [0.1, 0.001], "scale": "log"}}),
     "  optimizer.learning_rate: low must be <= high, but got low=0.1, high=0.001. "
     "Received: optimizer.learning_rate={'float': [0.1, 0.001], 'scale': 'log'}"),
    ("unknown scale", minimal_spec(optimizer={"learning_rate": {"float": [1e-4, 0.1], "scale": "log10"}}),
     "  optimizer.learning_rate: scale must be one of linear, log, inv_log, but got scale='log10'. "
     "Received: optimizer.learning_rate={'float': [0.0001, 0.1], 'scale': 'log10'}"),
    ("log scale at zero", minimal_spec(optimizer={"learning_rate": {"float": [0.0, 0.1], "scale": "log"}}),
     "  optimizer.learning_rate: expected a number >= 1e-12 or a distribution. "
     "Received: optimizer.learning_rate={'float': [0.0, 0.1], 'scale': 'log'}"),
    ("inv_log reaching 1", minimal_spec(optimizer={"beta_1": {"float": [0.9, 0.9999], "scale": "inv_log"},
                                                    "momentum": {"float": [0.5, 1.5]}}),
     "  optimizer.momentum: expected a number in [0.0, 0.9999] or a distribution. "
     "Received: optimizer.momentum={'float': [0.5, 1.5]}"),
    ("unknown distribution", minimal_spec(model={"family": "cnn", "dropout": {"uniform": [0, 0.5]}}),
     "  model.dropout: expected a fixed value or one of {int: [low, high]}, {float: [low, high], "
     "scale: linear|log|inv_log}, {choice: [...]}, {bool: true}. Received: model.dropout={'uniform': [0, 0.5]}"),
    ("misspelled distribution", minimal_spec(model={"family": "cnn", "dropout": {"flaot": [0, 0.5]}}),
     "  model.dropout: expected a fixed value or one of {int: [low, high]}, {float: [low, high], "
     "scale: linear|log|inv_log}, {choice: [...]}, {bool: true}; did you mean 'float'? "
     "Received: model.dropout={'flaot': [0, 0.5]}"),
    ("empty choice", minimal_spec(model={"family": "cnn", "filters": {"choice": []}}),
     "  model.filters: choice needs a non-empty list of values. Received: model.filters={'choice': []}"),
    ("bad value inside choice", minimal_spec(model={"family": "rnn", "cell": {"choice": ["lstm", "grue"]}}),
     "  model.cell: expected one of 'lstm', 'gru', 'simple'; did you mean 'gru'? "
     "Received: model.cell={'choice': ['lstm', 'grue']}"),
    ("unknown option", minimal_spec(optimizer={"name": "adma"}),
     "  optimizer.name: expected one of 'adam', 'adamw', 'sgd', 'rmsprop'; did you mean 'adam'? "
     "Received: optimizer.name='adma'"),
    ("unknown family", minimal_spec(model={"family": "cnnn"}),
     "  model.family: expected one of cnn, rnn, mlp, transfer, custom; did you mean 'cnn'? "
     "Received: model.family='cnnn'"),
    ("missing family", minimal_spec(model={"filters": 3}),
     "  model.family: expected one of cnn, rnn, mlp, transfer, custom. Received: model.family=None"),
    ("missing data", {"name": "x", "model": {"family": "cnn"}}, "  data: missing required key."),
    ("missing name", {"data": {"source": "digits"}, "model": {"family": "cnn"}},
     "  name: missing required key."),
    ("bad name", minimal_spec(name="my study!"),
     "  name: String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]*$'. Received: name='my study!'"),
    ("split not summing to 1", minimal_spec(data={"source": "digits", "split": {"train": 0.8, "dev": 0.3}}),
     "  data.split: the split fractions must add up to 1, but they add up to 1.3 (fractions left "
     "out default to train 0.7, train_dev 0.1, dev 0.1, test 0.1). "
     "Received: data.split={'train': 0.8, 'dev': 0.3}"),
    ("unknown objective", minimal_spec(search={"objective": {"metric": "dev_accurracy"}}),
     "  search.objective.metric: expected one of dev_loss, dev_accuracy, dev_auc, dev_f1, "
     "dev_balanced_accuracy, dev_macro_f1, dev_mae, dev_rmse; did you mean 'dev_accuracy'? "
     "Received: search.objective.metric='dev_accurracy'"),
    ("bad direction", minimal_spec(search={"objective": {"direction": "up"}}),
     "  search.objective.direction: Input should be 'maximize' or 'minimize'. "
     "Received: search.objective.direction='up'"),
    ("unknown pruner", minimal_spec(search={"pruner": {"name": "medain"}}),
     "  search.pruner.name: Input should be 'none', 'median', 'percentile', 'successive_halving', "
     "'hyperband' or 'patient'. Received: search.pruner.name='medain'"),
    ("zero trials", minimal_spec(search={"trials": 0}),
     "  search.trials: Input should be greater than or equal to 1. Received: search.trials=0"),
    ("unknown strategy", minimal_spec(search={"strategy": "grid_search"}),
     "  search.strategy: Input should be 'auto', 'random', 'tpe', 'coarse_to_fine' or 'grid'. "
     "Received: search.strategy='grid_search'"),
    ("int step zero", minimal_spec(model={"family": "cnn", "filters": {"int": [8, 64], "step": 0}}),
     "  model.filters: step must be a positive integer, but got step=0. "
     "Received: model.filters={'int': [8, 64], 'step': 0}"),
    ("when names an unknown parameter",
     minimal_spec(optimizer={"name": {"choice": ["adam", "sgd"]},
                             "momentum": {"float": [0.8, 0.99], "when": {"optimizer.nmae": "sgd"}}}),
     "  optimizer.momentum.when: unknown parameter 'optimizer.nmae'; did you mean 'optimizer.name'? "
     "Received: optimizer.momentum.when='optimizer.nmae'"),
    ("when asks for an impossible value",
     minimal_spec(optimizer={"name": {"choice": ["adam", "sgd"]},
                             "momentum": {"float": [0.8, 0.99], "when": {"optimizer.name": "rmsprop"}}}),
     "  optimizer.momentum.when: optimizer.name can never be 'rmsprop' (it is choice [adam, sgd]). "
     "Received: optimizer.momentum.when.optimizer.name='rmsprop'"),
    ("when on itself",
     minimal_spec(model={"family": "cnn", "blocks": {"int": [1, 3], "when": {"model.blocks": 2}}}),
     "  model.blocks.when: a parameter cannot depend on itself. Received: model.blocks.when='model.blocks'"),
    ("when in a cycle",
     minimal_spec(model={"family": "cnn", "blocks": {"int": [1, 3], "when": {"model.filters": 16}},
                         "filters": {"choice": [16, 32], "when": {"model.blocks": 2}}}),
     "  model.blocks.when: conditions form a cycle: model.blocks -> model.filters -> model.blocks. "
     "Received: model.blocks.when={'model.filters': 16}"),
    ("when without a fixed default",
     minimal_spec(optimizer={"name": {"choice": ["adam", "sgd"]},
                             "learning_rate": {"float": [1e-4, 1e-2], "scale": "log",
                                               "when": {"optimizer.name": "sgd"}}}),
     "  optimizer.learning_rate.when: this parameter has no fixed default to fall back on when "
     "inactive. Received: optimizer.learning_rate.when={'optimizer.name': 'sgd'}"),
    ("when not a mapping",
     minimal_spec(model={"family": "cnn", "blocks": {"int": [1, 3], "when": "model.filters"}}),
     "  model.blocks: when needs a mapping of parameter names to a value or a list of values, e.g. "
     "when: {optimizer.name: sgd}. Received: model.blocks={'int': [1, 3], 'when': 'model.filters'}"),
    ("bool false", minimal_spec(model={"family": "cnn", "batch_norm": {"bool": False}}),
     "  model.batch_norm: bool takes true (search both true and false); for a fixed value write "
     "true or false without {bool: ...}. Received: model.batch_norm={'bool': False}"),
    ("bool on a number", minimal_spec(model={"family": "cnn", "filters": {"bool": True}}),
     "  model.filters: a bool distribution does not fit here: expected an integer >= 1. "
     "Received: model.filters={'bool': True}"),
    ("accuracy for regression",
     minimal_spec(data={"source": "digits", "task": "regression"}),
     "  search.objective.metric: dev_accuracy is measured for binary and multiclass tasks, but the "
     "task is regression; use one of dev_loss, dev_mae, dev_rmse. "
     "Received: search.objective.metric='dev_accuracy'"),
    ("rmse for classification",
     minimal_spec(data={"source": "digits", "task": "multiclass"}, search={"objective": {"metric": "dev_rmse"}}),
     "  search.objective.metric: dev_rmse is measured for regression tasks, but the task is "
     "multiclass; use one of dev_loss, dev_accuracy, dev_auc, dev_f1, dev_balanced_accuracy, dev_macro_f1. "
     "Received: search.objective.metric='dev_rmse'"),
    ("section not a mapping", minimal_spec(training=[1, 2]),
     "  training: Input should be a valid dictionary or instance of TrainingSpec. Received: training=[1, 2]"),
]


@pytest.mark.parametrize(("case", "content", "expected"), BAD_SPECS, ids=[c[0] for c in BAD_SPECS])
def test_bad_spec_message(
    case: str, content: dict | str, expected: str, write_spec: Callable[..., Path]
) -> None:
    path = write_spec(content)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    lines = str(info.value).splitlines()
    assert lines[0] == f"Invalid spec {path}:"
    assert lines[1:] == [expected]


def test_several_problems_are_all_listed(write_spec: Callable[..., Path]) -> None:
    path = write_spec(minimal_spec(training={"epochs": 0, "batch_size": "big"}))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).splitlines()[1:] == [
        "  training.epochs: expected an integer >= 1 or a distribution. Received: training.epochs=0",
        "  training.batch_size: expected an integer >= 1 or a distribution. "
        "Received: training.batch_size='big'",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "is empty: a spec needs at least name, data and model."),
        ("# only a comment\n", "is empty: a spec needs at least name, data and model."),
        ("name: x\ndata: {source: digits\n",
         "YAML syntax error at line 3, column 1: expected ',' or '}', but got '<stream end>'."),
        ("name: x\n  bad: indent\n", "YAML syntax error at line 2, column 6: mapping values are not allowed here."),
        ("- a\n- b\n", "a spec is a mapping of sections (name, data, model, ...). Received: spec=['a', 'b']"),
    ],
)
def test_unreadable_yaml(text: str, expected: str, write_spec: Callable[..., Path]) -> None:
    path = write_spec(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).endswith(expected)
    assert str(path) in str(info.value)


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="Spec file not found: .*nope.yaml. Pass the path of a YAML spec file."):
        load_spec(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "{path} is empty: a spec needs at least name, data and model."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
         "{path} is not a text file (a NUL byte at offset 8): a spec is YAML text. Pass the spec file, "
         "saved as UTF-8 text."),
        (b"name: x\x00\n", "{path} is not a text file (a NUL byte at offset 7): a spec is YAML text. "
         "Pass the spec file, saved as UTF-8 text."),
        (b"name: caf\xe9\n", "{path} is not UTF-8 text (byte 0xe9 at offset 9): save the spec as UTF-8 text."),
        ("name: x\n".encode("utf-16"), "{path} is UTF-16 text: save the spec as UTF-8 text."),
        (b"name: a\x07b\n", "{path}: the character U+0007 at line 1, column 8 is not allowed in YAML "
         "(control characters other than tab and newline); remove it."),
        (b"[" * 5000 + b"]" * 5000, "{path}: the YAML is nested too deeply to read."),
        (b"\xef\xbb\xbfname: bom\ndata: {source: digits}\nmodel: {family: cnn}\n", None),
    ],
    ids=["empty", "binary", "nul", "latin-1", "utf-16", "control", "deep", "utf-8-bom"],
)
def test_spec_files_that_are_not_yaml_text(content: bytes, expected: str | None, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(content)
    if expected is None:
        assert load_spec(path).name == "bom"
        return
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == expected.format(path=path)


def test_a_folder_is_not_a_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert str(info.value) == f"{tmp_path} is a folder, not a spec file. Pass the path of a YAML spec file."


def test_an_unreadable_spec_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: x\n")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == (
        f"Cannot read the spec file {path}: Permission denied. Pass the path of a YAML spec file you may read."
    )


def test_a_path_too_long_to_open(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"^Cannot read the spec file .*: File name too long\."):
        load_spec(tmp_path / ("x" * 300 + ".yaml"))


def test_yaml_tags_never_run_code(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write_spec(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(SpecError, match="YAML syntax error"):
        load_spec(path)
    assert not marker.exists()


def test_spec_keeps_its_text_and_folder(write_spec: Callable[..., Path]) -> None:
    path = write_spec(minimal_spec())
    spec = load_spec(path)
    assert spec.base_dir == path.parent.resolve()
    assert yaml.safe_load(spec.text) == minimal_spec()


def _schema_paths(schema: dict, node: dict, prefix: str) -> set[str]:
    """Dotted field paths of the JSON Schema, following $refs into sections and model families."""
    paths: set[str] = set()
    for name, prop in node.get("properties", {}).items():
        refs = [prop.get("$ref")] + [o.get("$ref") for o in prop.get("oneOf", [])]
        sections = [schema["$defs"][r.split("/")[-1]] for r in refs if r]
        if sections:
            for section in sections:
                paths |= _schema_paths(schema, section, f"{prefix}{name}.")
        else:
            paths.add(f"{prefix}{name}")
    return paths


def test_docs_cover_every_schema_field_and_no_other() -> None:
    import re

    from autodl.spec.document import json_schema

    schema = json_schema()
    expected = _schema_paths(schema, schema, "")
    assert {"name", "model.family", "model.vocab_size", "search.pruner.warmup_epochs"} <= expected
    text = (REPO / "docs" / "spec.md").read_text().split("## Top level", 1)[1]
    documented = set(re.findall(r"^\| `([a-z_.0-9]+)` \|", text, flags=re.M))
    assert documented == expected


def test_shipped_schema_file_is_current() -> None:
    import json

    from autodl.spec.document import json_schema

    shipped = json.loads((REPO / "docs" / "spec.schema.json").read_text())
    assert shipped == json_schema(), "run: autodl schema > docs/spec.schema.json"


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"family": "custom", "build": "my models:build"}, "  model.build: String should match pattern"),
        ({"family": "custom"}, "  model.build: missing required key."),
    ],
)
def test_custom_spec_fields(model: dict, message: str, write_spec: Callable[..., Path]) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(minimal_spec(model=model)))
    assert str(caught.value).splitlines()[1].startswith(message)


def test_custom_spec_takes_no_optimizer_section(write_spec: Callable[..., Path]) -> None:
    path = write_spec(minimal_spec(model={"family": "custom", "build": "m:build"}, optimizer={"name": "sgd"}))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value).splitlines()[1:] == [
        "  optimizer: a custom model is compiled by its build(hp), which chooses the optimizer; "
        "remove this section (search the optimizer with hp calls instead). "
        "Received: optimizer={'name': 'sgd'}"
    ]


def test_grid_refuses_a_custom_model(write_spec, tmp_path) -> None:
    (tmp_path / "hm.py").write_text("def build(hp):\n    return None\n")
    path = write_spec(minimal_spec(model={"family": "custom", "build": "hm.py:build"},
                                   search={"strategy": "grid"}))
    with pytest.raises(SpecError, match=r"search.strategy: grid needs every hyperparameter"):
        load_spec(path)


def test_more_stages_than_trials_is_a_spec_error(write_spec) -> None:
    with pytest.raises(SpecError) as caught:
        c2f_spec(write_spec, trials=2)
    assert str(caught.value).splitlines()[1] == (
        "  search.stages: 3 stages need at least as many trials, but search.trials is 2. "
        "Received: search.stages=3"
    )
