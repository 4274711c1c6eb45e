import os
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import CompileError
from kfp_gcp.services.pipelines.compiler import canonical_header, compile_all
from kfp_gcp.services.project import discover

GOOD = """
from kfp import dsl
from components.load_dataset.component import load_dataset

@dsl.pipeline(name="good")
def a_good(dataset: str = "iris"):
    load_dataset(name=dataset)
"""
SYNTAX_ERROR = "def broken(:\n"
FAILS_AT_DEFINITION = """
from kfp import dsl
from components.load_dataset.component import load_dataset
from components.split_dataset.component import split_dataset

@dsl.pipeline(name="wiring")
def wiring():
    data = load_dataset()
    split_dataset(dataset=data.outputs["no_such_output"])
"""
NO_FUNCTION = "from kfp import dsl\n"


def test_every_repository_pipeline_compiles_to_valid_ir(repo, tmp_path):
    results = compile_all(repo, discover(repo, "pipeline"), tmp_path)
    assert [r.error for r in results] == [None] * len(results)
    for result in results:
        # A second document holds platform (kfp-kubernetes) settings, if any.
        spec = next(yaml.safe_load_all(result.output.read_text()))
        assert spec["pipelineInfo"]["name"] == result.name.replace("_", "-")  # the convention
        assert spec["deploymentSpec"]["executors"]
        images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
        assert all(":" in image and not image.endswith(":latest") for image in images)


def test_compiling_twice_gives_byte_identical_yaml(repo, tmp_path):
    first = compile_all(repo, discover(repo, "pipeline"), tmp_path / "a")
    second = compile_all(repo, discover(repo, "pipeline"), tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.output.read_bytes() == b.output.read_bytes(), a.name


@pytest.mark.slow
def test_separate_processes_with_different_hash_seeds_give_identical_yaml(repo, tmp_path):
    # Set and dict ordering must not leak into the YAML: compile in fresh interpreters.
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        subprocess.run(
            [
                sys.executable,
                "-m",
                "kfp_gcp",
                "--project-dir",
                str(repo.root),
                "pipelines",
                "compile",
                "--out-dir",
                str(out),
            ],
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
        )
        outputs.append({p.name: p.read_bytes() for p in sorted(out.glob("*.yaml"))})
    assert outputs[0].keys() == {f"{s.name}.yaml" for s in discover(repo, "pipeline")}
    assert outputs[0] == outputs[1]


def test_broken_pipelines_are_reported_and_the_others_still_compile(make_project):
    project = make_project(
        pipelines={
            "a_good": GOOD,
            "b_syntax": SYNTAX_ERROR,
            "c_wiring": FAILS_AT_DEFINITION,
            "d_empty": NO_FUNCTION,
        }
    )
    results = {r.name: r for r in compile_all(project, discover(project, "pipeline"))}
    assert results["a_good"].ok
    assert results["a_good"].output.exists()
    assert results["b_syntax"].error.startswith("SyntaxError")
    assert "no_such_output" in results["c_wiring"].error
    assert "pipelines/c_wiring/pipeline.py:" in results["c_wiring"].error
    assert results["d_empty"].error == "no pipeline named `d_empty`"
    assert results["b_syntax"].error.endswith("(at pipelines/b_syntax/pipeline.py:1)")
    for name in ("b_syntax", "c_wiring", "d_empty"):
        assert results[name].source == f"pipelines/{name}/pipeline.py"
        assert results[name].output is None


def test_dict_defaults_in_the_header_are_written_with_sorted_keys():
    text = (
        "# PIPELINE DEFINITION\n"
        "#    candidates: list [Default: [{'b': 1.0, 'a': {'d': 2, 'c': 3}}]]\n"
        "#    name: str [Default: 'x']\n"
        "components: {}\n"
        "#    not: header [Default: {'z': 1, 'y': 2}]\n"
    )
    assert canonical_header(text).split("\n")[1:3] == [
        "#    candidates: list [Default: [{'a': {'c': 3, 'd': 2}, 'b': 1.0}]]",
        "#    name: str [Default: 'x']",
    ]
    assert canonical_header(text).endswith("[Default: {'z': 1, 'y': 2}]\n")


def test_a_failed_compile_removes_the_stale_yaml(make_project):
    project = make_project(pipelines={"flaky": GOOD.replace("def a_good", "def flaky")})
    (first,) = compile_all(project, discover(project, "pipeline"))
    assert first.output.exists()
    (project.root / "pipelines" / "flaky" / "pipeline.py").write_text(SYNTAX_ERROR)
    for name in [m for m in sys.modules if m.startswith("pipelines.flaky")]:
        del sys.modules[name]
    (second,) = compile_all(project, discover(project, "pipeline"))
    assert not second.ok
    assert not (project.compiled_dir / "flaky.yaml").exists()


def test_cli_compile_exits_with_the_compile_error_code_and_names_the_file(make_project):
    project = make_project(pipelines={"a_good": GOOD, "b_syntax": SYNTAX_ERROR})
    result = CliRunner().invoke(app, ["--project-dir", str(project.root), "pipelines", "compile"])
    assert result.exit_code == CompileError.exit_code
    assert "pipelines/b_syntax/pipeline.py" in result.stderr
    assert "1 of 2 pipelines failed" in result.stderr
    assert (project.compiled_dir / "a_good.yaml").exists()


def test_cli_compile_only_the_named_pipelines(repo, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "--project-dir",
            str(repo.root),
            "-o",
            "json",
            "pipelines",
            "compile",
            "training",
            "--out-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.glob("*.yaml")] == ["training.yaml"]
