"""Pipeline parameters from `--param name=value`, checked against the pipeline's signature
before anything runs."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from kfp_gcp.errors import ConfigError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclasses.dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # string, integer, float, boolean, list, dict or artifact
    default: Any
    required: bool


def kind_of(kfp_type: str) -> str:
    """Our name for a KFP IR type string ('Integer', 'typing.List[dict]', 'system.Model@0.0.1')."""
    base = kfp_type.removeprefix("typing.").split("[")[0].lower()
    if base.startswith("system.") or "@" in base:
        return "artifact"
    return {"str": "string", "int": "integer", "bool": "boolean"}.get(base, base)


def signature(pipeline: Any) -> list[Parameter]:
    """The inputs of a compiled pipeline function, in declaration order."""
    return [
        Parameter(
            name=name,
            type=kind_of(str(spec.type)),
            default=spec.default,
            required=not spec.optional,
        )
        for name, spec in (pipeline.component_spec.inputs or {}).items()
    ]


def convert(parameter: Parameter, text: str) -> Any:
    """The value of `text` as the parameter's type, or a ConfigError that says what was expected."""
    kind = parameter.type

    def bad(expected: str) -> ConfigError:
        return ConfigError(
            f"parameter {parameter.name!r} must be {expected}, got {text!r}",
            hint=f"pass --param {parameter.name}=<{kind}>",
        )

    if kind == "string":
        return text
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise bad("an integer") from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise bad("a number") from None
    if kind == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise bad("true or false")
    if kind in ("list", "dict"):
        python_type = list if kind == "list" else dict
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise bad(f"a JSON {kind}") from None
        if not isinstance(value, python_type):
            raise bad(f"a JSON {kind}")
        return value
    raise ConfigError(
        f"parameter {parameter.name!r} is an artifact input ({kind}) and cannot be set "
        "from the command line",
        hint="give the pipeline a parameter (string, number, list...) instead",
    )


def parse(pipeline_name: str, parameters: list[Parameter], pairs: list[str]) -> dict[str, Any]:
    """`["n=3", ...]` as typed arguments. Raises ConfigError on an unknown name, a bad
    value, a repeated name or a missing required parameter."""
    by_name = {p.name: p for p in parameters}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(
                f"--param {pair!r} is not of the form name=value",
                hint="write it as --param name=value, e.g. --param seed=7",
            )
        if name not in by_name:
            raise ConfigError(
                f"pipeline {pipeline_name!r} has no parameter {name!r}",
                hint=f"its parameters are: {', '.join(by_name) or 'none'}",
            )
        if name in values:
            raise ConfigError(f"parameter {name!r} is given twice", hint="pass it once")
        values[name] = convert(by_name[name], text)
    missing = [p.name for p in parameters if p.required and p.name not in values]
    if missing:
        raise ConfigError(
            f"pipeline {pipeline_name!r} needs {', '.join(map(repr, missing))}",
            hint=" ".join(f"--param {m}=<value>" for m in missing),
        )
    return values
