"""Parsing and checking a condition, and the passes over its tree (see conditions.py).

:mod:`difficult_customers.conditions` defines the language's public side: :class:`Condition`,
:func:`parse_condition`, :func:`state_schema`. The whitelist, the parser and the four passes
(checking, compiling to Python, evaluating, explaining) are here, loaded when a condition is
first parsed, evaluated or lowered: the built-in rules come prebuilt, so a process that only
advises may never need them, and they cost about a millisecond of every import.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import operator
import re
import tokenize
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any, Generic, TypeVar

from ._text import close_matches, control_character, describe_control
from .conditions import (
    MAX_CONDITION_LENGTH,
    MAX_DEPTH,
    MAX_LITERAL_SET,
    TREE_CACHE_SIZE,
    FieldType,
)
from .errors import ConditionSyntaxError, ConditionTypeError

if typing.TYPE_CHECKING:
    from ._explanation import Failure

# Nothing public: conditions.py is the language's public side, and imports from here.
__all__: list[str] = []


# The whole whitelist. Every node of a condition must have one of these types; each maps to the
# name of the method that handles it in every pass (_Checker, _Compiler, _Evaluator, _Explainer),
# so validation, compilation, evaluation and explanation cannot drift apart.
_NODES: dict[type[ast.AST], str] = {
    ast.Expression: "expression",  # the root that ast.parse(mode="eval") returns
    ast.BoolOp: "bool_op",  # a and b, a or b
    ast.UnaryOp: "unary_op",  # not a (the operator table has no -, + or ~)
    ast.Compare: "compare",  # a < b, chains like 1 <= a < 3, a in (...)
    ast.Name: "name",  # a field of the conversation state
    ast.Constant: "constant",  # only the types in _CONSTANT_TYPES
    ast.Tuple: "collection",  # tuples, sets and lists: only right of in / not in
    ast.Set: "collection",
    ast.List: "collection",
}
#: The constant types a condition may spell; everything else (float, None, bytes...) is refused.
_CONSTANT_TYPES = (bool, int, str)
_COLLECTIONS = (ast.Tuple, ast.Set, ast.List)


class _Operator:
    """How one operator is spelled, applied, and which field kinds it accepts.

    A plain class, not a NamedTuple or a frozen dataclass: defining either of those costs a
    fraction of a millisecond at import, for a table only this module reads.
    """

    __slots__ = ("apply", "kinds", "ordering", "symbol")

    def __init__(
        self,
        symbol: str,
        apply: Callable[..., bool],
        kinds: frozenset[str] = frozenset(),
        *,
        ordering: bool = False,
    ) -> None:
        self.symbol = symbol  # the Python spelling, used by the compiler and in messages
        self.apply = apply  # and/or take an iterable of operands, the others one or two
        self.kinds = kinds  # field kinds a comparison may apply it to
        self.ordering = ordering  # < <= > >=: on an enum, allowed only when it is ordered


_ALL_KINDS = frozenset({"bool", "int", "enum"})
_SORTABLE = frozenset({"int", "enum"})

# The second half of the whitelist: every operator a condition may use.
_OPERATORS: dict[type[ast.AST], _Operator] = {
    ast.And: _Operator("and", all),  # all() and any() short-circuit like the keywords
    ast.Or: _Operator("or", any),
    ast.Not: _Operator("not", operator.not_),
    ast.Eq: _Operator("==", operator.eq, _ALL_KINDS),
    ast.NotEq: _Operator("!=", operator.ne, _ALL_KINDS),
    ast.Lt: _Operator("<", operator.lt, _SORTABLE, ordering=True),
    ast.LtE: _Operator("<=", operator.le, _SORTABLE, ordering=True),
    ast.Gt: _Operator(">", operator.gt, _SORTABLE, ordering=True),
    ast.GtE: _Operator(">=", operator.ge, _SORTABLE, ordering=True),
    ast.In: _Operator("in", lambda item, items: item in items, _SORTABLE),
    ast.NotIn: _Operator("not in", lambda item, items: item not in items, _SORTABLE),
}

# Not part of the whitelist: only the wording of the refusal for well-known constructs.
_REFUSALS: dict[type[ast.AST], str] = {
    ast.Call: "function calls are not allowed",
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts are not allowed",
    ast.Slice: "slices are not allowed",
    ast.BinOp: "arithmetic is not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.IfExp: "conditional expressions (x if y else z) are not allowed",
    ast.Starred: "starred expressions are not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Is: "'is' is not allowed; use == or !=",
    ast.IsNot: "'is not' is not allowed; use == or !=",
    ast.USub: "unary '-' is not allowed (counts are never negative)",
    ast.UAdd: "unary '+' is not allowed",
    ast.Invert: "'~' is not allowed",
    ast.Store: "assignment is not allowed",
}


# ---------------------------------------------------------------------------------------------
# Source positions
# ---------------------------------------------------------------------------------------------

# Pattern texts, compiled and cached by the re module when a condition is first parsed: the
# built-in rules usually come prebuilt, and compiling them cost 0.5 ms at import.
# Python's tokenizer ends a line at \r\n, \r or \n; splitting the same way keeps line numbers in
# step with the ast's.
_LINE = r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$"
# The text is parsed inside parentheses on lines of their own, so a condition may span several
# lines of a TOML multi-line string, indented, without backslashes.
_PREFIX = "(\n"
_SUFFIX = "\n)"
_CONTINUATION = r"\\(?:\r\n|\n)"
_OPENERS = frozenset("([{")
_CLOSERS = frozenset(")]}")


class _Source:
    """The condition text, and the mapping from ast positions back to character offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.wrapped = _PREFIX + text + _SUFFIX
        self.lines: list[str] = re.findall(_LINE, text)
        self.starts: list[int] = []
        offset = 0
        for line in self.lines:
            self.starts.append(offset)
            offset += len(line)
        self.comments: list[tuple[int, int]] = []

    def offset(self, lineno: int, column: int, *, in_bytes: bool) -> int:
        """Character offset in ``text`` of a 1-based line of ``wrapped`` and a column.

        Ast nodes give UTF-8 byte columns, tokens and syntax errors character columns.
        Positions in the wrapping lines are clamped to the start or end of the text.
        """
        index = lineno - 2  # line 1 of `wrapped` is the opening parenthesis
        if index < 0:
            return 0
        if index >= len(self.lines):
            return len(self.text)
        line = self.lines[index]
        if in_bytes:
            column = len(line.encode("utf-8")[:column].decode("utf-8", errors="ignore"))
        return self.starts[index] + min(column, len(line))

    def span(self, node: ast.AST) -> tuple[int, int]:
        """The ``(start, end)`` character offsets of an expression node."""
        assert isinstance(node, ast.expr)
        assert node.end_lineno is not None
        assert node.end_col_offset is not None
        start = self.offset(node.lineno, node.col_offset, in_bytes=True)
        end = self.offset(node.end_lineno, node.end_col_offset, in_bytes=True)
        return start, end

    def clause(self, node: ast.AST) -> str:
        """A node's source text on one line: comments dropped, whitespace collapsed."""
        start, end = self.span(node)
        pieces = []
        for comment_start, comment_end in self.comments:
            if comment_start >= end:
                break
            if comment_end <= start:
                continue
            pieces.append(self.text[start:comment_start])
            start = comment_end
        pieces.append(self.text[start:end])
        # A backslash outside a string can only continue a line (every allowed string is an
        # enum value, without backslashes or spaces), so it is layout, like the line break.
        return " ".join(re.sub(_CONTINUATION, " ", "".join(pieces)).split())


