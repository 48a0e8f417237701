"""Streaming image folders and CSV tables through tf.data: only references in memory, the same
examples as reading them whole, and the same clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import yaml

from autodl.data import feed, load_dataset, streams, tables
from autodl.data.images import read_image_folder
from autodl.data.tables import read_table
from autodl.errors import DataError
from autodl.spec.sections import DataSpec
from tests.test_data_images import (
    pets,  # noqa: F401 (fixture)
    write_image,
)


def digits_folder(root: Path, per_class: int | None = None) -> Path:
    """The scikit-learn digits as 8x8 grayscale PNGs, one subfolder per digit."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    counts: dict[int, int] = {}
    for image, label in zip(bunch.images, bunch.target, strict=True):
        counts[label] = counts.get(label, 0) + 1
        if per_class is not None and counts[label] > per_class:
            continue
        path = root / f"digit_{label}" / f"{counts[label]:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        PIL.Image.fromarray((image * 16).clip(0, 255).astype("uint8"), mode="L").save(path)
    return root


def digits_csv(path: Path, rows: int | None = None) -> Path:
    """The digits as a CSV table: 64 pixel columns and a label column."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x, y = bunch.data[:rows], bunch.target[:rows]
    header = ",".join([*(f"p{i}" for i in range(64)), "label"])
    lines = [",".join([*(f"{v:g}" for v in row), f"d{label}"]) for row, label in zip(x, y, strict=True)]
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def test_auto_streams_only_above_one_gibibyte() -> None:
    assert not streams.should_stream("auto", 1 << 30)
    assert streams.should_stream("auto", (1 << 30) + 1)
    assert streams.should_stream(True, 10) and not streams.should_stream(False, 1 << 40)


def test_a_streamed_folder_holds_paths_and_reads_the_same_pixels(pets: Path) -> None:  # noqa: F811
    whole = read_image_folder(pets, None, "rgb")
    streamed = read_image_folder(pets, None, "rgb", stream=True)
    assert streamed.x.dtype.kind == "U" and streamed.x[0].endswith("cat/000.png")
    assert streamed.stream is not None and streamed.stream.shape == (4, 6, 3)
    assert list(streamed.labels) == list(whole.labels) and list(streamed.groups) == list(whole.groups)
    np.testing.assert_array_equal(streamed.stream.read(streamed.x), whole.x)


def test_a_streamed_folder_resizes_like_image_size(pets: Path) -> None:  # noqa: F811
    streamed = read_image_folder(pets, (8, 12), "grayscale", stream=True)
    pixels = streamed.stream.read(streamed.x[:2])
    assert pixels.shape == (2, 8, 12, 1) and pixels.dtype == np.float32


def test_streamed_folder_errors_name_the_file_before_training(pets: Path) -> None:  # noqa: F811
    bad = pets / "dog" / "002.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError, match=rf"^{bad}: cannot read this image \(not a recognised image format\)"):
        read_image_folder(pets, (4, 6), "rgb", stream=True)
    bad.unlink()
    odd = write_image(pets / "fox" / "009.png", size=(5, 5))
    with pytest.raises(DataError, match=rf"^{odd}: this image is 5x5 \(height x width\) but .* set data.image_size"):
        read_image_folder(pets, None, "rgb", stream=True)


def test_streamed_splits_feed_keras_through_tf_data(tmp_path: Path) -> None:
    root = digits_folder(tmp_path / "digits", per_class=30)
    spec = DataSpec(source=str(root), color_mode="grayscale", stream=True)
    data = load_dataset(spec, tmp_path, seed=0)
    assert data.streamed and data.input_shape == (8, 8, 1)
    assert data.sizes() == {"train": 210, "train_dev": 30, "dev": 30, "test": 30}
    assert list(data.train.x) == sorted(data.train.x)
    batches = list(feed.fit_inputs(data.train, 64, seed=1)["x"].as_numpy_iterator())
    assert [len(b[1]) for b in batches] == [64, 64, 64, 18]
    assert batches[0][0].shape == (64, 8, 8, 1) and batches[0][0].dtype == np.float32
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == sorted(data.train.y)
    first = next(iter(feed.predict_inputs(data.splits["dev"], 8)["x"]))
    np.testing.assert_array_equal(first.numpy(), data.splits["dev"].examples(slice(0, 8)))
    np.testing.assert_array_equal(data.splits["dev"].examples(3), first.numpy()[3])


def test_a_streamed_csv_reads_the_same_rows_as_pandas(tmp_path: Path) -> None:
    path = digits_csv(tmp_path / "digits.csv", rows=300)
    whole = read_table(path, None, None, None)
    streamed = read_table(path, None, None, None, stream=True)
    assert streamed.kind == "tabular" and list(streamed.x) == list(range(300))
    assert list(streamed.labels) == list(whole.labels)
    rows = np.array([0, 5, 299])
    np.testing.assert_array_equal(streamed.stream.read(rows), whole.x[rows])


def test_a_streamed_text_column(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\n"good, really",pos\nbad,neg\n"fine",pos\n')
    raw = read_table(path, None, None, "text", stream=True)
    assert raw.kind == "text" and list(raw.labels) == ["pos", "neg", "pos"]
    assert list(raw.stream.read(np.array([0, 2]))) == ["good, really", "fine"]


def test_streamed_csv_errors_give_the_row_of_the_whole_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tables, "CHUNK_ROWS", 50)
    path = digits_csv(tmp_path / "digits.csv", rows=120)
    lines = path.read_text().splitlines()
    cells = lines[102].split(",")
    cells[3] = "oops"
    lines[102] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as streamed:
        read_table(path, None, None, None, stream=True)
    assert str(streamed.value).startswith(
        f"{path}, row 103 (line 103 counting the header), column 'p3' holds 'oops', not a number"
    )
    with pytest.raises(DataError) as whole:
        read_table(path, None, None, None)
    assert str(streamed.value) == str(whole.value)
    with pytest.raises(DataError, match=r"no column 'labl' \(from data.label\); did you mean 'label'\?"):
        read_table(digits_csv(tmp_path / "ok.csv", rows=10), "labl", None, None, stream=True)


def test_a_csv_whose_cells_span_lines_cannot_stream(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('text,label\n"two\nlines",a\none,b\n')
    with pytest.raises(DataError, match=r"quoted cells span lines.*set data.stream: false"):
        read_table(path, None, None, "text", stream=True)


@pytest.mark.slow
def test_search_on_a_streamed_image_folder_and_a_streamed_csv(tmp_path: Path) -> None:
    """The CLI end to end on streamed digits: trials train, the best model is saved and
    predicts as well from the folder as the search measured."""
    root = digits_folder(tmp_path / "digits")
    table = digits_csv(tmp_path / "digits.csv")
    for name, data, model in [
        ("streamed-images", {"source": str(root), "color_mode": "grayscale", "stream": True},
         {"family": "cnn", "blocks": 2, "filters": 32, "kernel_size": 3, "dense_units": 64}),
        ("streamed-table", {"source": str(table), "stream": True},
         {"family": "mlp", "layers": 2, "units": 64}),
    ]:
        spec = {"name": name, "seed": 0, "data": data, "model": model,
                "optimizer": {"name": "adam", "learning_rate": 0.003},
                "training": {"epochs": 8, "batch_size": 32},
                "search": {"trials": 2, "pruner": {"name": "none"}}}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        out = subprocess.run([sys.executable, "-m", "autodl", "search", str(path)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "through tf.data" in out.stderr
        assert f"{name}: stopped (reached 2 trials); 2 complete" in out.stdout
        import json

        record = json.loads((tmp_path / "best_model" / name / "best.json").read_text())
        assert record["metrics"]["dev_accuracy"] >= 0.9
        assert record["metrics"]["test_accuracy"] >= 0.85
        manifest = json.loads((tmp_path / "best_model" / name / "export" / "export.json").read_text())
        assert manifest["formats"]
