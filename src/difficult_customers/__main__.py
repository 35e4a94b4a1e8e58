"""The command line: ``difficult-customers`` or ``python -m difficult_customers``.

    difficult-customers advise [STATE.json|-] [--set field=value ...] [--detail name=value ...]
                               [--pack PACK.toml ...] [--locale fr]
                               [--format text|json|markdown] [--sources]
    difficult-customers advise --jsonl [STATES.jsonl|-] [--set ...] [--pack ...] [--locale fr]
    difficult-customers explain [STATE.json|-] [--set ...] [--pack ...] [--rule ID]
    difficult-customers rules [--kind do|avoid] [--phase P] [--tag T] [--reads FIELD]
                              [--document SEED] [--pack ...] [--format]
    difficult-customers converse [EVENTS.jsonl|-] [--set ...] [--pack ...] [--locale fr]
                                 [--format ...] [--last]
    difficult-customers schema
    difficult-customers check [PACK.toml] [--seeds DIR] [--with-builtin] [--format json]

Without STATE, the state is read from standard input when it is not a terminal (empty input
means no state); ``-`` reads it from standard input in any case. Only regular files and
standard input are read, at most :data:`MAX_STATE_BYTES` bytes.

Bad input and usage errors (an unknown option, options that do not go together) are
reported on stderr in one line, with exit status 2. Everything printed that
comes from the caller or a rule pack has its control characters (terminal escapes, bidi
overrides) escaped, so a hostile state or pack cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import base64
import codecs
import datetime
import io
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from pydantic import ValidationError

from . import __version__
from ._files import read_regular_file
from .advice import Advice
from .conversation import MAX_EVENTS, Conversation
from .details import Details
from .engine import Explanation, advise, explain, iter_advice
from .errors import DifficultCustomersError, RulebookError
from .rules import Kind, Phase, Rulebook, _one_line, default_rulebook, load_rulebook
from .rules import _load as _load_pack
from .sources import builtin_sources_dir, verify_sources
from .state import ConversationState, _parse_int, loads_state

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "MAX_ERRORS_SHOWN",
    "MAX_ERROR_LINE",
    "MAX_STATE_BYTES",
    "main",
]

EXIT_BAD_INPUT = 2
"""Exit status for bad input: a state, a line, a file, a pack, a locale or a value."""
EXIT_USAGE = 2
"""Exit status for a usage error: an unknown option, or options that do not go together.
The status of bad input, as argparse gives it and as the design of the command line says
every error gets; the message says which it is."""
EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C, the one a shell gives a command killed by SIGINT."""

MAX_STATE_BYTES = 1_048_576
"""The most a state file or standard input may hold, in bytes (1 MiB).

A real state is well under 2 kB; the limit keeps time and memory bounded for any input.
"""

MAX_ERRORS_SHOWN = 3
"""How many validation errors one error line spells out; the rest are counted."""

MAX_ERROR_LINE = 2_000
"""The longest error line printed, in characters; what the input would add beyond is cut."""

_MAX_PART_CHARS = 200
"""The longest location or message echoed from the input, in characters."""

# C0 and C1 controls, DEL, bidi embeddings, overrides, isolates and marks, line and paragraph
# separators, and lone surrogates (which cannot even be encoded for output).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(text: str, *, keep: str = "") -> str:
    """``text`` with every unsafe character written as a visible escape such as ``\\x1b``."""

    def visible(match: re.Match[str]) -> str:
        character = match.group()
        if character in keep:
            return character
        code = ord(character)
        named = _NAMED_ESCAPES.get(character)
        return named or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")

    return _UNSAFE.sub(visible, text)


def _escape_json(text: str) -> str:
    # json.dumps escapes C0 controls inside strings, so a raw one is its own layout (the
    # indentation's line breaks); the rest become \uXXXX, still valid JSON since they can
    # only occur inside strings.
    def visible(match: re.Match[str]) -> str:
        character = match.group()
        return character if character < " " else f"\\u{ord(character):04x}"

    return _UNSAFE.sub(visible, text)


def _print(text: str, *, end: str = "\n") -> None:
    # Line breaks and tabs are the rendering's own layout; every other control is escaped.
    print(_escape(text, keep="\n\t"), end=end)


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_PART_CHARS else text[: _MAX_PART_CHARS - 3] + "..."