# ---------------------------------------------------------------------------------------------
# Parsing and validation
# ---------------------------------------------------------------------------------------------


def _syntax_error(message: str, source: _Source, node: ast.AST | None) -> ConditionSyntaxError:
    span = source.span(node) if isinstance(node, ast.expr) else None
    return ConditionSyntaxError(message, condition=source.text, span=span)


def _type_error(
    message: str, source: _Source, node: ast.AST, suggestion: str | None = None
) -> ConditionTypeError:
    return ConditionTypeError(
        message, condition=source.text, span=source.span(node), suggestion=suggestion
    )


def _parse(text: object) -> tuple[ast.Expression, _Source]:
    """Parse the text into a tree, reporting Python syntax errors with their position."""
    if not isinstance(text, str):
        raise ConditionSyntaxError(
            f"a condition must be a string, not {type(text).__name__}", condition=repr(text)
        )
    if not text.strip():
        raise ConditionSyntaxError("the condition is empty", condition=text)
    if len(text) > MAX_CONDITION_LENGTH:
        raise ConditionSyntaxError(
            f"the condition is longer than {MAX_CONDITION_LENGTH} characters", condition=text
        )
    # Comments included: the text is shown in errors, explanations and listings.
    position = control_character(text, line_breaks=True)
    if position is not None:
        raise ConditionSyntaxError(
            describe_control(text[position], line_breaks=True),
            condition=text,
            span=(position, position + 1),
        )
    source = _Source(text)
    # Before ast.parse, so that `x)` is reported at its own parenthesis rather than at the
    # wrapping one; text the tokenizer cannot read is left for ast.parse to report.
    if _needs_token_scan(text):
        with contextlib.suppress(tokenize.TokenError, SyntaxError):
            _scan_tokens(source)
    try:
        # Rule text like "\d" draws a DeprecationWarning at parse time; the whitelist or the
        # type check rejects such text anyway, so the warning would only be noise.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source.wrapped, mode="eval")
    except SyntaxError as error:
        raise _from_syntax_error(error, source) from None
    except (ValueError, RecursionError, MemoryError):
        # Nesting too deep for the parser itself (null bytes are refused above).
        raise ConditionSyntaxError("the condition cannot be parsed", condition=text) from None
    body = tree.body
    if isinstance(body, ast.Tuple) and not body.elts and body.lineno == 1:
        # Only the wrapping parentheses were left: the text held nothing but comments (and
        # line continuations), which Python would read as an empty tuple.
        raise ConditionSyntaxError("the condition is empty (only a comment)", condition=text)
    return tree, source


