import pytest

from kfp_gcp.errors import ConfigError
from kfp_gcp.services.pipelines.params import Parameter, kind_of, parse, signature

PARAMS = [
    Parameter("dataset", "string", "iris", required=False),
    Parameter("n_estimators", "integer", 100, required=False),
    Parameter("threshold", "float", 0.9, required=False),
    Parameter("verbose", "boolean", False, required=False),
    Parameter("candidates", "list", [], required=False),
    Parameter("options", "dict", {}, required=False),
    Parameter("seed", "integer", None, required=True),
]


def test_values_are_converted_to_the_declared_types():
    values = parse(
        "p",
        PARAMS,
        [
            "dataset=wine",
            "n_estimators=7",
            "threshold=0.5",
            "verbose=yes",
            'candidates=[{"a": 1}]',
            'options={"k": "v"}',
            "seed=3",
        ],
    )
    assert values == {
        "dataset": "wine",
        "n_estimators": 7,
        "threshold": 0.5,
        "verbose": True,
        "candidates": [{"a": 1}],
        "options": {"k": "v"},
        "seed": 3,
    }


def test_a_value_may_contain_equals_signs():
    assert parse("p", PARAMS, ["dataset=a=b", "seed=1"])["dataset"] == "a=b"


def test_unknown_name_lists_the_known_parameters():
    with pytest.raises(ConfigError) as error:
        parse("training", PARAMS, ["seeed=1"])
    assert error.value.message == "pipeline 'training' has no parameter 'seeed'"
    assert "seed" in (error.value.hint or "")


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ("n_estimators=1.5", "must be an integer"),
        ("threshold=high", "must be a number"),
        ("verbose=maybe", "must be true or false"),
        ("candidates={}", "must be a JSON list"),
        ("candidates=[1,", "must be a JSON list"),
        ("options=[1]", "must be a JSON dict"),
    ],
)
def test_wrong_type_names_the_parameter_and_the_expected_type(pair, expected):
    with pytest.raises(ConfigError) as error:
        parse("p", PARAMS, [pair, "seed=1"])
    assert pair.split("=")[0] in error.value.message
    assert expected in error.value.message


def test_missing_required_parameter_is_reported_with_the_flag_to_add():
    with pytest.raises(ConfigError) as error:
        parse("p", PARAMS, [])
    assert "'seed'" in error.value.message
    assert error.value.hint == "--param seed=<value>"


@pytest.mark.parametrize("pair", ["seed", "=3"])
def test_malformed_pair_shows_the_expected_form(pair):
    with pytest.raises(ConfigError, match="not of the form name=value"):
        parse("p", PARAMS, [pair])


def test_repeated_parameter_is_rejected():
    with pytest.raises(ConfigError, match="given twice"):
        parse("p", PARAMS, ["seed=1", "seed=2"])


def test_artifact_inputs_cannot_be_set_from_the_command_line():
    artifact = Parameter("model", "artifact", None, required=True)
    with pytest.raises(ConfigError, match="artifact input"):
        parse("p", [artifact], ["model=/tmp/x"])


@pytest.mark.parametrize(
    ("kfp_type", "kind"),
    [
        ("String", "string"),
        ("Integer", "integer"),
        ("Float", "float"),
        ("Boolean", "boolean"),
        ("typing.List[dict]", "list"),
        ("List", "list"),
        ("Dict", "dict"),
        ("system.Model@0.0.1", "artifact"),
    ],
)
def test_kfp_types_map_to_parameter_kinds(kfp_type, kind):
    assert kind_of(kfp_type) == kind


def test_signature_of_the_training_pipeline_matches_its_function(repo):
    import inspect

    from kfp_gcp.services.project import load, select

    pipeline = load(repo, select(repo, "pipeline", ["training"])[0])
    found = {p.name: (p.type, p.default, p.required) for p in signature(pipeline)}
    declared = inspect.signature(pipeline.pipeline_func).parameters
    assert list(found) == list(declared)
    assert found["n_estimators"] == ("integer", declared["n_estimators"].default, False)
    assert found["accuracy_threshold"][0] == "float"
    assert found["dataset"][0] == "string"
