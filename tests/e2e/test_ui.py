"""The MLflow UI and optuna-dashboard as a user first sees them, on one small real search (the
digits as a table, an MLP, 3 trials of 2 epochs): `autodl ui SPEC` read back over REST and in
headless Chromium, `autodl dashboard SPEC` in Chromium, the logged model served through
``mlflow.pyfunc``, and only the hyperparameters in effect logged everywhere.

The browser checks need Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them);
they are skipped, with the reason, only where no browser is installed. Screenshots are saved in a
temporary folder and their paths printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from autodl.cli import app
from tests.helpers import digits_csv, free_port, open_local

# One search is shared by the module's tests, so they run in one test process under `pytest -n`.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui")]

NAME = "ui-table"
TRIALS = 3
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SPEC = {
    "name": NAME, "seed": 0,
    "data": {"source": "digits.csv"},
    "model": {"family": "mlp", "layers": 1, "units": {"choice": [16, 32]}, "dropout": {"float": [0.0, 0.3]}},
    "optimizer": {"name": {"choice": ["adam", "sgd"]}, "learning_rate": {"float": [0.003, 0.03], "scale": "log"}},
    "training": {"epochs": 2, "batch_size": 64},
    "search": {"trials": TRIALS, "pruner": {"name": "median", "startup_trials": 1, "warmup_epochs": 0}},
    "diagnostics": {"baselines": False},
    "tracking": {"system_metrics": True},
    "export": {"formats": ["keras"], "registry": True},
}


@dataclass(frozen=True)
class Searched:
    """The project folder of the finished search, its spec file and MLflow store."""

    folder: Path
    spec: Path
    store: str


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Searched:
    """One real search, shared by every check of this module."""
    folder = tmp_path_factory.mktemp("ui")
    digits_csv(folder / "digits.csv")
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.5")
        result = CliRunner().invoke(app, ["search", str(spec), "--quiet"])
    assert result.exit_code == 0, result.output
    return Searched(folder, spec, f"sqlite:///{folder}/mlruns/mlflow.db")


@contextmanager
def served(command: list[str], folder: Path, answers: str) -> Iterator[str]:
    """Run an ``autodl`` server command in ``folder`` until ``answers`` (a URL) responds; yield
    its stdout so far, and stop it (and its children) however the block ends."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    log = folder / f"server-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "autodl", *command], cwd=folder, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600  # the UI's workers start slowly on a loaded 2-core machine
        while True:
            try:
                with open_local(answers, timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{command[0]} did not answer (exit code {server.poll()}):\n{log.read_text()[-3000:]}")
                time.sleep(1)
        yield log.read_text()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def printed(output: str, label: str) -> str:
    """The address ``autodl ui`` / ``autodl dashboard`` printed after ``label``."""
    lines = [line for line in output.splitlines() if line.startswith(label)]
    assert lines, f"no line starting {label!r} in:\n{output}"
    return lines[0].removeprefix(label).strip()


def rest(base: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(f"{base}/api/2.0/mlflow/{endpoint}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with open_local(request, timeout=30) as response:
        return json.loads(response.read())


def tags(run: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["data"].get("tags", [])}


@pytest.fixture(scope="module")
def ui(searched: Searched) -> Iterator[tuple[str, str]]:
    """`autodl ui SPEC` on the search's store: the UI's base URL and the experiment page it printed."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with served(["ui", str(searched.spec), "--port", str(port)], searched.folder, f"{base}/health") as output:
        assert f"MLflow UI on {base} (Ctrl-C to stop)" in output
        yield base, printed(output, f"Experiment {NAME}:")


@pytest.fixture
def browser(tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Headless Chromium driven by Selenium through Debian's chromedriver (nothing downloaded); its
    ``shot(name)`` saves a screenshot and prints where."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        pytest.skip(f"no browser: {', '.join(missing)} missing (apt-get install -y chromium chromium-driver; "
                    ".ci/run does)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000",
                     "--no-proxy-server"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    shots = tmp_path_factory.mktemp("screenshots")

    def shot(name: str) -> Path:
        path = shots / f"{name}.png"
        driver.save_screenshot(str(path))
        with capsys.disabled():
            print(f"\nscreenshot: {path}")
        return path

    driver.shot = shot
    try:
        yield driver
    finally:
        driver.quit()


def visible(driver: Any, text: str, timeout: float = 60) -> Any:
    """The first element showing exactly ``text``, once the page has rendered it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    locator = (By.XPATH, f"//*[normalize-space(text())={json.dumps(text)}]")
    return WebDriverWait(driver, timeout).until(expected_conditions.visibility_of_element_located(locator))


def page_text(driver: Any, contains: str, timeout: float = 60) -> str:
    """The page's text once it contains ``contains``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def found(d: Any) -> bool:
        return contains in d.find_element(By.TAG_NAME, "body").text

    WebDriverWait(driver, timeout).until(found)
    return str(driver.find_element(By.TAG_NAME, "body").text)


def test_the_ui_lists_the_search_and_its_trials_over_rest(searched: Searched, ui: tuple[str, str]) -> None:
    base, page = ui
    experiment = rest(base, "experiments/search", {"filter": f"name = '{NAME}'", "max_results": 5})["experiments"][0]
    assert page == f"{base}/#/experiments/{experiment['experiment_id']}/runs?workflowType=machine_learning"
    assert {t["key"]: t["value"] for t in experiment["tags"]}["mlflow.experimentKind"] == "custom_model_development"
    runs = rest(base, "runs/search", {"experiment_ids": [experiment["experiment_id"]], "max_results": 50})["runs"]
    parents = [r for r in runs if "mlflow.parentRunId" not in tags(r)]
    assert [r["info"]["run_name"] for r in parents] == [f"{NAME}-search"]
    children = sorted((r for r in runs if "mlflow.parentRunId" in tags(r)), key=lambda r: r["info"]["run_name"])
    assert [r["info"]["run_name"] for r in children] == ["trial-000", "trial-001", "trial-002"]
    assert [tags(r)["trial"] for r in children] == ["0", "1", "2"]
    note = tags(parents[0])["mlflow.note.content"]
    assert note.startswith(f"**autodl search `{NAME}`**: finished.\n\n**Best trial:** #")
    assert "2 standard errors, on 180 examples); measured once on test: test_accuracy = " in note
    assert "**Verdict:** " in note and "**Trials:** " in note and "logged model `models:/m-" in note
    for child in children:
        state = tags(child)["state"]
        assert tags(child)["mlflow.note.content"].startswith(f"**{state}**")
        if state == "pruned":
            assert " is below the median of the " in tags(child)["prune_reason"]
        metrics = {m["key"] for m in child["data"]["metrics"]}
        assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= metrics


def test_the_ui_opens_on_the_training_runs_in_a_real_browser(
    searched: Searched, ui: tuple[str, str], browser: Any,
) -> None:
    from selenium.webdriver.common.by import By

    base, page = ui
    browser.get(page)
    parent = visible(browser, f"{NAME}-search")
    text = page_text(browser, f"{NAME}-search")
    assert "Runs" in text.splitlines() and "No data available" not in text, "the training runs, not GenAI's overview"
    browser.shot("1-experiment")
    link = parent.find_element(By.XPATH, "./ancestor::a").get_attribute("href")
    assert "/runs/" in link
    parent.find_element(By.XPATH, "./ancestor::*[@role='gridcell']//button").click()
    for number in range(TRIALS):
        visible(browser, f"trial-{number:03d}")
    browser.shot("2-trials-expanded")
    browser.get(link)
    text = page_text(browser, "Best trial:")
    assert f"autodl search {NAME}: finished." in text and "Verdict:" in text
    assert "trial-000" in text, "the parent's page lists its child runs"
    visible(browser, "Show more").click()
    text = page_text(browser, "Compare the trials:")
    assert "Trials: " in text and "Where: best model " in text
    browser.shot("3-parent-run")


def test_optuna_dashboard_names_the_objective_and_counts_the_trials(searched: Searched, browser: Any) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with served(["dashboard", str(searched.spec), "--port", str(port)], searched.folder,
                f"{base}/api/studies") as output:
        study = printed(output, f"Study {NAME}:")
        assert study == f"{base}/dashboard/studies/1"
        browser.get(study)
        text = page_text(browser, "Hyperparameter Importance")
        assert "dev_accuracy" in text and "Objective 0" not in text
        browser.shot("4-dashboard-study")
        browser.get(f"{study}/trials")
        text = page_text(browser, f"{TRIALS} Trials")
        assert "mlflow_run_id" in text, "each trial leads to its MLflow run"
        browser.shot("5-dashboard-trials")


def test_the_logged_model_serves_table_rows_through_pyfunc(searched: Searched) -> None:
    import keras
    import mlflow
    import pandas as pd

    export = searched.folder / "best_model" / NAME / "export"
    manifest = json.loads((export / "export.json").read_text())
    features = manifest["input"]["features"]
    rows = pd.read_csv(searched.folder / "digits.csv").iloc[::40][features].astype("float32")
    reference = keras.saving.load_model(export / "model.keras").predict(rows.to_numpy(), verbose=0)
    mlflow.set_tracking_uri(searched.store)
    by_run = mlflow.pyfunc.load_model(f"runs:/{manifest['mlflow']['run_id']}/model")
    registered = mlflow.pyfunc.load_model(f"models:/{NAME}/1")
    np.testing.assert_allclose(np.asarray(by_run.predict(rows)), reference, atol=1e-5)
    np.testing.assert_allclose(np.asarray(registered.predict(rows.to_numpy())), reference, atol=1e-5)


def test_only_the_hyperparameters_in_effect_are_logged(searched: Searched) -> None:
    import optuna
    from mlflow.tracking import MlflowClient

    client = MlflowClient(searched.store)
    experiment = client.get_experiment_by_name(NAME).experiment_id
    runs = client.search_runs([experiment])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    study = optuna.load_study(study_name=NAME, storage=f"sqlite:///{searched.folder}/mlruns/optuna.db")
    assert study.metric_names == ["dev_accuracy"]
    by_id = {r.info.run_id: r for r in runs}
    for trial in study.trials:
        run = by_id[trial.user_attrs["mlflow_run_id"]]
        assert run.data.tags["trial"] == str(trial.number)
        assert set(run.data.params) == set(trial.user_attrs["params"])
        assert "training.loss" not in run.data.params, "a classifier has no regression loss"
        name = trial.user_attrs["params"]["optimizer.name"]
        assert ("optimizer.momentum" in run.data.params) is (name == "sgd")
        assert ("optimizer.beta_1" in run.data.params) is (name == "adam")
        assert not {"optimizer.rho", "optimizer.weight_decay", "optimizer.decay_rate"} & set(run.data.params)
    best = json.loads((searched.folder / "best_model" / NAME / "best.json").read_text())
    logged = {k.removeprefix("best."): v for k, v in parent.data.tags.items() if k.startswith("best.")}
    assert set(logged) == set(best["hyperparameters"]) and "training.loss" not in logged
    card = (searched.folder / "best_model" / NAME / "export" / "MODEL_CARD.md").read_text()
    assert "| training.batch_size | 64 |" in card and "training.loss" not in card
    assert f"`models:/{NAME}/1`" in card and "mlflow.pyfunc.load_model" in card
