"""Hints that exist: every `kfp-gcp ...` command written in the code (hints, help texts,
messages) and in docs/cli.md's tables parses against the real CLI; every option a hint
names is an option of some command; every other tool's command a hint names is one we know
exists, with the options its reference documents; every `make` target exists."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_syntax import ROOT, all_options, problem
from tests.conftest import REPO

SRC = REPO / "src" / "kfp_gcp"

# Other tools' commands that hints may name, with the options their reference documents
# (plus gcloud's global --project). Adding one means reading its reference first.
EXTERNAL: dict[str, set[str]] = {
    # https://cloud.google.com/sdk/gcloud/reference/auth/login
    "gcloud auth login": set(),
    # https://cloud.google.com/sdk/gcloud/reference/auth/list
    "gcloud auth list": set(),
    # https://cloud.google.com/sdk/gcloud/reference/auth/application-default/login
    "gcloud auth application-default login": {"--impersonate-service-account"},
    # https://cloud.google.com/sdk/gcloud/reference/components/update
    "gcloud components update": set(),
    # https://cloud.google.com/sdk/gcloud/reference/components/install
    "gcloud components install gke-gcloud-auth-plugin": set(),
    # https://cloud.google.com/sdk/gcloud/reference/sql/operations/describe
    "gcloud sql operations describe": {"--project"},
    # https://cloud.google.com/sdk/gcloud/reference/sql/operations/wait
    "gcloud sql operations wait": {"--project", "--timeout"},
    # https://cloud.google.com/sdk/gcloud/reference/sql/operations/list
    "gcloud sql operations list": {"--instance", "--filter", "--project"},
    # https://cloud.google.com/sdk/gcloud/reference/storage/hmac/create
    "gcloud storage hmac create": {"--project"},
    # https://cloud.google.com/sdk/gcloud/reference/auth/configure-docker
    "gcloud auth configure-docker": set(),
    # https://cloud.google.com/sdk/gcloud/reference/builds/log
    "gcloud builds log": {"--project", "--region"},
    # https://cloud.google.com/sdk/gcloud/reference/secrets/versions/add
    "gcloud secrets versions add": {"--data-file", "--project"},
    # https://developer.hashicorp.com/terraform/cli/commands/show
    "terraform show": {"-json"},
    # https://developer.hashicorp.com/terraform/cli/commands/init
    "terraform init": {"-backend-config", "-backend", "-input"},
    # https://developer.hashicorp.com/terraform/cli/commands/test
    "terraform test": set(),
    # https://developer.hashicorp.com/terraform/cli/commands/fmt
    "terraform fmt": {"-recursive", "-check", "-diff"},
    # https://kubernetes.io/docs/reference/kubectl/generated/kubectl_describe/
    "kubectl -n": set(),
    # https://kubernetes.io/docs/reference/kubectl/generated/kubectl_diff/
    "kubectl diff": {"--server-side"},
}
TOOLS = ("gcloud", "terraform", "kubectl")


# Strings in the code, as templates: f-string fields become the field's name in capitals.


def template(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                assert isinstance(value, ast.FormattedValue)
                name = re.sub(r"\W+", "_", ast.unparse(value.value)).strip("_")
                parts.append(name.split("_")[-1].upper() or "X")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = template(node.left), template(node.right)
        return (left or "") + (right or "X")
    return None


def strings(tree: ast.AST) -> Iterator[str]:
    """Every string and f-string, once (an f-string's own parts are not yielded again)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inside.update(id(v) for v in node.values)
        if id(node) not in inside and (text := template(node)) is not None:  # type: ignore[arg-type]
            yield text


def hints(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every `hint=` value (a name is followed to the strings assigned to it)."""
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    for node in ast.walk(tree):
        if not (isinstance(node, ast.keyword) and node.arg == "hint"):
            continue
        if isinstance(node.value, ast.Name):
            for function in functions:
                for assign in ast.walk(function):
                    if isinstance(assign, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == node.value.id for t in assign.targets
                    ):
                        for text in strings(assign.value):
                            yield node.value.lineno, text
        else:
            for text in [template(node.value)] if template(node.value) else strings(node.value):
                if text:
                    yield node.value.lineno, text


def sources() -> list[tuple[Path, ast.AST]]:
    return [(p, ast.parse(p.read_text())) for p in sorted(SRC.rglob("*.py"))]


# What a piece of text names.

KFP_GCP = re.compile(r"(?<![\w./-])kfp-gcp (?=[a-z-])")
UNQUOTED_END = re.compile(r"`|;|,|\)| \(|: |\.\s|\.$|\n|$")


def kfp_gcp_commands(text: str) -> Iterator[list[str]]:
    """`kfp-gcp ...` in backticks; unquoted, only when a noun or an option follows (else it
    is prose: "kfp-gcp uses terraform from PATH")."""
    nouns = set(ROOT.commands)  # type: ignore[attr-defined]
    for match in KFP_GCP.finditer(text):
        rest = text[match.end() :]
        quoted = text[: match.start()].count("`") % 2 == 1
        end = rest.index("`") if quoted else UNQUOTED_END.search(rest).start()  # type: ignore[union-attr]
        words = [w for w in rest[:end].split() if w != "..."]
        if words and (quoted or words[0] in nouns or words[0].startswith("-")):
            yield words


def tool_commands(text: str) -> Iterator[str]:
    """Other tools' command lines: backticked spans, or from the tool's name to a clause end."""
    for match in re.finditer(rf"(?<![\w./-])(?:{'|'.join(TOOLS)}) ", text):
        rest = text[match.start() :]
        quoted = text[: match.start()].count("`") % 2 == 1
        yield rest[: rest.index("`")] if quoted else rest[: UNQUOTED_END.search(rest).start()]  # type: ignore[union-attr]


def external_problem(command: str) -> str | None:
    words = command.split()
    known = [k for k in EXTERNAL if words[: len(k.split())] == k.split()]
    if not known:
        return f"`{command}`: not a command this test knows (add it to EXTERNAL with its reference)"
    allowed = EXTERNAL[max(known, key=len)]
    flags = {w.split("=")[0] for w in words if w.startswith("-") and w not in ("-", "-n")}
    unknown = flags - allowed
    return f"`{command}`: {', '.join(sorted(unknown))} not documented" if unknown else None


def bare_options(text: str) -> set[str]:
    """`--options` outside other tools' command lines."""
    for command in tool_commands(text):
        text = text.replace(command, "")
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))


