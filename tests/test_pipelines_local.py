"""Both example pipelines end to end on this machine, through the same service and CLI
that `make demo` uses."""

import json
import subprocess
import sys

import joblib
import pandas as pd
import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError, RunError
from kfp_gcp.services.pipelines import local_run
from kfp_gcp.services.project import load, select


def run_json(repo, *args):
    result = CliRunner().invoke(app, ["--project-dir", str(repo.root), "-o", "json", *args])
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


def steps_by_name(run):
    return {s["name"]: s for s in run["steps"]}


@pytest.mark.slow
def test_training_pipeline_trains_evaluates_and_exports(repo):
    result, run = run_json(
        repo,
        "pipelines",
        "run",
        "training",
        "--local",
        "-p",
        "dataset=iris",
        "-p",
        "n_estimators=20",
        "-p",
        "accuracy_threshold=0.5",
    )
    assert result.exit_code == 0, result.output
    assert run["status"] == "succeeded"
    assert run["parameters"] == {"dataset": "iris", "n_estimators": 20, "accuracy_threshold": 0.5}
    steps = steps_by_name(run)
    assert list(steps) == [
        "load-dataset",
        "split-dataset",
        "train-model",
        "evaluate-model",
        "export-model",
    ]
    assert all(s["status"] == "succeeded" and s["seconds"] > 0 for s in steps.values())

    metrics = {m["name"]: m["value"] for m in run["metrics"]}
    assert set(metrics) == {"accuracy", "f1_macro"}
    assert metrics["accuracy"] >= 0.85
    assert run["outputs"]["Output"] == pytest.approx(metrics["accuracy"], abs=1e-4)

    artifacts = {(a["step"], a["name"]): a for a in run["artifacts"]}
    exported = artifacts[("export-model", "exported")]
    assert exported["type"] == "Model"
    model = joblib.load(repo.root / exported["path"])
    test = pd.read_csv(repo.root / artifacts[("split-dataset", "test")]["path"])
    accuracy = (model.predict(test.drop(columns=["target"])) == test["target"]).mean()
    assert accuracy == pytest.approx(metrics["accuracy"], abs=1e-4)
    assert model.n_estimators == 20
    assert (repo.root / run["log"]).read_text().count("Executing task") == 5


@pytest.mark.slow
def test_training_skips_the_export_below_the_threshold(repo):
    pipeline = load(repo, select(repo, "pipeline", ["training"])[0])
    run = local_run.run(
        repo, pipeline, {"dataset": "iris", "n_estimators": 5, "accuracy_threshold": 1.01}
    )
    assert run.status == "succeeded"
    statuses = {s.name: s.status for s in run.steps}
    assert statuses["evaluate-model"] == "succeeded"
    assert statuses["export-model"] == "skipped"
    assert not any(a.step == "export-model" for a in run.artifacts)


@pytest.mark.slow
def test_sweep_runs_every_candidate_and_exports_the_best(repo):
    candidates = [
        {
            "algorithm": "logistic_regression",
            "n_estimators": 0,
            "max_depth": 0,
            "regularization": 0.0001,
        },
        {"algorithm": "random_forest", "n_estimators": 10, "max_depth": 3, "regularization": 1.0},
    ]
    result, run = run_json(
        repo,
        "pipelines",
        "run",
        "sweep",
        "--local",
        "-p",
        "dataset=iris",
        "-p",
        f"candidates={json.dumps(candidates)}",
    )
    assert result.exit_code == 0, result.output
    steps = [s["name"] for s in run["steps"]]
    assert sorted(steps) == sorted(
        [
            "load-dataset",
            "split-dataset",
            "train-model",
            "train-model #2",
            "evaluate-model",
            "evaluate-model #2",
            "select-best",
            "export-model",
        ]
    )
    accuracies = [m["value"] for m in run["metrics"] if m["name"] == "accuracy"]
    assert len(accuracies) == 2
    # The heavily regularised candidate is worse, so the choice is not a coin toss.
    assert min(accuracies) < max(accuracies)
    assert run["outputs"]["Output"] == pytest.approx(max(accuracies), abs=1e-4)
    best = next(a for a in run["artifacts"] if a["step"] == "select-best")
    assert joblib.load(repo.root / best["path"]).__class__.__name__ == "RandomForestClassifier"


@pytest.mark.slow
def test_a_failing_step_fails_the_run_with_the_step_and_the_log(make_project):
    project = make_project(
        pipelines={
            "broken": """
        from kfp import dsl
        from components.load_dataset.component import load_dataset

        @dsl.pipeline(name="broken")
        def broken(dataset: str = "no_such_dataset"):
            load_dataset(name=dataset)
    """
        }
    )
    result = CliRunner().invoke(
        app, ["--project-dir", str(project.root), "pipelines", "run", "broken", "--local"]
    )
    assert result.exit_code == RunError.exit_code
    assert "in step load-dataset" in result.stderr
    log = next(project.runs_dir.glob("broken-*/kfp-local.log"))
    assert "unknown dataset 'no_such_dataset'" in log.read_text()
    assert str(log.relative_to(project.root)) in result.stderr


def test_bad_parameters_stop_the_run_before_anything_starts(make_project):
    project = make_project(
        pipelines={
            "tiny": """
        from kfp import dsl
        from components.load_dataset.component import load_dataset

        @dsl.pipeline(name="tiny")
        def tiny(dataset: str = "iris", rows: int = 3):
            load_dataset(name=dataset)
    """
        }
    )
    for args, message in (
        (["-p", "rows=three"], "parameter 'rows' must be an integer, got 'three'"),
        (["-p", "colour=red"], "pipeline 'tiny' has no parameter 'colour'"),
    ):
        result = CliRunner().invoke(
            app, ["--project-dir", str(project.root), "pipelines", "run", "tiny", "--local", *args]
        )
        assert result.exit_code == ConfigError.exit_code
        assert message in result.stderr
    assert not project.runs_dir.exists()


@pytest.mark.slow
def test_two_runs_at_once_each_report_their_own_folder(make_project):
    # Two terminals (or two test workers) running the same pipeline in the same second.
    project = make_project(
        pipelines={
            "echo": """
        from kfp import dsl

        @dsl.component(base_image="python:3.11")
        def say(word: str) -> str:
            return word

        @dsl.pipeline(name="echo")
        def echo(word: str = "a") -> str:
            return say(word=word).output
    """
        }
    )
    command = [sys.executable, "-m", "kfp_gcp", "--project-dir", str(project.root), "-o", "json"]
    runs = [
        subprocess.Popen(
            [*command, "pipelines", "run", "echo", "--local", "-p", f"word={word}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for word in ("first", "second")
    ]
    reports = []
    for process in runs:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        reports.append(json.loads(out))
    assert [r["outputs"]["Output"] for r in reports] == ["first", "second"]
    assert reports[0]["run_dir"] != reports[1]["run_dir"]
    assert reports[0]["log"] != reports[1]["log"]
    for report in reports:
        # Each log holds exactly its own run's one task.
        assert (project.root / report["log"]).read_text().count("Executing task") == 1
