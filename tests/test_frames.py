"""advise_frame(): the same advice as advise(), a table of states at a time."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from difficult_customers import ConversationState, advise, default_rulebook
from difficult_customers.errors import FrameError
from difficult_customers.rules import Rulebook
from strategies import random_state_rows, states

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")
frames = pytest.importorskip("difficult_customers.frames")
advise_frame = frames.advise_frame

INDEX = {rule.id: i for i, rule in enumerate(default_rulebook().rules)}


def _frame(rows: list[dict[str, Any]]) -> Any:
    return pl.DataFrame(rows, schema_overrides={"done": pl.List(pl.String)})


def _expected(
    row: dict[str, Any], locale: str = "en", book: Rulebook | None = None
) -> tuple[list[str], list[str]]:
    advice = advise(row, locale=locale, rulebook=book)
    index = INDEX if book is None else {rule.id: i for i, rule in enumerate(book.rules)}
    recommendations = sorted(
        (*advice.attitudes, *advice.actions, *advice.avoid), key=lambda r: index[r.rule_id]
    )
    return [r.rule_id for r in recommendations], [r.text for r in recommendations]


def test_rule_ids_equal_advise_on_thousands_of_states() -> None:
    rows = random_state_rows(5000, seed=1)
    found = advise_frame(_frame(rows))["rule_ids"].to_list()
    assert found == [_expected(row)[0] for row in rows]


@pytest.mark.parametrize("locale", ["en", "fr", "pl"])
def test_texts_equal_advise(locale: str) -> None:
    rows = random_state_rows(2000, seed=2)
    result = advise_frame(_frame(rows), locale=locale, text=True)
    pairs = list(zip(result["rule_ids"].to_list(), result["texts"].to_list(), strict=True))
    assert pairs == [_expected(row, locale) for row in rows]


def _row(state: ConversationState, names: frozenset[str]) -> dict[str, Any]:
    """The state's fields among ``names`` as a plain row (enums as strings, done a list)."""
    return {
        name: list(value) if name == "done" else getattr(value, "value", value)
        for name, value in state.__dict__.items()
        if name in names
    }


def _in_kind(frame: Any, kind: str) -> Any:
    if kind == "arrow":
        return frame.to_arrow()
    if kind == "pandas":
        pytest.importorskip("pandas")
        return frame.to_pandas()
    return frame


def _lists(result: Any, column: str) -> list[list[str]]:
    if isinstance(result, pa.Table):
        found: list[list[str]] = result.column(column).to_pylist()
        return found
    return [list(items) for items in result[column]]


def _valid(row: dict[str, Any]) -> bool:
    from difficult_customers.errors import StateValidationError

    try:
        ConversationState(**row)
    except StateValidationError:
        return False
    return True


#: Every field but the cross-field one, which a frame may leave out only with care.
_FIELDS = sorted(set(ConversationState.model_fields) - {"abuse_after_warning"})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.lists(states(), min_size=1, max_size=25),
    speaking=st.lists(st.booleans(), min_size=25, max_size=25),
    left_out=st.sets(st.sampled_from(_FIELDS)),
    locale=st.sampled_from(["en", "fr", "pl", "fr_CA", "pl-PL", "en_GB"]),
    kind=st.sampled_from(["polars", "pandas", "arrow"]),
)
def test_property_equal_advise(
    sample: list[ConversationState],
    speaking: list[bool],
    left_out: set[str],
    locale: str,
    kind: str,
) -> None:
    # Row by row, the ids and texts advise() gives the same state, in every locale, from
    # every kind of table, whatever columns are left out to take their defaults; done,
    # ended and a customer still speaking included (speaking drawn apart, so that about
    # half the rows have it whether or not the column is kept).
    names = frozenset(ConversationState.model_fields) - left_out
    rows = []
    for state, talking in zip(sample, speaking, strict=False):
        row = _row(state, names)
        if "customer_speaking" in row:
            row["customer_speaking"] = talking
        if not _valid(row):  # the warning or the abuse it needs was left out
            row["abuse_after_warning"] = False
        rows.append(row)
    frame = _frame(rows) if names else pl.DataFrame({"mood": ["upset"] * len(rows)}).drop("mood")
    if frame.height != len(rows):  # a polars version that drops rows without columns
        return
    frame = _in_kind(frame, kind)
    expected = [_expected(row, locale) for row in rows]
    result = advise_frame(frame, locale=locale, text=True)
    assert _lists(result, "rule_ids") == [ids for ids, _ in expected]
    assert _lists(result, "texts") == [texts for _, texts in expected]
    assert _lists(advise_frame(frame, locale=locale), "rule_ids") == [i for i, _ in expected]


