from pathlib import Path

import pytest

from kfp_gcp.errors import ProjectError
from kfp_gcp.services.project import discover, find_project, load, select

TINY_PIPELINE = """
from kfp import dsl
from components.load_dataset.component import load_dataset

@dsl.pipeline(name="tiny")
def {name}(dataset: str = "iris"):
    load_dataset(name=dataset)
"""


def test_discovers_the_repository_components_and_pipelines(repo):
    components = [s.name for s in discover(repo, "component")]
    pipelines = [s.name for s in discover(repo, "pipeline")]
    assert len(components) >= 4
    assert {"load_dataset", "split_dataset", "train_model", "evaluate_model"} <= set(components)
    assert {"training", "sweep"} <= set(pipelines)
    assert components == sorted(components)


def test_every_discovered_object_loads_as_its_kind(repo):
    for source in discover(repo, "component"):
        assert type(load(repo, source)).__name__ == "PythonComponent"
    for source in discover(repo, "pipeline"):
        assert type(load(repo, source)).__name__ == "GraphComponent"


def test_find_project_walks_up_from_a_subfolder(repo, monkeypatch):
    monkeypatch.chdir(repo.root / "pipelines" / "training")
    assert find_project().root == repo.root


def test_find_project_outside_a_repository_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectError) as error:
        find_project()
    assert "--project-dir" in (error.value.hint or "")
    with pytest.raises(ProjectError, match="no pipelines/ and components/"):
        find_project(tmp_path)


def test_folder_without_its_file_is_named_with_the_fix(make_project):
    project = make_project()
    (project.root / "pipelines" / "half_done").mkdir()
    with pytest.raises(ProjectError) as error:
        discover(project, "pipeline")
    assert "pipelines/half_done: missing pipeline.py" in error.value.message
    assert "half_done" in (error.value.hint or "")


def test_folder_name_that_cannot_be_imported_is_rejected(make_project):
    project = make_project()
    (project.root / "pipelines" / "My-Pipeline").mkdir()
    with pytest.raises(ProjectError, match="My-Pipeline"):
        discover(project, "pipeline")


def test_private_and_hidden_folders_are_ignored(make_project):
    project = make_project(pipelines={"tiny": TINY_PIPELINE.format(name="tiny")})
    (project.root / "pipelines" / "_drafts").mkdir()
    (project.root / "pipelines" / "__pycache__").mkdir()
    assert [s.name for s in discover(project, "pipeline")] == ["tiny"]


def test_module_without_the_named_function_is_an_error(make_project):
    project = make_project(pipelines={"tiny": TINY_PIPELINE.format(name="other_name")})
    (source,) = discover(project, "pipeline")
    with pytest.raises(ProjectError, match="no pipeline named `tiny`"):
        load(project, source)


def test_select_unknown_name_lists_the_known_ones(repo):
    with pytest.raises(ProjectError) as error:
        select(repo, "pipeline", ["trainig"])
    assert "'trainig'" in error.value.message
    assert "training" in (error.value.hint or "")


def test_switching_projects_does_not_reuse_the_other_projects_modules(make_project, repo):
    # Both repositories have pipelines/<name>/pipeline.py; the second load must see its own.
    load(repo, select(repo, "pipeline", ["training"])[0])
    project = make_project(pipelines={"training": TINY_PIPELINE.format(name="training")})
    loaded = load(project, select(project, "pipeline", ["training"])[0])
    assert loaded.name == "tiny"
    assert Path(loaded.pipeline_func.__code__.co_filename).is_relative_to(project.root)
