import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import CompileError, ProjectError
from kfp_gcp.services.pipelines import catalog

UNUSED_COMPONENT = '''
from kfp import dsl


@dsl.component(base_image="python:3.11.14-slim-bookworm", packages_to_install=["numpy==2.4.6"])
def count_rows(rows: int, label: str = "x") -> int:
    """Count rows.

    Args:
        rows: How many.
        label: A name | with a pipe.

    Returns:
        The count.
    """
    return rows
'''


@pytest.mark.slow
def test_committed_catalog_is_current(repo):
    committed = (repo.root / catalog.CATALOG_PATH).read_text()
    assert committed == catalog.render(catalog.build(repo)), (
        "docs/catalog.md is stale: run `make catalog` (kfp-gcp components catalog) and commit it"
    )


def test_catalog_describes_inputs_outputs_image_packages_and_users(repo):
    infos = {i.name: i for i in catalog.build(repo)}
    evaluate = infos["evaluate_model"]
    assert evaluate.summary == "Score a classifier on held-out rows."
    assert [(p.name, p.type) for p in evaluate.inputs] == [("model", "Model"), ("test", "Dataset")]
    assert [(p.name, p.type) for p in evaluate.outputs] == [
        ("metrics", "Metrics"),
        ("confusion", "ClassificationMetrics"),
        ("Output", "float"),
    ]
    assert evaluate.outputs[2].description.startswith("The accuracy")
    assert evaluate.packages == ["pandas==3.1.1", "scikit-learn==1.9.1"]
    assert evaluate.used_by == ["sweep", "training"]
    best = infos["select_best"]
    assert [(p.name, p.type) for p in best.inputs] == [
        ("models", "List[Model]"),
        ("accuracies", "List[float]"),
    ]
    assert best.packages == []
    assert best.used_by == ["sweep"]


def test_an_unused_component_is_listed_with_no_users(make_project):
    project = make_project(components={"count_rows": UNUSED_COMPONENT})
    text = catalog.render(catalog.build(project))
    section = text.split("## count_rows")[1]
    assert "- Used by: no pipeline yet" in section
    assert "- Packages: `numpy==2.4.6`" in section
    assert "| `rows` | int | required | How many. |" in section
    assert "| `label` | str | 'x' | A name \\| with a pipe. |" in section


def test_catalog_refuses_to_leave_out_a_broken_pipeline(make_project):
    project = make_project(pipelines={"broken": "import no_such_module\n"})
    with pytest.raises(CompileError) as error:
        catalog.build(project)
    assert "pipelines/broken/pipeline.py" in error.value.message
    assert "no_such_module" in error.value.message


def test_cli_check_fails_on_a_stale_catalog_and_write_fixes_it(make_project):
    project = make_project(components={"count_rows": UNUSED_COMPONENT})
    args = ["--project-dir", str(project.root), "components", "catalog"]
    stale = CliRunner().invoke(app, [*args, "--check"])
    assert stale.exit_code == ProjectError.exit_code
    assert "docs/catalog.md is stale" in stale.stderr
    assert not (project.root / "docs" / "catalog.md").exists()
    written = CliRunner().invoke(app, args)
    assert written.exit_code == 0
    assert "count_rows" in (project.root / "docs" / "catalog.md").read_text()
    assert CliRunner().invoke(app, [*args, "--check"]).exit_code == 0


@pytest.mark.parametrize(
    ("kfp_type", "is_list", "expected"),
    [
        ("system.Model@0.0.1", False, "Model"),
        ("system.Model@0.0.1", True, "List[Model]"),
        ("typing.List[float]", False, "List[float]"),
        ("List[Float]", False, "List[float]"),
        ("list[dict]", False, "List[dict]"),
        ("Integer", False, "int"),
        ("String", False, "str"),
        ("Boolean", False, "bool"),
        ("Dict", False, "dict"),
    ],
)
def test_kfp_type_names_read_like_python(kfp_type, is_list, expected):
    assert catalog.type_name(kfp_type, is_list) == expected