def test_missing_columns_take_the_defaults() -> None:
    rows = [{"mood": "furious", "threats": True}, {"mood": "calm", "threats": False}]
    found = advise_frame(pl.DataFrame(rows))["rule_ids"].to_list()
    assert found == [_expected(row)[0] for row in rows]
    only_done = pl.DataFrame({"done": [["restate-the-request"], []]})
    found = advise_frame(only_done)["rule_ids"].to_list()
    assert found == [_expected({"done": ("restate-the-request",)})[0], _expected({})[0]]


def test_pandas_and_arrow_give_the_same_in_their_own_kind() -> None:
    pd = pytest.importorskip("pandas")
    rows = random_state_rows(300, seed=4)
    expected = [_expected(row)[0] for row in rows]
    table = _frame(rows).to_arrow()
    arrow = advise_frame(table)
    assert isinstance(arrow, pa.Table)
    assert arrow.column("rule_ids").to_pylist() == expected
    pandas_frame = pd.DataFrame(rows)
    before = pandas_frame.copy(deep=True)
    result = advise_frame(pandas_frame)
    assert isinstance(result, pd.DataFrame)
    assert [list(ids) for ids in result["rule_ids"]] == expected
    pd.testing.assert_frame_equal(pandas_frame, before)  # the caller's frame is untouched


def test_enum_and_categorical_columns() -> None:
    rows = random_state_rows(200, seed=5)
    frame = _frame(rows).with_columns(
        pl.col("mood").cast(pl.Enum(["calm", "upset", "angry", "furious"])),
        pl.col("channel").cast(pl.Categorical),
        pl.col("warnings_given").cast(pl.UInt8),
    )
    assert advise_frame(frame)["rule_ids"].to_list() == [_expected(row)[0] for row in rows]


def test_the_input_is_not_modified() -> None:
    frame = _frame(random_state_rows(50, seed=6))
    before = frame.clone()
    advise_frame(frame, text=True)
    assert frame.equals(before)
    assert frame.schema == before.schema


@pytest.mark.parametrize("text", [False, True])
def test_empty_frame(text: bool) -> None:
    result = advise_frame(pl.DataFrame({"mood": pl.Series([], dtype=pl.String)}), text=text)
    assert result.height == 0
    assert result.columns == (["rule_ids", "texts"] if text else ["rule_ids"])


def test_a_frame_without_columns_is_the_default_state() -> None:
    # Whether polars keeps the rows of a frame without columns depends on its version.
    empty = pl.DataFrame({"mood": ["upset", "upset"]}).drop("mood")
    assert advise_frame(empty)["rule_ids"].to_list() == [_expected({})[0]] * empty.height


def _problems(frame: Any) -> dict[str, str]:
    with pytest.raises(FrameError) as caught:
        advise_frame(frame)
    return {problem.column: str(problem) for problem in caught.value.problems}


