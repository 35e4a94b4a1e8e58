"""advise_parquet() and ``advise --from-parquet``: DuckDB over a Parquet file of states."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from difficult_customers import advise, default_rulebook
from difficult_customers.__main__ import main
from difficult_customers.errors import FrameError
from strategies import random_state_rows

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")
pl = pytest.importorskip("polars")

from difficult_customers.parquet import MAX_ROWS_SHOWN, advise_parquet  # noqa: E402

INDEX = {rule.id: i for i, rule in enumerate(default_rulebook().rules)}


def _expected(row: dict[str, Any]) -> list[str]:
    advice = advise(row)
    ids = (r.rule_id for r in (*advice.attitudes, *advice.actions, *advice.avoid))
    return sorted(ids, key=INDEX.__getitem__)


def _write(path: Path, rows: list[dict[str, Any]], **overrides: Any) -> Path:
    frame = pl.DataFrame(rows, schema_overrides={"done": pl.List(pl.String), **overrides})
    frame.write_parquet(path)
    return path


def test_every_row_gets_the_advice_of_advise(tmp_path: Path) -> None:
    rows = random_state_rows(5_000, seed=7)
    numbered = [{"turn_id": i, **row} for i, row in enumerate(rows)]
    source = _write(tmp_path / "turns.parquet", numbered)
    target = tmp_path / "advice.parquet"
    assert advise_parquet(source, target, keep=["turn_id"]) is None
    written = pl.read_parquet(target)
    assert written.columns == ["turn_id", "rule_ids"]
    assert written["turn_id"].to_list() == list(range(len(rows)))
    assert written["rule_ids"].to_list() == [_expected(row) for row in rows]


def test_missing_columns_take_the_defaults_and_rows_stream_in_order(tmp_path: Path) -> None:
    rows = [{"mood": "angry", "offensive_remarks": 2}, {"mood": "calm", "channel": "email"}]
    rows = [
        {"mood": row["mood"], "offensive_remarks": row.get("offensive_remarks", 0)} for row in rows
    ]
    source = _write(tmp_path / "few.parquet", rows)
    found = advise_parquet(source)
    assert found is not None
    assert [row["rule_ids"] for row in found] == [_expected(row) for row in rows]


def test_a_column_that_is_neither_a_field_nor_kept_is_an_error(tmp_path: Path) -> None:
    # A misspelled field would otherwise take its default without a word.
    source = _write(tmp_path / "typo.parquet", [{"turn_id": 1, "moood": "angry"}])
    with pytest.raises(FrameError) as caught:
        advise_parquet(source, keep=["turn_id"])
    assert [(p.column, p.rule) for p in caught.value.problems] == [
        ("moood", "not a state field (did you mean 'mood'?)")
    ]
    # The file is named: a batch job reading several would not say which otherwise.
    assert caught.value.source == str(source)
    assert str(caught.value).startswith(f"invalid states in {source}: column 'moood'")


def test_bad_values_name_the_column_the_rule_and_the_first_rows(tmp_path: Path) -> None:
    rows = [
        {"mood": "calm", "offensive_remarks": 0, "done": []},
        {"mood": "livid", "offensive_remarks": -1, "done": ["stay-calm"]},
        {"mood": "calm", "offensive_remarks": 20_000, "done": ["no-such-rule"]},
        *({"mood": "livid", "offensive_remarks": 0, "done": []} for _ in range(10)),
    ]
    source = _write(tmp_path / "bad.parquet", rows)
    with pytest.raises(FrameError) as caught:
        advise_parquet(source, tmp_path / "never.parquet")
    problems = {p.column: p for p in caught.value.problems}
    assert problems["mood"].rows == (1, 3, 4, 5, 6)[:MAX_ROWS_SHOWN]
    assert problems["mood"].count == 11
    assert problems["offensive_remarks"].rows == (1, 2)
    assert problems["offensive_remarks"].rule == "a count from 0 to 10000"
    assert problems["done"].rows == (2,)
    assert not (tmp_path / "never.parquet").exists()


def test_wrong_types_and_nulls_are_refused(tmp_path: Path) -> None:
    rows = [{"threats": 1, "warnings_given": 1.5, "mood": None}]
    source = _write(tmp_path / "types.parquet", rows, mood=pl.String)
    with pytest.raises(FrameError) as caught:
        advise_parquet(source)
    assert [(p.column, p.rule) for p in caught.value.problems] == [
        ("threats", "a BOOLEAN column, not BIGINT"),
        ("warnings_given", "an integer column, not DOUBLE"),
        ("mood", "no nulls: every row needs a value"),
    ]


def test_a_null_inside_done_is_named_a_null_not_an_unknown_id(tmp_path: Path) -> None:
    # As in advise_frame(): a null item is not a misspelled id.
    rows = [{"done": ["stay-calm"]}, {"done": ["stay-calm", None]}, {"done": [None]}]
    source = _write(tmp_path / "nulls.parquet", rows)
    with pytest.raises(FrameError) as caught:
        advise_parquet(source)
    assert [(p.column, p.rule, p.rows) for p in caught.value.problems] == [
        ("done", "no nulls inside the lists: rule ids only", (1, 2))
    ]
    source = _write(tmp_path / "unknown.parquet", [{"done": ["no-such-rule"]}])
    with pytest.raises(FrameError) as caught:
        advise_parquet(source)
    assert [(p.column, p.rule) for p in caught.value.problems] == [
        ("done", "a list of the rulebook's rule ids (a rule id is unknown)")
    ]


def test_a_done_column_of_empty_lists_only(tmp_path: Path) -> None:
    # polars, pandas and Arrow write a column in which nothing was done in any row as a
    # list of nulls, which DuckDB reads as "NULL"[]: it was refused as "not VARCHAR[]",
    # while advise_frame() takes the same frame.
    source = tmp_path / "empty.parquet"
    pl.DataFrame({"turn_id": [1, 2], "mood": ["calm", "angry"], "done": [[], []]}).write_parquet(
        source
    )
    assert pl.read_parquet(source).schema["done"] == pl.List(pl.Null)
    found = list(advise_parquet(source, keep=["turn_id"]) or [])
    assert [row["rule_ids"] for row in found] == [
        _expected({"mood": "calm"}),
        _expected({"mood": "angry"}),
    ]
    pl.DataFrame({"done": [[], [None]]}).write_parquet(source)
    with pytest.raises(FrameError) as caught:
        advise_parquet(source)
    assert [(p.column, p.rule, p.rows) for p in caught.value.problems] == [
        ("done", "no nulls inside the lists: rule ids only", (1,))
    ]


def test_rows_contradicting_the_state_rules_are_refused(tmp_path: Path) -> None:
    rows = [
        {"abuse_after_warning": False, "warnings_given": 0},
        {"abuse_after_warning": True, "warnings_given": 0},
    ]
    with pytest.raises(FrameError, match=r"abuse_after_warning.*rows 1"):
        advise_parquet(_write(tmp_path / "contradiction.parquet", rows))


def test_hostile_kept_column_names_are_quoted(tmp_path: Path) -> None:
    name = 'x" FROM states; DROP TABLE states; --'
    source = _write(tmp_path / "hostile.parquet", [{name: 1, "mood": "angry"}])
    found = advise_parquet(source, keep=[name])
    assert found is not None
    assert [row[name] for row in found] == [1]


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"turn_id": 7, "mood": "angry", "offensive_remarks": 2}]
    source = _write(tmp_path / "turns.parquet", rows)
    assert main(["advise", "--from-parquet", str(source), "--keep", "turn_id"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line == {"turn_id": 7, "rule_ids": _expected({"mood": "angry", "offensive_remarks": 2})}
    target = tmp_path / "advice.parquet"
    assert (
        main(
            [
                "advise",
                "--from-parquet",
                str(source),
                "--keep",
                "turn_id",
                "--to-parquet",
                str(target),
            ]
        )
        == 0
    )
    assert pl.read_parquet(target)["turn_id"].to_list() == [7]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from-parquet", "missing.parquet"], "no such file: missing.parquet"),
        (["--from-parquet", "{src}", "--set", "mood=calm"], "--set does not apply"),
        # More than one, as a sentence: it read "a state, --jsonl does not apply".
        (["--from-parquet", "{src}", "--jsonl"], "file: --jsonl does not apply"),
        (
            ["-", "--from-parquet", "{src}", "--jsonl"],
            "file: a state file and --jsonl do not apply",
        ),
        (
            ["--from-parquet", "{src}", "--set", "mood=calm", "--detail", "x=1", "--sources"],
            "file: --set, --detail and --sources do not apply",
        ),
        # Rule ids only: no text in a locale, no rendering to choose.
        (["--from-parquet", "{src}", "--locale", "fr"], "--locale fr does not apply"),
        (["--from-parquet", "{src}", "--format", "markdown"], "--format markdown does not"),
        (["--to-parquet", "out.parquet"], "go with --from-parquet FILE"),
        (["--from-parquet", "{src}"], "column 'turn_id': not a state field"),
        (["--from-parquet", "{junk}"], "too small to be a Parquet file"),
        (["--from-parquet", "{tmp}"], "--from-parquet: not a regular file: {tmp}"),
        # A target that cannot be written is named as such, not as the file read.
        (["--from-parquet", "{src}", "--to-parquet", "{tmp}/no/a.parquet"], "--to-parquet: no"),
        (["--from-parquet", "{src}", "--to-parquet", "{tmp}"], "--to-parquet: {tmp} is a folder"),
    ],
)
def test_command_line_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    source = _write(tmp_path / "turns.parquet", [{"turn_id": 7, "mood": "angry"}])
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet", encoding="utf-8")
    argv = [a.format(src=source, junk=junk, tmp=tmp_path) for a in argv]
    # Options that do not go together are a usage error, the rest bad input: both exit 2.
    assert main(["advise", *argv]) == 2
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in err, err
    assert err.count("\n") == 1


@pytest.mark.parametrize("name", ["a[1].parquet", "b?.parquet", "c*.parquet", "~home.parquet"])
def test_the_path_is_a_file_name_never_a_pattern(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # DuckDB's reader takes glob patterns and expands a leading ~: the file named, and only
    # it, is read, even beside files its name would match as a pattern.
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / name, [{"mood": "angry"}])
    for other in ("a1.parquet", "bb.parquet", "cc.parquet"):
        _write(tmp_path / other, [{"mood": "calm", "resolved": True}])
    for source in (name, tmp_path / name):
        found = advise_parquet(source)
        assert found is not None
        assert [row["rule_ids"] for row in found] == [_expected({"mood": "angry"})]


def test_writing_over_the_file_read_is_refused(tmp_path: Path) -> None:
    source = _write(tmp_path / "turns.parquet", [{"mood": "angry"}])
    before = source.read_bytes()
    for target in (source, tmp_path / "." / "turns.parquet"):
        with pytest.raises(ValueError, match="the file it reads"):
            advise_parquet(source, target)
    assert source.read_bytes() == before


@pytest.mark.parametrize("target", ["s3://bucket/advice.parquet", "http://127.0.0.1:9/a.parquet"])
def test_no_extension_is_installed_for_a_target_that_looks_like_a_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    # A path is a local file: DuckDB would otherwise fetch and load httpfs from the network.
    monkeypatch.chdir(tmp_path)
    source = _write(tmp_path / "turns.parquet", [{"mood": "angry"}])
    with pytest.raises(duckdb.Error) as caught:
        advise_parquet(source, target)
    assert "httpfs" not in str(caught.value)
    assert str(tmp_path) in str(caught.value)  # the local path it means


@pytest.mark.parametrize("keep", [[], ["file_row_number"]])
def test_a_column_named_as_the_readers_row_numbers(tmp_path: Path, keep: list[str]) -> None:
    # DuckDB's reader adds file_row_number itself: a column of that name gave its binder
    # error ('Option file_row_number adds column ...').
    source = _write(tmp_path / "rows.parquet", [{"mood": "angry", "file_row_number": 3}])
    with pytest.raises(FrameError) as caught:
        advise_parquet(source, keep=keep)
    assert [p.column for p in caught.value.problems] == ["file_row_number"]
    assert "rename" in caught.value.problems[0].rule


def test_without_duckdb_the_error_names_the_extra(tmp_path: Path) -> None:
    import subprocess
    import sys

    source = _write(tmp_path / "turns.parquet", [{"mood": "angry"}])
    code = (
        "import sys; sys.modules['duckdb'] = None\n"
        "from difficult_customers.__main__ import main\n"
        f"sys.exit(main(['advise', '--from-parquet', {str(source)!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "pip install 'difficult-customers[sql]'" in result.stderr
    assert result.stderr.count("\n") == 1


def test_kept_floats_that_json_cannot_hold_are_null(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pandas writes a missing float as NaN; "NaN" and "Infinity" are not JSON, and a strict
    # reader of the JSON Lines output refuses them.
    rows = [{"score": s, "mood": "angry"} for s in (1.5, float("nan"), float("inf"))]
    source = _write(tmp_path / "scores.parquet", rows)
    assert main(["advise", "--from-parquet", str(source), "--keep", "score"]) == 0

    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line, parse_constant=refuse)["score"] for line in lines] == [
        1.5,
        None,
        None,
    ]


def test_the_command_line_gives_the_advice_of_advise_for_every_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = random_state_rows(500, seed=11)
    source = _write(tmp_path / "turns.parquet", [{"turn_id": i, **r} for i, r in enumerate(rows)])
    assert main(["advise", "--from-parquet", str(source), "--keep", "turn_id"]) == 0
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert found == [{"turn_id": i, "rule_ids": _expected(r)} for i, r in enumerate(rows)]


def test_kept_values_json_has_no_type_for_are_written_as_standard_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A binary column is base64, as JSON exports of bytes usually are, not a Python repr
    # ("b'\\x00'") that no other language reads; a timestamp is ISO 8601 with its "T".
    moment = datetime.datetime(2026, 3, 1, 9, 30, 5)
    rows = [{"blob": b"\x00\xffid", "at": moment, "day": moment.date(), "mood": "angry"}]
    source = _write(tmp_path / "kept.parquet", rows)
    keep = ("--keep", "blob", "--keep", "at", "--keep", "day")
    assert main(["advise", "--from-parquet", str(source), *keep]) == 0
    row = json.loads(capsys.readouterr().out)
    assert base64.b64decode(row["blob"], validate=True) == b"\x00\xffid"
    assert row["at"] == "2026-03-01T09:30:05"
    assert row["day"] == "2026-03-01"


def test_a_column_kept_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --keep turn_id --keep turn_id was read as one column without a word.
    source = _write(tmp_path / "turns.parquet", [{"turn_id": 7, "mood": "angry"}])
    with pytest.raises(ValueError, match=r"'turn_id' is named twice in keep"):
        advise_parquet(source, keep=["turn_id", "turn_id"])
    argv = ["advise", "--from-parquet", str(source), "--keep", "turn_id", "--keep", "turn_id"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "--keep: 'turn_id' is given twice" in err, err


@pytest.mark.parametrize(
    "columns",
    [
        {"": [1], "mood": ["angry"]},
        # DuckDB called the unnamed column C0, then refused the file for two columns C0.
        {"": [1], "C0": ["x"], "mood": ["angry"]},
    ],
    ids=["unnamed", "unnamed-beside-C0"],
)
def test_a_column_without_a_name_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], columns: dict[str, list[Any]]
) -> None:
    # DuckDB's reader calls a column without a name C0: the error was "column 'C0': not a
    # state field", about a name the file does not hold.
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    source = tmp_path / "unnamed.parquet"
    pq.write_table(pa.table(columns), source)
    with pytest.raises(FrameError) as info:
        advise_parquet(source, keep=["C0"] if "C0" in columns else [])
    message = str(info.value)
    assert "column 0 of the file has no name" in message, message
    assert "'C0'" not in message, message
    assert main(["advise", "--from-parquet", str(source)]) == 2
    err = capsys.readouterr().err
    assert "column 0 of the file has no name" in err, err
    assert "Binder Error" not in err, err
