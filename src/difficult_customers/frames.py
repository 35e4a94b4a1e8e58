"""Advice over whole tables of states: a polars or pandas DataFrame, or an Arrow table.

>>> import polars as pl
>>> from difficult_customers.frames import advise_frame
>>> frame = pl.DataFrame({"mood": ["furious", "calm"], "threats": [True, False]})
>>> advise_frame(frame)["rule_ids"].to_list()[1][:3]
['stay-professional', 'avoid-getting-defensive', 'restate-the-request']

Each column is a state field (see ``docs/state.md``); a missing column takes the field's
default. The whole frame is validated in one pass; the conditions are evaluated as bitmaps
(:func:`.compile.polars.bitmaps`: polars for the comparisons, numpy for ``and``/``or``/
``not``), the ending and the overrides are applied to the bitmaps, which are transposed
into one integer key per row; the rule ids are built once per distinct key and copied by
row, never built row by row. See ``docs/frames.md``. Needs the ``[frames]`` extra (polars,
pyarrow, numpy).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from .compile._logic import RulebookLogic, rulebook_logic
from .compile._tree import require

require("polars", "frames", "difficult_customers.frames")
require("pyarrow", "frames", "difficult_customers.frames")
require("numpy", "frames", "difficult_customers.frames")

import numpy as np  # noqa: E402  (after the checks above, so a missing extra says which)
import polars as pl  # noqa: E402
import pyarrow as pa  # type: ignore[import-untyped]  # noqa: E402
from babel import Locale  # noqa: E402

from ._columns import ColumnProblem  # noqa: E402
from .compile._tree import Flag  # noqa: E402
from .compile.polars import (  # noqa: E402
    Bitmap,
    BitmapPlan,
    bitmap_matrix,
    bitmap_plan,
    expression,
)
from .conditions import FieldType, state_schema  # noqa: E402
from .errors import FrameError  # noqa: E402
from .i18n import negotiate_rulebook_locale  # noqa: E402
from .rules import Rule, Rulebook, default_rulebook  # noqa: E402
from .state import MAX_COUNT, MAX_DONE, ConversationState  # noqa: E402

__all__ = ["MAX_ROWS_SHOWN", "advise_frame"]

#: How many offending row numbers an error shows per column.
MAX_ROWS_SHOWN = 5

Kind = Literal["polars", "pandas", "arrow"]


def advise_frame(
    frame: Any,
    *,
    locale: str | Locale = "en",
    rulebook: Rulebook | None = None,
    text: bool = False,
) -> Any:
    """The advice for every row of a table of states, as :func:`advise` would give it.

    Args:
        frame: a ``polars.DataFrame``, a ``pandas.DataFrame`` or a ``pyarrow.Table`` whose
            columns are state fields. Counts are integer columns, booleans boolean columns,
            enums string, categorical or ``Enum`` columns of the enum's values, ``done`` a
            list of rule ids. A missing column takes the field's default.
        locale: the language of ``texts``.
        rulebook: rules to use instead of the built-in ones.
        text: also return each rule's text (``texts``), as :func:`advise` renders it
            without details.

    Returns:
        A table of the same library as ``frame`` and with as many rows: ``rule_ids``, the ids
        of the rules in the advice, in advice order (attitudes, actions and things to avoid
        together, as the rulebook orders them), and with ``text=True`` ``texts``, each
        rule's text in the same order. A pandas result has the frame's index, so that it
        aligns with the frame. A large result's columns may hold several chunks (one per
        thread that copied them).

    Raises:
        FrameError: a column is not a state field, appears twice, has the wrong dtype (or
            mixes types, in a pandas column of objects), holds nulls or a value out of range
            or outside its enum, ``done`` names an unknown rule, or rows contradict the
            state's own rules; every such column is reported with the first offending
            rows. Nothing is coerced.
        TypeError: ``frame`` is not one of the tables above (a polars ``LazyFrame``
            included: collect it first).
        UnsupportedLocaleError: no catalog for the locale.
    """
    book = default_rulebook() if rulebook is None else rulebook
    if not isinstance(book, Rulebook):
        raise TypeError(
            f"rulebook must be a Rulebook (see load_rulebook), not {type(book).__name__}"
        )
    if not isinstance(text, bool):
        raise TypeError(f"text must be True or False, not {text!r}")
    # Checked even without texts, as advise() checks it: a wrong locale is a caller's bug.
    negotiated = negotiate_rulebook_locale(locale, book)
    language = negotiated.language if text else None
    states, kind, unreadable = _as_polars(frame)
    states = _validated(states, book, unreadable)
    logic = rulebook_logic(book)
    ids = pl.List(pl.Enum(list(logic.ids)))
    codes, distinct = _outcomes(_keys(logic, _plan_of(book), states))
    if language is None:
        result = pl.DataFrame([_gathered(_id_table(logic, distinct, ids), codes)])
    else:
        result = _with_texts(codes, distinct, states, book, logic, language, ids)
    return _from_polars(result, kind, frame)


# ---------------------------------------------------------------------------------------------
# Input: any table, as polars
# ---------------------------------------------------------------------------------------------


def _as_polars(frame: object) -> tuple[pl.DataFrame, Kind, dict[str, ColumnProblem]]:
    """The frame as polars, and the columns that polars cannot read, with their problem.

    A column that cannot be read stays in the frame as a column of nulls, in its place,
    so that the frame's other problems are reported with it, in column order.
    """
    if isinstance(frame, pl.DataFrame):
        return frame, "polars", {}
    if isinstance(frame, pa.Table | pa.RecordBatch):
        if not frame.num_columns:
            return _rows_without_columns(frame.num_rows), "arrow", {}
        _refuse_repeated(frame.schema.names)
        try:
            # Whole, so that polars reads back the Enum columns it wrote (field metadata).
            converted = pl.from_arrow(frame)
        except Exception:  # any failure is reported by column, below
            names = frame.schema.names
            states, unreadable = _columns(names, frame.column, frame.num_rows)
            return states, "arrow", unreadable
        assert isinstance(converted, pl.DataFrame)
        if converted.columns != frame.schema.names:
            # polars names a column without a name "column_0": keep the name it has.
            converted.columns = frame.schema.names
        return converted, "arrow", {}
    # pandas is not imported for this: a frame of pandas means pandas is imported already.
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(frame, pandas.DataFrame):
        pandas_frame: Any = frame
        names = [str(name) for name in pandas_frame.columns]
        _refuse_repeated(names)
        height = len(pandas_frame.index)
        if not names:
            return _rows_without_columns(height), "pandas", {}
        # By position: a label that is not a string (0, a tuple of a MultiIndex) is not
        # found by its str(), and is then reported as the unknown field it is.
        position = {name: i for i, name in enumerate(names)}
        states, unreadable = _columns(
            names, lambda name: pandas_frame.iloc[:, position[name]], height
        )
        return states, "pandas", unreadable
    hint = ": collect() it first" if isinstance(frame, pl.LazyFrame) else ""
    raise TypeError(
        "advise_frame() takes a polars DataFrame, a pandas DataFrame or a pyarrow Table, "
        f"not {type(frame).__name__}{hint}"
    )


def _rows_without_columns(height: int) -> pl.DataFrame:
    """``height`` default states: a table without columns has rows all the same.

    Built from one column of the default channel, since a polars frame without columns
    converted from another library comes out with no rows (and polars versions differ on
    the height of one).
    """
    return pl.DataFrame([pl.repeat(_default("channel"), height, eager=True).alias("channel")])


def _refuse_repeated(names: Sequence[str]) -> None:
    # pandas and Arrow allow a name twice; a state has each field once.
    if len(set(names)) != len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise FrameError([ColumnProblem(repeated, "a column name appears twice")])


def _columns(
    names: Sequence[str], column: Callable[[str], Any], height: int
) -> tuple[pl.DataFrame, dict[str, ColumnProblem]]:
    """Each state field's column converted on its own, so that one that cannot be read is
    named; a column that is not a state field is not read (validation names it)."""
    fields = ConversationState.model_fields
    unreadable: dict[str, ColumnProblem] = {}
    series = []
    for name in names:
        if name in fields:
            values = None
            try:
                values = column(name)
                series.append(pl.Series(name, values))
                continue
            except Exception as error:  # any failure is reported by column
                unreadable[name] = _unreadable(name, values, error)
        series.append(pl.repeat(None, height, dtype=pl.Null, eager=True).alias(name))
    # By name: from a list, polars would name a column without a name "column_0".
    return pl.DataFrame({each.name: each for each in series}), unreadable


def _unreadable(name: str, values: Any, error: Exception) -> ColumnProblem:
    """What is wrong with a state field's column that polars cannot read.

    A pandas column of Python objects is read value by value: its rows holding a value of
    another type than the field's (or a count out of range) are the offending ones.
    """
    kind = "done" if name == "done" else state_schema()[name].kind
    if name == "done":
        rule = "a list of the rulebook's rule ids (a List of strings) in every row"
    elif kind == "bool":
        rule = "a Boolean column: True or False in every row"
    elif kind == "int":
        rule = f"an integer column: a count from 0 to {MAX_COUNT} in every row"
    else:
        rule = f"a string, Categorical or Enum column: {state_schema()[name].describe()}"
    if values is None:
        return ColumnProblem(name, f"{rule}; the column cannot be read: {error}")
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return ColumnProblem(name, f"{rule}, not {values.type}")
    dtype = getattr(values, "dtype", None)
    if dtype != np.dtype(object):
        return ColumnProblem(name, f"{rule}, not {dtype}")
    bad = [row for row, value in enumerate(values) if not _fits(kind, value)]
    if not bad:
        return ColumnProblem(name, f"{rule}; the column cannot be read: {error}")
    return ColumnProblem(name, rule, tuple(bad[:MAX_ROWS_SHOWN]), len(bad))


def _fits(kind: str, value: object) -> bool:
    """Whether one Python value may be in a column of a field of this kind (or is a null,
    which is reported as one once the column is read)."""
    if value is None or (isinstance(value, float) and value != value):
        return True
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' own nulls
        return True
    if kind == "bool":
        return isinstance(value, bool | np.bool_)
    if kind == "int":
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            return False
        return 0 <= int(value) <= MAX_COUNT
    if kind == "enum":
        return isinstance(value, str)
    items = value if isinstance(value, list | tuple | set | frozenset | np.ndarray) else None
    return items is not None and all(isinstance(item, str) for item in items)


def _from_polars(result: pl.DataFrame, kind: Kind, frame: Any) -> Any:
    if kind == "arrow":
        return result.to_arrow()
    if kind == "pandas":
        converted = result.to_pandas()
        # On the caller's index, as pandas aligns by it: on a fresh 0..n-1 one, the result
        # assigned back to a frame indexed by turn ids (or filtered) would be all NaN. A
        # copy, so that renaming the result's index leaves the caller's alone.
        converted.index = frame.index.copy()
        return converted
    return result


# ---------------------------------------------------------------------------------------------
# Validation: report every bad column, coerce nothing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Check:
    """One rule a column's values must keep.

    ``found`` is a whole-column aggregate, true when some row breaks the rule (or a
    function of the frame that tells it from the columns' metadata); ``bad`` is true on
    each such row. The ``found`` of every check of a frame are computed in one pass over
    it, and rows are looked for only where something was found.
    """

    column: str
    rule: str
    found: pl.Expr | Callable[[pl.DataFrame], bool]
    bad: pl.Expr


#: A column's lenient cast (under a temporary name, so that its checks still see the
#: caller's values) and its checks, in the order they are reported; or what is wrong with
#: the column as a whole.
_Plan = tuple[pl.Expr | None, list[_Check]] | ColumnProblem


def _validated(
    states: pl.DataFrame, book: Rulebook, unreadable: dict[str, ColumnProblem]
) -> pl.DataFrame:
    """The states with enum columns as ``Enum``; raises FrameError listing every problem.

    ``unreadable`` are the columns that could not be read, in ``states`` as nulls.
    """
    schema = state_schema()
    fields = ConversationState.model_fields
    problems: dict[str, ColumnProblem] = {}
    checks: list[list[_Check]] = []
    casts: dict[str, pl.Expr] = {}
    for name, dtype in states.schema.items():
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems[name] = ColumnProblem(name, f"not a state field{hint}")
            continue
        if name in unreadable:
            problems[name] = unreadable[name]
            continue
        plan = (
            _done_plan(states, dtype, book)
            if name == "done"
            else _plan(states, name, dtype, schema[name])
        )
        if isinstance(plan, ColumnProblem):
            problems[name] = plan
            continue
        cast, column_checks = plan
        if cast is not None:
            casts[name] = cast.alias(_cast_name(name))
        checks.append(column_checks)
    # The state's own cross-field rule reads other columns: only checked on valid ones.
    cross = None if problems else _abuse_after_warning_check(states)
    frame = states.with_columns(casts.values()) if casts else states
    problems.update(_broken(frame, checks, cross))
    if problems:
        order = {name: i for i, name in enumerate(states.columns)}
        raise FrameError(sorted(problems.values(), key=lambda p: order[p.column]))
    if not casts:
        return states
    return states.with_columns(frame[_cast_name(name)].alias(name) for name in casts)


def _cast_name(name: str) -> str:
    # No state field starts with "_", and other columns were refused before any cast.
    return f"_cast_{name}"


def _broken(
    frame: pl.DataFrame, checks: list[list[_Check]], cross: _Check | None
) -> dict[str, ColumnProblem]:
    """Each column's first broken rule, with its rows; the cross-field rule only if none."""
    every = [check for column in checks for check in column]
    if cross is not None:
        every.append(cross)
    if not every or frame.height == 0:
        return {}
    aggregated = [check for check in every if isinstance(check.found, pl.Expr)]
    found = frame.select(
        check.found.fill_null(False).alias(f"_{i}")
        for i, check in enumerate(aggregated)
        if isinstance(check.found, pl.Expr)
    ).row(0)
    broken = {id(check) for check, hit in zip(aggregated, found, strict=True) if hit}
    broken |= {
        id(check) for check in every if not isinstance(check.found, pl.Expr) and check.found(frame)
    }
    first = [
        next(check for check in column if id(check) in broken)
        for column in checks
        if any(id(check) in broken for check in column)
    ]
    if not first and cross is not None and id(cross) in broken:
        first = [cross]
    if not first:
        return {}
    located = frame.select(
        expression
        for i, check in enumerate(first)
        for expression in (
            pl.arg_where(check.bad.fill_null(True))
            .head(MAX_ROWS_SHOWN)
            .implode()
            .alias(f"_rows{i}"),
            check.bad.fill_null(True).sum().alias(f"_count{i}"),
        )
    ).row(0)
    return {
        check.column: ColumnProblem(
            check.column, check.rule, tuple(located[2 * i]), int(located[2 * i + 1])
        )
        for i, check in enumerate(first)
    }


def _nulls(
    states: pl.DataFrame, name: str, rule: str = "no nulls: every row needs a value"
) -> _Check:
    # A column knows its null count: no pass over it.
    found = pl.lit(states.get_column(name).null_count() > 0)
    return _Check(name, rule, found, pl.col(name).is_null())


def _plan(states: pl.DataFrame, name: str, dtype: pl.DataType, field_type: FieldType) -> _Plan:
    column = pl.col(name)
    if field_type.kind == "bool":
        if dtype != pl.Boolean:
            return ColumnProblem(name, f"a Boolean column, not {_describe(dtype)}")
        return None, [_nulls(states, name)]
    if field_type.kind == "int":
        if not dtype.is_integer():
            return ColumnProblem(name, f"an integer column, not {_describe(dtype)}")
        # The minimum and maximum are cheaper to find than every row out of range; read as
        # unsigned, a 64-bit column's negative values are beyond the maximum too.
        if dtype in (pl.Int64, pl.UInt64):
            found = column.reinterpret(signed=False).max() > MAX_COUNT
        else:
            found = (column.min() < 0) | (column.max() > MAX_COUNT)
        in_range = _Check(
            name, f"a count from 0 to {MAX_COUNT}", found, (column < 0) | (column > MAX_COUNT)
        )
        return None, [_nulls(states, name), in_range]
    enum = pl.Enum(list(field_type.values))
    if dtype == enum:
        return None, [_nulls(states, name)]
    if not isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
        rule = f"a string, Categorical or Enum column, not {_describe(dtype)}"
        return ColumnProblem(name, rule)
    # Values outside the enum become nulls in a lenient cast; the column's own nulls are
    # reported first, so a null the cast leaves is a value outside the enum.
    # Categorical and other Enum columns are cast through their categories, not row by
    # row.
    cast = column.cast(enum, strict=False)
    outside = _Check(
        name,
        field_type.describe(),
        pl.col(_cast_name(name)).null_count() > 0,
        ~column.cast(pl.String).is_in(list(field_type.values)),
    )
    return cast, [_nulls(states, name), outside]


def _done_plan(states: pl.DataFrame, dtype: pl.DataType, book: Rulebook) -> _Plan:
    """The ``done`` column's checks, and its cast to a list of ``Enum`` ids."""
    rule = "a list of the rulebook's rule ids"
    # A List of Null is what a column of empty lists is read as, when nothing was done in
    # any row (or only nulls are listed, which the checks below refuse).
    if not isinstance(dtype, pl.List) or not isinstance(
        dtype.inner, pl.String | pl.Categorical | pl.Enum | pl.Null
    ):
        return ColumnProblem("done", f"{rule} (a List of strings), not {_describe(dtype)}")
    column = pl.col("done")
    ids = pl.List(pl.Enum(list(rulebook_logic(book).ids)))  # in advice order: rule indices
    cast = column.cast(pl.List(pl.String)).cast(ids, strict=False)

    def nulls_inside(name: str) -> Callable[[pl.DataFrame], bool]:
        # Arrow counts the nulls of a list column's items: no pass over the rows.
        def found(frame: pl.DataFrame) -> bool:
            array = frame.get_column(name).to_arrow()
            chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
            return any(chunk.flatten().null_count for chunk in chunks)

        return found

    return cast, [
        _nulls(states, "done", "no nulls: an empty list for nothing done"),
        _Check(
            "done",
            f"at most {MAX_DONE} rule ids",
            column.list.len().max() > MAX_DONE,
            column.list.len() > MAX_DONE,
        ),
        # Reported before unknown ids: a null item is not a misspelled id.
        _Check(
            "done",
            "no nulls inside the lists: rule ids only",
            nulls_inside("done"),
            column.list.eval(pl.element().is_null()).list.any(),
        ),
        # Unknown ids are the nulls the cast leaves inside the lists.
        _Check(
            "done",
            rule + " (a rule id is unknown)",
            nulls_inside(_cast_name("done")),
            column.list.eval(
                pl.element().is_null() | ~pl.element().cast(pl.String).is_in(list(book.ids))
            ).list.any(),
        ),
    ]


def _abuse_after_warning_check(states: pl.DataFrame) -> _Check | None:
    if "abuse_after_warning" not in states.columns:
        return None
    bad = pl.col("abuse_after_warning") & ~_abuse_after_a_warning_possible(states)
    rule = (
        "true only where warnings_given >= 1 and offensive_remarks >= 1, personal_attacks "
        "or threats (record the warning and the abuse first)"
    )
    return _Check("abuse_after_warning", rule, bad.any(), bad)


def _abuse_after_a_warning_possible(states: pl.DataFrame) -> pl.Expr:
    """Where ``abuse_after_warning`` may be true: ConversationState's own cross-field rule."""

    def column(name: str) -> pl.Expr:
        return pl.col(name) if name in states.columns else pl.lit(_default(name))

    abused = (column("offensive_remarks") > 0) | column("personal_attacks") | column("threats")
    return (column("warnings_given") > 0) & abused


def _describe(dtype: pl.DataType) -> str:
    return str(dtype)


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


#: Per row, the rules in its advice: ``keys[r, w]`` bit ``b`` is rule ``64 w + b``.
Keys = np.ndarray[Any, np.dtype[np.uint64]]

#: Most rows evaluated together (a multiple of 64, as every chunk is, so that each slice's
#: bitmaps start on a byte).
_CHUNK_ROWS = 1 << 20

#: Below this many rows per thread a frame's keys are worked out, and its id lists gathered,
#: in one thread: splitting them costs more than it saves.
_PARALLEL_ROWS = 200_000


def _keys(logic: RulebookLogic, plan: BitmapPlan, states: pl.DataFrame) -> Keys:
    """Per row, the set of rules in its advice.

    The conditions are evaluated as bitmaps (:func:`.compile.polars.bitmaps`), and so are
    the ending and the overrides (in :attr:`RulebookLogic.overriders` order), 8 rows per
    byte; then the bitmaps are transposed into one key per row, and the rules carried out
    are removed from the keys. A slice of :data:`_CHUNK_ROWS` rows at a time, so that
    the bitmaps stay in the processor's cache and their memory is reused.
    """
    present = set(states.columns)
    frame = _with_defaults(states)
    ended = "ended" in present

    def chunk(offset: int) -> Keys:
        return _chunk_keys(logic, plan, frame.slice(offset, size), ended=ended)

    # numpy's transposes and overrides run in one thread each, and release the GIL: a large
    # frame's chunks go to as many threads as polars uses, in row order.
    workers = min(pl.thread_pool_size(), states.height // _PARALLEL_ROWS)
    if workers > 1:
        size = min(_CHUNK_ROWS, -(-states.height // workers // 64) * 64)
        with ThreadPoolExecutor(workers) as pool:
            keys = list(pool.map(chunk, range(0, states.height, size)))
    else:
        size = _CHUNK_ROWS
        keys = [chunk(offset) for offset in range(0, states.height, size)]
    if not keys:
        width = max(1, -(-len(logic.ids) // 64))
        keys = [np.zeros((0, width), dtype=np.uint64)]
    joined = keys[0] if len(keys) == 1 else np.concatenate(keys)
    if "done" in present:
        joined &= ~_done_bits(logic, states["done"], joined.shape[1])
    return joined


def _plan_of(book: Rulebook) -> BitmapPlan:
    """The bitmap plan of the rules' conditions and ``ended``, made once per rulebook."""
    plan: BitmapPlan | None = book._cache.get("bitmap_plan")
    if plan is None:
        logic = rulebook_logic(book)
        plan = book._cache["bitmap_plan"] = bitmap_plan([Flag("ended"), *logic.conditions])
    return plan


def _chunk_keys(
    logic: RulebookLogic, plan: BitmapPlan, frame: pl.DataFrame, *, ended: bool
) -> Keys:
    rules = len(logic.ids)
    # Row 0 is ended; then one row per rule, and zeros up to a multiple of 8 rules (for
    # the transpose).
    matrix = bitmap_matrix(plan, frame, rows=1 + -(-rules // 8) * 8)
    kept = matrix[1:]
    if ended:
        # Once a conversation has ended only the after_ending rules take part: the others
        # lose the ended rows, a run of rules at a time.
        running = np.invert(matrix[0])
        start = 0
        for stop in [*sorted(logic.after_ending), rules]:
            if stop > start:
                np.bitwise_and(kept[start:stop], running, out=kept[start:stop])
            start = stop + 1
    # In this order every rule that could override i comes before i, so i's row is final
    # (fired and not overridden) when i removes the rules it overrides.
    targets = sorted({target for i in logic.overriders for target in logic.overrides[i]})
    accumulated = np.zeros((len(targets), kept.shape[1]), np.uint8)
    overridden = dict(zip(targets, accumulated, strict=True))
    for i in logic.overriders:
        if i in overridden:
            kept[i] &= ~overridden.pop(i)
        for target in logic.overrides[i]:
            overridden[target] |= kept[i]
    for i, out in overridden.items():
        kept[i] &= ~out
    return _transpose(kept, frame.height)


def _with_defaults(states: pl.DataFrame) -> pl.DataFrame:
    """The states with a column for each field they lack (but ``done``): its default."""
    present = set(states.columns)
    missing = [name for name in sorted(ConversationState.model_fields) if name not in present]
    missing = [name for name in missing if name != "done"]
    if not missing:
        return states
    if not states.width:
        # polars versions differ on the height of a frame without columns once a literal
        # column is added to it: the defaults are given as long as the frame, explicitly.
        return pl.DataFrame(
            [pl.repeat(_default(name), states.height, eager=True).alias(name) for name in missing]
        )
    return states.with_columns(pl.lit(_default(name)).alias(name) for name in missing)


def _default(name: str) -> bool | int | str:
    value = ConversationState.model_fields[name].default
    plain = getattr(value, "value", value)  # an enum member's value
    assert isinstance(plain, bool | int | str)  # every default but done's empty tuple
    return plain


#: The three steps of an 8 x 8 bit matrix transpose held in one 64-bit word (byte i is row
#: i, bit j of it column j): each swaps the bits at ``shift`` apart that ``mask`` selects.
_TRANSPOSE_8X8 = (
    (np.uint64(7), np.uint64(0x00AA00AA00AA00AA)),
    (np.uint64(14), np.uint64(0x0000CCCC0000CCCC)),
    (np.uint64(28), np.uint64(0x00000000F0F0F0F0)),
)


def _transpose(bitmaps: Bitmap, rows: int) -> Keys:
    """Rule-major bitmaps (a multiple of 8 rules) to row-major keys.

    Eight rules at a time: a byte of each of their bitmaps is 8 rows of one rule, so the 8
    bytes side by side are an 8 x 8 bit matrix (rules by rows), and its transpose is one
    byte of the key of each of those 8 rows. numpy transposes all such words of 8 rules at
    once, in a few whole-array operations (one group of rules at a time stays in cache).
    """
    groups, blocks = bitmaps.shape[0] // 8, bitmaps.shape[1]
    width = max(1, -(-groups // 8))
    keys = np.zeros((blocks * 8, width * 8), dtype=np.uint8)
    matrix = np.empty((blocks, 8), dtype=np.uint8)
    words = matrix.view(np.uint64).reshape(blocks)
    swap = np.empty(blocks, dtype=np.uint64)
    for group in range(groups):
        for rule in range(8):
            matrix[:, rule] = bitmaps[8 * group + rule]
        for shift, mask in _TRANSPOSE_8X8:
            np.right_shift(words, shift, out=swap)
            np.bitwise_xor(swap, words, out=swap)
            np.bitwise_and(swap, mask, out=swap)
            np.bitwise_xor(words, swap, out=words)
            np.left_shift(swap, shift, out=swap)
            np.bitwise_xor(words, swap, out=words)
        keys[:, group] = matrix.reshape(-1)
    return keys.view(np.uint64)[:rows]


def _done_bits(logic: RulebookLogic, done: pl.Series, width: int) -> Keys:
    """Per row, the rules carried out that do not repeat, as key words.

    ``done`` is the validated list of ``Enum`` ids: its Arrow values are the rule indices.
    """
    bits = np.zeros((done.len(), width), dtype=np.uint64)
    lists = done.list.eval(pl.element().to_physical()).to_arrow()
    offset = 0
    for chunk in lists.chunks if isinstance(lists, pa.ChunkedArray) else [lists]:
        _or_items(logic, bits[offset : offset + len(chunk)], chunk)
        offset += len(chunk)
    return bits


def _or_items(logic: RulebookLogic, bits: Keys, lists: Any) -> None:
    """ORs into each row of ``bits`` the rules (that do not repeat) its list names."""
    # Arrow's offsets index the values from their start, also in a slice of the lists.
    offsets = _numpy(lists.offsets).astype(np.int64)
    if offsets[-1] == offsets[0]:
        return
    codes = _numpy(lists.values)[offsets[0] : offsets[-1]]
    starts = offsets[:-1] - offsets[0]
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
    for word in range(bits.shape[1]):
        table = np.zeros(len(logic.ids), dtype=np.uint64)
        for i in range(64 * word, min(len(logic.ids), 64 * word + 64)):
            if i not in logic.repeats:
                table[i] = np.uint64(1) << np.uint64(i - 64 * word)
        # OR per row over its ids (a repeated id ORs in once); each segment runs to the
        # next non-empty row's start, past empty rows, which hold no items.
        bits[nonempty, word] = np.bitwise_or.reduceat(table[codes], starts[nonempty])


def _outcomes(keys: Keys) -> tuple[np.ndarray[Any, Any], Keys]:
    """Each row's index into the distinct keys, and the distinct keys (a hash pass)."""
    rows, width = keys.shape
    if width == 1:
        encoded = _arrow(keys.reshape(rows)).dictionary_encode()
        distinct = _numpy(encoded.dictionary)
        distinct = distinct.reshape(-1, 1)
    else:
        # More than 64 rules: the key is the row's bytes, compared as a whole.
        data = pa.py_buffer(np.ascontiguousarray(keys))
        array = pa.Array.from_buffers(pa.binary(8 * width), rows, [None, data])
        encoded = array.dictionary_encode()
        unique = encoded.dictionary
        start = unique.offset * 8 * width
        raw = np.frombuffer(unique.buffers()[1], dtype=np.uint8)
        raw = raw[start : start + len(unique) * 8 * width]
        distinct = raw.view(np.uint64).reshape(len(unique), width)
    return _numpy(encoded.indices), distinct


_ARROW_TYPES: dict[np.dtype[Any], Any] = {
    np.dtype(np.int32): pa.int32(),
    np.dtype(np.uint32): pa.uint32(),
    np.dtype(np.int64): pa.int64(),
    np.dtype(np.uint64): pa.uint64(),
}


_NUMPY_TYPES: dict[str, np.dtype[Any]] = {
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
    "int16": np.dtype(np.int16),
    "uint16": np.dtype(np.uint16),
    "int32": np.dtype(np.int32),
    "uint32": np.dtype(np.uint32),
    "int64": np.dtype(np.int64),
    "uint64": np.dtype(np.uint64),
}


def _arrow(values: np.ndarray[Any, Any]) -> Any:
    """A numpy array as an Arrow array, sharing its memory.

    Not ``pa.array(values)``: it imports pandas, when installed, to look for its types (a
    fifth of a second, in the first call of a process).
    """
    values = np.ascontiguousarray(values)
    data = pa.py_buffer(values)
    return pa.Array.from_buffers(_ARROW_TYPES[values.dtype], len(values), [None, data])


def _strings(values: Sequence[str]) -> Any:
    """Strings as an Arrow array, built from its buffers (see :func:`_arrow`)."""
    encoded = [value.encode() for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(value) for value in encoded], out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.large_string(), len(encoded), buffers)


def _numpy(array: Any) -> np.ndarray[Any, Any]:
    """An Arrow array of integers without nulls as a numpy view (not ``to_numpy``, which
    imports pyarrow's pandas support too)."""
    assert array.null_count == 0
    data: np.ndarray[Any, Any] = np.frombuffer(
        array.buffers()[1], dtype=_NUMPY_TYPES[str(array.type)]
    )
    return data[array.offset : array.offset + len(array)]


def _indices(key: Keys) -> list[int]:
    """The rule indices of one key, in advice order."""
    data = key.view(np.uint8)
    return [i for i in range(8 * data.shape[0]) if data[i // 8] >> (i % 8) & 1]


def _id_table(logic: RulebookLogic, distinct: Keys, ids: pl.List) -> pl.Series:
    """The ids of the rules of each distinct key, as a ``rule_ids`` column."""
    count, width = distinct.shape
    raw = np.ascontiguousarray(distinct).view(np.uint8).reshape(count, 8 * width)
    # Bit i of a key (little-endian) is rule i; np.nonzero reads the bits row by row, so
    # each key's rule indices come out in advice order.
    bits = np.unpackbits(raw, axis=1, bitorder="little")[:, : len(logic.ids)]
    _, rules = np.nonzero(bits)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(bits.sum(axis=1, dtype=np.int64), out=offsets[1:])
    values = pa.DictionaryArray.from_arrays(_arrow(rules.astype(np.int32)), _strings(logic.ids))
    table = pl.from_arrow(pa.LargeListArray.from_arrays(_arrow(offsets), values))
    assert isinstance(table, pl.Series)
    return table.cast(ids).alias("rule_ids")


def _gathered(table: pl.Series, codes: np.ndarray[Any, Any]) -> pl.Series:
    """``table[codes]``: each row's list, copied from its distinct key's.

    The copying is most of the work for a large frame, so it is split between polars'
    threads, in row order; the result has one chunk per thread.
    """
    # As UInt32, polars' own index type (no pass to convert them), sharing their memory.
    unsigned = codes.view(np.uint32) if codes.dtype == np.int32 else codes.astype(np.uint32)
    indices = pl.from_arrow(_arrow(unsigned))
    assert isinstance(indices, pl.Series)
    indices = indices.alias("_code")
    rows = indices.len()
    parts = min(pl.thread_pool_size(), rows // _PARALLEL_ROWS)
    if parts <= 1:
        return table.gather(indices)
    step = -(-rows // parts)
    pieces = [
        pl.LazyFrame([indices.slice(offset, step)]).select(
            pl.lit(table).gather(pl.col("_code")).alias(table.name)
        )
        for offset in range(0, rows, step)
    ]
    return pl.concat(pieces, parallel=True).collect().to_series()


# ---------------------------------------------------------------------------------------------
# Text: one lookup per distinct (kept rules, channel, situational wordings)
# ---------------------------------------------------------------------------------------------


def _with_texts(
    codes: np.ndarray[Any, Any],
    distinct: Keys,
    states: pl.DataFrame,
    book: Rulebook,
    logic: RulebookLogic,
    language: str,
    ids: pl.List,
) -> pl.DataFrame:
    rows = states.height
    channels = state_schema()["channel"].values
    channel = (
        states["channel"].to_physical().to_numpy()  # validated: Enum of those values
        if "channel" in states.columns
        else np.full(rows, channels.index(str(_default("channel"))))
    )
    situational = [i for i, rule in enumerate(book.rules) if _situational(rule)]
    # The wording each row would get, for rules whose wording follows the state (-1: the
    # channel's own).
    choices = {i: _choice(book.rules[i], states).fill_null(-1).to_numpy() for i in situational}
    # One integer per row for (kept rules, channel, wordings), in mixed radix, re-encoded
    # densely whenever the next digit would overflow.
    combined = codes.astype(np.int64)
    size = max(1, distinct.shape[0])
    digits = [(channel, len(channels))]
    digits += [(choices[i] + 1, len(book.rules[i].phrasing) + 1) for i in situational]
    for digit, radix in digits:
        if size * radix >= 2**62:
            combined, size = _dense(combined)
        combined = combined * radix + digit
        size *= radix
    groups, count = _dense(combined)
    first = np.full(count, rows, dtype=np.int64)
    np.minimum.at(first, groups, np.arange(rows, dtype=np.int64))
    catalog = book.catalogs.get(language, {})
    # Each group's first row stands for it; a wording is rendered once per (rule, phrasing).
    group_codes = codes[first]
    group_channels = channel[first].tolist()
    group_choices = {i: choices[i][first].tolist() for i in situational}
    rendered: dict[tuple[int, int], str] = {}
    rule_indices: dict[int, list[int]] = {}
    text_lists: list[list[str]] = []
    for group, code in enumerate(group_codes.tolist()):
        indices = rule_indices.get(code)
        if indices is None:
            indices = rule_indices[code] = _indices(distinct[code])
        texts = []
        for i in indices:
            choice = group_choices[i][group] if i in group_choices else -1
            # -1 - channel: the channel's own phrasing, which phrasing_for() picks.
            key = (i, choice if choice >= 0 else -1 - group_channels[group])
            text = rendered.get(key)
            if text is None:
                rule = book.rules[i]
                phrasing = (
                    rule.phrasing[choice]
                    if choice >= 0
                    else rule.phrasing_for(_channel(channels[group_channels[group]]), frozenset())
                )
                # As the engine's renderer: English may leave msgstr empty (the source text).
                text = rendered[key] = catalog.get((rule.id, phrasing.text), phrasing.text)
            texts.append(text)
        text_lists.append(texts)
    id_table = _id_table(logic, distinct, ids).gather(pl.Series(group_codes))
    return pl.DataFrame(
        [
            _gathered(id_table, groups),
            _gathered(pl.Series("texts", text_lists, dtype=pl.List(pl.String)), groups),
        ]
    )


def _dense(values: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], int]:
    """Each value's index among the distinct values, and how many there are."""
    encoded = _arrow(values).dictionary_encode()
    indices = _numpy(encoded.indices).astype(np.int64)
    return indices, len(encoded.dictionary)


def _situational(rule: Rule) -> bool:
    return any(phrasing.when is not None for phrasing in rule.phrasing)


def _channel(value: str) -> Any:
    from .state import Channel

    return Channel(value)


def _choice(rule: Rule, states: pl.DataFrame) -> pl.Series:
    """Per row, the index of the phrasing :meth:`Rule.phrasing_for` picks without details."""
    from .compile._tree import lower

    frame = _with_defaults(states)
    chain: Any = None
    for index, phrasing in enumerate(rule.phrasing):
        if phrasing.requires:  # advise_frame() supplies no details
            continue
        fits = (
            pl.col("channel").is_in([c.value for c in phrasing.channels])
            if phrasing.channels
            else pl.lit(True)
        )
        if phrasing.when is not None:
            fits = fits & expression(lower(phrasing.when))
        value = pl.lit(index, dtype=pl.Int32)
        chain = pl.when(fits).then(value) if chain is None else chain.when(fits).then(value)
    # Validation guarantees a last phrasing for every channel without requires or when.
    return frame.select(chain.otherwise(None).alias("choice"))["choice"]
