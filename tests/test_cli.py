import json
import re
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from kfp_gcp import errors
from kfp_gcp.cli import app
from tests.conftest import REPO

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["--project-dir", str(REPO), *args])


def test_help_lists_the_nouns_and_global_options():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for word in ("pipelines", "components", "--output", "--debug", "--project-dir", "--version"):
        assert word in result.stdout


def test_version_is_the_installed_package_version():
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"kfp-gcp {version('kfp-gcp')}"


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (["pipelines", "--help"], ["list", "compile", "run"]),
        (["pipelines", "run", "--help"], ["--local", "--param", "name=value"]),
        (["pipelines", "compile", "--help"], ["byte-identical", "--out-dir"]),
        (["components", "--help"], ["list", "catalog"]),
    ],
)
def test_sub_command_help_explains_itself(command, words):
    result = runner.invoke(app, command)
    assert result.exit_code == 0
    text = re.sub(r"\s+", " ", result.stdout)
    for word in words:
        assert word in text


@pytest.mark.parametrize("args", [["--help"], ["pipelines", "run", "--help"]])
def test_help_does_not_import_kfp_or_google_libraries(args):
    # What keeps `kfp-gcp --help` fast; benchmarks/cli_startup.py measures the time.
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from kfp_gcp.cli import app\n"
        f"assert CliRunner().invoke(app, {args!r}).exit_code == 0\n"
        "print(sorted(m for m in ('kfp', 'google', 'sklearn', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pipelines_list_json_has_each_pipeline_with_typed_parameters():
    result = invoke("-o", "json", "pipelines", "list")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"training", "sweep"} <= set(rows)
    params = {p["name"]: p for p in rows["training"]["parameters"]}
    assert params["accuracy_threshold"] == {
        "name": "accuracy_threshold",
        "type": "float",
        "default": 0.9,
        "required": False,
    }
    assert rows["training"]["source"] == "pipelines/training/pipeline.py"


def test_pipelines_list_table_shows_the_same_pipelines():
    result = invoke("pipelines", "list")
    assert result.exit_code == 0
    assert "training" in result.stdout
    assert "sweep" in result.stdout


def test_components_list_json_names_image_and_users():
    result = invoke("-o", "json", "components", "list")
    assert result.exit_code == 0
    infos = {c["name"]: c for c in json.loads(result.stdout)}
    assert infos["select_best"]["used_by"] == ["sweep"]
    assert infos["train_model"]["used_by"] == ["sweep", "training"]
    assert infos["train_model"]["image"] == "sklearn"  # images/sklearn, by name
    assert infos["train_model"]["base_image"].startswith("python:3.11.")


def test_run_without_local_says_how_to_run_locally():
    result = invoke("pipelines", "run", "training")
    assert result.exit_code == errors.ConfigError.exit_code
    assert "--local" in result.stderr


def test_unknown_pipeline_is_a_project_error_with_the_known_names():
    result = invoke("pipelines", "run", "trainig", "--local")
    assert result.exit_code == errors.ProjectError.exit_code
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "project error: no pipeline named 'trainig'"
    assert lines[1].startswith("hint: known pipelines:")
    assert "training" in lines[1]


def test_usage_errors_keep_clicks_exit_code():
    result = invoke("pipelines", "frobnicate")
    assert result.exit_code == 2


def test_bad_output_format_is_a_usage_error_naming_the_choices():
    result = runner.invoke(app, ["--output", "yaml", "pipelines", "list"])
    assert result.exit_code == 2
    assert "table" in result.stderr
    assert "json" in result.stderr


# Error rendering: a throwaway command raising each kind of error.

probe = typer.Typer()
secret_value = "hunter2-do-not-print"


@probe.command("raise")
def _raise(kind: str) -> None:
    password = secret_value  # noqa: F841 (a local that must never be printed)
    if kind == "internal":
        raise KeyError("boom")
    cls = getattr(errors, kind)
    raise cls("something is wrong with field x", hint="set x to y")


app.add_typer(probe, name="probe", hidden=True)


@pytest.mark.parametrize(
    "cls",
    [
        errors.ConfigError,
        errors.ProjectError,
        errors.CompileError,
        errors.RunError,
        errors.PrerequisiteError,
        errors.ToolError,
    ],
)
def test_each_error_class_prints_two_lines_and_its_own_exit_code(cls):
    result = runner.invoke(app, ["probe", "raise", cls.__name__])
    assert result.exit_code == cls.exit_code
    assert result.stderr.splitlines() == [
        f"{cls.label}: something is wrong with field x",
        "hint: set x to y",
    ]
    assert "Traceback" not in result.output


def test_exit_codes_are_distinct_per_class():
    codes = [cls.exit_code for cls in errors.KfpGcpError.__subclasses__()]
    assert len(codes) == len(set(codes))
    assert not {0, 1, 2} & set(codes)


def test_an_unexpected_exception_is_an_internal_error_without_traceback():
    result = runner.invoke(app, ["probe", "raise", "internal"])
    assert result.exit_code == errors.INTERNAL_ERROR_EXIT_CODE
    assert result.stderr.splitlines() == [
        "internal error: KeyError: 'boom'",
        "hint: rerun with --debug for the traceback, and report it",
    ]


def test_debug_shows_the_traceback_without_local_variables():
    result = runner.invoke(app, ["--debug", "probe", "raise", "ConfigError"])
    assert result.exit_code == errors.ConfigError.exit_code
    assert "Traceback" in result.stderr
    assert "_raise" in result.stderr
    assert secret_value not in result.output


def test_exit_codes_documented_in_the_cli_guide_match_the_code():
    text = (REPO / "docs" / "cli.md").read_text()
    documented = dict(re.findall(r"^\| (\d+) \| ([^|]+?) \|", text, flags=re.M))
    assert {int(k): v for k, v in documented.items()} == {
        code: label for label, code in errors.EXIT_CODES.items()
    }
