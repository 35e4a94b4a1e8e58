"""The advice for a Parquet file of logged states, computed by DuckDB where the data is.

:func:`advise_parquet` checks the file's columns and values as :func:`advise` would (every
problem named with its column and first rows, nothing coerced), then runs
:meth:`Rulebook.to_sql` over the file in DuckDB, embedded, and writes ``rule_ids`` per row
to a Parquet file or yields it row by row. ``difficult-customers advise --from-parquet`` is
this function. Needs the ``[sql]`` extra (sqlglot and DuckDB).

The file's path is handed to DuckDB's reader as a value, never written into SQL; the SQL
holds only the state's field names, the columns the caller keeps (quoted by sqlglot) and
validated literals.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from .compile._tree import require

require("duckdb", "sql", "difficult_customers.parquet")
require("sqlglot", "sql", "difficult_customers.parquet")

import duckdb  # noqa: E402  (after the checks, so that a missing extra says which)
from sqlglot import exp  # noqa: E402

from ._columns import ColumnProblem  # noqa: E402
from ._text import shown  # noqa: E402
from .compile._logic import rulebook_logic  # noqa: E402
from .compile.sql import OUTPUT, rulebook_expression  # noqa: E402
from .conditions import state_schema  # noqa: E402
from .errors import FrameError  # noqa: E402
from .rules import Rulebook, default_rulebook  # noqa: E402
from .state import MAX_COUNT, MAX_DONE, ConversationState  # noqa: E402

__all__ = ["MAX_ROWS_SHOWN", "advise_parquet"]

#: Most offending row numbers an error shows per column.
MAX_ROWS_SHOWN = 5
#: Rows fetched from DuckDB at a time when the advice is yielded rather than written.
BATCH_ROWS = 10_000

# sqlglot's base class of expressions changed name across versions: either will do.
Check = tuple[str, Any, str]
"""A column, an SQL condition true on the rows that break a rule, and the rule."""

_TABLE = "states"
_GLOB = re.compile(r"([*?\[])")
# DuckDB's own numbering of a Parquet file's rows, from 0: the row numbers of errors.
_ROW = "file_row_number"
_INTEGERS: frozenset[str] = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
#: Per kind of state field: whether a DuckDB column type holds it, and what it must be.
_TYPES: dict[str, tuple[Callable[[str], bool], str]] = {
    "bool": ("BOOLEAN".__eq__, "a BOOLEAN column"),
    "int": (_INTEGERS.__contains__, "an integer column"),
    "enum": (
        lambda kind: kind == "VARCHAR" or kind.startswith("ENUM("),
        "a VARCHAR or ENUM column",
    ),
}


def advise_parquet(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str] | None = None,
    *,
    keep: Iterable[str] = (),
    rulebook: Rulebook | None = None,
) -> Iterator[dict[str, Any]] | None:
    """The advice for every row of a Parquet file of states.

    Args:
        source: a Parquet file whose columns are state fields (missing ones take the
            field's default), plus the columns named in ``keep``. Its path is the name of
            one file, never a glob pattern, a ``~`` or a URL.
        target: a Parquet file to write (a local path, as ``source`` is): the ``keep``
            columns, then ``rule_ids``, the ids of the rules in the advice in advice order
            (phase, priority, id, as ``advise_frame`` gives them: attitudes, actions and
            things to avoid together, unlike the groups of ``Advice.rule_ids``), one row per
            row of ``source``, in order. ``None``: yield each row as a dictionary instead,
            in order.
        keep: columns of ``source`` that are not state fields but belong in the output (a
            turn id, a timestamp). Any other column that is not a state field is an error:
            a misspelled field would otherwise silently take its default.
        rulebook: rules to use instead of the built-in ones.

    Returns:
        ``None`` when ``target`` is written; otherwise an iterator of rows.

    Raises:
        FileNotFoundError: there is no ``source``.
        ValueError: ``source`` is not a regular file, ``target`` is ``source``, or ``keep``
            names a column twice.
        FrameError: a column is not a state field (nor kept), has the wrong type, holds nulls,
            values out of range or outside its enum, unknown ids in ``done``, or rows that
            contradict the state's own rules; every such column with its first rows (counted
            from 0, in file order). Nothing is written then.
        duckdb.Error: the file cannot be read as Parquet.

    .. versionadded:: 0.2
    """
    book = default_rulebook() if rulebook is None else rulebook
    if not isinstance(book, Rulebook):
        raise TypeError(f"rulebook must be a Rulebook, not {type(book).__name__}")
    kept: list[str] = []
    for name in keep:
        if name in kept:
            # Counted once, a column listed twice would hide the typo of another one.
            raise ValueError(f"{shown(name)} is named twice in keep: name each column once")
        kept.append(name)
    path = os.path.abspath(os.fspath(source))
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), os.fspath(source))
    if not os.path.isfile(path):
        raise ValueError(f"{os.fspath(source)}: not a regular file")
    if target is not None and os.path.exists(target) and os.path.samefile(path, target):
        # DuckDB would read the file while it writes over it.
        raise ValueError(f"{os.fspath(target)} is the file it reads: write to another file")
    # Known extensions are never fetched from the network nor loaded on their own: Parquet
    # is built in, and a path that looks like a URL is no reason to install code.
    connection = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    unnamed = _unnamed_columns(connection, path)
    if unnamed:
        # DuckDB's reader names such a column C0 (and may then find two columns C0), so
        # any error it led to would be about a name the file does not hold.
        problems = [
            ColumnProblem("", f"column {position} of the file has no name: name it")
            for position in unnamed
        ]
        raise FrameError(problems, source=os.fspath(source))
    if _ROW in connection.read_parquet(_literal(path)).columns:  # the schema only
        rule = "the name of the row numbers DuckDB's reader adds: rename the column"
        raise FrameError([ColumnProblem(_ROW, rule)], source=os.fspath(source))
    states = connection.read_parquet(_literal(path), file_row_number=True)
    try:
        columns = _checked_columns(states, kept, book)
    except FrameError as error:
        raise FrameError(error.problems, source=os.fspath(source)) from None
    # The expression itself rather than its text: sqlglot need not read back what it wrote.
    advice_ids = rulebook_expression(rulebook_logic(book), columns, inline=True)
    select = exp.select(*(exp.column(name, quoted=True) for name in kept), advice_ids)
    ordered = select.from_(_TABLE).order_by(exp.column(_ROW, quoted=True)).sql("duckdb")
    advice: Any = states.query(_TABLE, ordered)
    if target is not None:
        # Absolute, as the file read is: a local file, never a URL or a ~.
        advice.write_parquet(os.path.abspath(os.fspath(target)))
        return None
    return _rows(advice, [*kept, OUTPUT])


def _unnamed_columns(connection: Any, path: str) -> list[int]:
    """The positions (from 0) of the file's top-level columns whose name is empty."""
    schema = connection.execute(
        "SELECT name, num_children FROM parquet_schema(?)", [_literal(path)]
    ).fetchall()
    unnamed: list[int] = []
    index = 1  # after the root, its children in order, each followed by its own children
    position = 0
    while index < len(schema):
        if schema[index][0] == "":
            unnamed.append(position)
        pending = 1
        while pending and index < len(schema):
            pending += (schema[index][1] or 0) - 1
            index += 1
        position += 1
    return unnamed


