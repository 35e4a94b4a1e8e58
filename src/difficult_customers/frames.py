"""Advice over whole tables of states: a polars or pandas DataFrame, or an Arrow table.

>>> import polars as pl
>>> from difficult_customers.frames import advise_frame
>>> frame = pl.DataFrame({"mood": ["furious", "calm"], "threats": [True, False]})
>>> advise_frame(frame)["rule_ids"].to_list()[1][:3]
['stay-professional', 'avoid-getting-defensive', 'restate-the-request']

Each column is a state field (see ``docs/state.md``); a missing column takes the field's
default. The conditions are compiled to polars expressions (:mod:`.compile.polars`) and
evaluated a column at a time; the ending, the overrides and the memory of what was done are
applied to their Arrow bitmaps, and the rule ids of each row are looked up once per distinct
outcome, not built row by row. See ``docs/frames.md``. Needs the ``[frames]`` extra
(polars, pyarrow).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, Literal

from .compile._tree import RulebookLogic, require, rulebook_logic

require("polars", "frames", "difficult_customers.frames")
require("pyarrow", "frames", "difficult_customers.frames")

import numpy as np  # noqa: E402  (polars' own dependency; after the checks above)
import polars as pl  # noqa: E402
import pyarrow as pa  # type: ignore[import-untyped]  # noqa: E402
from babel import Locale  # noqa: E402

from .compile.polars import expression, fired  # noqa: E402
from .conditions import FieldType, state_schema  # noqa: E402
from .errors import ColumnProblem, FrameError  # noqa: E402
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
        rule's text in the same order.

    Raises:
        FrameError: a column is not a state field, has the wrong dtype, holds nulls or a
            value out of range or outside its enum, ``done`` names an unknown rule, or rows
            contradict the state's own rules; every such column is reported with the first
            offending rows. Nothing is coerced.
        TypeError: ``frame`` is not one of the tables above.
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
    states, kind = _as_polars(frame)
    states = _validated(states, book)
    logic = rulebook_logic(book)
    keys = _keys(logic, states)
    ids = pl.List(pl.Enum(list(logic.ids)))
    if language is None:
        result = pl.DataFrame([_rule_ids(logic, keys, ids)])
    else:
        result = _with_texts(pl.DataFrame([keys]), states, book, logic, language, ids)
        result = result.drop("_key")
    return _from_polars(result, kind)


# ---------------------------------------------------------------------------------------------
# Input: any table, as polars
# ---------------------------------------------------------------------------------------------


def _as_polars(frame: object) -> tuple[pl.DataFrame, Kind]:
    if isinstance(frame, pl.DataFrame):
        return frame, "polars"
    if isinstance(frame, pa.Table | pa.RecordBatch):
        return _columns(frame.schema.names, lambda name: frame.column(name)), "arrow"
    module = type(frame).__module__
    if module.startswith("pandas") and type(frame).__name__ == "DataFrame":
        pandas_frame: Any = frame
        names = [str(name) for name in pandas_frame.columns]
        if len(set(names)) != len(names):
            raise FrameError([ColumnProblem(_repeated(names), "a column name appears twice")])
        return _columns(names, lambda name: pandas_frame[name]), "pandas"
    raise TypeError(
        "advise_frame() takes a polars DataFrame, a pandas DataFrame or a pyarrow Table, "
        f"not {type(frame).__name__}"
    )


def _repeated(names: Sequence[str]) -> str:
    return next(name for name in names if names.count(name) > 1)


def _columns(names: Sequence[str], column: Any) -> pl.DataFrame:
    """Each column converted on its own, so that one that cannot be read is named."""
    problems = []
    series = []
    for name in names:
        try:
            series.append(pl.Series(name, column(name)))
        except Exception as error:  # any failure is reported by column
            problems.append(ColumnProblem(name, f"cannot be read as a column: {error}"))
    if problems:
        raise FrameError(problems)
    return pl.DataFrame(series)


def _from_polars(result: pl.DataFrame, kind: Kind) -> Any:
    if kind == "arrow":
        return result.to_arrow()
    if kind == "pandas":
        return result.to_pandas()
    return result


# ---------------------------------------------------------------------------------------------
# Validation: report every bad column, coerce nothing
# ---------------------------------------------------------------------------------------------


def _rows(states: pl.DataFrame, bad: pl.Expr) -> tuple[tuple[int, ...], int]:
    """The first offending positions, and how many rows offend."""
    found = states.select(
        pl.arg_where(bad.fill_null(True)).head(MAX_ROWS_SHOWN).implode().alias("rows"),
        bad.fill_null(True).sum().alias("count"),
    ).row(0)
    return tuple(found[0]), int(found[1])


def _problem(states: pl.DataFrame, name: str, bad: pl.Expr, rule: str) -> ColumnProblem | None:
    rows, count = _rows(states, bad)
    return ColumnProblem(name, rule, rows, count) if count else None


def _validated(states: pl.DataFrame, book: Rulebook) -> pl.DataFrame:
    """The states with enum columns as ``Enum``; raises FrameError listing every problem."""
    schema = state_schema()
    fields = ConversationState.model_fields
    problems: list[ColumnProblem] = []
    casts: list[pl.Series] = []
    null_counts = states.null_count().row(0, named=True) if states.width else {}
    for name in states.columns:
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(ColumnProblem(name, f"not a state field{hint}"))
            continue
        dtype = states.schema[name]
        if name == "done":
            problem, done = _check_done(states, dtype, book)
            if problem is not None:
                problems.append(problem)
            elif done is not None:
                casts.append(done)
            continue
        field_type = schema[name]
        problem, cast = _check_column(states, name, dtype, field_type, null_counts[name])
        if problem is not None:
            problems.append(problem)
        elif cast is not None:
            casts.append(cast)
    if not problems and "abuse_after_warning" in states.columns:
        problem = _problem(
            states,
            "abuse_after_warning",
            pl.col("abuse_after_warning") & ~_abuse_after_a_warning_possible(states),
            "true only where warnings_given >= 1 and offensive_remarks >= 1, personal_attacks "
            "or threats (record the warning and the abuse first)",
        )
        if problem is not None:
            problems.append(problem)
    if problems:
        raise FrameError(problems)
    return states.with_columns(casts) if casts else states


def _abuse_after_a_warning_possible(states: pl.DataFrame) -> pl.Expr:
    """Where ``abuse_after_warning`` may be true: ConversationState's own cross-field rule."""

    def column(name: str) -> pl.Expr:
        return pl.col(name) if name in states.columns else pl.lit(_default(name))

    abused = (column("offensive_remarks") > 0) | column("personal_attacks") | column("threats")
    return (column("warnings_given") > 0) & abused