def _from_syntax_error(error: SyntaxError, source: _Source) -> ConditionSyntaxError:
    """Python's report, with its position moved back into the unwrapped text."""
    reason = " ".join(str(error.msg).split())
    # Python's own message often starts with "invalid syntax" already: say it once.
    message = reason if reason.startswith("invalid syntax") else f"invalid syntax: {reason}"
    span = None
    lineno = error.lineno or 0
    if 2 <= lineno < 2 + len(source.lines):
        start = source.offset(lineno, (error.offset or 1) - 1, in_bytes=False)
        end = start
        if error.end_lineno is not None and error.end_offset is not None:
            end = source.offset(error.end_lineno, error.end_offset - 1, in_bytes=False)
        span = (start, max(end, min(start + 1, len(source.text))))
    elif lineno >= 2 + len(source.lines):
        # Python stumbled on the wrapping parenthesis: the text stopped too early.
        message += " at the end of the condition"
    return ConditionSyntaxError(message, condition=source.text, span=span)


_SIMPLE_STRING = r"\"[^\"\\\r\n]*\"|'[^'\\\r\n]*'"


def _needs_token_scan(text: str) -> bool:
    """Whether :func:`_scan_tokens` could find anything: a comment, or a closing bracket that
    closes more than the text opened.

    Python's tokenizer costs a regular expression compiled on first use (milliseconds, on
    the first advice of a process) and a pass in pure Python. Most conditions hold no ``#``
    and only simple quoted words: with those strings removed, their brackets are counted
    directly. Anything else (a ``#``, a backslash, a quote left over) goes to the tokenizer.
    """
    if "#" in text or "\\" in text:
        return True
    bare = re.sub(_SIMPLE_STRING, "", text)
    if "'" in bare or '"' in bare:
        return True
    depth = 0
    for character in bare:
        if character in _OPENERS:
            depth += 1
        elif character in _CLOSERS:
            depth -= 1
            if depth < 0:
                return True
    return False


