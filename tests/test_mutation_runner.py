"""`make mutation`'s own parts (tests/mutation): which changes it makes, which it leaves
alone, and that every mutant listed as equivalent still exists in the code."""

import ast
import textwrap

import pytest

from tests.mutation import __main__ as runner
from tests.mutation.mutants import enumerate_mutants, mutate

SOURCE = textwrap.dedent('''\
    """Module docstring."""
    LIMIT: int = 3


    def pick(items: list[int], strict: bool = False) -> int | None:
        """Docstring."""
        if not items:
            raise ValueError(f"no items, {LIMIT} wanted", "prose")
        total = 0
        for item in items:
            if item > LIMIT and strict:
                continue
            total += item
        found = [i for i in items if i == total]
        log(min(items), hint="text for a person")
        return found[0] if found else None
    ''')


def changes(source=SOURCE, scope=None):
    return [m.change for m in enumerate_mutants(source, "kfp_gcp/services/m.py", scope)]


def test_the_operators_change_conditions_constants_and_calls():
    assert changes() == [
        "3 → 4",
        "False → True",
        "not items → items",
        "0 → 1",
        "item > LIMIT → item >= LIMIT",
        "item > LIMIT and strict → item > LIMIT or strict",
        "continue → break",
        "total += item → total -= item",
        "total += item → total = item",
        "i == total → i != total",
        "drop filter `if i == total`",
        "min → max",
        "log(min(items), hint='text for a person') → pass",
        "0 → 1",
        "found → not found",
        "return found[0] if found else None → return",
    ]


def test_docstrings_annotations_raise_and_hints_are_left_alone():
    text = " ".join(changes())
    for untouched in ("Docstring", "int | None", "no items", "prose", "text for a person"):
        assert untouched not in text.replace("hint='text for a person'", "")


def test_each_mutant_changes_its_one_site_and_still_compiles():
    original = ast.unparse(ast.parse(SOURCE))
    mutants = enumerate_mutants(SOURCE, "m.py")
    texts = {ast.unparse(mutate(SOURCE, m.index)) for m in mutants}
    assert len(texts) == len(mutants)
    assert original not in texts
    for m in mutants:
        compile(mutate(SOURCE, m.index), "m.py", "exec")
    with pytest.raises(IndexError):
        mutate(SOURCE, len(mutants))


def test_a_scope_limits_mutants_to_the_named_top_level_definitions():
    assert changes(scope={"LIMIT"}) == ["3 → 4"]


def test_names_stay_the_same_when_other_code_moves():
    moved = "import os\n\n\ndef other() -> int:\n    return 1\n\n\n" + SOURCE
    before = {m.id for m in enumerate_mutants(SOURCE, "m.py")}
    after = {m.id for m in enumerate_mutants(moved, "m.py")}
    assert before <= after
    first, second = [m for m in enumerate_mutants(SOURCE, "m.py") if m.change == "0 → 1"]
    assert (first.qualname, first.occurrence, second.occurrence) == ("pick", 1, 2)
    assert second.id.endswith(" #2")


def test_changes_made_at_import_are_run_against_every_test():
    mutants = {m.change: m for m in enumerate_mutants(SOURCE, "m.py")}
    assert mutants["3 → 4"].import_time
    assert mutants["False → True"].import_time  # a default is evaluated at import
    assert not mutants["min → max"].import_time


def test_every_listed_equivalent_mutant_exists_and_says_why():
    listed = runner.read_equivalent()
    known = {m.id for mutants in runner.all_mutants().values() for m in mutants}
    stale = sorted(set(listed) - known)
    assert not stale, f"tests/mutation/equivalent.txt lists mutants that no longer exist: {stale}"
    assert all(len(entry.reason.split()) >= 4 for entry in listed.values())


def test_every_target_has_its_tests():
    for target in runner.TARGETS:
        assert target.path.is_file(), target.module
        for test in target.tests:
            assert (runner.REPO / test).is_file(), test
        if target.scope:
            top = {
                getattr(node, "name", None)
                or next((t.id for t in getattr(node, "targets", []) if hasattr(t, "id")), None)
                for node in ast.parse(target.path.read_text()).body
            }
            assert target.scope <= top, target.scope - top