def _describe(dtype: pl.DataType) -> str:
    return str(dtype)


def _check_column(
    states: pl.DataFrame, name: str, dtype: pl.DataType, field_type: FieldType, null_count: int
) -> tuple[ColumnProblem | None, pl.Series | None]:
    column = pl.col(name)
    # Rows are looked for only once a cheap whole-column test has found something.
    nulls = (
        _problem(states, name, column.is_null(), "no nulls: every row needs a value")
        if null_count
        else None
    )
    if field_type.kind == "bool":
        if dtype != pl.Boolean:
            return ColumnProblem(name, f"a Boolean column, not {_describe(dtype)}"), None
        return nulls, None
    if field_type.kind == "int":
        if not dtype.is_integer():
            return ColumnProblem(name, f"an integer column, not {_describe(dtype)}"), None
        if nulls is not None:
            return nulls, None
        rule = f"a count from 0 to {MAX_COUNT}"
        low, high = states.select(column.min().alias("low"), column.max().alias("high")).row(0)
        if low is None or (low >= 0 and high <= MAX_COUNT):
            return None, None
        return _problem(states, name, (column < 0) | (column > MAX_COUNT), rule), None
    enum = pl.Enum(list(field_type.values))
    if dtype == enum:
        return nulls, None
    if not isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
        rule = f"a string, Categorical or Enum column, not {_describe(dtype)}"
        return ColumnProblem(name, rule), None
    if nulls is not None:
        return nulls, None
    # Values outside the enum become nulls in a lenient cast: count them first, and look
    # for their rows only when there are any.
    converted = states.select(column.cast(pl.String).cast(enum, strict=False).alias(name))[name]
    if converted.null_count() == 0:
        return None, converted
    outside = ~column.cast(pl.String).is_in(list(field_type.values))
    return _problem(states, name, outside, field_type.describe()), None