def _scan_tokens(source: _Source) -> None:
    """Record comments, and refuse text that closes the parenthesis wrapped around it.

    Without this check ``threats) or (resolved`` would parse, although it is not a valid
    condition on its own.
    """
    last_line = source.wrapped.count("\n") + 1
    depth = 0
    # newline=None: \r and \r\n end lines here exactly as they do for ast.parse.
    readline = io.StringIO(source.wrapped, newline=None).readline
    for token in tokenize.generate_tokens(readline):
        if token.type == tokenize.COMMENT:
            start = source.offset(*token.start, in_bytes=False)
            source.comments.append((start, source.offset(*token.end, in_bytes=False)))
        elif token.type == tokenize.OP and token.string in _OPENERS:
            depth += 1
        elif token.type == tokenize.OP and token.string in _CLOSERS:
            depth -= 1
            if depth == 0 and token.start[0] != last_line:
                start = source.offset(*token.start, in_bytes=False)
                raise ConditionSyntaxError(
                    f"unmatched {token.string!r}", condition=source.text, span=(start, start + 1)
                )


def _check_whitelist(tree: ast.Expression, source: _Source) -> None:
    """Walk every node, in reading order, against the whitelist and the limits.

    The whole tree is checked before anything runs: ``False and f()`` is refused even though
    evaluation would never reach the call.
    """
    stack: list[tuple[ast.AST, ast.AST | None, int]] = [(tree, None, 0)]
    while stack:
        node, parent, depth = stack.pop()
        if isinstance(node, ast.expr):
            depth += 1
            if depth > MAX_DEPTH:
                raise _syntax_error(
                    f"the condition is nested more than {MAX_DEPTH} levels deep", source, node
                )
        if type(node) in _NODES:
            if isinstance(node, ast.Constant) and type(node.value) not in _CONSTANT_TYPES:
                raise _syntax_error(_refuse_constant(node.value), source, node)
            if isinstance(node, _COLLECTIONS) and len(node.elts) > MAX_LITERAL_SET:
                raise _syntax_error(
                    f"a literal collection may hold at most {MAX_LITERAL_SET} items", source, node
                )
        # Operators have no position of their own and Load is the context of every Name;
        # only allowed nodes are ever descended into, so neither can appear anywhere else.
        elif type(node) not in _OPERATORS and not isinstance(node, ast.Load):
            refusal = _REFUSALS.get(type(node), f"{type(node).__name__} is not allowed")
            raise _syntax_error(refusal, source, node if isinstance(node, ast.expr) else parent)
        children = list(ast.iter_child_nodes(node))
        stack.extend((child, node, depth) for child in reversed(children))


def _refuse_constant(value: object) -> str:
    if value is None:
        return "None is not allowed"
    if value is Ellipsis:
        return "'...' is not allowed"
    if isinstance(value, float):
        return "float constants are not allowed; counts are whole numbers"
    return f"{type(value).__name__} constants are not allowed"


_T = TypeVar("_T")


class _Pass(Generic[_T]):
    """A walk over a whitelisted tree, dispatching on :data:`_NODES`."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = sorted(set(_NODES.values()) - set(dir(cls)))
        if missing:
            raise TypeError(f"{cls.__name__} does not handle {', '.join(missing)}")

    def visit(self, node: ast.AST) -> _T:
        handler: Callable[[ast.AST], _T] = getattr(self, _NODES[type(node)])
        return handler(node)


def _plain(value: object) -> object:
    """An enum member's value, anything else unchanged: StrEnum members and str compare alike."""
    return value.value if isinstance(value, Enum) else value


def _ordered_members(
    schema: Mapping[str, FieldType], left: ast.AST, op: _Operator, right: ast.AST
) -> tuple[str, tuple[str, ...]] | None:
    """For ``mood >= "angry"`` (either way round): the field and the members that satisfy it.

    Ranks are an enum's declaration order; a rank comparison is thus a membership test, which
    the compiler and the evaluator both use so that they agree.
    """
    if not op.ordering:
        return None
    for field_node, constant, field_first in ((left, right, True), (right, left, False)):
        if isinstance(field_node, ast.Name) and isinstance(constant, ast.Constant):
            field_type = schema[field_node.id]
            if field_type.kind == "enum":
                rank = field_type.values.index(constant.value)
                members = tuple(
                    member
                    for index, member in enumerate(field_type.values)
                    if (op.apply(index, rank) if field_first else op.apply(rank, index))
                )
                return field_node.id, members
    return None