def test_bad_values_are_reported_per_column_with_rows() -> None:
    frame = pl.DataFrame(
        {
            "mood": ["calm", "livid", "angry", "livid"],
            "warnings_given": [0, -1, 3, 10_001],
            "threats": [1, 0, 1, 0],
            "offensive_remarks": [0.0, 1.0, 2.0, 3.0],
            "moood": ["calm"] * 4,
            "done": [[], ["no-such-rule"], [], []],
            "resolved": [True, None, False, True],
        }
    )
    problems = _problems(frame)
    assert set(problems) == {
        "mood",
        "warnings_given",
        "threats",
        "offensive_remarks",
        "moood",
        "done",
        "resolved",
    }
    assert "'calm', 'upset', 'angry', 'furious'" in problems["mood"]
    assert problems["mood"].endswith("rows 1, 3")
    assert "a count from 0 to 10000; rows 1, 3" in problems["warnings_given"]
    assert "a Boolean column, not Int64" in problems["threats"]
    assert "an integer column, not Float64" in problems["offensive_remarks"]
    assert "did you mean 'mood'?" in problems["moood"]
    assert "rule id is unknown" in problems["done"]
    assert problems["done"].endswith("rows 1")
    assert "no nulls" in problems["resolved"]


def test_first_rows_and_count() -> None:
    frame = pl.DataFrame({"mood": ["livid"] * 12})
    (problem,) = _problems_list(frame)
    assert problem.rows == (0, 1, 2, 3, 4)
    assert problem.count == 12
    assert "(12 rows in all)" in str(problem)


def _problems_list(frame: Any) -> tuple[Any, ...]:
    with pytest.raises(FrameError) as caught:
        advise_frame(frame)
    return caught.value.problems


def test_abuse_after_a_warning_needs_a_warning() -> None:
    frame = pl.DataFrame({"abuse_after_warning": [False, True], "warnings_given": [0, 0]})
    (problem,) = _problems_list(frame)
    assert problem.column == "abuse_after_warning"
    assert problem.rows == (1,)
    only_abuse = pl.DataFrame({"abuse_after_warning": [True]})  # warnings_given defaults to 0
    assert _problems_list(only_abuse)[0].rows == (0,)


def test_strings_are_not_read_as_counts_or_booleans() -> None:
    frame = pl.DataFrame({"warnings_given": ["2"], "threats": ["true"]})
    problems = _problems(frame)
    assert "not String" in problems["warnings_given"]
    assert "not String" in problems["threats"]


def test_pandas_object_column_with_missing_values_is_refused() -> None:
    pd = pytest.importorskip("pandas")
    problems = _problems(pd.DataFrame({"threats": [True, None]}))
    assert "threats" in problems


def test_not_a_frame() -> None:
    with pytest.raises(TypeError, match="polars DataFrame, a pandas DataFrame or a pyarrow"):
        advise_frame([{"mood": "calm"}])


def test_a_rulebook_of_more_than_64_rules() -> None:
    # The key of a row's outcome spans several words: checked against advise().
    base = default_rulebook()
    rules = [
        rule.model_copy(update={"id": f"{rule.id}-{copy}", "overrides": ()})
        for copy in range(3)
        for rule in base.rules
    ]
    book = Rulebook(rules, catalogs=base.catalogs, name="triple")
    assert len(book) > 64
    rows = [{**row, "done": []} for row in random_state_rows(500, seed=7)]
    found = advise_frame(_frame(rows), rulebook=book)["rule_ids"].to_list()
    assert found == [_expected(row, book=book)[0] for row in rows]


def test_the_state_own_rules_are_those_of_the_model() -> None:
    # Every combination of the fields the state's cross-field rule reads: a row is refused
    # exactly when ConversationState refuses it.
    from itertools import product

    from difficult_customers.errors import StateValidationError

    names = ("abuse_after_warning", "warnings_given", "offensive_remarks", "personal_attacks")
    names += ("threats",)
    for values in product([False, True], [0, 1], [0, 1], [False, True], [False, True]):
        row = dict(zip(names, values, strict=True))
        try:
            ConversationState(**row)
            valid = True
        except StateValidationError:
            valid = False
        frame = pl.DataFrame([row])
        if valid:
            assert advise_frame(frame)["rule_ids"].to_list() == [_expected(row)[0]], row
        else:
            with pytest.raises(FrameError, match="abuse_after_warning"):
                advise_frame(frame)