def _check_done(
    states: pl.DataFrame, dtype: pl.DataType, book: Rulebook
) -> tuple[ColumnProblem | None, pl.Series | None]:
    """Problems of the ``done`` column, or the column as a list of ``Enum`` ids."""
    rule = "a list of the rulebook's rule ids"
    if not isinstance(dtype, pl.List) or not isinstance(
        dtype.inner, pl.String | pl.Categorical | pl.Enum
    ):
        problem = ColumnProblem("done", f"{rule} (a List of strings), not {_describe(dtype)}")
        return problem, None
    column = pl.col("done")
    nulls = _problem(states, "done", column.is_null(), "no nulls: an empty list for nothing done")
    if nulls is not None:
        return nulls, None
    too_long = _problem(
        states, "done", column.list.len() > MAX_DONE, f"at most {MAX_DONE} rule ids"
    )
    if too_long is not None:
        return too_long, None
    ids = pl.List(pl.Enum(list(rulebook_logic(book).ids)))  # in advice order, as rule indices
    cast = column.cast(pl.List(pl.String)).cast(ids, strict=False)
    # Unknown ids (and null items) become nulls in the cast: count them on the flat values
    # first, and look for their rows only when there are any.
    converted = states.select(cast.alias("done"))["done"]
    flat = converted.to_arrow()
    if isinstance(flat, pa.ChunkedArray):
        flat = flat.combine_chunks()
    if flat.values.null_count == 0:
        return None, converted
    unknown = column.list.eval(
        pl.element().is_null() | ~pl.element().cast(pl.String).is_in(list(book.ids))
    ).list.any()
    unknown_ids = _problem(states, "done", unknown, rule + " (a rule id is unknown)")
    # Every null of the cast is an unknown id or a null item, so the search finds a row.
    assert unknown_ids is not None
    return unknown_ids, None


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def _keys(logic: RulebookLogic, states: pl.DataFrame) -> pl.Series:
    """Per row, the set of rules in the advice as one integer (bytes past 64 rules).

    The conditions are evaluated by polars, one Boolean column each; everything after is
    done on their Arrow bitmaps, 64 rows per machine word: the ending, the overrides (in
    :attr:`RulebookLogic.overriders` order), and the rules carried out.
    """
    rows = states.height
    words = (rows + 63) // 64
    present = set(states.columns)
    defaults = [
        pl.lit(_default(name)).alias(name)
        for name in sorted(ConversationState.model_fields)
        if name not in present and name != "done"
    ]
    frame = states.lazy().with_columns(defaults) if defaults else states.lazy()
    ended = pl.col("ended") if "ended" in present else None
    outcomes = frame.select(fired(logic, ended=ended)).collect().get_columns()
    on = [_bitmap(column, words) for column in outcomes]
    out: list[np.ndarray[Any, np.dtype[np.uint64]] | None] = [None] * len(on)
    for i in logic.overriders:
        # A rule overrides others only when it fired and was not overridden itself.
        overridden = out[i]
        by_i = on[i] if overridden is None else on[i] & ~overridden
        for target in logic.overrides[i]:
            current = out[target]
            out[target] = by_i.copy() if current is None else current | by_i
    kept = [f if o is None else f & ~o for f, o in zip(on, out, strict=True)]
    keys = _transpose(kept, rows)
    if "done" in present:
        keys &= ~_done_bits(logic, states["done"], keys.shape[1])
    if keys.shape[1] == 1:
        return pl.Series("_key", keys[:, 0])
    # More than 64 rules: the key is the row's bytes, compared as a whole.
    return pl.Series("_key", [row.tobytes() for row in keys], dtype=pl.Binary)


def _default(name: str) -> object:
    value = ConversationState.model_fields[name].default
    return getattr(value, "value", value)