def _pairs(node: ast.Compare) -> Iterable[tuple[ast.expr, ast.cmpop, ast.expr]]:
    """``a < b < c`` as ``(a, <, b), (b, <, c)``: a chain holds when every pair does."""
    operands = [node.left, *node.comparators]
    return zip(operands[:-1], node.ops, operands[1:], strict=True)


class _Checker(_Pass[None]):
    """Type-checks a whitelisted tree against the schema; every visited node is a condition."""

    def __init__(self, schema: Mapping[str, FieldType], source: _Source) -> None:
        self.schema = schema
        self.source = source

    def expression(self, node: ast.Expression) -> None:
        self.visit(node.body)

    def bool_op(self, node: ast.BoolOp) -> None:
        for operand in node.values:
            self.visit(operand)

    def unary_op(self, node: ast.UnaryOp) -> None:
        self.visit(node.operand)

    def name(self, node: ast.Name) -> None:
        field_type = self._field(node)
        if field_type.kind != "bool":
            raise _type_error(
                f"field {node.id!r} is {field_type.describe()}, not a boolean: compare it",
                self.source,
                node,
            )

    def constant(self, node: ast.Constant) -> None:
        if not isinstance(node.value, bool):
            raise _type_error(
                f"the constant {node.value!r} is not a condition; only True or False stand alone",
                self.source,
                node,
            )

    def collection(self, node: ast.expr) -> None:
        raise _syntax_error(
            "a literal tuple, set or list is only allowed after 'in' or 'not in'",
            self.source,
            node,
        )

    def compare(self, node: ast.Compare) -> None:
        for left, cmpop, right in _pairs(node):
            op = _OPERATORS[type(cmpop)]
            is_membership = op.symbol in ("in", "not in")
            for operand in (left, right):
                if isinstance(operand, _COLLECTIONS):
                    if operand is not right or not is_membership:
                        self.collection(operand)
                elif not isinstance(operand, ast.Name | ast.Constant):
                    raise _syntax_error(
                        "only a field or a constant can be compared", self.source, operand
                    )
            if is_membership:
                self._membership(left, op, right, node)
            else:
                self._comparison(left, op, right, node)

    def _field(self, node: ast.Name) -> FieldType:
        field_type = self.schema.get(node.id)
        if field_type is None:
            close = close_matches(node.id, list(self.schema), n=1)
            raise _type_error(
                f"unknown field {node.id!r}", self.source, node, close[0] if close else None
            )
        return field_type

    def _comparison(self, left: ast.expr, op: _Operator, right: ast.expr, node: ast.AST) -> None:
        if isinstance(left, ast.Name) and isinstance(right, ast.Name):
            left_type, right_type = self._field(left), self._field(right)
            if left_type.kind != "int" or right_type.kind != "int":
                raise _type_error(
                    f"only two counts can be compared with each other, not {left.id!r} "
                    f"({left_type.kind}) and {right.id!r} ({right_type.kind})",
                    self.source,
                    node,
                )
        elif isinstance(left, ast.Name) or isinstance(right, ast.Name):
            name, constant = (left, right) if isinstance(left, ast.Name) else (right, left)
            assert isinstance(name, ast.Name)
            assert isinstance(constant, ast.Constant)
            field_type = self._field(name)
            self._operator(name, field_type, op, node)
            self._value(name, field_type, constant)
            ordered = _ordered_members(self.schema, left, op, right)
            if ordered is not None and not ordered[1]:
                # `mood > "furious"`: no value is ranked there, so the rule could never fire.
                raise _type_error(
                    f"no value of field {name.id!r} satisfies this comparison: it is always false",
                    self.source,
                    node,
                )
            below = "<" if name is left else ">"
            if field_type.kind == "int" and constant.value == 0 and op.symbol == below:
                # `offensive_remarks < 0`, the same for counts.
                raise _type_error(
                    f"no value of field {name.id!r} satisfies this comparison (counts are "
                    "never negative): it is always false",
                    self.source,
                    node,
                )
        else:
            raise _type_error("the comparison compares two constants", self.source, node)

    def _membership(self, left: ast.expr, op: _Operator, right: ast.expr, node: ast.AST) -> None:
        if not isinstance(left, ast.Name):
            raise _type_error(f"the left side of {op.symbol!r} must be a field", self.source, left)
        field_type = self._field(left)
        if not isinstance(right, _COLLECTIONS):
            raise _syntax_error(
                f"{op.symbol!r} needs a literal tuple, set or list on its right",
                self.source,
                right,
            )
        self._operator(left, field_type, op, node)
        if not right.elts:
            # Like a comparison of two constants: the rule would never (or always) fire.
            outcome = "false" if op.symbol == "in" else "true"
            raise _syntax_error(
                f"{op.symbol!r} an empty collection is always {outcome}; list at least one value",
                self.source,
                right,
            )
        for item in right.elts:
            if not isinstance(item, ast.Constant):
                raise _syntax_error(
                    "a literal tuple, set or list may only hold constants", self.source, item
                )
            self._value(left, field_type, item)

    def _operator(
        self, name: ast.Name, field_type: FieldType, op: _Operator, node: ast.AST
    ) -> None:
        if field_type.kind not in op.kinds:
            raise _type_error(
                f"field {name.id!r} is a boolean: use it alone, or compare it to True or False "
                f"with == or !=, not {op.symbol!r}",
                self.source,
                node,
            )
        if op.ordering and field_type.kind == "enum" and not field_type.ordered:
            raise _type_error(
                f"field {name.id!r} has no order, so {op.symbol!r} does not apply; "
                "use ==, !=, in or not in",
                self.source,
                node,
            )

    def _value(self, name: ast.Name, field_type: FieldType, constant: ast.Constant) -> None:
        value = constant.value
        if field_type.kind == "enum":
            if not isinstance(value, str):
                raise _type_error(
                    f"field {name.id!r} is {field_type.describe()}, not {value!r}",
                    self.source,
                    constant,
                )
            if value not in field_type.values:
                close = close_matches(value, field_type.values, n=1)
                raise _type_error(
                    f"{value!r} is not a value of field {name.id!r}; allowed: "
                    + ", ".join(map(repr, field_type.values)),
                    self.source,
                    constant,
                    close[0] if close else None,
                )
        # type() rather than isinstance(): True is an int to Python, but not a count here.
        elif field_type.kind == "int" and type(value) is not int:
            raise _type_error(
                f"field {name.id!r} is a count: compare it with an integer, not {value!r}",
                self.source,
                constant,
            )
        elif field_type.kind == "bool" and type(value) is not bool:
            raise _type_error(
                f"field {name.id!r} is a boolean: compare it with True or False, not {value!r}",
                self.source,
                constant,
            )


