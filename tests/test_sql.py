"""Rulebook.to_sql(): run for real, on DuckDB and (marker ``spark``) on Spark in local mode."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import run_shell
from difficult_customers import advise, default_rulebook
from difficult_customers.compile import rulebook_logic
from difficult_customers.conditions import Condition
from difficult_customers.errors import ConditionTypeError
from difficult_customers.rules import Rule, Rulebook
from strategies import random_state_rows

pl = pytest.importorskip("polars")
duckdb = pytest.importorskip("duckdb")
sqlglot = pytest.importorskip("sqlglot")

STATES = 100_000
INDEX = {rule.id: i for i, rule in enumerate(default_rulebook().rules)}


def _expected(row: dict[str, Any]) -> list[str]:
    advice = advise(row)
    return sorted(
        (r.rule_id for r in (*advice.attitudes, *advice.actions, *advice.avoid)),
        key=INDEX.__getitem__,
    )


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return random_state_rows(STATES, seed=100)


@pytest.fixture(scope="module")
def expected(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [_expected(row) for row in rows]


def _frame(rows: list[dict[str, Any]]) -> Any:
    return pl.DataFrame(rows, schema_overrides={"done": pl.List(pl.String)})


@pytest.mark.parametrize("inline", [True, False])
def test_duckdb_equals_advise(
    rows: list[dict[str, Any]], expected: list[list[str]], inline: bool
) -> None:
    from difficult_customers.compile.sql import rulebook_sql

    states = _frame(rows)  # noqa: F841  (read by name by DuckDB)
    sql = rulebook_sql(default_rulebook(), "duckdb", inline=inline)
    found = duckdb.sql(f"SELECT {sql} FROM states").pl()["rule_ids"].to_list()
    assert found == expected


def test_duckdb_over_parquet(tmp_path: Any, rows: list[dict[str, Any]]) -> None:
    # The recipe of docs/sql.md: the states in a Parquet file, the advice in one query.
    path = tmp_path / "states.parquet"
    _frame(rows[:2000]).write_parquet(path)
    sql = default_rulebook().to_sql()
    connection = duckdb.connect()
    found = connection.execute(f"SELECT {sql} FROM read_parquet(?)", [str(path)]).fetchall()
    assert [list(row[0]) for row in found] == [_expected(row) for row in rows[:2000]]


def test_columns_not_in_the_table_take_the_defaults() -> None:
    rows = [{"mood": "furious", "threats": True}, {"mood": "calm", "threats": False}]
    states = pl.DataFrame(rows)  # noqa: F841
    sql = default_rulebook().to_sql(columns=["mood", "threats"])
    found = duckdb.sql(f"SELECT {sql} FROM states").fetchall()
    assert [row[0] for row in found] == [_expected(row) for row in rows]


def test_a_null_gives_a_null_answer_not_a_guess() -> None:
    states = pl.DataFrame(  # noqa: F841
        {"mood": ["calm", None], "threats": [False, False]}
    )
    sql = default_rulebook().to_sql(columns=["mood", "threats"])
    found = [row[0] for row in duckdb.sql(f"SELECT {sql} FROM states").fetchall()]
    assert found[0] == _expected({"mood": "calm"})
    assert found[1] is None


#: Rows whose done holds a NULL item, between valid ones: no answer, on every engine.
DONE_WITH_A_NULL = [["stay-calm"], ["stay-calm", None], [None], []]


@pytest.mark.parametrize("inline", [True, False])
def test_a_null_in_done_gives_a_null_answer(inline: bool) -> None:
    # DuckDB ignored the NULL, Spark's ARRAY_CONTAINS gave NULL for every other id and so
    # dropped every rule that does not repeat: two engines, two silent answers, where
    # advise() refuses the state.
    from difficult_customers.compile.sql import rulebook_sql

    states = pl.DataFrame({"done": DONE_WITH_A_NULL})  # noqa: F841
    sql = rulebook_sql(default_rulebook(), "duckdb", ["done"], inline=inline)
    found = [row[0] for row in duckdb.sql(f"SELECT {sql} FROM states").fetchall()]
    assert found == [_expected({"done": ["stay-calm"]}), None, None, _expected({})]


@pytest.mark.parametrize("dialect", ["duckdb", "spark", "databricks", "trino", "snowflake"])
@pytest.mark.parametrize("inline", [True, False])
def test_every_literal_is_a_rule_id_or_an_enum_value(dialect: str, inline: bool) -> None:
    from sqlglot import exp

    from difficult_customers.compile.sql import rulebook_sql
    from difficult_customers.conditions import state_schema

    allowed = set(default_rulebook().ids)
    allowed |= {v for field in state_schema().values() for v in field.values}
    text = rulebook_sql(default_rulebook(), dialect, inline=inline)
    tree = sqlglot.parse_one("SELECT " + text, read=dialect)
    strings = {node.this for node in tree.find_all(exp.Literal) if node.is_string}
    numbers = {node.this for node in tree.find_all(exp.Literal) if not node.is_string}
    assert strings <= allowed
    assert all(number.isdigit() for number in numbers)
    columns = {node.name for node in tree.find_all(exp.Column)}
    assert columns <= set(state_schema()) | {"ended", "done", "_rule_id", "_fired"}


def test_hostile_rule_id_is_refused() -> None:
    rule = default_rulebook().rules[0]
    hostile = Rule.model_construct(**{**dict(rule), "overrides": (), "id": "x' OR 1=1 --"})
    with pytest.raises(ValueError, match="is not a rule id"):
        Rulebook([hostile]).to_sql()


def test_hostile_enum_value_is_refused() -> None:
    rule = default_rulebook().rules[0]
    forged = Condition(
        source='channel == "phone\'); DROP TABLE states; --"',
        fields=frozenset({"channel"}),
        python="",
    )
    hostile = Rule.model_construct(**{**dict(rule), "overrides": (), "when": forged})
    with pytest.raises(ConditionTypeError, match="not a value of field 'channel'"):
        Rulebook([hostile]).to_sql()


def test_hostile_columns_and_dialects_are_refused() -> None:
    book = default_rulebook()
    with pytest.raises(ValueError, match="is not a state field"):
        book.to_sql(columns=['mood" FROM x; --'])
    with pytest.raises(ValueError, match="dialect"):
        book.to_sql("duckdb; DROP TABLE states")
    with pytest.raises(TypeError, match="dialect must be a string"):
        book.to_sql(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule_id", "when", "refusal"),
    [
        ("x' OR 1=1", "threats", "should match pattern"),
        ("hostile", 'channel == \\"phone\' OR 1=1 --\\"', "not a value of field 'channel'"),
    ],
)
def test_a_rule_pack_cannot_inject_sql(
    tmp_path: Any, rule_id: str, when: str, refusal: str
) -> None:
    # Through the loader, the values that could reach SQL are validated patterns.
    from conftest import one_rule_pack
    from difficult_customers import load_rulebook
    from difficult_customers.errors import RulebookError

    with pytest.raises(RulebookError, match=refusal):
        load_rulebook(one_rule_pack(tmp_path, when, rule_id, quote='"'))


def test_the_logic_is_shared_with_the_engine() -> None:
    logic = rulebook_logic(default_rulebook())
    assert logic.ids == default_rulebook().ids


# ---------------------------------------------------------------------------------------------
# Spark, local mode (pytest -m spark); skipped where no Java runtime is installed
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
        pytest.skip("no Java runtime: .ci/run installs default-jre-headless")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("difficult-customers-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_equals_advise(
    spark: Any, rows: list[dict[str, Any]], expected: list[list[str]]
) -> None:
    states = spark.createDataFrame(_frame(rows).to_arrow())
    found = states.selectExpr(default_rulebook().to_sql("spark")).toArrow()
    assert found.column("rule_ids").to_pylist() == expected


def _pack(tmp_path: Any, when: str, rule_id: str = "large-count") -> Any:
    from conftest import one_rule_pack
    from difficult_customers import load_rulebook

    return load_rulebook(one_rule_pack(tmp_path, when, rule_id))


@pytest.mark.parametrize(
    "when",
    [
        "warnings_given < 20000",
        "offensive_remarks in (2, 99999) or warnings_given == 10001",
        "warnings_given != 123456789012345678901234567890 and 10000 <= offensive_remarks",
        "offensive_remarks > 10000 or 50000 > warnings_given > 2",
    ],
)
@pytest.mark.parametrize("inline", [True, False])
def test_counts_beyond_the_largest_state_count(tmp_path: Any, when: str, inline: bool) -> None:
    # A condition may compare a count with any integer, as advise() and advise_frame()
    # do; to_sql() refused one above MAX_COUNT ("20000 is not a valid value").
    from difficult_customers.compile.sql import rulebook_sql

    book = _pack(tmp_path, when)
    rows = [
        {"warnings_given": w, "offensive_remarks": o}
        for w in (0, 1, 2, 3, 9_999, 10_000)
        for o in (0, 2, 3, 10_000)
    ]
    states = pl.DataFrame(rows)  # noqa: F841  (read by name by DuckDB)
    sql = rulebook_sql(book, "duckdb", ["warnings_given", "offensive_remarks"], inline=inline)
    found = [list(row[0]) for row in duckdb.sql(f"SELECT {sql} FROM states").fetchall()]
    index = {rule_id: i for i, rule_id in enumerate(book.ids)}
    expected = [
        sorted((r.rule_id for r in (*a.attitudes, *a.actions, *a.avoid)), key=index.__getitem__)
        for a in (advise(row, rulebook=book) for row in rows)
    ]
    assert found == expected
    assert any("large-count" in ids for ids in expected)


@pytest.mark.parametrize(
    "dialect", ["nosuch", "DuckDB", "", " duckdb", "duckdb, normalization_strategy = upper"]
)
def test_an_unknown_dialect_is_refused_with_the_known_ones(dialect: str) -> None:
    # sqlglot accepted "" (its generic dialect), " duckdb" (stripped, but then not given
    # DuckDB's inline shape) and settings after a comma; its error for an unknown name
    # listed no dialect.
    with pytest.raises(ValueError, match="unknown SQL dialect") as caught:
        default_rulebook().to_sql(dialect)
    message = str(caught.value)
    assert repr(dialect) in message
    assert "duckdb, " in message
    assert "spark, " in message


@pytest.mark.parametrize("dialect", ["mysql", "doris"])
def test_a_dialect_without_arrays_is_refused_not_written_wrong(
    dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    # sqlglot only logged "Arrays are not supported by MySQL" and wrote SQL that cannot
    # give the rule ids: the caller got a text, and the warning in a log at best.
    with pytest.raises(ValueError, match=f"cannot write SQL for dialect '{dialect}'.*Arrays"):
        default_rulebook().to_sql(dialect)
    assert "not supported" not in caplog.text


def test_columns_given_as_one_string() -> None:
    # A string is iterable: columns="mood" was read as the columns "m", "o", "o", "d", and
    # the error said "'d' is not a state field".
    with pytest.raises(TypeError, match=r"columns must be .*field names.*not a string"):
        default_rulebook().to_sql(columns="mood")
    with pytest.raises(TypeError, match="columns must be"):
        default_rulebook().to_sql(columns=[["mood"]])  # type: ignore[list-item]


@pytest.mark.spark
def test_spark_a_null_in_done_gives_a_null_answer(spark: Any) -> None:
    states = spark.createDataFrame(pl.DataFrame({"done": DONE_WITH_A_NULL}).to_arrow())
    found = states.selectExpr(default_rulebook().to_sql("spark", columns=["done"])).collect()
    assert [row[0] for row in found] == [
        _expected({"done": ["stay-calm"]}),
        None,
        None,
        _expected({}),
    ]


def test_condition_sql_checks_its_dialect_as_to_sql_does() -> None:
    from difficult_customers.compile._tree import lower
    from difficult_customers.compile.sql import condition_sql

    assert condition_sql(lower("threats"), "spark") == "`threats`"
    for dialect in ("", " duckdb", "nosuch"):
        with pytest.raises(ValueError, match="unknown SQL dialect"):
            condition_sql(lower("threats"), dialect)
    with pytest.raises(TypeError, match="dialect must be a string"):
        condition_sql(lower("threats"), None)  # type: ignore[arg-type]


def _duckdb_shell_recipe() -> str:
    import re
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "sql.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S) if "duckdb" in b]
    assert len(blocks) == 1, blocks
    return blocks[0]


def test_the_duckdb_command_line_recipe_runs_as_written(tmp_path: Any) -> None:
    # The recipe passed the whole expression (about 140,000 characters for DuckDB) as one
    # argument, `duckdb -c "...$(cat rule_ids.sql)..."`: past Linux's 128 KiB for one
    # argument, the shell fails with "Argument list too long" before DuckDB starts. It is
    # run here as written, with the Python package's DuckDB standing in for the `duckdb`
    # program (it reads the SQL of `-c`, or else standard input, as that program does).
    import sys

    if sys.platform != "linux":
        pytest.skip("the limit on one argument is Linux's")
    rows = random_state_rows(300, seed=11)
    _frame(rows).with_row_index("turn_id").write_parquet(tmp_path / "turns.parquet")
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    shim = bin_ / "duckdb"
    shim.write_text(
        f"#!{sys.executable}\n"
        "import sys, duckdb\n"
        "args = sys.argv[1:]\n"
        "duckdb.execute(args[args.index('-c') + 1] if '-c' in args else sys.stdin.read())\n",
        encoding="utf-8",
    )
    shim.chmod(0o755)
    path = os.pathsep.join([str(bin_), os.path.dirname(sys.executable)])
    result = run_shell(_duckdb_shell_recipe(), tmp_path, path)
    assert result.returncode == 0, result.stderr
    found = pl.read_parquet(tmp_path / "advice.parquet").sort("turn_id")["rule_ids"].to_list()
    assert found == [_expected(row) for row in rows]


def test_a_column_named_twice_is_refused() -> None:
    # columns=["mood", "mood"] was read as one column without a word: a caller who lists a
    # column twice has mistyped another one.
    with pytest.raises(ValueError, match=r"'mood' is named twice in columns"):
        default_rulebook().to_sql(columns=["threats", "mood", "mood"])


def test_a_huge_column_name_is_cut_in_the_error() -> None:
    with pytest.raises(ValueError, match="is not a state field") as info:
        default_rulebook().to_sql(columns=["mood", "x" * 100_000])
    message = str(info.value)
    assert len(message) < 1_000, message[:200]
    assert "(100,000 characters)" in message
    assert "is not a state field" in message
