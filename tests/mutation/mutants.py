"""Mutants of a Python module: one small change to its AST each, named so that a name
survives edits elsewhere in the file (`equivalent.txt` lists mutants by that name).

The operators are the usual ones (mutmut's and cosmic-ray's core set): comparison and
boolean operators, `not`, conditions, arithmetic, constants, `return` values, `break` and
`continue`, removed calls, attribute assignments, keyword arguments and comprehension
filters, `min`/`max`, `any`/`all`. What is left alone, and why:
- docstrings, annotations, imports, decorators, `assert` (type narrowing for mypy);
- message prose: anything inside a `raise`, `hint=`, `help=` and `description=` values,
  and the text of f-strings (the values they format are mutated). Where an error's words
  are the behaviour (a 401 names the role to grant), a test checks them.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
from collections.abc import Iterator

PROSE_KEYWORDS = {"hint", "help", "description"}

_COMPARE_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BINOP_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
}
_CALL_SWAP = {"min": "max", "max": "min", "any": "all", "all": "any"}
# Conditions made of one of these are negated whole (comparisons and `not` have their own).
_NEGATABLE = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.NamedExpr)


@dataclasses.dataclass(frozen=True)
class Mutant:
    module: str  # path relative to src/, e.g. kfp_gcp/services/kfp/api.py
    qualname: str  # the function or class it is in, "<module>" at the top level
    change: str  # "before → after"
    occurrence: int  # 1 for the first mutant of this qualname and change
    index: int  # the site number in the file (what `apply` takes)
    lines: tuple[int, ...]  # the lines whose execution the change can affect
    import_time: bool  # runs when the module is imported (top level, class body, defaults)

    @property
    def id(self) -> str:
        suffix = f" #{self.occurrence}" if self.occurrence > 1 else ""
        module = self.module.removeprefix("kfp_gcp/services/")
        return f"{module} :: {self.qualname} :: {self.change}{suffix}"


def _short(node: ast.AST, limit: int = 70) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                found.add(id(body[0]))
    return found


class _Sites(ast.NodeTransformer):
    """Walks the tree; numbers every mutation site; applies the one numbered `target`."""

    def __init__(self, scope: set[str] | None, target: int = -1) -> None:
        self.scope = scope
        self.target = target
        self.count = 0
        self.found: list[tuple[str, str, tuple[int, ...], bool]] = []
        self.stack: list[str] = []
        self.statement: ast.stmt | None = None
        self.function_depth = 0
        self.docstrings: set[int] = set()

    # Bookkeeping.

    def _site(self, node: ast.AST, before: ast.AST, after: ast.AST | None, label: str = "") -> bool:
        """Record a site; True when it is the one to apply."""
        lines = set(range(node.lineno, (node.end_lineno or node.lineno) + 1))  # type: ignore[attr-defined]
        if self.statement is not None:
            lines.add(self.statement.lineno)
        change = label or f"{_short(before)} → {_short(after) if after is not None else 'pass'}"
        qualname = ".".join(self.stack) or "<module>"
        self.found.append((qualname, change, tuple(sorted(lines)), self.function_depth == 0))
        hit = self.count == self.target
        self.count += 1
        return hit

    def _in_scope(self, node: ast.stmt) -> bool:
        if self.scope is None or self.stack:
            return True
        names: list[str] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        return any(n in self.scope for n in names)

    def visit_Module(self, node: ast.Module) -> ast.AST:
        self.docstrings = _docstring_nodes(node)
        node.body = [self._statement(s) for s in node.body]
        return node

    def _statement(self, node: ast.stmt) -> ast.stmt:
        if id(node) in self.docstrings or not self._in_scope(node):
            return node
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Assert | ast.Global):
            return node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            return node
        if isinstance(node, ast.Assign) and _is_type_variable(node.value):
            return node
        outer = self.statement
        self.statement = node
        try:
            result = self.visit(node)
        finally:
            self.statement = outer
        return result  # type: ignore[no-any-return]

    def _body(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        return [self._statement(s) for s in statements]

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field, old in ast.iter_fields(node):
            if isinstance(old, list):
                if old and isinstance(old[0], ast.stmt):
                    setattr(node, field, self._body(old))
                else:
                    setattr(
                        node, field, [self.visit(v) if isinstance(v, ast.AST) else v for v in old]
                    )
            elif isinstance(old, ast.AST):
                setattr(node, field, self.visit(old))
        return node

    # Definitions: no annotations, decorators or docstrings.

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        self.stack.append(node.name)
        try:
            # Defaults are evaluated where the function is defined (at import, for most).
            node.args.defaults = [self.visit(d) for d in node.args.defaults]
            node.args.kw_defaults = [self.visit(d) if d else d for d in node.args.kw_defaults]
            self.function_depth += 1
            try:
                node.body = self._body(node.body)
            finally:
                self.function_depth -= 1
        finally:
            self.stack.pop()
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.stack.append(node.name)
        try:
            node.body = self._body(node.body)
        finally:
            self.stack.pop()
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node.args.defaults = [self.visit(d) for d in node.args.defaults]
        self.function_depth += 1
        try:
            node.body = self.visit(node.body)
        finally:
            self.function_depth -= 1
        return node

    # Prose.

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        return node  # what it raises is prose; whether it raises is decided by the condition

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        # The text of an f-string is left alone; the values it formats are code.
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                part.value = self.visit(part.value)
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        if node.arg in PROSE_KEYWORDS:
            return node
        node.value = self.visit(node.value)
        return node

    # Operators.

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            swap = _COMPARE_SWAP.get(type(op))
            if swap is None:
                continue
            mutated = copy.deepcopy(node)
            mutated.ops[i] = swap()
            if self._site(node, node, mutated):
                return mutated
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        mutated = ast.BoolOp(
            op=ast.Or() if isinstance(node.op, ast.And) else ast.And(), values=node.values
        )
        if self._site(node, node, mutated):
            return ast.copy_location(mutated, node)
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._site(node, node, node.operand):
            return node.operand
        if isinstance(node.op, ast.USub) and self._site(node, node, node.operand):
            return node.operand
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        swap = _BINOP_SWAP.get(type(node.op))
        if swap is not None:
            mutated = ast.BinOp(left=node.left, op=swap(), right=node.right)
            if self._site(node, node, mutated):
                return ast.copy_location(mutated, node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        swap = _BINOP_SWAP.get(type(node.op))
        if swap is not None:
            mutated = ast.AugAssign(target=node.target, op=swap(), value=node.value)
            if self._site(node, node, mutated):
                return ast.copy_location(mutated, node)
        plain = ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)
        if self._site(node, node, plain):
            return ast.copy_location(plain, node)
        return node

    def _negate_test(self, node: ast.If | ast.While | ast.IfExp) -> None:
        if isinstance(node.test, _NEGATABLE):
            negated = ast.UnaryOp(op=ast.Not(), operand=node.test)
            if self._site(node.test, node.test, negated):
                node.test = ast.copy_location(negated, node.test)

    def visit_If(self, node: ast.If) -> ast.AST:
        node.test = self.visit(node.test)
        self._negate_test(node)
        node.body = self._body(node.body)
        node.orelse = self._body(node.orelse)
        return node

    def visit_While(self, node: ast.While) -> ast.AST:
        node.test = self.visit(node.test)
        self._negate_test(node)
        node.body = self._body(node.body)
        node.orelse = self._body(node.orelse)
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        self.generic_visit(node)
        self._negate_test(node)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        for i, condition in enumerate(list(node.ifs)):
            if self._site(condition, condition, None, f"drop filter `if {_short(condition)}`"):
                node.ifs = node.ifs[:i] + node.ifs[i + 1 :]
                break
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            new: object = not value
        elif isinstance(value, int | float):
            new = value + 1
        elif isinstance(value, str):
            new = f"XX{value}XX"
        else:
            return node
        mutated = ast.Constant(value=new)
        if self._site(node, node, mutated):
            return ast.copy_location(mutated, node)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        if node.value is None or (
            isinstance(node.value, ast.Constant) and node.value.value is None
        ):
            return node
        if self._site(node, node, ast.Return(value=None)):
            return ast.copy_location(ast.Return(value=None), node)
        return node

    def visit_Continue(self, node: ast.Continue) -> ast.AST:
        if self._site(node, node, ast.Break()):
            return ast.copy_location(ast.Break(), node)
        return node

    def visit_Break(self, node: ast.Break) -> ast.AST:
        if self._site(node, node, ast.Continue()):
            return ast.copy_location(ast.Continue(), node)
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.value, ast.Call) and self._site(node, node, None):
            return ast.copy_location(ast.Pass(), node)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        self.generic_visit(node)
        if (
            self.function_depth
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Attribute | ast.Subscript)
            and self._site(node, node, None)
        ):
            return ast.copy_location(ast.Pass(), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in _CALL_SWAP:
            func = ast.Name(id=_CALL_SWAP[node.func.id], ctx=ast.Load())
            mutated = ast.Call(func=func, args=node.args, keywords=node.keywords)
            if self._site(node, node.func, func):
                return ast.copy_location(mutated, node)
        for i, keyword in enumerate(node.keywords):
            if keyword.arg is None or keyword.arg in PROSE_KEYWORDS:
                continue
            label = f"drop {keyword.arg}={_short(keyword.value, 50)} from {_short(node.func)}()"
            if self._site(node, keyword, None, label):
                node.keywords = node.keywords[:i] + node.keywords[i + 1 :]
                return node
        return node


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _is_type_variable(value: ast.expr) -> bool:
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in ("TypeVar", "NewType")
    )


def enumerate_mutants(source: str, module: str, scope: set[str] | None = None) -> list[Mutant]:
    walker = _Sites(scope)
    walker.visit(ast.parse(source))
    seen: dict[tuple[str, str], int] = {}
    mutants = []
    for index, (qualname, change, lines, import_time) in enumerate(walker.found):
        key = (qualname, change)
        seen[key] = seen.get(key, 0) + 1
        mutants.append(Mutant(module, qualname, change, seen[key], index, lines, import_time))
    return mutants


def mutate(source: str, index: int, scope: set[str] | None = None) -> ast.Module:
    """The module with site `index` changed (numbered as `enumerate_mutants` numbers them)."""
    walker = _Sites(scope, target=index)
    tree = walker.visit(ast.parse(source))
    if walker.count <= index:
        raise IndexError(f"no mutation site {index}")
    return ast.fix_missing_locations(tree)  # type: ignore[no-any-return]


def mutated_sources(source: str, scope: set[str] | None = None) -> Iterator[str]:
    """Every mutant as source text (for tests of the operators)."""
    for mutant in enumerate_mutants(source, "m.py", scope):
        yield ast.unparse(mutate(source, mutant.index, scope))
