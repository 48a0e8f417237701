"""``autodl predict``: reading each input form, the prediction table, and clear errors (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest
from typer.testing import CliRunner

from autodl.cli import app
from autodl.errors import DataError
from autodl.export import predict

IMAGE = {"kind": "image", "name": "inputs", "dtype": "float32", "shape": [4, 6, 1],
         "color_mode": "grayscale"}


TEXT = {"kind": "text", "name": "text", "dtype": "string", "shape": [], "text_column": "review"}


TABLE = {"kind": "tabular", "name": "inputs", "dtype": "float32", "shape": [2],
         "features": ["height", "width"]}


def manifest(described: dict[str, Any], task: str = "multiclass",
             class_names: tuple[str, ...] = ("cat", "dog", "fox")) -> dict[str, Any]:
    return {"input": described, "task": task, "class_names": list(class_names),
            "formats": {"keras": {}, "onnx": {}}}


def write_image(path: Path, value: int, size: tuple[int, int] = (4, 6)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.new("L", (size[1], size[0]), value).save(path)


def test_image_folder_in_class_subfolders_keeps_the_true_labels(tmp_path: Path) -> None:
    write_image(tmp_path / "pets" / "dog" / "b.png", 20)
    write_image(tmp_path / "pets" / "cat" / "a.png", 10)
    write_image(tmp_path / "pets" / "cat" / ".hidden.png", 99)
    (tmp_path / "pets" / "notes.txt").write_text("not an image")
    inputs = predict.read_inputs(tmp_path / "pets", manifest(IMAGE))
    assert inputs.ids == ["cat/a.png", "dog/b.png"] and inputs.labels == ["cat", "dog"]
    assert inputs.x.shape == (2, 4, 6, 1) and inputs.x.dtype == np.float32
    assert inputs.x[0].max() == 10 and inputs.x[1].min() == 20


def test_unlabelled_images_anywhere_below_are_resized_to_the_model_input(tmp_path: Path) -> None:
    write_image(tmp_path / "new" / "x.png", 50, size=(8, 12))
    write_image(tmp_path / "new" / "deeper" / "y.jpg", 60)
    inputs = predict.read_inputs(tmp_path / "new", manifest(IMAGE))
    assert inputs.ids == ["deeper/y.jpg", "x.png"] and inputs.labels is None
    assert inputs.x.shape == (2, 4, 6, 1)
    one = predict.read_inputs(tmp_path / "new" / "x.png", manifest(IMAGE))
    assert one.ids == ["x.png"] and one.x.shape == (1, 4, 6, 1)


def test_text_file_one_sentence_per_line_or_labelled_lines(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("Great phone!\n\n  Awful, it broke.  \n")
    inputs = predict.read_inputs(plain, manifest(TEXT))
    assert inputs.ids == ["line 1", "line 3"] and inputs.texts == ["Great phone!", "Awful, it broke."]
    assert inputs.x.dtype == object and inputs.labels is None
    labelled = tmp_path / "labelled.txt"
    labelled.write_text("Great phone!\t1\nAwful.\t0\n")
    inputs = predict.read_inputs(labelled, manifest(TEXT))
    assert inputs.texts == ["Great phone!", "Awful."] and inputs.labels == ["1", "0"]


def test_table_takes_the_models_columns_in_its_order(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("width,label,height,extra\n3,dog,1.5,x\n4,cat,2,y\n")
    inputs = predict.read_inputs(path, manifest(TABLE))
    assert inputs.x.tolist() == [[1.5, 3.0], [2.0, 4.0]]
    assert inputs.ids == ["row 2", "row 3"] and inputs.labels == ["dog", "cat"]
    texts = tmp_path / "reviews.csv"
    texts.write_text("review\nnice\nbad\n")
    assert predict.read_inputs(texts, manifest(TEXT)).texts == ["nice", "bad"]


def test_npz_with_x_and_optional_y(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.ones((3, 2)), y=np.array([0, 1, 1]))
    inputs = predict.read_inputs(tmp_path / "a.npz", manifest(TABLE))
    assert inputs.x.shape == (3, 2) and inputs.labels == ["0", "1", "1"] and inputs.ids == ["0", "1", "2"]
    np.savez(tmp_path / "t.npz", x=np.array(["fine", "poor"]))
    assert predict.read_inputs(tmp_path / "t.npz", manifest(TEXT)).texts == ["fine", "poor"]


@pytest.mark.parametrize(
    ("make", "described", "message"),
    [
        (lambda d: d / "missing.csv", TABLE,
         "Input not found: {d}/missing.csv does not exist. Give a table (CSV, TSV, Parquet)"),
        (lambda d: _write(d / "rows.csv", "hieght,width\n1,2\n"), TABLE,
         "{d}/rows.csv: no column 'height' (from input.features); did you mean 'hieght'?"),
        (lambda d: _write(d / "rows.csv", "height,width\n1,wide\n"), TABLE,
         "{d}/rows.csv, row 2 (line 2 counting the header), column 'width' holds 'wide', not a number"),
        (lambda d: _write(d / "broken.png", "not a png"), IMAGE,
         "{d}/broken.png: cannot read this image (not a recognised image format)"),
        (lambda d: _write(d / "s.txt", "hello\n"), IMAGE,
         "{d}/s.txt: a .txt file was given, but this model takes image data; give it a folder of images"),
        (lambda d: _npz(d / "x.npz", np.ones((2, 3))), TABLE,
         "{d}/x.npz: each example has shape (3,) but the model takes (2,)."),
        (lambda d: _npz(d / "x.npz", np.array(["a"])), TABLE,
         "{d}/x.npz: x holds strings, but this model takes tabular data"),
        (lambda d: _write(d / "x.npz", "zip? no"), TABLE, "{d}/x.npz: not an .npz file"),
        (lambda d: _write(d / "empty.txt", "\n\n"), TEXT, "{d}/empty.txt is empty: write one sentence per line."),
    ],
)
def test_bad_input_is_one_clear_message(tmp_path: Path, make: Any, described: dict[str, Any], message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(DataError) as caught:
        predict.read_inputs(path, manifest(described))
    assert str(caught.value).startswith(message.format(d=tmp_path)), str(caught.value)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _npz(path: Path, x: np.ndarray) -> Path:
    np.savez(path, x=x)
    return path


def test_table_of_multiclass_binary_and_regression_outputs() -> None:
    inputs = predict.Inputs(np.zeros((2, 2)), ["0", "1"], labels=["dog", "cat"])
    multi = predict.table(np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]]), manifest(TABLE), inputs)
    assert list(multi.columns) == ["id", "label", "prediction", "p_cat", "p_dog", "p_fox"]
    assert multi["prediction"].tolist() == ["dog", "cat"]
    binary = predict.table(np.array([[0.8], [0.3]]), manifest(TABLE, "binary", ("neg", "pos")),
                           predict.Inputs(np.zeros((2, 2)), ["0", "1"], texts=["a", "b"]))
    assert list(binary.columns) == ["id", "text", "prediction", "p_neg", "p_pos"]
    assert binary["prediction"].tolist() == ["pos", "neg"]
    assert binary["p_neg"].tolist() == pytest.approx([0.2, 0.7])
    values = predict.table(np.array([[1.5], [-2.0]]), manifest(TABLE, "regression", ()),
                           predict.Inputs(np.zeros((2, 2)), ["0", "1"]))
    assert list(values.columns) == ["id", "prediction"] and values["prediction"].tolist() == [1.5, -2.0]


def test_format_choice_defaults_to_keras_and_names_what_exists() -> None:
    assert predict.choose_format(manifest(TABLE), None) == "keras"
    assert predict.choose_format({"formats": {"onnx": {}}}, None) == "onnx"
    with pytest.raises(DataError, match="This export has no tflite model; it holds keras, onnx."):
        predict.choose_format(manifest(TABLE), "tflite")


def test_cli_folder_without_an_export_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "best").mkdir()
    (tmp_path / "s.txt").write_text("hello\n")
    result = runner.invoke(app, ["predict", str(tmp_path / "best"), str(tmp_path / "s.txt")])
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert (f"Error: {tmp_path / 'best'} holds no exported model (no export.json in it or in export/; "
            "it is empty).") in flat
    assert "Run `autodl export SPEC` first" in flat and "Traceback" not in result.output


@pytest.mark.parametrize(("make", "held"), [
    (lambda folder: None, "it does not exist"),
    (lambda folder: folder.write_text("x"), "it is a file, not a folder"),
    (lambda folder: [folder.mkdir(), (folder / "model.keras").write_text("x"), (folder / "plots").mkdir()],
     "it holds model.keras, plots/"),
])
def test_cli_predict_without_an_export_says_what_is_there_and_creates_nothing(
    make: Callable[[Path], object], held: str, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.txt").write_text("hello\n")
    make(tmp_path / "best")
    before = sorted(tmp_path.rglob("*"))
    result = runner.invoke(app, ["predict", str(tmp_path / "best"), "s.txt", "--out", "out/p.csv"])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert f"(no export.json in it or in export/; {held})" in flat
    assert sorted(tmp_path.rglob("*")) == before


def test_a_corrupt_manifest_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "export.json").write_text("{not json")
    with pytest.raises(DataError, match=r"export.json is not a valid export manifest"):
        predict.open_export(tmp_path)


def test_cli_missing_input_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "export.json").write_text(json.dumps(manifest(TEXT)))
    result = runner.invoke(app, ["predict", str(folder), str(tmp_path / "nope.txt")])
    assert result.exit_code == 2
    assert "Input not found" in " ".join(result.output.split())