class _UsageError(ValueError):
    """The command was called wrongly (options that do not go together), whatever the data."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other input error, instead of argparse's usage dump.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_escape(message)[:MAX_ERROR_LINE]}\n")


_TRUE_WORDS = frozenset({"true", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"false", "no", "n", "off"})


def _describe(item: Mapping[str, Any]) -> str:
    location = _shorten(".".join(str(part) for part in item["loc"]))
    # A model-level check has an empty location and pydantic's "Value error, " prefix: the
    # message alone already says which fields it is about.
    message = _shorten(str(item["msg"]).removeprefix("Value error, "))
    given = item.get("input")
    if item["type"] == "bool_type" and isinstance(given, str):
        word = given.strip().lower()
        if word in _TRUE_WORDS | _FALSE_WORDS:
            written = "true" if word in _TRUE_WORDS else "false"
            message += f" (a boolean is written true or false: write {written})"
    elif item["type"] == "tuple_type" and isinstance(given, str) and len(given) <= 64:
        # done=stay-calm: the one id a list of ids was meant to hold.
        message += f" (a list: write {json.dumps([given])})"
    return f"{location}: {message}" if location else message


def _one_line_validation(error: ValidationError, what: str) -> str:
    return f"invalid {what}: " + _one_line_errors(error.errors(include_url=False))


def _one_line_errors(items: Sequence[Any]) -> str:
    # A 2-million-key state has 2 million errors: name the first few, count the rest.
    parts = [_describe(item) for item in items[:MAX_ERRORS_SHOWN]]
    if len(items) > MAX_ERRORS_SHOWN:
        parts.append(f"... and {len(items) - MAX_ERRORS_SHOWN:,} more")
    return "; ".join(parts)


def _assignments(pairs: Sequence[str], option: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise _UsageError(f"{option} expects name=value, got {pair!r}")
        try:
            # true, 3 and "x" read as JSON; anything else is taken as a plain string.
            values[name.strip()] = loads_state(raw.strip())
        except (json.JSONDecodeError, RecursionError):
            values[name.strip()] = raw.strip()
    return values


def _stdin_is_piped() -> bool:
    stream = sys.stdin
    if stream is None or stream.closed:
        return False
    try:
        return not stream.isatty()
    except (OSError, ValueError):
        return False


def _read_stdin() -> bytes:
    stream = sys.stdin
    if stream is None:
        raise ValueError("cannot read stdin: there is no standard input")
    buffer = getattr(stream, "buffer", None)
    # One byte more than allowed tells an oversized input from one exactly at the limit.
    if buffer is not None:
        data: bytes = buffer.read(MAX_STATE_BYTES + 1)
    else:
        data = stream.read(MAX_STATE_BYTES + 1).encode("utf-8", "surrogateescape")
    return data


def _read_file(source: str) -> bytes:
    # Regular files only, opened without blocking on a FIFO, as rule packs are.
    try:
        return read_regular_file(source, MAX_STATE_BYTES)
    except OSError as exc:
        raise ValueError(f"cannot read {source}: {exc.strerror or exc}") from None
    except ValueError as exc:  # too large, not a regular file, or a NUL byte in the path
        if os.path.isfile(source):  # size is the one reason to refuse a regular file
            _too_large(source)
        raise ValueError(f"cannot read {source}: {exc}") from None


def _too_large(name: str) -> NoReturn:
    raise ValueError(f"{name} is larger than {MAX_STATE_BYTES:,} bytes, the most a state may hold")


def _read_state(source: str | None, sets: Sequence[str], *, piped: bool = False) -> dict[str, Any]:
    """The state given as a file (or ``-``) and ``--set``; with ``piped``, and no file,
    from stdin when it is not a terminal."""
    data: Any = {}
    implicit = piped and source is None and _stdin_is_piped()
    if implicit:
        source = "-"
    if source is not None:
        name = "stdin" if source == "-" else source
        raw = _read_stdin() if source == "-" else _read_file(source)
        if len(raw) > MAX_STATE_BYTES:
            _too_large(name)
        try:
            # A byte order mark may open a JSON text (RFC 8259, 8.1); Windows tools write one.
            text = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            raise ValueError(f"cannot read {name}: not UTF-8 text") from None
        if implicit and not text.strip():
            # Nothing was piped in (stdin on /dev/null, as under cron or CI): no state given.
            return _assignments(sets, "--set")
        if not text.strip():
            raise ValueError(f"{name} is empty: expected a JSON object of state fields")
        try:
            data = _loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name} is not valid JSON: {exc}") from None
        except _Twice as exc:
            raise ValueError(f"{name}: {exc}") from None
        except RecursionError:
            raise ValueError(f"{name} is nested too deeply to be a state") from None
        if not isinstance(data, dict):
            raise ValueError(f"{name} must hold a JSON object of state fields")
    return {**data, **_assignments(sets, "--set")}


class _Twice(ValueError):
    """A JSON object names the same key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Twice(f"field {_shorten(key)!r} given twice")
            seen.add(key)
    return found


def _loads(text: str) -> Any:
    """Parse a state's JSON as :func:`state.loads_state` does (bounded numbers), refusing a
    key given twice, which JSON parsers settle differently (Python keeps the last).

    Raises:
        json.JSONDecodeError, RecursionError: as ``loads_state``.
        _Twice: a key is given twice.
    """
    return json.loads(text, parse_int=_parse_int, object_pairs_hook=_unique_keys)