def _bitmap(series: pl.Series, words: int) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """A Boolean column's validity-free Arrow bitmap as 64-bit words (row r is bit r)."""
    array = series.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:  # pragma: no cover - validation leaves no nulls to the conditions
        raise AssertionError("unexpected null in a rule's outcome")
    if array.offset % 8 == 0:
        start = array.offset // 8
        raw = np.frombuffer(array.buffers()[1], dtype=np.uint8)[start : start + words * 8]
    else:  # pragma: no cover - a freshly computed column starts at its buffer's start
        raw = np.packbits(array.to_numpy(zero_copy_only=False), bitorder="little")
    padded = np.zeros(words * 8, dtype=np.uint8)
    padded[: raw.shape[0]] = raw
    return padded.view(np.uint64)


# For a byte of 8 rows' bits of one rule, the 8 rows' bytes with that bit in bit 0 each: how
# a rule's bitmap becomes one byte per row, 8 rows per 64-bit operation.
_SPREAD = np.array(
    [sum(1 << (8 * row) for row in range(8) if byte >> row & 1) for byte in range(256)],
    dtype=np.uint64,
)


def _transpose(
    bitmaps: Sequence[np.ndarray[Any, np.dtype[np.uint64]]], rows: int
) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """Rule-major bitmaps to row-major keys: ``keys[r, w]`` bit ``b`` is rule ``64 w + b``."""
    blocks = (rows + 7) // 8
    width = max(1, (len(bitmaps) + 63) // 64)
    keys = np.zeros((blocks * 8, width * 8), dtype=np.uint8)
    group = np.empty(blocks, dtype=np.uint64)
    spread = np.empty(blocks, dtype=np.uint64)
    for byte in range((len(bitmaps) + 7) // 8):
        group[:] = 0
        for bit, bitmap in enumerate(bitmaps[byte * 8 : byte * 8 + 8]):
            np.take(_SPREAD, bitmap.view(np.uint8)[:blocks], out=spread)
            if bit:
                np.left_shift(spread, np.uint64(bit), out=spread)
            np.bitwise_or(group, spread, out=group)
        keys[:, byte] = group.view(np.uint8)
    return keys.view(np.uint64)[:rows]


def _done_bits(
    logic: RulebookLogic, done: pl.Series, width: int
) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """Per row, the rules carried out that do not repeat, as key words.

    ``done`` is the validated list of ``Enum`` ids: its Arrow values are the rule indices.
    """
    # An Enum's physical values are the indices of its categories: the rule indices.
    array = done.list.eval(pl.element().to_physical()).to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    offsets = np.asarray(array.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    codes = np.asarray(array.values.to_numpy(zero_copy_only=False), dtype=np.int64)
    bits = np.zeros((done.len(), width), dtype=np.uint64)
    starts = offsets[:-1] - offsets[0]
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
    if codes.shape[0] == 0:
        return bits
    for word in range(width):
        table = np.zeros(len(logic.ids), dtype=np.uint64)
        for i in range(64 * word, min(len(logic.ids), 64 * word + 64)):
            if i not in logic.repeats:
                table[i] = np.uint64(1) << np.uint64(i - 64 * word)
        # OR per row over its ids (a repeated id ORs in once).
        reduced = np.bitwise_or.reduceat(table[codes], starts[nonempty])
        bits[nonempty, word] = reduced
    return bits


def _indices(key: int | bytes, rules: int) -> list[int]:
    """The rule indices of a key, in advice order."""
    data = key.to_bytes(8, "little") if isinstance(key, int) else key
    return [i for i in range(rules) if data[i // 8] >> (i % 8) & 1]


def _rule_ids(logic: RulebookLogic, keys: pl.Series, ids: pl.List) -> pl.Series:
    """The ids of each row's rules: built once per distinct key, then gathered by row."""
    encoded = pa.array(keys.to_arrow()).dictionary_encode()
    unique = encoded.dictionary
    if pa.types.is_binary(unique.type) or pa.types.is_large_binary(unique.type):
        raw = np.frombuffer(b"".join(unique.to_pylist()), dtype=np.uint8)
        raw = raw.reshape(len(unique), -1)
    else:
        raw = np.ascontiguousarray(unique.to_numpy(zero_copy_only=False), dtype=np.uint64)
        raw = raw.view(np.uint8).reshape(len(unique), 8)
    # Bit i of a key (little-endian) is rule i; np.nonzero reads the bits row by row, so
    # each key's rule indices come out in advice order.
    bits = np.unpackbits(raw, axis=1, bitorder="little")[:, : len(logic.ids)]
    _, rules = np.nonzero(bits)
    offsets = np.zeros(len(unique) + 1, dtype=np.int64)
    np.cumsum(bits.sum(axis=1, dtype=np.int64), out=offsets[1:])
    values = pa.DictionaryArray.from_arrays(
        pa.array(rules.astype(np.int32)), pa.array(list(logic.ids), type=pa.large_string())
    )
    table = pl.from_arrow(pa.LargeListArray.from_arrays(pa.array(offsets), values))
    assert isinstance(table, pl.Series)
    indices = pl.Series(encoded.indices.to_numpy(zero_copy_only=False))
    return table.cast(ids).gather(indices).alias("rule_ids")


# ---------------------------------------------------------------------------------------------
# Text: one lookup per distinct (kept rules, channel, situational wordings)
# ---------------------------------------------------------------------------------------------


def _with_texts(
    result: pl.DataFrame,
    states: pl.DataFrame,
    book: Rulebook,
    logic: RulebookLogic,
    language: str,
    ids: pl.List,
) -> pl.DataFrame:
    channel = (
        states["channel"].cast(pl.String)
        if "channel" in states.columns
        else pl.Series([_default("channel")] * states.height, dtype=pl.String)
    )
    situational = [i for i, rule in enumerate(book.rules) if _situational(rule)]
    choices = {
        f"_p{i}": _choice(book.rules[i], states) for i in situational
    }  # the wording each row would get, for rules whose wording follows the state
    keyed = result.with_columns(
        channel.alias("_channel"), *(pl.Series(n, c) for n, c in choices.items())
    )
    columns = ["_key", "_channel", *choices]
    unique = keyed.select(columns).unique(maintain_order=True)
    catalog = book.catalogs.get(language, {})
    id_lists: list[list[str]] = []
    text_lists: list[list[str]] = []
    for row in unique.iter_rows(named=True):
        indices = _indices(row["_key"], len(logic.ids))
        id_lists.append([logic.ids[i] for i in indices])
        texts = []
        for i in indices:
            rule = book.rules[i]
            choice = row.get(f"_p{i}")
            phrasing = (
                rule.phrasing[choice]
                if choice is not None
                else rule.phrasing_for(_channel(row["_channel"]), frozenset())
            )
            # As the engine's renderer: English may leave msgstr empty (the source text).
            texts.append(catalog.get((rule.id, phrasing.text), phrasing.text))
        text_lists.append(texts)
    table = unique.with_columns(
        pl.Series("rule_ids", id_lists, dtype=ids),
        pl.Series("texts", text_lists, dtype=pl.List(pl.String)),
    )
    joined = keyed.join(table, on=columns, how="left", maintain_order="left")
    return joined.select("_key", "rule_ids", "texts")


def _situational(rule: Rule) -> bool:
    return any(phrasing.when is not None for phrasing in rule.phrasing)


def _channel(value: str) -> Any:
    from .state import Channel

    return Channel(value)


def _choice(rule: Rule, states: pl.DataFrame) -> pl.Series:
    """Per row, the index of the phrasing :meth:`Rule.phrasing_for` picks without details."""
    from .compile._tree import lower

    present = set(states.columns)
    frame = states.with_columns(
        pl.lit(_default(name)).alias(name)
        for name in state_schema()
        if name not in present and name != "done"
    )
    chain: Any = None
    for index, phrasing in enumerate(rule.phrasing):
        if phrasing.requires:  # advise_frame() supplies no details
            continue
        fits = (
            pl.col("channel").cast(pl.String).is_in([c.value for c in phrasing.channels])
            if phrasing.channels
            else pl.lit(True)
        )
        if phrasing.when is not None:
            fits = fits & expression(lower(phrasing.when))
        value = pl.lit(index, dtype=pl.Int32)
        chain = pl.when(fits).then(value) if chain is None else chain.when(fits).then(value)
    # Validation guarantees a last phrasing for every channel without requires or when.
    return frame.select(chain.otherwise(None).alias("choice"))["choice"]
