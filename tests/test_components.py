"""Each component on tiny data, through kfp.local as on a laptop, plus direct calls of the
Python functions for the input checks (a task through kfp.local costs ~5 s here)."""

import importlib.metadata
import re
from typing import NamedTuple

import joblib
import pandas as pd
import pytest
from kfp.dsl import ClassificationMetrics, Dataset, Metrics, Model

from kfp_gcp.services.pipelines.local_run import init_local, task_environment
from kfp_gcp.services.project import Project, discover, load
from tests.conftest import REPO

# `make test` runs on every core (--dist loadgroup): this module stays on one worker,
# so its kfp.local chain runs once.
pytestmark = pytest.mark.xdist_group("kfp-local-components")


@pytest.fixture(scope="module")
def components(tmp_path_factory):
    project = Project(REPO)
    init_local(tmp_path_factory.mktemp("kfp-local"))
    with task_environment():
        yield {s.name: load(project, s) for s in discover(project, "component")}


@pytest.fixture(scope="module")
def chain(components):
    """Every component's outputs from one local run: kfp.local passes artifacts between
    tasks only inside a pipeline."""
    from kfp import dsl

    Outputs = NamedTuple(  # noqa: UP014 (kfp reads the functional form)
        "Outputs",
        dataset=Dataset,
        train=Dataset,
        test=Dataset,
        logistic=Model,
        forest=Model,
        metrics=Metrics,
        confusion=ClassificationMetrics,
        accuracy=float,
        exported=Model,
    )

    @dsl.pipeline(name="component-chain")
    def component_chain() -> Outputs:
        data = components["load_dataset"](name="iris")
        split = components["split_dataset"](
            dataset=data.outputs["dataset"], test_fraction=0.2, seed=1
        )
        logistic = components["train_model"](
            train=split.outputs["train"], algorithm="logistic_regression"
        )
        forest = components["train_model"](
            train=split.outputs["train"], n_estimators=7, max_depth=2, seed=3
        )
        evaluation = components["evaluate_model"](
            model=logistic.outputs["model"], test=split.outputs["test"]
        )
        exported = components["export_model"](
            model=logistic.outputs["model"], accuracy=0.91234, model_name="iris"
        )
        return Outputs(
            dataset=data.outputs["dataset"],
            train=split.outputs["train"],
            test=split.outputs["test"],
            logistic=logistic.outputs["model"],
            forest=forest.outputs["model"],
            metrics=evaluation.outputs["metrics"],
            confusion=evaluation.outputs["confusion"],
            accuracy=evaluation.outputs["Output"],
            exported=exported.outputs["exported"],
        )

    return component_chain().outputs


@pytest.mark.slow
def test_load_dataset_writes_the_whole_dataset_with_its_label(chain):
    dataset = chain["dataset"]
    frame = pd.read_csv(dataset.path)
    assert frame.shape == (150, 5)
    assert sorted(frame["target"].unique()) == [0, 1, 2]
    assert dataset.metadata == {"rows": 150, "features": 4, "classes": 3}


@pytest.mark.slow
def test_split_is_stratified_disjoint_and_complete(chain):
    original = pd.read_csv(chain["dataset"].path)
    train = pd.read_csv(chain["train"].path)
    test = pd.read_csv(chain["test"].path)
    assert (len(train), len(test)) == (120, 30)
    assert test["target"].value_counts().to_dict() == {0: 10, 1: 10, 2: 10}
    both = pd.concat([train, test]).sort_values(list(original.columns)).reset_index(drop=True)
    assert both.equals(original.sort_values(list(original.columns)).reset_index(drop=True))
    assert chain["test"].metadata == {"rows": 30}


@pytest.mark.slow
def test_trained_model_predicts_held_out_rows(chain):
    test = pd.read_csv(chain["test"].path)
    model = joblib.load(chain["logistic"].path)
    accuracy = (model.predict(test.drop(columns=["target"])) == test["target"]).mean()
    assert accuracy > 0.8
    assert chain["logistic"].metadata["algorithm"] == "logistic_regression"


@pytest.mark.slow
def test_random_forest_hyper_parameters_reach_the_estimator(chain):
    model = joblib.load(chain["forest"].path)
    assert (model.n_estimators, model.max_depth, model.random_state) == (7, 2, 3)
    assert chain["forest"].metadata["n_estimators"] == 7


@pytest.mark.slow
def test_evaluation_matches_an_independent_computation(chain):
    test = pd.read_csv(chain["test"].path)
    predicted = joblib.load(chain["logistic"].path).predict(test.drop(columns=["target"]))
    expected = float((predicted == test["target"]).mean())
    assert chain["accuracy"] == pytest.approx(expected)
    assert chain["metrics"].metadata["accuracy"] == round(expected, 4)
    assert 0 < chain["metrics"].metadata["f1_macro"] <= 1
    matrix = chain["confusion"].metadata["confusionMatrix"]
    assert [a["displayName"] for a in matrix["annotationSpecs"]] == ["0", "1", "2"]
    rows = [r["row"] for r in matrix["rows"]]
    assert sum(map(sum, rows)) == 30
    assert sum(rows[i][i] for i in range(3)) == round(expected * 30)


