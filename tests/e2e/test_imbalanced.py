"""End to end: a real table with a rare class (the digits as 64 pixel columns, "nine" kept at 5% of
the rows), searched with and without ``training.class_weight: balanced``; weighting the rare class
raises dev balanced accuracy beyond its noise.

Marked slow (it trains networks); CI runs it too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from autodl.cli import app

pytestmark = pytest.mark.slow


def nines_table(path: Path) -> None:
    """The digits, "nine" against "other", with the nines thinned to 5% of the rows."""
    import pandas as pd
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    common = np.flatnonzero(digits.target != 9)
    rare = rng.choice(np.flatnonzero(digits.target == 9), size=int(0.05 / 0.95 * len(common)), replace=False)
    rows = rng.permutation(np.concatenate([common, rare]))
    table = pd.DataFrame(digits.data[rows], columns=[f"p{i}" for i in range(64)])
    table["label"] = np.where(digits.target[rows] == 9, "nine", "other")
    table.to_csv(path, index=False)


def searched(folder: Path, class_weight: Any) -> dict[str, Any]:
    name = f"nines-{class_weight}"
    spec = {"name": name, "data": {"source": "nines.csv",
                                   "split": {"train": 0.5, "train_dev": 0.1, "dev": 0.4, "test": 0.0}},
            "model": {"family": "mlp", "layers": 1, "units": 8},
            "optimizer": {"name": "adam", "learning_rate": 0.003},
            "training": {"epochs": 5, "batch_size": 32, "class_weight": class_weight},
            "search": {"trials": 1, "pruner": {"name": "none"}, "objective": {"metric": "dev_balanced_accuracy"}},
            "diagnostics": {"baselines": False}, "export": {"formats": []}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = CliRunner().invoke(app, ["search", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    return json.loads((folder / "best_model" / name / "best.json").read_text())


def two_se(record: dict[str, Any], counts: dict[str, int]) -> float:
    """Two standard errors of a balanced accuracy: half the root of the per-class recall variances."""
    recall = record["error_analysis"]["per_class_recall"]
    return 2 * 0.5 * math.sqrt(sum(r * (1 - r) / counts[c] for c, r in recall.items()))


def test_balanced_class_weights_raise_dev_balanced_accuracy_on_a_rare_class(project: Path) -> None:
    nines_table(project / "nines.csv")
    plain, weighted = searched(project, "none"), searched(project, "balanced")
    counts = {"nine": 0, "other": 0}
    analysis = (project / "best_model" / "nines-balanced" / "analysis" / "analysis.md").read_text()
    for line in analysis.splitlines()[4:6]:
        name, _, _, examples = (cell.strip() for cell in line.strip("|").split("|"))
        counts[name] = int(examples)
    assert analysis.splitlines()[2] == "| class | recall | error | examples |"
    assert 20 <= counts["nine"] <= 0.06 * sum(counts.values())
    ours, theirs = weighted["metrics"]["dev_balanced_accuracy"], plain["metrics"]["dev_balanced_accuracy"]
    margin = math.hypot(two_se(weighted, counts), two_se(plain, counts))
    print(f"dev balanced accuracy with {counts['nine']} nines among {sum(counts.values())}: balanced class "
          f"weights {ours:.3f}, none {theirs:.3f} (2 SE of the difference {margin:.3f})")
    assert ours - theirs > margin
    assert weighted["error_analysis"]["per_class_recall"]["nine"] > plain["error_analysis"]["per_class_recall"]["nine"]
    assert plain["metrics"]["dev_accuracy"] > 0.9  # accuracy alone hides the missed nines
