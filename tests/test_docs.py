"""The documents as a reader meets them: every `kfp-gcp` command in a fenced block parses
against the CLI, every `make` target exists, no command needs a tool a fresh machine lacks
(`uv` lives in .tools/ when it was not installed), every relative link resolves inside the
repository (anchors included), Markdown tables have no blank lines inside them, and nothing
points at notes that exist only beside the repository."""

from __future__ import annotations

import dataclasses
import os
import re
import unicodedata
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest

from tests.cli_syntax import problem, split
from tests.conftest import REPO

SKIPPED = {".git", ".venv", ".tools", "build", "node_modules", ".pytest_cache", ".mypy_cache"}


def documents() -> list[Path]:
    return sorted(
        p
        for p in REPO.rglob("*.md")
        if not SKIPPED & set(p.relative_to(REPO).parts) and "golden" not in p.parts
    )


def name(path: Path) -> str:
    return str(path.relative_to(REPO))


@dataclasses.dataclass
class Block:
    path: Path
    line: int  # of the first line inside the fence
    language: str
    lines: list[str]


FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")


def blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        marker, body, start = opening[2], [], i + 1
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(marker):
            body.append(lines[i])
            i += 1
        i += 1
        yield Block(path, start + 1, opening[3].lower(), body)


def prose(path: Path) -> list[tuple[int, str]]:
    """The lines outside fenced blocks, numbered, with inline code blanked out."""
    result, inside, marker = [], False, ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        opening = FENCE.match(line)
        if opening and not inside:
            inside, marker = True, opening[2]
            continue
        if inside:
            inside = not line.strip().startswith(marker)
            continue
        result.append((number, re.sub(r"`[^`]*`", "``", line)))
    return result


# Commands.

COMMAND_START = re.compile(r"(?:^\s*(?:\$\s+)?|run:\s+|&&\s+|;\s+|\|\s+)(?=(kfp-gcp|make|uv)\b)")


def commands(block: Block) -> Iterator[tuple[int, list[str]]]:
    """Each shell command in a block that runs kfp-gcp, make or uv, with its line number."""
    if block.language in ("text", "hcl", "json", "mermaid", "python"):
        return
    joined: list[tuple[int, str]] = []
    for offset, line in enumerate(block.lines):
        if joined and joined[-1][1].endswith("\\"):
            joined[-1] = (joined[-1][0], joined[-1][1][:-1] + " " + line.strip())
        else:
            joined.append((block.line + offset, line))
    for number, line in joined:
        for match in COMMAND_START.finditer(line):
            words = split(line[match.end() :])
            if words:
                yield number, words


def all_commands() -> list[tuple[str, list[str]]]:
    return [
        (f"{name(b.path)}:{number}", words)
        for path in documents()
        for b in blocks(path)
        for number, words in commands(b)
    ]


def test_every_kfp_gcp_command_in_a_fenced_block_parses_against_the_cli():
    found = [(where, words) for where, words in all_commands() if words[0] == "kfp-gcp"]
    problems = [f"{where}: {said}" for where, words in found if (said := problem(words[1:]))]
    assert len(found) > 30  # README, docs/ and terraform/ show many
    assert not problems, "\n".join(problems)


def test_every_make_target_in_a_fenced_block_exists():
    targets = set(re.findall(r"^([a-z-]+):", (REPO / "Makefile").read_text(), flags=re.M))
    problems = [
        f"{where}: make {word}"
        for where, words in all_commands()
        if words[0] == "make"
        for word in words[1:]
        if "=" not in word and not word.startswith("-") and word not in targets
    ]
    assert not problems, "\n".join(problems)


def test_no_command_needs_uv_on_path():
    # The Makefile installs uv into .tools/ when it is missing, so `uv` may not be on PATH:
    # documents run the CLI as `kfp-gcp` in the environment `make sync` made (README).
    found = [where for where, words in all_commands() if words[0] == "uv"]
    inline = [
        f"{name(path)}:{number}"
        for path in documents()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"`uv (run|sync|add|lock|pip)\b", line)
    ]
    assert not found + inline, "\n".join(found + inline)


# Links.

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|^\[[^\]]+\]:\s*(\S+)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in ("L", "N"))
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for _, line in prose(path):
        if match := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line):
            base = slug(match[1])
            anchor, n = base, 0
            while anchor in found:
                n += 1
                anchor = f"{base}-{n}"
            found.add(anchor)
    return found


