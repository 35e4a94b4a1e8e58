"""The converse command: advice after each event of a JSON Lines log."""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from pathlib import Path

import pytest

from difficult_customers.__main__ import main
from test_cli import Run, _Stdin, assert_one_line_error


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """``main(argv)`` with the given stdin, as its status, stdout and stderr."""

    def converse(argv: list[str], stdin: str = "") -> Run:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        status = main(argv)
        out, err = capsys.readouterr()
        return Run(status, out, err)

    return converse


def without_output(run: Run) -> Run:
    return dataclasses.replace(run, out="")


EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "conversations"
ESCALATION = EXAMPLES / "escalation_phone.jsonl"
DE_ESCALATION = EXAMPLES / "de_escalation_chat.jsonl"


def test_advice_after_every_event(cli) -> None:
    run = cli(["converse", str(ESCALATION)])
    assert run.status == 0, run.err
    events = [line for line in ESCALATION.read_text().splitlines() if line.strip()]
    assert run.out.count("\n== ") + run.out.startswith("== ") == len(events)
    assert run.out.startswith("== 1. customer_started_speaking\n")
    assert "Once the customer has finished:" in run.out


def test_last_prints_only_the_final_advice(cli) -> None:
    run = cli(["converse", str(ESCALATION), "--last", "--locale", "pl"])
    assert run.status == 0
    assert run.out.startswith("== 12. agent_followed\n")
    assert run.out.count("== ") == 1
    assert "Zapisać skargę w historii" in run.out or "histor" in run.out


def test_json_lines_output(cli) -> None:
    run = cli(["converse", str(DE_ESCALATION), "--format", "json"])
    records = [json.loads(line) for line in run.out.splitlines()]
    assert [r["turn"] for r in records] == list(range(1, len(records) + 1))
    assert records[-1]["advice"]["actions"][0]["rule_id"] == "record-the-complaint"
    assert records[0]["event"] == "customer_started_speaking"


def test_reads_stdin_and_a_start_state(cli) -> None:
    run = cli(
        ["converse", "-", "--set", 'channel="in_person"', "--format", "markdown"],
        stdin='{"type": "customer_threatened"}\n',
    )
    assert run.status == 0, run.err
    assert run.out.startswith("## 1. customer_threatened\n")
    assert "security or the police" in run.out


def test_bad_event_lines_are_one_line_errors(cli) -> None:
    for stdin, expected in [
        ('{"type": "customer_shouted"}\n', "line 1: invalid event"),
        ("\n\n[1]\n", "line 3: an event is a JSON object"),
        ('{"type": "customer_insulted"}\n{oops\n', "line 2: not valid JSON"),
        ('{"type": "agent_followed", "rule": "issue-warnin"}\n', "did you mean 'issue-warning'"),
        (
            '{"type": "agent_followed", "rule": "end-the-conversation"}\n'
            '{"type": "customer_insulted"}\n',
            "line 2: the conversation has ended",
        ),
        ('{"type": "facts", "values": {"offensive_remarks": 2}}\n', "customer_insulted"),
    ]:
        run = cli(["converse", "-"], stdin=stdin)
        # The advice for the lines before the bad one has been printed already: a live
        # pipe is advised as it goes.
        assert_one_line_error(without_output(run))
        assert expected in run.err, run.err


def test_a_folder_is_not_an_event_log(cli, tmp_path: Path) -> None:
    run = cli(["converse", str(tmp_path)])
    assert_one_line_error(run)
    assert "not a regular file" in run.err


def test_input_is_bounded(cli, tmp_path: Path) -> None:
    run = cli(["converse", "/dev/zero"])
    assert_one_line_error(run)
    assert "not a regular file" in run.err
    run = cli(["converse", "-"], stdin="x" * 300_000)
    assert_one_line_error(run)
    assert "line 1: longer than 100,000 characters" in run.err


@pytest.mark.parametrize("inside", ["\u2028", "\x0c", "\x1e", "\x85"])
def test_a_file_splits_lines_only_at_line_breaks_as_stdin_does(
    cli, tmp_path: Path, inside: str
) -> None:
    # JSON allows U+2028 in a string, and these are no line break of JSON Lines: a file was
    # split at them (str.splitlines), standard input was not.
    text = '{"type": "customer_insulted"}\n{"type": "customer_insulted", "x": "a' + inside
    text += 'b"}\n'
    path = tmp_path / "events.jsonl"
    path.write_text(text, encoding="utf-8")
    from_file = cli(["converse", str(path), "--last"])
    from_stdin = cli(["converse", "-", "--last"], text)
    assert from_file.err.replace(str(path), "stdin") == from_stdin.err
    assert (from_file.status, from_file.out) == (from_stdin.status, from_stdin.out)
    assert from_file.err.startswith(f"difficult-customers: {path}, line 2: "), from_file.err


# --- hostile event logs ---------------------------------------------------------------------