def test_bad_arguments() -> None:
    from difficult_customers.errors import UnsupportedLocaleError

    frame = pl.DataFrame({"mood": ["calm"]})
    with pytest.raises(UnsupportedLocaleError):
        advise_frame(frame, locale="xx")
    with pytest.raises(TypeError, match="text must be True or False"):
        advise_frame(frame, text="yes")
    with pytest.raises(TypeError, match="rulebook must be a Rulebook"):
        advise_frame(frame, rulebook="builtin")


def test_a_slice_of_a_frame() -> None:
    # A slice's boolean columns may start inside a byte of their Arrow bitmaps.
    rows = random_state_rows(300, seed=8)
    for start in (1, 5, 8):
        found = advise_frame(_frame(rows).slice(start, 200))["rule_ids"].to_list()
        assert found == [_expected(row)[0] for row in rows[start : start + 200]], start


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("text", [False, True])
def test_a_frame_of_many_chunks_gathered_in_parts(
    monkeypatch: pytest.MonkeyPatch, text: bool, threads: int
) -> None:
    # Large frames are evaluated a slice at a time, in as many threads as polars uses, and
    # their lists gathered in parts, one per thread: the same paths, on a frame small
    # enough to check row by row (chunks of 64 rows, and a last one shorter).
    monkeypatch.setattr(frames, "_CHUNK_ROWS", 64)
    monkeypatch.setattr(frames, "_PARALLEL_ROWS", 100)
    monkeypatch.setattr(frames.pl, "thread_pool_size", lambda: threads)
    rows = random_state_rows(1000, seed=9)
    result = advise_frame(_frame(rows), text=text)
    assert result["rule_ids"].to_list() == [_expected(row)[0] for row in rows]
    if text:
        assert result["texts"].to_list() == [_expected(row)[1] for row in rows]


def test_no_pandas_for_a_polars_frame() -> None:
    # pyarrow's pa.array() and to_numpy() import pandas when it is installed: a fifth of a
    # second in the first call of a process, for a frame that has nothing to do with pandas.
    from conftest import fresh_python

    code = (
        "import sys, polars as pl\n"
        "from difficult_customers.frames import advise_frame\n"
        "frame = pl.DataFrame({'mood': ['calm'], 'done': [['stay-calm']]})\n"
        "advise_frame(frame)\n"
        "advise_frame(frame, text=True)\n"
        "print('pandas' in sys.modules)\n"
    )
    assert fresh_python(code).strip() == "False"


@pytest.mark.parametrize(
    ("dtype", "values", "bad"),
    [
        ("Int8", [0, -3, 127, -128], (1, 3)),
        ("Int32", [0, -3, 10_001, 2], (1, 2)),
        ("UInt16", [0, 3, 10_001, 20_000], (2, 3)),
        ("UInt64", [0, 3, 10_001, 2**64 - 1], (2, 3)),
        ("Int64", [-(2**63), 3, 10_001, -1], (0, 2, 3)),
    ],
)
def test_counts_out_of_range_in_every_integer_dtype(
    dtype: str, values: list[int], bad: tuple[int, ...]
) -> None:
    # The range is first tested on the column's minimum and maximum (64-bit columns read as
    # unsigned), then the rows are looked for.
    frame = pl.DataFrame({"warnings_given": pl.Series(values, dtype=getattr(pl, dtype))})
    (problem,) = _problems_list(frame)
    assert problem.column == "warnings_given"
    assert problem.rows == bad


def test_enum_columns_of_other_categories_are_checked() -> None:
    # An Enum whose categories differ from the field's is read by value, not by position.
    frame = pl.DataFrame(
        {"mood": pl.Series(["furious", "calm"], dtype=pl.Enum(["furious", "calm"]))}
    )
    rows = [{"mood": "furious"}, {"mood": "calm"}]
    assert advise_frame(frame)["rule_ids"].to_list() == [_expected(row)[0] for row in rows]
    wrong = pl.DataFrame({"mood": pl.Series(["calm", "livid"], dtype=pl.Enum(["calm", "livid"]))})
    (problem,) = _problems_list(wrong)
    assert problem.rows == (1,)


