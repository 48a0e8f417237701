"""``MODEL_CARD.md``: what an exported model is, what it was trained and measured on, how good it
is (an ensemble beside its best single member), what to try next, and how to load each format.
Rendered from the export's manifest alone."""

from __future__ import annotations

from typing import Any

from autodl.results.diagnosis import Diagnosis, is_current

SPLITS = ("train", "train_dev", "dev", "test")
SPLIT_NAMES = {"train": "train", "train_dev": "train-dev", "dev": "dev", "test": "test"}
METRIC_ORDER = ("loss", "accuracy", "auc", "f1", "mae", "rmse")


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return f"`{value}`" if isinstance(value, (dict, list)) else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(_value(v) for v in row) + " |" for row in rows]


def _metric_rows(metrics: dict[str, float], splits: list[str]) -> tuple[list[str], list[list[Any]]]:
    """One row per split, one column per metric present (in a fixed order)."""
    names = [m for m in METRIC_ORDER if any(f"{s}_{m}" in metrics for s in splits)]
    rows = [
        [SPLIT_NAMES[s], *(metrics.get(f"{s}_{m}", "") for m in names)]
        for s in splits if any(f"{s}_{m}" in metrics for m in names)
    ]
    return ["split", *names], rows


def _data(manifest: dict[str, Any]) -> list[str]:
    data, source = manifest["data"], manifest["input"]
    lines = ["## Data", "", f"Source: `{data.get('location') or data['source']}` ({source['kind']} data, "
             f"{manifest['task']} task). Splits are seeded; the search trained on train only, "
             "picked the best trial on dev and measured it once on test.", ""]
    trained = set(manifest["training"]["trained_on"])
    rows = [[SPLIT_NAMES[s], n, "yes" if s in trained else "no"] for s, n in data["sizes"].items()]
    lines += _table(["split", "examples", "exported model trained on it"], rows)
    if manifest["class_names"]:
        lines += ["", "Classes (model output index: label name):", ""]
        lines += _table(["index", "label"], [[i, n] for i, n in enumerate(manifest["class_names"])])
    return lines


def _training(manifest: dict[str, Any]) -> list[str]:
    training, objective = manifest["training"], manifest["objective"]
    trained_on = " + ".join(SPLIT_NAMES[s] for s in training["trained_on"])
    combined = manifest.get("ensemble")
    if combined is not None:
        each = (f"each retrained on {trained_on} for its trial's best epoch count" if training["retrained"]
                else "each trained on train as its trial was (see Ensemble)")
        how = f"the average of {combined['size']} models, {each}"
    elif training["retrained"]:
        how = (f"retrained on {trained_on} for {training['epochs']} epochs (the best trial's epoch "
               f"count), seed {training['seed']}")
    else:
        how = (f"the model trial {manifest['trial']} trained on train ({training['epochs']} epochs), "
               "as the search saved it")
    lines = ["## Training", "", f"Best trial: #{manifest['trial']}, {objective['metric']} = "
             f"{_value(objective['value'])} ({objective['direction']}). Exported model: {how}.", ""]
    params = manifest["hyperparameters"]
    return lines + _table(["hyperparameter", "value"], [[k, v] for k, v in sorted(params.items())])


def _metrics(manifest: dict[str, Any]) -> list[str]:
    lines = ["## Metrics", "", "The best trial (trained on train; test measured once, at the end "
             "of the search):", ""]
    lines += _table(*_metric_rows(manifest["metrics"]["search"], list(SPLITS)))
    if manifest["training"]["retrained"] and "ensemble" not in manifest:
        trained = manifest["training"]["trained_on"]
        lines += ["", f"The exported model (retrained; its train row covers "
                  f"{' + '.join(SPLIT_NAMES[s] for s in trained)}; test is still held out):", ""]
        exported = [s for s in ("train", "dev", "test") if s == "train" or s not in trained]
        lines += _table(*_metric_rows(manifest["metrics"]["exported"], exported))
    return lines


def _member_source(member: dict[str, Any]) -> str:
    """Where an ensemble member's model came from, in words."""
    return {"saved": "the model the search saved", "rebuilt": "trained again as the search did",
            "retrained": "retrained"}[member["source"]]


def _ensemble(manifest: dict[str, Any]) -> list[str]:
    """The members, and the ensemble's scores beside the best single model's on the same
    examples, with the paired difference of their errors."""
    combined = manifest["ensemble"]
    objective, best = combined["objective"], combined["members"][0]["trial"]
    lines = ["## Ensemble", "", f"The exported model outputs the {combined['combined']}; its members "
             f"are the {combined['size']} best feasible complete trials of the search (best first):", ""]
    lines += _table(
        ["trial", f"{objective} in the search", f"{objective} measured now", "model"],
        [[f"#{m['trial']}", m["search_value"], "" if m["measured_value"] is None else m["measured_value"],
          _member_source(m)] for m in combined["members"]],
    )
    metrics = combined["metrics"]
    wanted = [objective.removeprefix("dev_"), *(m for m in METRIC_ORDER if m != objective.removeprefix("dev_"))]
    rows = [
        [SPLIT_NAMES[split], combined["examples"][split], name,
         metrics["best_single"][f"{split}_{name}"], metrics["ensemble"][f"{split}_{name}"]]
        for split in ("dev", "test") for name in wanted if f"{split}_{name}" in metrics["ensemble"]
    ]
    lines += ["", "Side by side on the same examples:", ""]
    lines += _table(["split", "examples", "metric", f"best single model (#{best})",
                     f"ensemble of {combined['size']}"], rows)
    for split, found in combined["paired"].items():
        clear = abs(found["difference"]) > 2 * found["se"]
        verdict = ("more than two standard errors: a real difference" if clear else
                   "within two standard errors: not a clear difference on this many examples")
        lines += ["", f"On {SPLIT_NAMES[split]} ({found['n']} examples) the ensemble's {found['error']} is "
                  f"{_value(found['ensemble'])} and the best single model's {_value(found['best_single'])}: a "
                  f"difference of {found['difference']:+.4g} with a paired standard error of "
                  f"{_value(found['se'])}, {verdict}."]
    if "dev" in manifest["training"]["trained_on"]:
        lines += ["", "The members were retrained on dev as well: the dev scores are not held out."]
    return lines + ["", "Choose between them by dev; test is reported, not for choosing. The "
                    "diagnosis below is the best single model's."]