def _rulebook(packs: Sequence[str] | None) -> Rulebook:
    # Each pack is loaded over the previous ones, so a later pack may replace or override
    # the rules of an earlier one.
    book = default_rulebook()
    for pack in packs or ():
        book = load_rulebook(pack, base=book)
    return book


def _cmd_advise(args: argparse.Namespace) -> int:
    if args.from_parquet is not None:
        return _advise_parquet(args)
    if args.to_parquet is not None or args.keep:
        raise _UsageError("--to-parquet and --keep go with --from-parquet FILE")
    if args.jsonl:
        ignored = [f"--format {args.format}"] if args.format not in (None, "json") else []
        ignored += ["--sources"] if args.sources else []
        if ignored:
            verb = "does" if len(ignored) == 1 else "do"
            raise _UsageError(
                f"--jsonl writes JSON Lines: {' and '.join(ignored)} {verb} not apply"
            )
        return _advise_jsonl(args)
    state = _read_state(args.state, args.set, piped=True)
    details = Details.model_validate(_assignments(args.detail, "--detail"))
    locale = "en" if args.locale is None else args.locale
    advice = advise(state, locale=locale, details=details, rulebook=_rulebook(args.pack))
    if args.format == "json":
        _write_line(_escape_json(advice.to_json()))
    elif args.format == "markdown":
        _print(advice.to_markdown(), end="")
    else:
        _print(advice.to_text(sources=args.sources))
    return 0


#: Longest line of a JSON Lines batch of states ``advise --jsonl`` reads, in bytes (its line
#: break aside); no more than this is read at a time.
MAX_STATE_LINE = 100_000


def _check_overrides(overrides: dict[str, Any], book: Rulebook) -> None:
    """Refuse a ``--set`` that no line can make valid, before any line is read.

    Otherwise it is reported under the first line's number, a line that may not name that
    field at all. Only the rule across fields (``abuse_after_warning``) is left to the
    lines: they may hold the warning and the abuse it needs.
    """
    if not overrides:
        return
    try:
        advise(overrides, rulebook=book)
    except ValidationError as exc:
        items = [
            item for item in exc.errors(include_url=False) if item["type"] != "state_contradiction"
        ]
        if items:
            raise ValueError(f"--set: invalid state: {_one_line_errors(items)}") from None
    except DifficultCustomersError as exc:
        raise ValueError(f"--set: {exc}") from None


def _advise_jsonl(args: argparse.Namespace) -> int:
    """One state per input line, one advice (JSON) per output line, through the batch path.

    Read and written as it goes, so a batch of any length runs in constant memory; the
    first bad line stops it with an error naming the line.
    """
    details = Details.model_validate(_assignments(args.detail, "--detail"))
    overrides = _assignments(args.set, "--set")
    book = _rulebook(args.pack)
    _check_overrides(overrides, book)
    current = [0]  # the line being read, once reading has begun
    # Every error about a line names it the same way, with the file it is in.
    name = "stdin" if args.state in (None, "-") else args.state

    def states() -> Iterator[dict[str, Any]]:
        for number, line in _jsonl_lines(args.state, current):
            where = f"{name}, line {number}"
            try:
                # Bounded number parsing, as for a state file: a huge number names its field.
                data = _loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                # The decoder's own "line 1 column 9 (char 8)" counts within this one line.
                raise ValueError(
                    f"{where}, column {exc.colno}: not valid JSON: {exc.msg}"
                ) from None
            except _Twice as exc:
                raise ValueError(f"{where}: {exc}") from None
            except RecursionError:
                raise ValueError(f"{where}: nested too deeply to be a state") from None
            if not isinstance(data, dict):
                raise ValueError(f"{where}: a state is a JSON object of fields")
            yield {**data, **overrides}

    batch = iter_advice(
        states(),
        locale="en" if args.locale is None else args.locale,
        details=details,
        rulebook=book,
    )
    written = 0
    try:
        for advice in batch:
            # Escaped as every JSON this command prints: no terminal controls in the text.
            _write_line(_escape_json(advice.to_json(indent=None)))
            written += 1
    except ValidationError as exc:
        problem = f"{name}, line {current[0]}: {_one_line_validation(exc, 'state')}"
    except DifficultCustomersError as exc:
        problem = f"{name}, line {current[0]}: {exc}"
    except ValueError as exc:
        if not current[0]:  # not about a line: the file cannot be read at all
            raise
        problem = str(exc)
    else:
        return 0
    # Whoever reads the output must know which advice is there: the run stops at the first
    # bad line, and everything before it has been written, in order.
    if written:
        plural = "s" if written != 1 else ""
        done = f"the advice for the {written:,} state{plural} before it was written"
    else:
        done = "nothing was written"
    raise ValueError(f"{problem} (stopped at line {current[0]}: {done})")


