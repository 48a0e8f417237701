"""The export bundle: options from the spec, the output folder, a failed export after a search,
and `autodl export` without a search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from autodl.cli import app
from autodl.data.dataset import Dataset, Split
from autodl.errors import AutodlError, SpecError
from autodl.export import bundle
from autodl.spec.document import load_spec
from tests.helpers import load_digit_images, minimal_spec


def test_spec_export_section_defaults_and_checks(write_spec: Any) -> None:
    spec = load_spec(write_spec(minimal_spec()))
    assert (spec.export.formats, spec.export.retrain, spec.export.include_dev, spec.export.registry) == (
        ["keras", "saved_model"], False, False, False
    )
    assert bundle.options(spec) == bundle.ExportOptions(["keras", "saved_model"], False, False, None)
    named = load_spec(write_spec(minimal_spec(export={"registry": "digits-prod", "formats": []})))
    assert bundle.options(named) == bundle.ExportOptions([], False, False, "digits-prod")
    assert bundle.registry_name(spec, True) == "tiny"
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(minimal_spec(export={"formats": ["keras", "pb"]})))
    message = str(caught.value)
    assert "export.formats.1" in message and "'keras', 'saved_model', 'tflite' or 'onnx'" in message
    with pytest.raises(SpecError, match="include_dev adds dev to a retraining; set retrain: true"):
        load_spec(write_spec(minimal_spec(export={"include_dev": True})))


def test_an_existing_folder_is_replaced_only_when_it_is_an_export(tmp_path: Path) -> None:
    bundle.check_out(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    bundle.check_out(tmp_path / "empty")
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / bundle.MANIFEST_FILE).write_text("{}")
    bundle.check_out(earlier)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(AutodlError, match="is not an autodl export .* Choose another --out"):
        bundle.check_out(tmp_path / "mine")


def test_a_failed_export_after_a_search_is_reported_and_leaves_nothing_behind(
    write_spec: Any, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = load_spec(write_spec(minimal_spec(export={"dir": str(project / "best")})))
    x, y = load_digit_images()
    split = Split(x[:10], y[:10])
    data = Dataset("digits", "image", "multiclass", {s: split for s in ("train", "train_dev", "dev", "test")},
                   tuple(str(i) for i in range(10)))
    record = {"trial": 3, "config": {"model": {"family": "cnn"}}, "metrics": {}}
    with caplog.at_level("ERROR", logger="autodl"):
        assert bundle.after_search(spec, record, data, None) is None
    assert "export failed:" in caplog.text and "no saved model of the best trial #3" in caplog.text
    assert "Run `autodl export` once it is fixed." in caplog.text
    assert sorted(p.name for p in (project / "best").iterdir()) == []


def test_cli_export_without_a_search_exits_2(runner: CliRunner, write_spec: Any, project: Path) -> None:
    spec = write_spec(minimal_spec(tracking={"enabled": False}))
    result = runner.invoke(app, ["export", str(spec), "--formats", "keras"])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "No study 'tiny' in sqlite:///mlruns/optuna.db" in flat and "nothing to export" in flat
    assert "Run `autodl search SPEC` first" in flat
    bad = runner.invoke(app, ["export", str(spec), "--formats", "keras,pb"])
    assert bad.exit_code == 2
    assert (
        "Unknown export format. Expected one of keras, saved_model, tflite, onnx (or all)."
        in " ".join(bad.output.split())
    )