def links(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in prose(path):
        for match in LINK.finditer(line):
            yield number, match[1] or match[2]


def link_problem(path: Path, target: str) -> str | None:
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
        return None
    file_part, _, anchor = target.partition("#")
    resolved = (path.parent / file_part).resolve() if file_part else path
    if not resolved.is_relative_to(REPO):
        return f"{target} leaves the repository"
    if not resolved.exists():
        return f"{target} does not exist"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"{target}: no heading with the anchor #{anchor} in {name(resolved)}"
    return None


def test_every_relative_link_resolves_inside_the_repository():
    checked, problems = 0, []
    for path in documents():
        for number, target in links(path):
            checked += 1
            if said := link_problem(path, target):
                problems.append(f"{name(path)}:{number}: {said}")
    assert checked > 40
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("target", "ok"),
    [
        ("docs/cli.md", True),
        ("docs/cli.md#errors-and-exit-codes", True),
        ("docs/cli.md#no-such-heading", False),
        ("docs/nope.md", False),
        ("../shared/docs/decisions.md", False),
        ("https://example.com/x", True),
        ("#quickstart", True),
    ],
)
def test_the_link_check_tells_good_from_bad(target, ok):
    assert (link_problem(REPO / "README.md", target) is None) is ok


# Tables.

DELIMITER = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def broken_tables(lines: list[str]) -> list[int]:
    """Line numbers of rows cut off from their table by a blank line (GitHub renders them
    as a paragraph of pipes)."""
    broken, in_table = [], False
    for i, line in enumerate(lines):
        if DELIMITER.match(line) and i and lines[i - 1].lstrip().startswith("|"):
            in_table = True
        elif not line.strip():
            if in_table:
                following = next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)
                starts_row = following is not None and lines[following].lstrip().startswith("|")
                new_table = (
                    starts_row
                    and following + 1 < len(lines)
                    and DELIMITER.match(lines[following + 1])
                )
                if starts_row and not new_table:
                    broken.append(following + 1)
            in_table = False
        elif in_table and not line.lstrip().startswith("|"):
            in_table = False
    return broken


def test_markdown_tables_have_no_blank_lines_inside():
    problems = [
        f"{name(path)}:{number}: a table row after a blank line (remove the blank line)"
        for path in documents()
        for number in broken_tables([line for _, line in prose_lines(path)])
    ]
    assert not problems, "\n".join(problems)


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """Every line, with fenced blocks blanked (a table in a code block is not a table)."""
    kept = dict(prose(path))
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(n, kept.get(n, "") if n in kept else "") for n in range(1, len(lines) + 1)]


def test_the_table_check_finds_a_row_cut_off_by_a_blank_line():
    table = ["| a | b |", "| --- | --- |", "| 1 | 2 |", "", "| 3 | 4 |", "", "text"]
    assert broken_tables(table) == [5]
    two_tables = ["| a |", "| --- |", "| 1 |", "", "| b |", "| --- |", "| 2 |"]
    assert broken_tables(two_tables) == []


# Notes beside the repository.

BESIDE = re.compile(
    r"decisions\.md|kfp-on-gke\.md|style-anchors\.md|peers-and-pain-points\.md|shared/docs"
)
TEXT = ("*.md", "*.py", "*.tf", "*.hcl", "*.toml", "*.yml", "*.yaml", "Makefile")


def test_nothing_points_at_notes_that_exist_only_beside_the_repository():
    # A fork has no ../shared: the facts are carried over with their upstream sources.
    problems = []
    paths = []
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)  # never walk .venv or build/
        paths += [Path(folder) / f for f in files if any(fnmatch(f, p) for p in TEXT)]
    for path in sorted(paths):
        if path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if BESIDE.search(line):
                problems.append(f"{name(path)}:{number}: {line.strip()[:120]}")
    assert not problems, "\n".join(problems)


# The getting-started page.


def test_getting_started_is_init_bootstrap_up_and_doctor_with_each_stages_time():
    from kfp_gcp.errors import ChecksFailed
    from kfp_gcp.services.ops import up

    path = REPO / "docs" / "getting-started.md"
    used = {
        " ".join(words[1:3] if words[1] == "infra" else words[1:2])
        for b in blocks(path)
        for _, words in commands(b)
        if words[0] == "kfp-gcp"
    }
    assert used == {"init", "infra bootstrap", "up", "doctor"}
    text = path.read_text()
    rows = re.findall(r"^\| ([A-Z][^|]+?) \| [^|]+ \| ([^|]+) \|$", text, flags=re.M)
    assert [title for title, _ in rows[1:]] == [title for _, title in up.STAGES]
    assert all(expected.strip() for _, expected in rows[1:])
    # What the page says the commands do, as the code does it.
    assert f"exits with {ChecksFailed.exit_code} when a check fails" in " ".join(text.split())
    assert "`build/up/dev.json`" in text
