"""`autodl report` of a spec: the tables it prints and the self-contained HTML page it writes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from autodl.cli import app
from autodl.search.study import count_states
from tests.helpers import Searched, write_best_json


def test_report_of_a_spec_prints_the_tables_and_writes_a_self_contained_page(
    coarse_to_fine: Searched, project: Path, runner: CliRunner,
) -> None:
    spec, study = coarse_to_fine.spec, coarse_to_fine.study
    record = write_best_json(project / "best_model" / "fake", study, spec)
    storage = coarse_to_fine.storage
    result = runner.invoke(app, ["report", str(coarse_to_fine.path), "--storage", storage, "--top", "3"])
    assert result.exit_code == 0, result.output
    out = result.output
    counts = count_states(study)
    assert out.startswith(
        f"fake in {storage}: maximize dev_accuracy; {counts['complete']} complete "
        f"({counts['infeasible']} infeasible), {counts['pruned']} pruned, {counts['failed']} failed."
    )
    assert "Best 3 trials" in out and f"#{record['trial']}" in out
    assert "Coarse-to-fine stages" in out and "float [0.9, 0.999] inv_log" in out
    assert "Parameter importances (fANOVA over the complete trials)" in out
    assert f"Best model: trial #{record['trial']} (best_model/fake/best.json)" in out
    assert "Verdict: data mismatch." in out
    assert out.rstrip().endswith("HTML report: reports/fake.html")
    page = (project / "reports" / "fake.html").read_text()
    assert page.count('src="data:image/png;base64,') == 4
    assert "<b>Verdict:</b> data mismatch." in page
    assert "<th>optimizer.learning_rate</th>" in page and "<td>float [0.9, 0.999] inv_log</td>" in page
    assert "make the training data more like dev" in page