class _Compiler(_Pass[str]):
    """Renders a checked tree as one fully parenthesized Python expression.

    Field names become free variables holding plain values (enums as strings). Literal
    collections become set displays, which CPython folds into a frozenset constant when they
    follow ``in``, so the expression needs no builtins and allocates nothing.
    """

    def __init__(self, schema: Mapping[str, FieldType]) -> None:
        self.schema = schema

    def expression(self, node: ast.Expression) -> str:
        return self.visit(node.body)

    def bool_op(self, node: ast.BoolOp) -> str:
        symbol = _OPERATORS[type(node.op)].symbol
        return "(" + f" {symbol} ".join(self.visit(value) for value in node.values) + ")"

    def unary_op(self, node: ast.UnaryOp) -> str:
        return f"({_OPERATORS[type(node.op)].symbol} {self.visit(node.operand)})"

    def compare(self, node: ast.Compare) -> str:
        parts = [self._pair(left, cmpop, right) for left, cmpop, right in _pairs(node)]
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    def name(self, node: ast.Name) -> str:
        return node.id

    def constant(self, node: ast.Constant) -> str:
        return repr(node.value)

    def collection(self, node: ast.Tuple | ast.Set | ast.List) -> str:
        assert all(isinstance(item, ast.Constant) for item in node.elts)
        return _set_display(item.value for item in node.elts if isinstance(item, ast.Constant))

    def _pair(self, left: ast.expr, cmpop: ast.cmpop, right: ast.expr) -> str:
        op = _OPERATORS[type(cmpop)]
        ordered = _ordered_members(self.schema, left, op, right)
        if ordered is not None:
            name, members = ordered
            return f"({name} in {_set_display(members)})"
        return f"({self.visit(left)} {op.symbol} {self.visit(right)})"