def _diagnosis(manifest: dict[str, Any]) -> list[str]:
    stored = manifest.get("diagnosis")
    if not is_current(stored):
        return ["## Diagnosis", "", "No diagnosis was recorded for this trial (the search's "
                "`best.json` was not finalized)."]
    report = Diagnosis.from_record(stored).report().replace("# Diagnosis", "## Diagnosis", 1)
    return report.rstrip("\n").splitlines()


def _performance(manifest: dict[str, Any]) -> list[str]:
    exported = manifest["metrics"]["exported"]
    checked = manifest["verified_on"]
    lines = ["## Size and latency", "",
             f"Parameters: {int(exported.get('params', 0)):,}; weights: "
             f"{exported.get('model_size_mb', 0):.3g} MB; Keras latency for one batch: "
             f"{exported.get('latency_ms', 0):.3g} ms (measured "
             f"{'at export' if 'ensemble' in manifest else 'during training'}).", "",
             f"Each format was loaded back and run on {checked['examples']} real {checked['split']} "
             "examples; the largest difference from the Keras model's outputs, and the time for "
             "that batch on the exporting machine:", ""]
    rows = [
        [name, f"`{info['path']}`", f"{info['bytes'] / 1e6:.3g} MB", f"{info['latency_ms']:.3g} ms",
         f"{info['max_abs_diff']:.2g}"]
        for name, info in manifest["formats"].items()
    ]
    return lines + _table(["format", "path", "size", "latency", "max difference"], rows)


def _loading(manifest: dict[str, Any], how: dict[str, str]) -> list[str]:
    lines = ["## Formats and how to load them", "",
             "`labels.json` holds the task and the label names (the model's output order). "
             "`autodl predict <this folder> INPUT` runs any format on raw input.", ""]
    text = manifest.get("text")
    for name, info in manifest["formats"].items():
        takes = "raw input" if info["raw_text"] or not text else "token ids (see below)"
        lines.append(f"- **{name}** (`{info['path']}`, takes {takes}): `{how[name]}`")
    output = {
        "binary": f"one probability per example, of class {manifest['class_names'][-1]!r}"
        if manifest["class_names"] else "one probability per example",
        "multiclass": "one probability per class, in the order of `labels.json`",
        "regression": "one value per example, in the units of the training targets",
    }[manifest["task"]]
    shape = ", ".join(str(d) for d in manifest["input"]["shape"]) or "scalar"
    lines += ["", f"Input: `{manifest['input']['dtype']}` of shape (batch, {shape}), named "
              f"`{manifest['input']['name']}`; normalization is inside the model, so give raw values. "
              f"Output: {output}."]
    if text:
        lines += ["", "### Text models in TFLite and ONNX", "",
                  "TFLite's built-in ops and ONNX Runtime cannot run the string ops of Keras's "
                  "TextVectorization, so those formats take token ids of shape (batch, "
                  f"{text['sequence_length']}), int64. `{text['vectorizer']}` holds the vocabulary "
                  f"and rules, and `{text['preprocess']}` (Python and NumPy only) applies them:", "",
                  "```python",
                  "from preprocess_text import TextEncoder",
                  f"ids = TextEncoder.from_file(\"{text['vectorizer']}\").encode([\"What a great phone\"])",
                  "```", "",
                  "It matches Keras exactly, including its ASCII-only lower-casing and whitespace "
                  "splitting. The Keras and SavedModel formats take raw strings."]
    return lines


def render(manifest: dict[str, Any], how_to_load: dict[str, str]) -> str:
    """The model card of an export, from its manifest; ``how_to_load`` maps a format to a
    one-line recipe."""
    mlflow = manifest.get("mlflow")
    combined = manifest.get("ensemble")
    what = (f"An ensemble of {combined['size']} {manifest['family']} models" if combined
            else f"A {manifest['family']} model")
    lines = [f"# Model card: {manifest['name']}", "",
             f"{what} for {manifest['task']} on {manifest['input']['kind']} data, found "
             f"by autodl {manifest['autodl_version']} and exported on {manifest['created']}."]
    if mlflow:
        registered = (f"; registered as `models:/{mlflow['registered_name']}/{mlflow['registered_version']}`"
                      if mlflow.get("registered_name") else "")
        lines += ["", f"MLflow: model `{mlflow['model_uri']}` of run `{mlflow['run_id']}` in "
                  f"`{mlflow['tracking_uri']}`{registered}. `mlflow.pyfunc.load_model(\"{mlflow['model_uri']}\")"
                  ".predict(x)` runs it on raw input, as `model.keras` does."]
    sections = (_data, _training, _metrics, *((_ensemble,) if combined else ()), _diagnosis, _performance)
    for section in sections:
        lines += ["", *section(manifest)]
    lines += ["", *_loading(manifest, how_to_load)]
    return "\n".join(lines) + "\n"