def _advise_parquet(args: argparse.Namespace) -> int:
    """The advice (rule ids) for every row of a Parquet file, computed by DuckDB.

    Written to ``--to-parquet``, or as JSON Lines on stdout: the kept columns and
    ``rule_ids`` per row, in file order.
    """
    given = [
        option
        for option, value in (
            ("a state file", args.state),
            ("--set", args.set),
            ("--detail", args.detail),
            ("--jsonl", args.jsonl),
            ("--sources", args.sources),
            (f"--locale {args.locale}", args.locale is not None),
            (f"--format {args.format}", args.format not in (None, "json")),
        )
        if value
    ]
    if given:
        listed = given[0] if len(given) == 1 else f"{', '.join(given[:-1])} and {given[-1]}"
        verb = "does" if len(given) == 1 else "do"
        raise _UsageError(
            f"--from-parquet reads its states from the file: {listed} {verb} not apply"
        )
    kept: set[str] = set()
    for name in args.keep:
        if name in kept:
            raise ValueError(f"--keep: {_shorten(name)!r} is given twice: give each column once")
        kept.add(name)
    if not os.path.exists(args.from_parquet):
        raise ValueError(f"--from-parquet: no such file: {args.from_parquet}")
    if not os.path.isfile(args.from_parquet):
        raise ValueError(f"--from-parquet: not a regular file: {args.from_parquet}")
    target = args.to_parquet
    if target is not None:
        # Checked here, since DuckDB's error would come under the name of the file read.
        folder = os.path.dirname(os.path.abspath(target))
        if os.path.isdir(target):
            raise ValueError(f"--to-parquet: {target} is a folder: name the file to write")
        if not os.path.isdir(folder):
            raise ValueError(f"--to-parquet: no such folder: {folder}")
    try:
        from .parquet import advise_parquet
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    import duckdb

    try:
        rows = advise_parquet(
            args.from_parquet, args.to_parquet, keep=args.keep, rulebook=_rulebook(args.pack)
        )
        for row in rows or ():
            _write_line(_escape_json(_row_json(row)))
    except duckdb.Error as exc:
        raise ValueError(f"{args.from_parquet}: {str(exc).splitlines()[0]}") from None
    return 0


def _row_json(row: Mapping[str, Any]) -> str:
    """A row of ``--from-parquet`` output as JSON: a kept float that JSON cannot hold (NaN,
    as pandas writes a missing value, or an infinity) is null; other values JSON has no
    type for are written as text: bytes in base64, a date or a timestamp in ISO 8601, a
    decimal as its digits."""

    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, list | tuple):
            return [finite(item) for item in value]
        if isinstance(value, dict):
            return {key: finite(item) for key, item in value.items()}
        return value

    clean = {name: finite(value) for name, value in row.items()}
    return json.dumps(clean, ensure_ascii=False, default=_as_text, allow_nan=False)


