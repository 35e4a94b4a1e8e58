"""``advise --jsonl``: one state per input line, one advice per output line, in order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from difficult_customers import Details, advise
from difficult_customers.__main__ import MAX_STATE_LINE, main
from strategies import random_state_rows
from test_cli import _JSON, _STATE_LIKE, Run, _run_process, _run_quietly, _Stdin


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    def run(argv: list[str], stdin: str | bytes = "") -> Run:
        # Piped standard input with a byte buffer, as the real one has.
        monkeypatch.setattr(sys, "stdin", _Stdin(stdin, terminal=False))
        status = main(argv)
        out, err = capsys.readouterr()
        return Run(status, out, err)

    return run


STATES = [
    {"mood": "angry", "offensive_remarks": 2},
    {"channel": "email", "complaint_validity": "valid"},
    {"mood": "furious", "customer_speaking": True},
]


def lines(states: list[dict[str, object]]) -> str:
    return "".join(json.dumps(state) + "\n" for state in states)


def test_one_advice_per_state_in_order(cli) -> None:
    run = cli(["advise", "--jsonl", "-", "--locale", "pl"], lines(STATES))
    assert run.status == 0, run.err
    records = [json.loads(line) for line in run.out.splitlines()]
    assert records == [advise(state, locale="pl").to_dict() for state in STATES]


def test_a_file_blank_lines_sets_and_details(cli, tmp_path: Path) -> None:
    path = tmp_path / "states.jsonl"
    path.write_text(lines(STATES[:1]) + "\n  \n" + lines(STATES[1:]), encoding="utf-8")
    options = ["--set", "channel=phone", "--locale", "fr", "--detail", "callback_in=PT1H"]
    run = cli(["advise", "--jsonl", str(path), *options, "--detail", "form_of_address=feminine"])
    assert run.status == 0, run.err
    details = Details(callback_in="PT1H", form_of_address="feminine")
    expected = [
        advise({**state, "channel": "phone"}, locale="fr", details=details).to_dict()
        for state in STATES
    ]
    assert [json.loads(line) for line in run.out.splitlines()] == expected


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("moood=calm", "--set: invalid state: moood: Extra inputs are not permitted: no such"),
        ("mood=livid", "--set: invalid state: mood: Input should be 'calm', 'upset'"),
        ("offensive_remarks=-1", "--set: invalid state: offensive_remarks: Input should be"),
        ('done=["no-such-rule"]', "--set: no rule with id 'no-such-rule'"),
    ],
)
def test_a_bad_set_is_named_before_any_line(cli, option: str, message: str) -> None:
    # It was reported as "line 1: invalid state: moood ...", sending the reader to a line
    # of their file that has no such field.
    run = cli(["advise", "--jsonl", "-", "--set", option], lines(STATES))
    assert (run.status, run.out) == (2, "")
    assert run.err.startswith(f"difficult-customers: {message}"), run.err
    assert "line" not in run.err


def test_a_set_that_contradicts_only_some_lines_names_the_line(cli) -> None:
    # abuse_after_warning needs a warning and some abuse, which the lines may record.
    given = [{"warnings_given": 1, "threats": True}, {}]
    run = cli(["advise", "--jsonl", "-", "--set", "abuse_after_warning=true"], lines(given))
    assert run.status == 2
    assert len(run.out.splitlines()) == 1
    assert run.err.startswith("difficult-customers: stdin, line 2: invalid state: "), run.err


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"mood": "livid"}', "line 2: invalid state: mood: Input should be"),
        ("[1, 2]", "line 2: a state is a JSON object of fields"),
        ('{"mood": ', "line 2, column 10: not valid JSON: Expecting value"),
        ('{"done": ["no-such-rule"]}', "line 2: no rule with id 'no-such-rule'"),
        ("[" * 50_000, "line 2: nested too deeply"),
        ('{"offensive_remarks": ' + "9" * 5000 + "}", "a number of 5000 digits"),
    ],
)
def test_the_first_bad_line_is_named(cli, bad: str, message: str) -> None:
    # The good line before it has been answered; the error is one line on stderr.
    run = cli(["advise", "--jsonl", "-"], lines(STATES[:1]) + bad + "\n" + lines(STATES[1:]))
    assert run.status == 2
    assert len(run.out.splitlines()) == 1
    assert run.err.count("\n") == 1
    assert message in run.err, run.err
    assert "Traceback" not in run.err


def test_a_line_too_long_is_refused(cli) -> None:
    run = cli(["advise", "--jsonl", "-"], " " * (MAX_STATE_LINE + 1) + "\n")
    assert run.status == 2
    assert f"longer than {MAX_STATE_LINE:,} bytes" in run.err


def test_unsupported_locale_before_any_line(cli) -> None:
    run = cli(["advise", "--jsonl", "-", "--locale", "de"], lines(STATES))
    assert run.status == 2
    assert run.out == ""
    assert "de" in run.err


def test_a_missing_file(cli, tmp_path: Path) -> None:
    run = cli(["advise", "--jsonl", str(tmp_path / "nowhere.jsonl")])
    assert run.status == 2
    assert "nowhere.jsonl: no such file" in run.err, run.err
    folder = cli(["advise", "--jsonl", str(tmp_path)])
    assert folder.status == 2
    assert "not a regular file (- reads standard input)" in folder.err, folder.err


def test_a_file_that_is_not_utf8(cli, tmp_path: Path) -> None:
    path = tmp_path / "states.jsonl"
    path.write_bytes('{"mood": "angry"}\n{"x": "é"}\n'.encode("latin-1"))
    run = cli(["advise", "--jsonl", str(path)])
    assert run.status == 2
    assert "not UTF-8" in run.err


@pytest.mark.parametrize(
    ("argv", "status"),
    [(["advise", "--jsonl"], 2), (["advise", "--jsonl", "-"], 2)],  # usage; bad input
)
def test_no_standard_input_at_all(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    status: int,
) -> None:
    # Started with stdin closed (`<&-`) or without a console: sys.stdin is None.
    monkeypatch.setattr(sys, "stdin", None)
    assert main(argv) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "standard input" in err or "stdin" in err


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_a_huge_line_is_refused_in_bounded_memory(tmp_path: Path, via: str) -> None:
    # A sparse 8 GiB file (no disk used) holding one line without a line break, after one
    # good state: refused after at most one line's limit, in a process of 1 GiB.
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"mood": "angry"}\n')
        handle.truncate(8 * 2**30)
    if via == "file":
        result = _run_process(["advise", "--jsonl", str(path)], stdin=subprocess.DEVNULL)
    else:
        with path.open("rb") as stdin:
            result = _run_process(["advise", "--jsonl", "-"], stdin=stdin)
    assert result.returncode == 2, result.stderr[-500:]
    assert result.stderr.count("\n") == 1, result.stderr[-500:]
    assert "line 2: longer than" in result.stderr
    assert len(result.stdout.splitlines()) == 1


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_bytes_that_are_not_utf8_name_their_line(cli, tmp_path: Path, via: str) -> None:
    data = b'{"mood": "angry"}\n\n{"mood": "caf\xe9"}\n'
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(data)
    run = cli(["advise", "--jsonl", str(path) if via == "file" else "-"], data)
    assert run.status == 2
    assert "line 3: not UTF-8 text (byte 0xe9 at column 14)" in run.err, run.err
    assert len(run.out.splitlines()) == 1


def test_stdin_is_utf8_whatever_the_locale_says() -> None:
    # A latin-1 terminal setting must not turn bytes that are not UTF-8 into text.
    result = subprocess.run(
        [sys.executable, "-m", "difficult_customers", "advise", "--jsonl", "-"],
        input='{"mood": "angry"}\n{"$schema": "caf\xe9"}\n'.encode("latin-1"),
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "latin-1"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert b"line 2: not UTF-8 text" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_the_output_is_utf8_whatever_the_locale_says() -> None:
    # JSON Lines are UTF-8: a latin-1 terminal setting cannot encode the advice's own
    # typography (’), and once failed with "'latin-1' codec can't encode character".
    state = {"mood": "angry", "offensive_remarks": 1}
    result = subprocess.run(
        [sys.executable, "-m", "difficult_customers", "advise", "--jsonl", "-", "--locale", "pl"],
        input=json.dumps(state).encode("ascii") + b"\n",
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "latin-1"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.decode("utf-8")) == advise(state, locale="pl").to_dict()


def test_a_byte_order_mark_is_ignored(cli, tmp_path: Path) -> None:
    # Windows tools write one at the start of a file, and `cat a.jsonl b.jsonl` puts the
    # second file's at the start of a line: each line is a JSON text, which may begin so.
    bom = "\ufeff"
    text = bom + lines(STATES[:2]) + bom + lines(STATES[2:])
    path = tmp_path / "windows.jsonl"
    path.write_text(text, encoding="utf-8")
    expected = [advise(state).to_dict() for state in STATES]
    for run in (cli(["advise", "--jsonl", str(path)]), cli(["advise", "--jsonl", "-"], text)):
        assert run.status == 0, run.err
        assert [json.loads(line) for line in run.out.splitlines()] == expected


def test_invalid_json_names_the_line_and_its_column(cli) -> None:
    run = cli(["advise", "--jsonl", "-"], lines(STATES[:1]) + '{"mood": }\n')
    assert run.status == 2
    assert "line 2, column 10: not valid JSON: Expecting value" in run.err, run.err
    # The decoder's own "line 1 column 10 (char 9)" would contradict "line 2".
    assert "line 1" not in run.err


@pytest.mark.parametrize(
    ("before", "said"),
    [
        (0, "stopped at line 1: nothing was written"),
        (1, "stopped at line 2: the advice for the 1 state before it was written"),
        (2, "stopped at line 3: the advice for the 2 states before it was written"),
    ],
)
def test_the_error_says_what_was_written_before_it(cli, before: int, said: str) -> None:
    run = cli(["advise", "--jsonl", "-"], lines(STATES[:before]) + '{"mood": "livid"}\n')
    assert run.status == 2
    assert len(run.out.splitlines()) == before
    assert said in run.err, run.err
    assert run.err.count("\n") == 1


def _live(argv: list[str]) -> subprocess.Popen[bytes]:
    # Block-buffered output, as when stdout is a pipe and PYTHONUNBUFFERED is not set.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.Popen(
        [sys.executable, "-m", "difficult_customers", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _first_line(process: subprocess.Popen[bytes], timeout: float = 30) -> bytes:
    found: list[bytes] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline()))
    reader.start()
    reader.join(timeout)
    return found[0] if found else b""


def test_each_advice_is_written_as_soon_as_its_state_is_read() -> None:
    # A live pipe (`tail -f turns.jsonl | difficult-customers advise --jsonl -`): the advice
    # of a state must not wait in a buffer for the states that come after it.
    process = _live(["advise", "--jsonl", "-"])
    assert process.stdin is not None
    try:
        process.stdin.write(b'{"mood": "calm", "resolved": true}\n')
        process.stdin.flush()
        line = _first_line(process)
    finally:
        process.stdin.close()
        process.kill()
        process.wait(timeout=60)
    assert json.loads(line) == advise(mood="calm", resolved=True).to_dict()


def test_an_interrupt_stops_quietly_with_status_130() -> None:
    process = _live(["advise", "--jsonl", "-"])
    assert process.stdin is not None
    try:
        process.stdin.write(b'{"mood": "calm", "resolved": true}\n')
        process.stdin.flush()
        assert _first_line(process)  # running, and waiting for the next line
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait(timeout=60)
    assert process.returncode == 130, err
    assert b"Traceback" not in err
    assert err.count(b"\n") <= 1


def test_a_reader_that_goes_away_is_no_error() -> None:
    # `difficult-customers advise --jsonl big.jsonl | head -1`: no traceback, no complaint.
    states = lines(STATES * 2_000).encode()
    command = [sys.executable, "-m", "difficult_customers", "advise", "--jsonl", "-"]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        feeder = threading.Thread(target=lambda: _feed(process.stdin, states))
        feeder.start()
        process.stdout.readline()
        process.stdout.close()
        feeder.join(60)
        err = process.stderr.read() if process.stderr else b""
        process.wait(timeout=60)
    assert err == b"", err


def _feed(stream: object, data: bytes) -> None:
    try:
        stream.write(data)  # type: ignore[attr-defined]
        stream.close()  # type: ignore[attr-defined]
    except BrokenPipeError:
        pass


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--format", "markdown"], "--jsonl writes JSON Lines: --format markdown does not apply"),
        (["--format", "text"], "--jsonl writes JSON Lines: --format text does not apply"),
        (["--sources"], "--jsonl writes JSON Lines: --sources does not apply"),
    ],
)
def test_options_that_do_not_apply_are_refused(cli, options: list[str], message: str) -> None:
    # Silently ignoring them would leave the caller thinking they had an effect.
    run = cli(["advise", "--jsonl", "-", *options], lines(STATES))
    assert run.status == 2  # a usage error
    assert run.out == ""
    assert message in run.err, run.err


def test_format_json_is_what_it_writes(cli) -> None:
    run = cli(["advise", "--jsonl", "-", "--format", "json"], lines(STATES))
    assert run.status == 0, run.err
    assert [json.loads(line) for line in run.out.splitlines()] == [
        advise(state).to_dict() for state in STATES
    ]


def test_a_field_given_twice_is_refused(cli, tmp_path: Path) -> None:
    # Which of the two a JSON parser keeps varies; a log that says both is not a state.
    twice = '{"mood": "calm", "offensive_remarks": 0, "mood": "furious"}\n'
    run = cli(["advise", "--jsonl", "-"], lines(STATES[:1]) + twice)
    assert run.status == 2
    assert "line 2: field 'mood' given twice" in run.err, run.err
    assert len(run.out.splitlines()) == 1
    path = tmp_path / "twice.json"
    path.write_text(twice, encoding="utf-8")
    single = cli(["advise", str(path)])
    assert single.status == 2
    assert f"{path}: field 'mood' given twice" in single.err, single.err


@pytest.mark.parametrize("locale", ["en", "fr", "pl", "pl-PL"])
def test_every_line_is_the_advice_of_advise(cli, locale: str) -> None:
    # The batch path against the one-state API, over random valid states of every field.
    states = random_state_rows(300, seed=10)
    run = cli(["advise", "--jsonl", "-", "--locale", locale], lines(states))
    assert run.status == 0, run.err
    got = [json.loads(line) for line in run.out.splitlines()]
    assert len(got) == len(states)
    for state, advice in zip(states, got, strict=True):
        assert advice == advise(state, locale=locale).to_dict(), state


@pytest.mark.parametrize("only", ["\x0c", "\u00a0", "\u2028", "\x1e"])
def test_only_json_whitespace_makes_a_line_blank(cli, only: str) -> None:
    # A line of a form feed or a no-break space is not an empty JSON text: skipping it
    # would drop a line of the log without a word.
    run = cli(["advise", "--jsonl", "-"], lines(STATES[:1]) + only + "\n")
    assert run.status == 2
    assert "line 2, column 1: not valid JSON" in run.err, run.err


_LINE = st.one_of(
    st.binary(max_size=40),
    _STATE_LIKE.map(lambda state: json.dumps(state).encode()),
    _JSON.map(lambda value: json.dumps(value).encode()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=4), st.sampled_from([b"\n", b"\r\n"]))
def test_any_bytes_give_advice_or_one_line_naming_the_line(
    found: list[bytes], separator: bytes
) -> None:
    run = _run_quietly(["advise", "--jsonl", "-"], separator.join(found))
    assert run.status in (0, 2), run
    assert "Traceback" not in run.err
    if run.status == 2:
        assert run.err.count("\n") == 1, run.err
        assert "line " in run.err, run.err
        assert "stopped at line" in run.err or "longer than" in run.err, run.err
    else:
        assert run.err == ""


_BAD_LINES = {
    "too long": b"{" + b" " * (MAX_STATE_LINE + 1) + b"}",
    "not UTF-8": b'{"mood": "\xe9"}',
    "not JSON": b"{mood",
    "a key twice": b'{"mood": "calm", "mood": "angry"}',
    "nested too deeply": b"[" * 10_000 + b"]" * 10_000,
    "not an object": b"[]",
    "an invalid state": b'{"mood": "livid"}',
    "an unknown rule": b'{"done": ["no-such-rule"]}',
}


@pytest.mark.parametrize("kind", sorted(_BAD_LINES))
@pytest.mark.parametrize("from_stdin", [False, True], ids=["file", "stdin"])
def test_every_line_error_names_the_file_and_the_line_alike(
    cli, tmp_path: Path, kind: str, from_stdin: bool
) -> None:
    # Each kind of bad line used to say either "FILE, line 2" or "line 2", by kind.
    data = json.dumps(STATES[0]).encode() + b"\n" + _BAD_LINES[kind] + b"\n"
    if from_stdin:
        run = cli(["advise", "--jsonl", "-"], data)
        name = "stdin"
    else:
        path = tmp_path / "states.jsonl"
        path.write_bytes(data)
        run = cli(["advise", "--jsonl", str(path)])
        name = str(path)
    assert run.status == 2
    assert run.err.startswith(f"difficult-customers: {name}, line 2"), run.err