def _log(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # Python's parser keeps the last of two keys, others the first: refused, as in a state.
        (b'{"type": "facts", "values": {"resolved": true, "resolved": false}}', "line 2: "),
        (b'{"type": "customer_insulted", "type": "customer_mood", "mood": "calm"}', "line 2: "),
    ],
)
def test_a_key_given_twice_in_an_event_is_refused(
    cli, tmp_path: Path, line: bytes, expected: str
) -> None:
    data = b'{"type": "customer_insulted"}\n' + line + b"\n"
    for argv, stdin in [
        (["converse", str(_log(tmp_path, data)), "--last"], ""),
        (["converse", "-", "--last"], data.decode()),
    ]:
        run = cli(argv, stdin)
        assert_one_line_error(without_output(run))
        name = "stdin" if argv[1] == "-" else argv[1]
        assert run.err.startswith(f"difficult-customers: {name}, {expected}"), run.err
        assert "given twice" in run.err


def test_a_huge_number_in_an_event_names_the_line_and_the_field(cli, tmp_path: Path) -> None:
    data = b'{"type": "customer_mood", "mood": ' + b"7" * 5000 + b"}\n"
    for argv, stdin in [
        (["converse", str(_log(tmp_path, data))], ""),
        (["converse", "-"], data.decode()),
    ]:
        run = cli(argv, stdin)
        assert_one_line_error(run)
        name = "stdin" if argv[1] == "-" else argv[1]
        assert run.err.startswith(f"difficult-customers: {name}, line 1: invalid event: ")
        assert "customer_mood.mood" in run.err
        assert "set_int_max_str_digits" not in run.err


def test_a_byte_order_mark_opens_an_event_log_as_it_opens_a_state(cli, tmp_path: Path) -> None:
    # Windows tools write one (RFC 8259, 8.1), and `advise --jsonl` accepts it.
    data = b'\xef\xbb\xbf{"type": "customer_insulted"}\n{"type": "customer_insulted"}\n'
    plain = cli(["converse", "-", "--last"], data[3:].decode())
    assert plain.status == 0, plain.err
    assert cli(["converse", str(_log(tmp_path, data)), "--last"]) == plain
    assert cli(["converse", "-", "--last"], data.decode()) == plain


@pytest.mark.parametrize("errors", ["strict", "surrogateescape"])
def test_bytes_that_are_not_utf8_name_their_line(
    cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    errors: str,
) -> None:
    # Standard input decodes with surrogateescape under a C locale, strictly under others:
    # either way the line is named, as a file's is, and not reported as bad JSON.
    data = b'{"type": "customer_insulted"}\n{"type": "customer_\xff"}\n'
    run = cli(["converse", str(_log(tmp_path, data)), "--last"])
    assert_one_line_error(run)
    assert "line 2: not UTF-8 text (byte 0xff at column 20)" in run.err, run.err
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors=errors)
    monkeypatch.setattr(sys, "stdin", stdin)
    from_stdin = Run(main(["converse", "-", "--last"]), *capsys.readouterr())
    assert_one_line_error(from_stdin)
    assert "line 2: not UTF-8 text (byte 0xff at column 20)" in from_stdin.err, from_stdin.err


def test_a_text_stdin_with_undecodable_bytes_names_their_line(cli) -> None:
    # What a stream decoded with surrogateescape holds, without bytes beneath it.
    run = cli(["converse", "-", "--last"], '{"type": "customer_insulted"}\n{"é": "\udcff"}\n')
    assert_one_line_error(run)
    assert "line 2: not UTF-8 text (byte 0xff at column 8)" in run.err, run.err


_BAD_EVENTS = {
    "too long": b'{"type": "' + b"x" * 100_001 + b'"}',
    "not UTF-8": b'{"type": "\xff"}',
    "not JSON": b"{type",
    "a key twice": b'{"type": "customer_insulted", "type": "customer_insulted"}',
    "nested too deeply": b"[" * 10_000 + b"]" * 10_000,
    "not an object": b"[]",
    "an unknown event": b'{"type": "customer_sang"}',
    "an unknown rule": b'{"type": "agent_followed", "rule": "no-such-rule"}',
}


@pytest.mark.parametrize("kind", sorted(_BAD_EVENTS))
@pytest.mark.parametrize("from_stdin", [False, True], ids=["file", "stdin"])
def test_every_line_error_names_the_log_and_the_line_alike(
    cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    from_stdin: bool,
) -> None:
    # Each kind of bad line used to say either "FILE, line 2" or "line 2", by kind.
    data = b'{"type": "customer_insulted"}\n' + _BAD_EVENTS[kind] + b"\n"
    if from_stdin:
        monkeypatch.setattr(sys, "stdin", _Stdin(data, terminal=False))
        run = Run(main(["converse", "-"]), *capsys.readouterr())
        name = "stdin"
    else:
        path = tmp_path / "events.jsonl"
        path.write_bytes(data)
        run = cli(["converse", str(path)])
        name = str(path)
    assert run.status == 2
    assert run.err.startswith(f"difficult-customers: {name}, line 2"), run.err