def test_done_with_too_many_ids_and_nulls() -> None:
    from difficult_customers.state import MAX_DONE

    ids = sorted(default_rulebook().ids)
    long = (ids * (MAX_DONE // len(ids) + 2))[: MAX_DONE + 1]
    frame = pl.DataFrame({"done": [[], long, ["stay-calm", None]]})
    (problem,) = _problems_list(frame)
    assert problem.rows == (1,)
    assert f"at most {MAX_DONE}" in problem.rule
    frame = pl.DataFrame({"done": [[], ["stay-calm", None]]})
    (problem,) = _problems_list(frame)
    assert problem.rows == (1,)
    assert problem.rule == "no nulls inside the lists: rule ids only"


@pytest.mark.parametrize("library", ["polars", "pandas", "pyarrow"])
def test_a_null_inside_done_is_named_a_null_not_an_unknown_id(library: str) -> None:
    # A null item was reported as "a rule id is unknown", which sends the reader looking
    # for a misspelled id that is not there.
    lists = [["stay-calm"], ["stay-calm", None], ["no-such-rule"], [None]]
    if library == "polars":
        frame: Any = pl.DataFrame({"done": lists}, schema={"done": pl.List(pl.String)})
    elif library == "pandas":
        frame = pytest.importorskip("pandas").DataFrame({"done": lists})
    else:
        frame = pa.table({"done": pa.array(lists, type=pa.list_(pa.string()))})
    (problem,) = _problems_list(frame)
    assert (problem.rule, problem.rows, problem.count) == (
        "no nulls inside the lists: rule ids only",
        (1, 3),
        2,
    )
    (unknown,) = _problems_list(pl.DataFrame({"done": [["stay-calm"], ["no-such-rule"]]}))
    assert "a rule id is unknown" in unknown.rule
    assert unknown.rows == (1,)


def test_an_arrow_column_polars_cannot_read_is_named() -> None:
    table = pa.table(
        {
            "mood": pa.array(["calm"]),
            "threats": pa.array([None], type=pa.month_day_nano_interval()),
        }
    )
    problems = _problems(table)
    assert set(problems) == {"threats"}
    assert problems["threats"].startswith("column 'threats': a Boolean column")
    assert problems["threats"].endswith("not month_day_nano_interval")


def test_arrow_dictionary_columns_from_elsewhere() -> None:
    # Dictionary columns that polars did not write come in as Categorical: their values
    # are checked and cast through the dictionary.
    rows = random_state_rows(100, seed=12)
    columns = {name: [row[name] for row in rows] for name in ("mood", "channel", "threats")}
    table = pa.table(
        {
            "mood": pa.array(columns["mood"]).dictionary_encode(),
            "channel": pa.array(columns["channel"]).dictionary_encode(),
            "threats": pa.array(columns["threats"]),
        }
    )
    expected = [_expected({name: row[name] for name in columns})[0] for row in rows]
    assert advise_frame(table).column("rule_ids").to_pylist() == expected
    bad = pa.table({"mood": pa.array(["calm", "livid"]).dictionary_encode()})
    (problem,) = _problems_list(bad)
    assert problem.rows == (1,)


def test_the_frames_extra_installs_what_frames_imports() -> None:
    # Neither polars nor pyarrow depends on numpy, which frames and compile.polars import:
    # without it in the extra, `pip install difficult-customers[frames]` gave an
    # ImportError that named no extra.
    import re
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    extra = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]["frames"]
    names = {re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0] for requirement in extra}
    assert {"polars", "pyarrow", "numpy"} <= names


def test_a_frame_of_several_chunks() -> None:
    # Columns made of several Arrow arrays (pl.concat without rechunk), chunks that end
    # inside a byte of the boolean bitmaps.
    rows = random_state_rows(301, seed=13)
    parts = [_frame(rows[:101]), _frame(rows[101:203]), _frame(rows[203:])]
    frame = pl.concat(parts, rechunk=False)
    assert frame["threats"].n_chunks() == 3
    result = advise_frame(frame, text=True)
    assert result["rule_ids"].to_list() == [_expected(row)[0] for row in rows]
    assert result["texts"].to_list() == [_expected(row)[1] for row in rows]