def _as_text(value: Any) -> str:
    # What other readers expect of JSON exports: bytes as base64 (str() would write a
    # Python repr), a date or time in ISO 8601 (str() puts a space for the "T").
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _write_line(text: str) -> None:
    """JSON output (one JSON Lines line, or a whole document) and a line break, in UTF-8
    whatever the locale's encoding is: JSON is UTF-8, and a latin-1 setting could not
    encode the advice's own typography.

    Flushed at once: a reader at the other end of a live pipe gets each advice as soon as
    its state is read, not when a buffer fills. An advice is several kilobytes, about one
    buffer's worth, so this adds few writes.
    """
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text stream without bytes beneath (a caller's StringIO)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    else:
        sys.stdout.flush()  # anything printed as text before goes first
        buffer.write(text.encode("utf-8") + b"\n")
        buffer.flush()


# What JSON counts as whitespace (RFC 8259, 2): a line of nothing else is blank, and skipped.
_JSON_WHITESPACE = " \t\r\n"


def _jsonl_lines(source: str | None, current: list[int]) -> Iterator[tuple[int, str]]:
    """Numbered, non-blank lines of a JSON Lines file or of stdin, read as they come.

    ``current[0]`` is the number of the line being read, even one refused before it is
    yielded.
    """
    if source is None or source == "-":
        if source is None and not _stdin_is_piped():
            raise _UsageError("advise --jsonl needs states: give STATES.jsonl, or - for stdin")
        if sys.stdin is None:  # started with stdin closed, or without a console
            raise ValueError("advise --jsonl: there is no standard input to read states from")
        yield from _numbered(_raw_lines(sys.stdin), "stdin", current)
        return
    path = Path(source)
    if not path.exists():
        raise ValueError(f"cannot read {source}: no such file")
    if not path.is_file():  # a folder, a device, or a pipe such as /dev/stdin
        raise ValueError(f"cannot read {source}: not a regular file (- reads standard input)")
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise ValueError(f"cannot read {source}: {exc.strerror or exc}") from None
    with stream:
        yield from _numbered(_raw_lines(stream), source, current)


def _raw_lines(stream: Any) -> Iterator[bytes]:
    """Lines as bytes, as they arrive, never reading more than one line's limit at a time.

    Iterating a stream would read a line of any length into memory before its length could
    be checked. A line past the limit is passed on cut, and refused by the caller.
    """
    if isinstance(stream, io.TextIOBase):
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # a text stream without bytes beneath (a test's StringIO)
            while text := stream.readline(MAX_STATE_LINE + 2):
                yield text.encode("utf-8", "surrogateescape")
            return
        stream = buffer
    while line := stream.readline(MAX_STATE_LINE + 2):
        yield line


def _numbered(stream: Iterable[bytes], name: str, current: list[int]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(stream, 1):
        current[0] = number
        if len(line.rstrip(b"\r\n")) > MAX_STATE_LINE:
            raise ValueError(f"{name}, line {number}: longer than {MAX_STATE_LINE:,} bytes")
        # Each line is a JSON text, which may open with a byte order mark (RFC 8259, 8.1):
        # Windows tools write one, and `cat a.jsonl b.jsonl` puts one at a line's start.
        line = line.removeprefix(codecs.BOM_UTF8)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Everything before the first bad byte decodes: its length is the column.
            column = len(line[: exc.start].decode("utf-8")) + 1
            raise ValueError(
                f"{name}, line {number}: not UTF-8 text "
                f"(byte 0x{line[exc.start]:02x} at column {column})"
            ) from None
        if text.strip(_JSON_WHITESPACE):
            yield number, text


def _cmd_explain(args: argparse.Namespace) -> int:
    state = _read_state(args.state, args.set, piped=True)
    book = _rulebook(args.pack)
    if args.rule is not None:
        explanations: tuple[Explanation, ...] = (explain(state, args.rule, rulebook=book),)
    else:
        explanations = explain(state, rulebook=book)
    if args.format == "json":
        payload = [e.to_dict() for e in explanations]
        _write_line(
            _escape_json(json.dumps(payload if args.rule is None else payload[0], indent=2))
        )
    else:
        for explanation in explanations:
            _print(str(explanation))
    return 0


def _cmd_rules(args: argparse.Namespace) -> int:
    selected = _rulebook(args.pack).filter(
        kind=args.kind, phase=args.phase, tag=args.tag, reads=args.reads, document=args.document
    )
    if args.format == "json":
        dumped = [r.model_dump(mode="json") for r in selected]
        _write_line(_escape_json(json.dumps(dumped, ensure_ascii=False, indent=2)))
    else:
        for rule in selected:
            # One line per rule, even if a pack's condition holds a line break.
            when = _escape(_one_line(rule.when.source))
            print(f"{rule.id:34} {rule.kind.value:5} {rule.phase.value:12} {when}")
    return 0


#: Longest line of an event log ``converse`` reads, in characters.
MAX_EVENT_LINE = 100_000
#: Largest event log file ``converse`` reads, in bytes (stdin is read line by line instead).
MAX_EVENT_LOG_BYTES = 50_000_000


def _event_lines(source: str | None) -> Iterator[tuple[int, str]]:
    """Numbered, non-blank lines of an event log, read as they come (a live pipe works)."""
    if source is None or source == "-":
        if source is None and not _stdin_is_piped():
            raise _UsageError("converse needs events: give EVENTS.jsonl, or - to read stdin")
        if sys.stdin is None:
            raise ValueError("converse: there is no standard input to read events from")
        stream: Iterable[str] = _bounded_lines(sys.stdin)
        name = "stdin"
    else:
        try:
            data = read_regular_file(source, MAX_EVENT_LOG_BYTES)
            # At line feeds only, as stdin is read: str.splitlines would also split at
            # U+2028, form feeds and others, which JSON Lines do not count as line breaks.
            text = data.decode("utf-8")
            stream = [line.removesuffix("\r") for line in text.split("\n")]
            if stream and not stream[-1]:
                stream.pop()  # the line feed that ends the last line opens no new one
        except OSError as exc:
            raise ValueError(f"cannot read {source}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise _not_utf8(data, exc.start, source) from None
        except ValueError as exc:
            raise ValueError(f"cannot read {source}: {exc}") from None
        name = source
    count = 0
    for number, line in enumerate(stream, 1):
        if len(line) > MAX_EVENT_LINE:
            raise ValueError(f"{name}, line {number}: longer than {MAX_EVENT_LINE:,} characters")
        # Each line is a JSON text, which may open with a byte order mark (RFC 8259, 8.1),
        # as in `advise --jsonl`.
        line = line.removeprefix("\ufeff")
        if line.strip():
            count += 1
            if count > MAX_EVENTS:
                raise ValueError(f"{name}: more than {MAX_EVENTS:,} events")
            yield number, line


def _bounded_lines(stream: TextIO) -> Iterator[str]:
    """Lines as they arrive, never reading more than one line's limit at a time.

    Read as bytes where the stream has them and decoded line by line, so that bytes that
    are not UTF-8 are reported at their line and column, whatever error handling the
    locale gave standard input.
    """
    buffer = getattr(stream, "buffer", None)
    number = 0
    while True:
        number += 1
        if buffer is None:  # a text stream without bytes beneath (a test's StringIO)
            line = stream.readline(MAX_EVENT_LINE + 2)
            raw = line.encode("utf-8", "surrogateescape")
        else:
            # At most 4 bytes a character: a line within the limit is read whole.
            raw = buffer.readline(4 * MAX_EVENT_LINE + 2)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                if len(raw) > 4 * MAX_EVENT_LINE:  # cut inside a character: too long anyway
                    line = raw.decode("utf-8", "replace")
                else:
                    raise _not_utf8(raw, exc.start, "stdin", number) from None
        if not line:
            return
        if not _is_utf8(line):  # decoded with surrogateescape
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _not_utf8(raw, exc.start, "stdin", number) from None
        # A line past the limit is passed on as it is, and refused by the caller.
        yield line.removesuffix("\n").removesuffix("\r")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_utf8(data: bytes, start: int, name: str, first_line: int = 1) -> ValueError:
    """``NAME, line N: not UTF-8 text (byte 0xff at column C)`` for the first bad byte of
    ``data``, whose first line is line ``first_line``."""
    line_start = data.rfind(b"\n", 0, start) + 1
    line = first_line + data.count(b"\n", 0, start)
    column = len(data[line_start:start].decode("utf-8", "replace")) + 1
    return ValueError(
        f"{name}, line {line}: not UTF-8 text (byte 0x{data[start]:02x} at column {column})"
    )


def _cmd_converse(args: argparse.Namespace) -> int:
    start = _read_state(args.start, args.set)
    details = Details.model_validate(_assignments(args.detail, "--detail"))
    conv = Conversation(start, rulebook=_rulebook(args.pack))
    advice = None
    name = "stdin" if args.events in (None, "-") else args.events
    for number, line in _event_lines(args.events):
        where = f"{name}, line {number}"
        try:
            # As a state is read: bounded numbers, and no key given twice.
            event = _loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not valid JSON: {exc}") from None
        except _Twice as exc:
            raise ValueError(f"{where}: {exc}") from None
        except RecursionError:
            raise ValueError(f"{where}: nested too deeply to be an event") from None
        if not isinstance(event, dict):
            raise ValueError(f'{where}: an event is a JSON object with a "type"')
        try:
            conv = conv.apply(event)
        except ValidationError as exc:
            raise ValueError(f"{where}: {_one_line_validation(exc, 'event')}") from None
        except DifficultCustomersError as exc:
            raise ValueError(f"{where}: {exc}") from None
        advice = conv.advise(locale=args.locale, details=details)
        if not args.last:
            _print_turn(args.format, len(conv), conv.events[-1].type, advice)
    if args.last and advice is not None:
        _print_turn(args.format, len(conv), conv.events[-1].type, advice)
    return 0


def _print_turn(style: str, turn: int, kind: str, advice: Advice) -> None:
    if style == "json":
        # JSON Lines: one object per event, ready for another program.
        record = {"turn": turn, "event": kind, "advice": advice.to_dict()}
        _write_line(_escape_json(json.dumps(record, ensure_ascii=False)))
    elif style == "markdown":
        _print(f"## {turn}. {kind}\n\n{advice.to_markdown()}")
    else:
        _print(f"== {turn}. {kind}\n{advice.to_text()}\n")
    sys.stdout.flush()


def _cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(ConversationState.model_json_schema(), indent=2))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    if args.seeds and not Path(args.seeds).is_dir():
        raise ValueError(f"--seeds: {args.seeds} is not a folder")
    if args.pack is None:
        if not args.with_builtin:
            raise _UsageError("check needs a PACK.toml, or --with-builtin for the built-in rules")
        return _verified(default_rulebook(), None, args, {"pack": None})
    base = default_rulebook() if args.with_builtin else None
    try:
        book, merge = _load_pack(args.pack, base if args.with_builtin else Rulebook([]))
    except RulebookError as exc:
        if not args.with_builtin and _loads_over_builtins(args.pack):
            exc.message += " (the pack builds on the built-in rules: check it with --with-builtin)"
            exc.args = (str(exc),)
        raise
    # Only the pack's own rules: the built-in ones cite the built-in seeds, not --seeds.
    pack_rules = [book[rule_id] for rule_id in merge.pack_ids]
    if args.seeds:
        problems = verify_sources(pack_rules, Path(args.seeds))
    else:
        # The built-in sources ship with the package, so the pack's quotes of them are
        # always checked; its own documents need --seeds.
        problems = verify_sources(pack_rules, builtin_sources_dir(), only_known=True)
    for problem in problems:
        print(_escape(str(problem)), file=sys.stderr)
    if problems:
        return 1
    if args.format == "json":
        return _verified(book, base, args, {"pack": args.pack})
    _print(f"{args.pack}: {len(book)} rules OK; locales: {', '.join(book.locales)}")
    if merge.replaced:
        _print(f"  replaces built-in rule(s): {', '.join(merge.replaced)}")
    if merge.disabled:
        _print(f"  disables built-in rule(s): {', '.join(merge.disabled)}")
    for locale in sorted(set(book.catalogs) - set(book.locales)):
        missing = book.missing(locale)
        rule_id, message = missing[0]
        summary = (
            f"{len(missing)} message(s) untranslated, such as {message!r} of rule {rule_id!r}"
        )
        _print(f"  {locale}: {summary}")
        if locale in merge.lost_locales:
            print(
                f"difficult-customers: warning: the pack loses locale {locale} of the rules it "
                f"builds on: {_escape(summary)}",
                file=sys.stderr,
            )
    return _verified(book, base, args, {"pack": args.pack})


def _verified(
    book: Rulebook, base: Rulebook | None, args: argparse.Namespace, about: dict[str, Any]
) -> int:
    """Prove the invariants for the pack and print the violations and the findings."""
    from .verify import verify  # the solver is an optional extra: imported only here

    report = verify(book, depth=args.depth, base=base)
    if args.format == "json":
        _write_line(
            _escape_json(json.dumps({**about, **report.to_dict()}, ensure_ascii=False, indent=2))
        )
    else:
        for line in report.lines():
            _print(line)
    return 0 if report.ok else 1


def _loads_over_builtins(pack: str) -> bool:
    try:
        load_rulebook(pack)
    except DifficultCustomersError:
        return False
    return True


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="difficult-customers",
        description="What to do and say, in order, with a difficult, angry or abusive customer:\n"
        "advice from cited expert rules, in English, French and Polish.",
        epilog="examples:\n"
        "  difficult-customers advise state.json --locale fr\n"
        "  difficult-customers advise --set mood=furious --set customer_speaking=true\n"
        "  difficult-customers explain state.json --rule issue-warning\n"
        "  difficult-customers rules --tag ending\n"
        "\n"
        "exit status:\n"
        "  0 success; 1 check found a violation or a wrong quote, or the output's reader\n"
        "  went away; 2 bad input (a state, a line, a file, a pack, a locale, a value) or\n"
        "  a usage error (an unknown option, options that do not go together);\n"
        "  130 interrupted (Ctrl-C)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def pack_option(command: argparse.ArgumentParser, purpose: str) -> None:
        command.add_argument(
            "--pack",
            action="append",
            metavar="PACK.toml",
            help=f"a rule pack {purpose}; repeat to stack packs, each over the previous",
        )

    def state_options(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "state",
            nargs="?",
            help="a JSON file of state fields, or - for stdin; without it, the state is read "
            f"from stdin when stdin is not a terminal (at most {MAX_STATE_BYTES:,} bytes)",
        )
        command.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="FIELD=VALUE",
            help="set a state field (value read as JSON when it parses, else as text)",
        )
        pack_option(command, "to use on top of the built-ins")

    advise_cmd = sub.add_parser("advise", help="print advice for a conversation state")
    state_options(advise_cmd)
    advise_cmd.add_argument(
        "--detail",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a detail for phrases: business_name, callback_in (PT1H), deposit_percent, "
        "closed_day, form_of_address (neutral, masculine, feminine)",
    )
    advise_cmd.add_argument("--locale", help="en (the default), fr or pl (or fr_FR, pl-PL...)")
    advise_cmd.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        help="text (the default), json or markdown; --jsonl writes JSON Lines",
    )
    advise_cmd.add_argument(
        "--sources",
        action="store_true",
        help="in text, also cite each recommendation's seed passages (markdown and json "
        "always do)",
    )
    advise_cmd.add_argument(
        "--jsonl",
        action="store_true",
        help="read many states, one JSON object per line (at most "
        f"{MAX_STATE_LINE:,} bytes a line), and write one advice (JSON) per line, in order; "
        "blank lines are skipped; --set applies to every state; the first bad line stops it",
    )
    advise_cmd.add_argument(
        "--from-parquet",
        metavar="STATES.parquet",
        help="the rule ids of the advice for every row of a Parquet file of states, computed "
        "by DuckDB (the [sql] extra); written to --to-parquet, or as JSON Lines",
    )
    advise_cmd.add_argument(
        "--to-parquet", metavar="ADVICE.parquet", help="with --from-parquet: the file to write"
    )
    advise_cmd.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="COLUMN",
        help="with --from-parquet: a column that is not a state field, copied to the output "
        "(a turn id); any other such column is an error",
    )
    advise_cmd.set_defaults(run=_cmd_advise)

    explain_cmd = sub.add_parser("explain", help="why each rule did or did not fire")
    state_options(explain_cmd)
    explain_cmd.add_argument("--rule", help="explain only this rule")
    explain_cmd.add_argument("--format", choices=("text", "json"), default="text")
    explain_cmd.set_defaults(run=_cmd_explain)

    rules_cmd = sub.add_parser("rules", help="list the rules")
    rules_cmd.add_argument("--kind", choices=[k.value for k in Kind])
    rules_cmd.add_argument("--phase", choices=[p.value for p in Phase])
    rules_cmd.add_argument("--tag")
    rules_cmd.add_argument("--reads", metavar="FIELD", help="rules whose condition reads FIELD")
    rules_cmd.add_argument("--document", metavar="SEED", help="rules citing this seed file")
    rules_cmd.add_argument("--format", choices=("text", "json"), default="text")
    pack_option(rules_cmd, "to list with the built-ins")
    rules_cmd.set_defaults(run=_cmd_rules)

    converse_cmd = sub.add_parser(
        "converse",
        help="advice after each event of a conversation (JSON Lines, one event a line)",
        description="Read events, one JSON object a line, such as "
        '{"type": "customer_insulted"} or {"type": "agent_followed", "rule": "issue-warning"}, '
        "and print the advice after each (docs/conversations.md lists the events).",
    )
    converse_cmd.add_argument(
        "events", nargs="?", help="a JSON Lines file of events, or - for stdin"
    )
    converse_cmd.add_argument("--start", metavar="STATE.json", help="the state to start from")
    converse_cmd.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set a field of the start state (value read as JSON when it parses)",
    )
    converse_cmd.add_argument(
        "--detail", action="append", default=[], metavar="NAME=VALUE", help="as for advise"
    )
    pack_option(converse_cmd, "to use on top of the built-ins")
    converse_cmd.add_argument("--locale", default="en", help="en, fr or pl (or fr_FR, pl-PL...)")
    converse_cmd.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="json prints one JSON object a line",
    )
    converse_cmd.add_argument(
        "--last", action="store_true", help="print only the advice after the last event"
    )
    converse_cmd.set_defaults(run=_cmd_converse)

    schema_cmd = sub.add_parser("schema", help="print the JSON Schema of the state")
    schema_cmd.set_defaults(run=_cmd_schema)

    check_cmd = sub.add_parser("check", help="validate a rule pack and prove the invariants")
    check_cmd.add_argument(
        "pack", nargs="?", help="the rule pack's TOML file (none: the built-in rules)"
    )
    check_cmd.add_argument("--seeds", help="a folder of seed texts to verify quotes against")
    check_cmd.add_argument(
        "--with-builtin",
        action="store_true",
        help="check the pack merged over the built-in rules (needed if it overrides them)",
    )
    check_cmd.add_argument(
        "--format", choices=("text", "json"), default="text", help="json: the whole report"
    )
    check_cmd.add_argument(
        "--depth",
        type=_depth,
        default=8,
        help="events in the longest conversation checked (default 8, at most 64)",
    )
    check_cmd.set_defaults(run=_cmd_check)
    return parser