# The checks.


def test_every_kfp_gcp_command_written_in_the_code_exists():
    found, problems = 0, []
    for path, tree in sources():
        for text in strings(tree):
            for words in kfp_gcp_commands(text):
                found += 1
                if said := problem(words, reference=True):
                    problems.append(f"{path.relative_to(REPO)}: {said}")
    assert found > 20  # the extraction works: hints and help texts name many commands
    assert not problems, "\n".join(problems)


def test_every_option_a_hint_names_exists():
    options = all_options()
    problems, seen = [], 0
    for path, tree in sources():
        for line, text in hints(tree):
            seen += 1
            for option in bare_options(text) - options:
                problems.append(f"{path.relative_to(REPO)}:{line}: {option} in {text!r}")
    assert seen > 60
    assert not problems, "\n".join(problems)


def test_every_other_tools_command_in_a_hint_is_known():
    problems = []
    for path, tree in sources():
        for line, text in hints(tree):
            for command in tool_commands(text):
                if said := external_problem(command):
                    problems.append(f"{path.relative_to(REPO)}:{line}: {said}")
    assert not problems, "\n".join(problems)


def test_every_make_target_a_hint_names_exists():
    targets = set(re.findall(r"^([a-z-]+):", (REPO / "Makefile").read_text(), flags=re.M))
    named = {
        target
        for _, tree in sources()
        for _, text in hints(tree)
        for target in re.findall(r"`make ([a-z-]+)`", text)
    }
    assert named  # `make sync` at least
    assert named <= targets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("or pass --no-backend for a local try", {"--no-backend"}),
        ("run `gcloud auth login --force`, then --debug", {"--debug"}),
        ("add one: gcloud secrets versions add S --project=P --data-file=-", set()),
    ],
)
def test_the_option_extraction_catches_what_it_must(text, expected):
    assert bare_options(text) == expected


def test_the_checks_fail_on_the_hints_that_were_wrong():
    assert problem(["infra", "plan", "--env", "dev", "--no-backend"])
    assert "--no-backend" not in all_options()
    assert external_problem("gcloud auth application-default login --no-such-flag")
    assert external_problem("gcloud auth print-identity-token") is not None
    assert list(kfp_gcp_commands("run kfp-gcp pipelines deploy --env ENV --only NAME")) == [
        ["pipelines", "deploy", "--env", "ENV", "--only", "NAME"]
    ]


def test_the_prod_deploy_hint_names_impersonation_not_a_plain_login(tmp_path):
    # A person without ADC deploys to prod: reading the IAP client id fails first, and the
    # hint must already say what also mints the ID token (a user login cannot).
    from kfp_gcp.errors import PrerequisiteError
    from kfp_gcp.services.cluster.access import SecretManager
    from kfp_gcp.services.kfp import auth, target
    from kfp_gcp.services.project import Project

    def no_adc() -> str:
        raise PrerequisiteError("no Google credentials: none found", hint="plain login")

    outputs = REPO / "tests" / "fixtures" / "platform-outputs-prod.json"
    with pytest.raises(PrerequisiteError) as error:
        target.resolve(Project(REPO), "prod", None, outputs, secrets=SecretManager(no_adc))
    assert error.value.hint == auth.IMPERSONATE_HINT
    assert "--impersonate-service-account=SA_EMAIL" in error.value.hint
    assert "roles/iam.serviceAccountTokenCreator" in error.value.hint


# docs/cli.md's tables.

CLI_GUIDE = REPO / "docs" / "cli.md"


def table_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not re.match(r"^\|[\s:|-]+\|$", line)
    ]


def synopsis(cell: str) -> list[list[str]]:
    """`infra plan --env ENV [--no-lock]` -> its words without brackets; `a/b` -> both."""
    words = [w for w in re.sub(r"[\[\]]|\.\.\.", " ", cell).split() if w]
    if words and "/" in words[1 if len(words) > 1 else 0] and words[0] != "kfp-gcp":
        noun, verbs = words[0], words[1].split("/")
        return [[noun, verb, *words[2:]] for verb in verbs]
    return [words]


def test_every_command_in_the_cli_guides_tables_exists():
    nouns = set(ROOT.commands)  # type: ignore[attr-defined]
    options = all_options()
    problems, checked = [], 0
    for row in table_rows(CLI_GUIDE.read_text()):
        for cell in row:
            for span in re.findall(r"`([^`]+)`", cell):
                words = span.split()
                if words[0] == "kfp-gcp":
                    words = words[1:]
                if words[0] in nouns:
                    for command in synopsis(" ".join(words)):
                        checked += 1
                        if said := problem(command, reference=True):
                            problems.append(said)
                elif words[0].startswith("--") and len(words) == 1:
                    for option in words[0].split("/"):
                        checked += 1
                        if option not in options:
                            problems.append(f"{option} is not an option")
                elif words[0] in TOOLS and len(words) > 1 and (said := external_problem(span)):
                    problems.append(said)
    assert checked > 25
    assert not problems, "\n".join(problems)