def test_done_lists_sliced_repeated_and_past_64_rules() -> None:
    # The rules carried out are ORed into the keys item by item: lists that repeat an id,
    # a slice (its Arrow offsets do not start at 0), a chunked column, more than 64 rules.
    rows = random_state_rows(400, seed=14)
    rows = [{**row, "done": [*row["done"], *row["done"][:1]]} for row in rows]
    frame = pl.concat([_frame(rows[:150]), _frame(rows[150:])], rechunk=False).slice(7, 380)
    found = advise_frame(frame)["rule_ids"].to_list()
    assert found == [_expected(row)[0] for row in rows[7:387]]
    base = default_rulebook()
    rules = [
        rule.model_copy(update={"id": f"{rule.id}-{copy}", "overrides": ()})
        for copy in range(2)
        for rule in base.rules
    ]
    book = Rulebook(rules, catalogs=base.catalogs, name="double")
    assert len(book) > 64
    late = [rule.id for rule in rules[60:70]]
    wide = [{**row, "done": late[i % 10 :: 3]} for i, row in enumerate(rows[:200])]
    found = advise_frame(_frame(wide), rulebook=book)["rule_ids"].to_list()
    assert found == [_expected(row, book=book)[0] for row in wide]


def test_a_pandas_result_keeps_the_frame_index() -> None:
    # pandas aligns on the index: a result on a fresh 0..n-1 index, assigned back to a
    # frame indexed otherwise (a turn id, a filtered slice), gave NaN on every row.
    pd = pytest.importorskip("pandas")
    rows = random_state_rows(6, seed=15)
    for index in (pd.Index([10, 20, 30, 40, 50, 60]), pd.Index(list("abcdef"), name="turn")):
        turns = pd.DataFrame([{"mood": row["mood"]} for row in rows], index=index)
        before = turns.copy(deep=True)
        for text in (False, True):
            result = advise_frame(turns, text=text)
            pd.testing.assert_index_equal(result.index, turns.index)
        turns_with_advice = turns.assign(rule_ids=advise_frame(turns)["rule_ids"])
        expected = [_expected({"mood": row["mood"]})[0] for row in rows]
        assert [list(ids) for ids in turns_with_advice["rule_ids"]] == expected
        pd.testing.assert_frame_equal(turns, before)
    empty = pd.DataFrame({"mood": pd.Series([], dtype=str, index=pd.Index([], dtype=str))})
    pd.testing.assert_index_equal(advise_frame(empty).index, empty.index)


def test_pandas_and_arrow_tables_without_columns_keep_their_rows() -> None:
    # Rows without columns are default states, as many as the table has: a pandas frame
    # of three such rows gave an empty result.
    pd = pytest.importorskip("pandas")
    default = _expected({})
    pandas_result = advise_frame(pd.DataFrame(index=pd.RangeIndex(3)), text=True)
    assert [list(ids) for ids in pandas_result["rule_ids"]] == [default[0]] * 3
    assert [list(texts) for texts in pandas_result["texts"]] == [default[1]] * 3
    table = pa.table({"mood": ["calm"] * 4}).drop_columns(["mood"])
    assert advise_frame(table).column("rule_ids").to_pylist() == [default[0]] * 4


def test_pandas_columns_not_named_by_strings_are_unknown_fields() -> None:
    # They were looked up by their str(), which pandas does not know: the error said
    # "cannot be read as a column: '0'" instead of what the columns may be.
    pd = pytest.importorskip("pandas")
    problems = _problems(pd.DataFrame({0: [1], "mood": ["calm"], 2.5: [True]}))
    assert problems == {
        "0": "column '0': not a state field",
        "2.5": "column '2.5': not a state field",
    }
    nested = pd.DataFrame(
        [["calm", True]], columns=pd.MultiIndex.from_tuples([("mood", ""), ("threats", "x")])
    )
    found = _problems(nested)
    assert set(found) == {"('mood', '')", "('threats', 'x')"}
    assert all(": not a state field" in problem for problem in found.values())


