"""Does a `kfp-gcp ...` command line written in a document or a hint exist? Checked against
the real typer app with click's own option parser (typer's vendored copy), without running
anything: each command word must be a command, each option an option of the command it
follows, and no command gets more positional arguments than it takes."""

from __future__ import annotations

import re
import shlex

import typer
from typer._click.exceptions import UsageError

from kfp_gcp.cli import app

ROOT = typer.main.get_command(app)


def problem(args: list[str], reference: bool = False) -> str | None:
    """What is wrong with `kfp-gcp ARGS`, or None. Values are not checked (ENV, FILE...).

    A `reference` (`kfp-gcp infra`, `manifests render --out` in a sentence) may stop at a
    group or leave out an option's value; a command line to run may not."""
    command, ctx, rest, path = ROOT, None, list(args), "kfp-gcp"
    while True:
        ctx = command.make_context(path, [], parent=ctx, resilient_parsing=True)
        ctx.resilient_parsing = False  # now the parser reports unknown options
        try:
            _, positional, _ = command.make_parser(ctx).parse_args(args=list(rest))
        except UsageError as exc:
            if reference and "requires an argument" in exc.format_message():
                return None
            return f"`{path}`: {exc.format_message()}"
        if "--help" in rest or "-h" in rest:
            return None
        commands = getattr(command, "commands", None)
        if commands is None:
            slots = [p.nargs for p in command.params if p.param_type_name == "argument"]
            if -1 not in slots and len(positional) > sum(slots):
                return f"`{path}` takes {sum(slots)} argument(s), got {positional}"
            return None
        if not positional:
            if reference:
                return None
            return f"`{path}` needs a command: one of {', '.join(sorted(commands))}"
        name, *rest = positional
        if name not in commands:
            return f"`{path}` has no command {name!r} (it has {', '.join(sorted(commands))})"
        command, path = commands[name], f"{path} {name}"


def split(line: str) -> list[str]:
    """A shell line as words, without comments, `$ ` prompts or what follows a pipe."""
    line = re.sub(r"^\s*\$\s+", "", line)
    words = shlex.split(line, comments=True)
    for i, word in enumerate(words):
        if word in ("|", "||", "&&", ";", ">", ">>", "2>&1") or word.startswith(">"):
            return words[:i]
    return words


def all_options() -> set[str]:
    """Every option of every command, and the global ones."""
    found: set[str] = set()

    def walk(command: object) -> None:
        for param in getattr(command, "params", []):
            found.update(param.opts, param.secondary_opts)
        for sub in (getattr(command, "commands", None) or {}).values():
            walk(sub)

    walk(ROOT)
    return found