def _depth(text: str) -> int:
    # Bounded: each event adds a copy of the whole rulebook to the solver's problem.
    if not text.isdecimal() or not 0 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 64, not {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status.

    Returns 0 on success; 1 when ``check`` finds a violation or a wrong quote, or when the
    reader of the output went away (``| head``); :data:`EXIT_BAD_INPUT` (2) for bad input,
    and :data:`EXIT_USAGE` (also 2) for a usage error, which those argparse finds raise
    through ``SystemExit``, as argparse does everywhere; :data:`EXIT_INTERRUPTED` (130) after
    Ctrl-C.
    """
    args = _parser().parse_args(argv)
    try:
        status: int = args.run(args)
        # Here, not at exit, so that a reader gone away is handled below, not reported by
        # the interpreter as an ignored exception.
        if sys.stdout is not None:
            sys.stdout.flush()
    except KeyboardInterrupt:
        # Ctrl-C: stop without a traceback, with the status a shell gives a SIGINT death.
        print("difficult-customers: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (say, `| head`) went away: stop quietly, as Unix tools do, and keep
        # Python from complaining again while flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ValidationError as exc:
        what = "details" if exc.title == "Details" else "state"
        return _fail(_one_line_validation(exc, what))
    except _UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except UnicodeEncodeError as exc:
        # Text output in a terminal set to ASCII or latin-1: not the input's fault.
        encoding = getattr(sys.stdout, "encoding", None) or exc.encoding
        return _fail(
            f"the output's encoding ({encoding}) cannot show {exc.object[exc.start]!r}: "
            "use a UTF-8 locale, or set PYTHONIOENCODING=utf-8"
        )
    except (DifficultCustomersError, ValueError) as exc:
        return _fail(str(exc))
    return status


def _fail(message: str, status: int = EXIT_BAD_INPUT) -> int:
    # One line, even when the input itself (a file name, a JSON key) holds a line break, and
    # no terminal escape or bidi override from the input reaches the terminal.
    line = _escape(message)
    if len(line) > MAX_ERROR_LINE:
        # A 100,000-character locale or path echoed back would bury the message itself.
        line = f"{line[:MAX_ERROR_LINE]}... ({len(line) - MAX_ERROR_LINE:,} more characters)"
    print(f"difficult-customers: {line}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