def test_a_pandas_column_of_mixed_objects_is_reported_with_its_rows() -> None:
    # An object column polars cannot read was reported with the converter's own message
    # ("Could not convert 'yes' with type str: tried to convert to boolean"): no rule, no
    # rows; and the frame's other problems went unreported.
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "threats": pd.Series([True, "yes", False, 1], dtype=object),
            "warnings_given": pd.Series([1, 2**70, "2", 0], dtype=object),
            "mood": pd.Series(["calm", 2, "angry", None], dtype=object),
            "done": pd.Series([["stay-calm"], [], ["stay-calm", 3], "stay-calm"], dtype=object),
            "resolved": [True, None, False, True],
            "moood": pd.Series([1j, 2j, 3j, 4j]),
        }
    )
    with pytest.raises(FrameError) as caught:
        advise_frame(frame)
    problems = {problem.column: problem for problem in caught.value.problems}
    assert list(problems) == list(frame.columns)
    assert problems["threats"].rows == (1, 3)
    assert problems["threats"].rule.startswith("a Boolean column")
    assert problems["warnings_given"].rows == (1, 2)
    assert "0 to 10000" in problems["warnings_given"].rule
    assert problems["mood"].rows == (1,)
    assert problems["mood"].rule.startswith("a string, Categorical or Enum column")
    assert problems["done"].rows == (2, 3)
    assert "rule ids" in problems["done"].rule
    assert problems["resolved"].rows == (1,)
    assert "did you mean 'mood'?" in problems["moood"].rule
    assert "cannot be read" not in str(caught.value)


def test_an_arrow_table_with_a_repeated_column_name() -> None:
    # As for pandas: one problem, saying what is wrong, not a polars exception.
    table = pa.Table.from_arrays(
        [pa.array(["calm"]), pa.array([True]), pa.array(["angry"])],
        names=["mood", "threats", "mood"],
    )
    (problem,) = _problems_list(table)
    assert str(problem) == "column 'mood': a column name appears twice"


@pytest.mark.parametrize("library", ["pandas", "pyarrow"])
def test_a_column_with_an_empty_name_is_named_as_it_is(library: str) -> None:
    # polars names a column without a name "column_0": the error named a column the
    # frame does not have, and beside a real "column_0" a polars exception came out.
    if library == "pandas":
        pd = pytest.importorskip("pandas")
        alone: Any = pd.DataFrame({"": ["x"], "mood": ["calm"]})
        beside: Any = pd.DataFrame({"": ["x"], "column_0": ["y"]})
    else:
        alone = pa.table({"": ["x"], "mood": ["calm"]})
        beside = pa.table({"": ["x"], "column_0": ["y"]})
    (problem,) = _problems_list(alone)
    assert str(problem) == "column '': not a state field"
    problems = {p.column: p.rule for p in _problems_list(beside)}
    assert problems == {"": "not a state field", "column_0": "not a state field"}


@pytest.mark.parametrize(
    "when",
    [
        "warnings_given < 20000",
        "warnings_given < " + "9" * 45,
        "offensive_remarks in (2, " + "9" * 60 + ") or warnings_given == 10001",
        "warnings_given != " + "1" * 39 + " and 10000 <= offensive_remarks",
        "offensive_remarks > 10000 or 50000 > warnings_given > 2",
    ],
)
def test_counts_beyond_the_largest_state_count(tmp_path: Any, when: str) -> None:
    # A condition may compare a count with any integer, as advise() does; polars raised
    # its own OverflowError for a constant wider than its integers.
    from conftest import one_rule_pack
    from difficult_customers import load_rulebook

    book = load_rulebook(one_rule_pack(tmp_path, when, "large-count"))
    rows = [
        {"warnings_given": w, "offensive_remarks": o}
        for w in (0, 1, 2, 3, 9_999, 10_000)
        for o in (0, 2, 3, 10_000)
    ]
    fires = False
    for dtype in (pl.UInt8, pl.UInt16, pl.Int64, pl.UInt64):
        frame = pl.DataFrame(rows)
        if dtype == pl.UInt8:
            frame = frame.filter(pl.all_horizontal(pl.all() < 256))
        frame = frame.cast(dtype)
        expected = [_expected(row, book=book)[0] for row in frame.to_dicts()]
        assert advise_frame(frame, rulebook=book)["rule_ids"].to_list() == expected
        fires |= any("large-count" in ids for ids in expected)
    assert fires