@pytest.mark.slow
def test_export_copies_the_model_and_records_its_accuracy(chain):
    exported = chain["exported"]
    with open(exported.path, "rb") as copy, open(chain["logistic"].path, "rb") as src:
        assert copy.read() == src.read()
    assert exported.metadata["model_name"] == "iris"
    assert exported.metadata["accuracy"] == 0.9123
    assert exported.metadata["algorithm"] == "logistic_regression"


@pytest.mark.slow
def test_a_failing_component_fails_its_local_run(components):
    with pytest.raises(RuntimeError, match="load-dataset"):
        components["load_dataset"](name="no_such_dataset")


# Input checks, called directly: the same code that runs in the container.


@pytest.mark.slow  # imports scikit-learn's datasets: ~2 s of CPU
def test_load_dataset_names_the_valid_choices(components, tmp_path):
    with pytest.raises(ValueError, match="breast_cancer, digits, iris, wine"):
        components["load_dataset"].python_func(
            dataset=Dataset(uri=str(tmp_path / "d")), name="titanic"
        )


def tiny_dataset(tmp_path) -> Dataset:
    """Four labelled rows written directly: input checks need no kfp.local run."""
    path = tmp_path / "tiny.csv"
    path.write_text("f0,f1,target\n0.1,1.0,0\n0.2,0.9,0\n0.9,0.1,1\n0.8,0.2,1\n")
    return Dataset(uri=str(path))


def test_split_rejects_a_fraction_outside_zero_and_one(components, tmp_path):
    with pytest.raises(ValueError, match="test_fraction must be between 0 and 1"):
        components["split_dataset"].python_func(
            dataset=tiny_dataset(tmp_path),
            train=Dataset(uri=str(tmp_path / "a")),
            test=Dataset(uri=str(tmp_path / "b")),
            test_fraction=1.5,
        )


def test_train_rejects_an_unknown_algorithm(components, tmp_path):
    with pytest.raises(ValueError, match="random_forest or logistic_regression"):
        components["train_model"].python_func(
            train=tiny_dataset(tmp_path),
            model=Model(uri=str(tmp_path / "m")),
            algorithm="svm",
        )


def test_select_best_prefers_the_higher_accuracy_then_the_earlier_candidate(components, tmp_path):
    candidates = []
    for i in range(3):
        (tmp_path / f"m{i}").write_text(f"model {i}")
        candidate = Model(uri=str(tmp_path / f"m{i}"))
        candidate.metadata["index"] = i
        candidates.append(candidate)
    best = Model(uri=str(tmp_path / "best"))
    score = components["select_best"].python_func(
        models=candidates, accuracies=[0.8, 0.9, 0.9], best=best
    )
    assert score == 0.9
    assert (tmp_path / "best").read_text() == "model 1"
    assert best.metadata == {"index": 1, "accuracy": 0.9, "candidates": 3}
    with pytest.raises(ValueError, match="2 models and 1 accuracies"):
        components["select_best"].python_func(models=candidates[:2], accuracies=[0.5], best=best)


# What the cluster gets.


def test_cluster_packages_are_the_versions_local_runs_use(repo):
    from kfp_gcp.services.pipelines.catalog import packages_installed

    for source in discover(repo, "component"):
        for requirement in packages_installed(load(repo, source)):
            name, _, pinned = requirement.partition("==")
            assert pinned, f"{source.name}: {requirement} is not pinned with =="
            assert importlib.metadata.version(name) == pinned, (
                f"{source.name} installs {requirement} on the cluster but "
                f"{importlib.metadata.version(name)} runs locally; update components/runtime.py"
            )


def test_every_component_image_is_pinned_to_a_patch_release(repo):
    for source in discover(repo, "component"):
        image = load(repo, source).component_spec.implementation.container.image
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", image), (source.name, image)


def test_components_are_documented(repo):
    for source in discover(repo, "component"):
        component = load(repo, source)
        assert component.description, f"{source.name} has no docstring"
        for name, port in (component.component_spec.inputs or {}).items():
            assert port.description, f"{source.name}: input {name} is not in Args:"


def test_gpu_info_reports_no_gpus_where_there_are_none(components):
    task = components["gpu_info"]()
    assert task.outputs["Output"] == 0
    assert task.outputs["metrics"].metadata == {"gpu_count": 0}


def test_gpu_placement_compiles_to_toleration_selector_and_gpu_request(repo, tmp_path):
    import yaml

    from kfp_gcp.services.pipelines.compiler import compile_all
    from kfp_gcp.services.project import select

    (result,) = compile_all(repo, select(repo, "pipeline", ["gpu_smoke"]), tmp_path)
    docs = list(yaml.safe_load_all(result.output.read_text()))
    executor = docs[0]["deploymentSpec"]["executors"]["exec-gpu-info"]["container"]
    assert executor["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert executor["resources"]["accelerator"]["resourceCount"] == "1"
    platform = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-gpu-info"]
    assert platform["nodeSelector"]["labels"] == {"cloud.google.com/gke-nodepool": "gpu"}
    assert platform["tolerations"] == [
        {"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}
    ]