def _literal(path: str) -> str:
    """An absolute path as DuckDB's reader must be given it to read that one file.

    The reader expands glob patterns (``*``, ``?``, ``[...]``), a leading ``~`` and URL
    schemes: made absolute, a path can hold none of the last two, and each glob character
    is put in brackets, where it stands for itself (``a[1].parquet`` is read, not
    ``a1.parquet``).
    """
    return _GLOB.sub(r"[\1]", path)


def _rows(relation: Any, names: Sequence[str]) -> Iterator[dict[str, Any]]:
    # DuckDB 2 streams a relation's rows with iter_rows; DuckDB 1 with fetchmany.
    if hasattr(relation, "iter_rows"):
        rows: Iterable[tuple[Any, ...]] = relation.iter_rows(BATCH_ROWS)
    else:  # pragma: no cover - DuckDB 1
        rows = iter(lambda: relation.fetchmany(BATCH_ROWS), [])
        rows = (row for batch in rows for row in batch)
    for row in rows:
        yield dict(zip(names, row, strict=True))


#: DuckDB's type for a Parquet list whose items have the null type.
_EMPTY_LISTS = '"NULL"[]'


def _checked_columns(states: Any, keep: Sequence[str], book: Rulebook) -> list[str]:
    """The state fields the file has; raises FrameError listing every problem."""
    fields = ConversationState.model_fields
    schema = state_schema()
    types = {name: str(kind) for name, kind in zip(states.columns, states.types, strict=True)}
    types.pop(_ROW, None)
    problems: list[ColumnProblem] = []
    for name in keep:
        if name not in types:
            problems.append(ColumnProblem(name, "a column to keep, but the file has none"))
        elif name in fields or name == OUTPUT:
            problems.append(
                ColumnProblem(name, "a state field or the output: not a column to keep")
            )
    bad: list[Check] = []
    present: list[str] = []
    for name, kind in types.items():
        if name in keep:
            continue
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else " (or a column to keep)"
            problems.append(ColumnProblem(name, f"not a state field{hint}"))
            continue
        column = exp.column(name, quoted=True)
        nulls = exp.Is(this=column.copy(), expression=exp.Null())
        if name == "done":
            # A list of nulls is how polars, pandas and Arrow write a column in which
            # nothing was done in any row; once its lists are checked to be empty, it is
            # the default, and is not read.
            if kind not in ("VARCHAR[]", _EMPTY_LISTS):
                problems.append(ColumnProblem(name, f"a list of rule ids (VARCHAR[]), not {kind}"))
                continue
            if kind == "VARCHAR[]":
                present.append(name)
            bad.append((name, nulls, "no nulls: an empty list for nothing done"))
            too_long = exp.GT(
                this=exp.func("len", column.copy()), expression=exp.Literal.number(MAX_DONE)
            )
            bad.append((name, too_long, f"at most {MAX_DONE} rule ids"))
            # Before unknown ids: a null item is not a misspelled id.
            null_items = exp.condition(
                f"len(list_filter({column.sql('duckdb')}, _id -> _id IS NULL)) > 0"
            )
            bad.append((name, null_items, "no nulls inside the lists: rule ids only"))
            if kind == _EMPTY_LISTS:
                continue
            ids = exp.Array(expressions=[exp.Literal.string(i) for i in rulebook_logic(book).ids])
            unknown = exp.condition(
                f"len(list_filter({column.sql('duckdb')}, "
                f"_id -> _id IS NULL OR NOT list_contains({ids.sql('duckdb')}, _id))) > 0"
            )
            bad.append((name, unknown, "a list of the rulebook's rule ids (a rule id is unknown)"))
            continue
        field_type = schema[name]
        accepts, wanted = _TYPES[field_type.kind]
        if not accepts(kind):
            problems.append(ColumnProblem(name, f"{wanted}, not {kind}"))
            continue
        present.append(name)
        bad.append((name, nulls, "no nulls: every row needs a value"))
        if field_type.kind == "int":
            out = exp.or_(
                exp.LT(this=column.copy(), expression=exp.Literal.number(0)),
                exp.GT(this=column.copy(), expression=exp.Literal.number(MAX_COUNT)),
            )
            bad.append((name, out, f"a count from 0 to {MAX_COUNT}"))
        elif field_type.kind == "enum":
            values = [exp.Literal.string(value) for value in field_type.values]
            text = exp.cast(column.copy(), "VARCHAR")
            bad.append(
                (name, exp.Not(this=exp.In(this=text, expressions=values)), field_type.describe())
            )
    # The values of every column of the right type are checked even when another column is
    # not: one run reports all there is to fix.
    problems += _offending(states, bad)
    if not problems and "abuse_after_warning" in present:
        problems = _offending(states, [_contradiction(present)])
    if problems:
        raise FrameError(problems)
    return present