def test_a_done_column_of_empty_lists_only() -> None:
    # Built without a schema, a column in which nothing was done anywhere is a List of
    # Null (polars, pandas, Arrow alike): it was refused as "not List(Null)".
    pd = pytest.importorskip("pandas")
    default = _expected({})[0]
    for frame in (
        pl.DataFrame({"done": [[], []]}),
        pd.DataFrame({"done": [[], []]}),
        pa.table({"done": pa.array([[], []])}),
    ):
        assert _lists(advise_frame(frame), "rule_ids") == [default, default]
    (problem,) = _problems_list(pl.DataFrame({"done": [[], [None]]}))
    assert problem.rows == (1,)
    assert problem.rule == "no nulls inside the lists: rule ids only"


def test_a_subclass_of_a_pandas_frame_is_a_pandas_frame() -> None:
    # Recognized by its type's module and name, a subclass (as GeoDataFrame is) was
    # refused with "takes ... a pandas DataFrame".
    pd = pytest.importorskip("pandas")

    class Turns(pd.DataFrame):  # type: ignore[misc]
        pass

    turns = Turns({"mood": ["calm", "furious"]}, index=[3, 4])
    result = advise_frame(turns)
    assert [list(ids) for ids in result["rule_ids"]] == [
        _expected({"mood": "calm"})[0],
        _expected({"mood": "furious"})[0],
    ]
    assert list(result.index) == [3, 4]


def test_a_lazy_frame_is_refused_with_what_to_do() -> None:
    lazy = pl.DataFrame({"mood": ["calm"]}).lazy()
    with pytest.raises(TypeError, match=r"not LazyFrame.*collect\(\)"):
        advise_frame(lazy)


def test_the_public_kept_and_fired_expressions_equal_advise() -> None:
    # compile.polars.kept() and fired() are public, and advise_frame() no longer uses
    # them: checked on their own, with ended and done, and with the outcomes computed in
    # an earlier step.
    from difficult_customers.compile import rulebook_logic
    from difficult_customers.compile.polars import fired, kept

    logic = rulebook_logic(default_rulebook())
    rows = random_state_rows(1500, seed=16)
    frame = _frame(rows)
    expected = [_expected(row)[0] for row in rows]

    def advised(result: Any) -> list[list[str]]:
        return [
            [name for name in result.columns if row[name]] for row in result.iter_rows(named=True)
        ]

    direct = frame.select(kept(logic, ended=pl.col("ended"), done=pl.col("done")))
    assert advised(direct) == expected
    outcomes = frame.select(fired(logic, ended=pl.col("ended")))
    staged = frame.with_columns(outcomes).select(
        kept(logic, done=pl.col("done"), outcomes=[pl.col(name) for name in outcomes.columns])
    )
    assert advised(staged) == expected


def test_what_pandas_and_arrow_results_hold_as_docs_frames_says() -> None:
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    rows = [{"mood": "angry"}, {"mood": "calm"}]
    cell = advise_frame(pd.DataFrame(rows))["rule_ids"].iloc[0]
    assert isinstance(cell, np.ndarray)
    assert cell.tolist() == _expected(rows[0])[0]
    batch = pa.RecordBatch.from_pylist(rows)
    result = advise_frame(batch)
    assert isinstance(result, pa.Table)
    assert pa.types.is_dictionary(result.schema.field("rule_ids").type.value_type)
    assert _lists(result, "rule_ids") == [_expected(row)[0] for row in rows]