def _set_display(values: Iterable[object]) -> str:
    unique = list(dict.fromkeys(values))  # source order, duplicates dropped
    if not unique:
        return "()"  # `{}` would be a dict
    return "{" + ", ".join(map(repr, unique)) + "}"


class _Evaluator(_Pass[object]):
    """Interprets a checked tree over field values (plain values or StrEnum members)."""

    def __init__(self, schema: Mapping[str, FieldType], values: Mapping[str, object]) -> None:
        self.schema = schema
        self.values = values

    def expression(self, node: ast.Expression) -> object:
        return self.visit(node.body)

    def bool_op(self, node: ast.BoolOp) -> object:
        return _OPERATORS[type(node.op)].apply(bool(self.visit(value)) for value in node.values)

    def unary_op(self, node: ast.UnaryOp) -> object:
        return _OPERATORS[type(node.op)].apply(self.visit(node.operand))

    def compare(self, node: ast.Compare) -> object:
        return all(self._pair(left, cmpop, right) for left, cmpop, right in _pairs(node))

    def name(self, node: ast.Name) -> object:
        return _plain(self.values[node.id])

    def constant(self, node: ast.Constant) -> object:
        return node.value

    def collection(self, node: ast.Tuple | ast.Set | ast.List) -> object:
        return frozenset(self.visit(item) for item in node.elts)

    def _pair(self, left: ast.expr, cmpop: ast.cmpop, right: ast.expr) -> bool:
        op = _OPERATORS[type(cmpop)]
        ordered = _ordered_members(self.schema, left, op, right)
        if ordered is not None:
            name, members = ordered
            return _plain(self.values[name]) in members
        return bool(op.apply(self.visit(left), self.visit(right)))


class _Explainer(_Pass["Failure | None"]):
    """Finds the smallest clause that makes a checked tree false."""

    def __init__(self, evaluator: _Evaluator, source: _Source) -> None:
        self.evaluator = evaluator
        self.source = source

    def expression(self, node: ast.Expression) -> Failure | None:
        return self.visit(node.body)

    def bool_op(self, node: ast.BoolOp) -> Failure | None:
        if isinstance(node.op, ast.And):
            # The first operand that fails, explained in turn.
            for operand in node.values:
                failure = self.visit(operand)
                if failure is not None:
                    return failure
            return None
        # Every alternative of an `or` failed: none is more to blame than the others.
        return self._whole(node)

    def _whole(self, node: ast.AST) -> Failure | None:
        if self.evaluator.visit(node):
            return None
        names = sorted(
            (child for child in ast.walk(node) if isinstance(child, ast.Name)),
            key=lambda child: (child.lineno, child.col_offset),
        )
        values = {child.id: self.evaluator.visit(child) for child in names}
        from ._explanation import Failure

        return Failure(self.source.clause(node), values)

    unary_op = compare = name = constant = collection = _whole


@functools.lru_cache(maxsize=TREE_CACHE_SIZE)
def _checked_tree(text: str) -> tuple[ast.Expression, _Source]:
    """The whitelisted tree of a condition text; schema-independent, so shared and cached.

    Failures are not cached (``lru_cache`` never caches an exception). The trees are never
    modified by any pass.
    """
    tree, source = _parse(text)
    _check_whitelist(tree, source)
    return tree, source