def _contradiction(present: Sequence[str]) -> Check:
    """Rows breaking ConversationState's own cross-field rule on ``abuse_after_warning``."""

    def field(name: str) -> Any:
        if name in present:
            return exp.column(name, quoted=True)
        default = ConversationState.model_fields[name].default
        return exp.Boolean(this=default) if type(default) is bool else exp.Literal.number(default)

    abused = exp.or_(
        exp.GT(this=field("offensive_remarks"), expression=exp.Literal.number(0)),
        field("personal_attacks"),
        field("threats"),
    )
    possible = exp.and_(
        exp.GT(this=field("warnings_given"), expression=exp.Literal.number(0)), exp.paren(abused)
    )
    return (
        "abuse_after_warning",
        exp.and_(field("abuse_after_warning"), exp.not_(exp.paren(possible))),
        "true only where warnings_given >= 1 and offensive_remarks >= 1, personal_attacks or "
        "threats (record the warning and the abuse first)",
    )


def _offending(states: Any, checks: Sequence[Check]) -> list[ColumnProblem]:
    """One pass counting the rows each check finds, then the first rows of those that do."""
    if not checks:
        return []
    counts = exp.select(
        *(
            exp.alias_(
                exp.func("count_if", exp.func("coalesce", check.copy(), exp.true())),
                f"c{index}",
            )
            for index, (_, check, _) in enumerate(checks)
        )
    ).from_(_TABLE)
    found = states.query(_TABLE, counts.sql("duckdb")).fetchall()[0]
    problems: list[ColumnProblem] = []
    reported: set[str] = set()
    for (name, check, rule), count in zip(checks, found, strict=True):
        # One problem per column: the first rule it breaks (a null also fails the others).
        if not count or name in reported:
            continue
        reported.add(name)
        first = (
            exp.select(exp.column(_ROW, quoted=True))
            .from_(_TABLE)
            .where(exp.func("coalesce", check.copy(), exp.true()))
            .order_by(exp.column(_ROW, quoted=True))
            .limit(MAX_ROWS_SHOWN)
        )
        rows = tuple(int(row[0]) for row in states.query(_TABLE, first.sql("duckdb")).fetchall())
        problems.append(ColumnProblem(name, rule, rows, int(count)))
    return problems
