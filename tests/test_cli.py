"""The command line: ``difficult-customers`` / ``python -m difficult_customers``.

Almost everything runs ``main(argv)`` in-process; two tests start real processes to check
that ``python -m`` and the console script are wired up.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from difficult_customers import ConversationState, default_rulebook
from difficult_customers.__main__ import main

EXAMPLE_STATES = Path(__file__).resolve().parents[1] / "examples" / "states"
STATE_FILES = sorted(EXAMPLE_STATES.glob("*.json"))

# A state in which `take-a-break` fires, so that a --detail callback_in shows in its text.
BREAK_STATE = ["--set", "mood=angry", "--set", "offensive_remarks=1", "--set", "agent_upset=true"]


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


class _Stdin(io.TextIOWrapper):
    """Standard input with a byte buffer, like the real one, that may pose as a terminal."""

    def __init__(self, data: str | bytes, terminal: bool) -> None:
        super().__init__(io.BytesIO(data.encode() if isinstance(data, str) else data), "utf-8")
        self._terminal = terminal

    def isatty(self) -> bool:
        return self._terminal


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run ``main(argv)``, optionally with stdin, and return its status and output.

    argparse reports usage errors by raising SystemExit; that status is returned too.
    """

    def run(argv: Sequence[str], stdin: str | bytes | None = None) -> Run:
        capsys.readouterr()  # drop anything earlier
        # Without stdin, the command runs as if typed at a terminal: nothing is piped in.
        monkeypatch.setattr(sys, "stdin", _Stdin(b"" if stdin is None else stdin, stdin is None))
        try:
            status = main(list(argv))
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


def assert_one_line_error(run: Run, status: int = 2) -> None:
    """One line on stderr, with the status of bad input or of a usage error (2)."""
    assert run.status == status, run
    assert run.out == ""
    assert run.err.endswith("\n")
    assert run.err.count("\n") == 1, f"expected one line on stderr, got:\n{run.err}"
    assert "Traceback" not in run.err
    assert run.err.startswith("difficult-customers")


# --- rule packs -----------------------------------------------------------------------------

SEED_TEXT = """\
Une ouverture sans titre, qui présente le sujet de l'article.
Restez calme
Gardez votre calme quand le client crie, et respirez profondément avant de répondre.
"""


def pack_toml(
    *,
    when: str = (
        'channel == "in_person" and mood >= "angry" and not resolved and not customer_speaking'
    ),
    document: str = "seed.txt",
    section: str = "Restez calme",
    quote: str = "Gardez votre calme quand le client crie",
) -> str:
    return f"""\
[pack]
name = "test-pack"

[[rules]]
id = "offer-a-coffee"
kind = "do"
phase = "de_escalate"
when = '{when}'
title = "Offer a coffee"
rationale = "A small gesture can lower the temperature."

[[rules.phrasing]]
text = "Would you like a coffee while we sort this out?"

[[rules.sources]]
document = "{document}"
section = "{section}"
quote = "{quote}"
"""


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    path = tmp_path / "pack.toml"
    path.write_text(pack_toml(), encoding="utf-8")
    return path


@pytest.fixture
def seeds_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "seed.txt").write_text(SEED_TEXT, encoding="utf-8")
    return folder


# --- advise ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", STATE_FILES, ids=[p.stem for p in STATE_FILES])
def test_advise_file(cli, path: Path) -> None:
    run = cli(["advise", str(path)])
    assert run.status == 0
    assert run.err == ""
    assert run.out.startswith(("Throughout the conversation:\n", "Do now, in this order:\n"))
    state = json.loads(path.read_text(encoding="utf-8"))
    first = cli(["advise", str(path), "--format", "json"]).json()
    assert first["state"] == ConversationState.model_validate(state).model_dump(mode="json")
    for action in first["actions"]:
        assert action["title"] in run.out


def test_example_states_exist() -> None:
    assert len(STATE_FILES) >= 5


def test_advise_from_stdin(cli) -> None:
    path = EXAMPLE_STATES / "repeated_insults_before_warning.json"
    from_file = cli(["advise", str(path)])
    from_stdin = cli(["advise", "-"], stdin=path.read_text(encoding="utf-8"))
    assert from_stdin.status == 0
    assert from_stdin.out == from_file.out
    assert "Give a clear warning" in from_stdin.out


def test_advise_without_state_uses_defaults(cli) -> None:
    run = cli(["advise", "--format", "json"])
    assert run.status == 0
    assert run.json()["state"] == ConversationState().model_dump(mode="json")


@pytest.mark.parametrize(
    ("assignment", "field", "expected"),
    [
        pytest.param('mood="angry"', "mood", "angry", id="json-string"),
        pytest.param("mood=angry", "mood", "angry", id="plain-string"),
        pytest.param("channel=in_person", "channel", "in_person", id="plain-string-underscore"),
        pytest.param("offensive_remarks=3", "offensive_remarks", 3, id="json-int"),
        pytest.param("threats=true", "threats", True, id="json-true"),
        pytest.param("request_within_policy=false", "request_within_policy", False, id="false"),
        pytest.param(" mood =furious", "mood", "furious", id="spaces-around-name"),
    ],
)
def test_set_parses_json_then_falls_back_to_text(
    cli, assignment: str, field: str, expected: object
) -> None:
    run = cli(["advise", "--set", assignment, "--format", "json"])
    assert run.status == 0, run.err
    assert run.json()["state"][field] == expected


def test_set_overrides_the_file(cli) -> None:
    path = EXAMPLE_STATES / "mid_rant_phone.json"
    assert json.loads(path.read_text(encoding="utf-8"))["customer_speaking"] is True
    plain = cli(["advise", str(path), "--format", "json"]).json()
    overridden = cli(
        ["advise", str(path), "--set", "customer_speaking=false", "--format", "json"]
    ).json()
    assert plain["state"]["customer_speaking"] is True
    assert overridden["state"]["customer_speaking"] is False
    assert overridden["state"]["mood"] == "furious"  # the rest of the file still applies
    ids = [a["rule_id"] for a in plain["actions"]]
    assert "listen-without-interrupting" in ids
    assert "listen-without-interrupting" not in [a["rule_id"] for a in overridden["actions"]]


def test_set_overrides_stdin_and_last_set_wins(cli) -> None:
    run = cli(
        ["advise", "-", "--set", "mood=calm", "--set", "mood=furious", "--format", "json"],
        stdin='{"mood": "angry", "channel": "chat"}',
    )
    assert run.status == 0
    assert run.json()["state"]["mood"] == "furious"
    assert run.json()["state"]["channel"] == "chat"


def take_a_break_text(run: Run) -> str:
    assert run.status == 0, run.err
    data = run.json()
    return next(a["text"] for a in data["actions"] if a["rule_id"] == "take-a-break")


def test_detail_callback_in_appears_in_the_text(cli) -> None:
    with_detail = cli(["advise", *BREAK_STATE, "--detail", "callback_in=PT1H"])
    assert with_detail.status == 0
    assert "in an hour" in with_detail.out
    without = cli(["advise", *BREAK_STATE])
    assert "Step away and promise an update" in without.out
    assert "in an hour" not in without.out


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        pytest.param("en", "in an hour", id="en"),
        pytest.param("fr", "dans une heure", id="fr"),
        pytest.param("pl", "za godzinę", id="pl"),
    ],
)
def test_detail_is_formatted_per_locale(cli, locale: str, expected: str) -> None:
    argv = ["advise", *BREAK_STATE, "--detail", "callback_in=PT1H", "--locale", locale]
    assert expected in take_a_break_text(cli([*argv, "--format", "json"]))


def test_several_details(cli) -> None:
    run = cli(
        [
            "advise",
            *BREAK_STATE,
            "--detail",
            "callback_in=7200",
            "--detail",
            "business_name=Atelier Durand",
            "--format",
            "json",
        ]
    )
    assert "in 2 hours" in take_a_break_text(run)


@pytest.mark.parametrize(
    ("locale", "tag"),
    [
        pytest.param("en", "en", id="en"),
        pytest.param("en_GB", "en_GB", id="en_GB"),
        pytest.param("fr", "fr", id="fr"),
        pytest.param("fr-FR", "fr_FR", id="fr-FR"),
        pytest.param("pl", "pl", id="pl"),
        pytest.param("pl-PL", "pl_PL", id="pl-PL"),
    ],
)
def test_locale(cli, locale: str, tag: str) -> None:
    path = str(EXAMPLE_STATES / "repeated_insults_before_warning.json")
    english = cli(["advise", path, "--format", "json"]).json()
    run = cli(["advise", path, "--locale", locale, "--format", "json"])
    assert run.status == 0, run.err
    data = run.json()
    assert data["locale"] == tag
    # Same decision, in another language.
    assert [a["rule_id"] for a in data["actions"]] == [a["rule_id"] for a in english["actions"]]
    assert [a["rule_id"] for a in data["avoid"]] == [a["rule_id"] for a in english["avoid"]]
    if not tag.startswith("en"):
        assert data["actions"][0]["title"] != english["actions"][0]["title"]
        text = cli(["advise", path, "--locale", locale]).out
        assert data["actions"][0]["title"] in text
        assert "Do now" not in text


def test_french_title_from_the_readme(cli) -> None:
    path = str(EXAMPLE_STATES / "repeated_insults_before_warning.json")
    assert "Donnez un avertissement clair" in cli(["advise", path, "--locale", "fr"]).out


def test_format_text(cli) -> None:
    path = str(EXAMPLE_STATES / "repeated_insults_before_warning.json")
    run = cli(["advise", path, "--format", "text"])
    assert run.out == cli(["advise", path]).out  # text is the default
    lines = run.out.splitlines()
    assert lines[0] == "Throughout the conversation:"
    assert lines[1].startswith("  - Stay calm — ")
    assert "\nDo now, in this order:\n 1. [listen] Pause before you answer\n" in run.out
    assert "[de-escalate] Give a clear warning" in run.out
    assert "    Why: " in run.out


def test_format_json(cli) -> None:
    path = str(EXAMPLE_STATES / "repeated_insults_before_warning.json")
    data = cli(["advise", path, "--format", "json"]).json()
    assert isinstance(data, dict)
    assert {"actions", "avoid", "locale", "state"} <= data.keys()
    assert data["locale"] == "en"
    assert data["state"]["offensive_remarks"] == 2
    warning = next(a for a in data["actions"] if a["rule_id"] == "issue-warning")
    assert warning["kind"] == "do"
    assert warning["phase"] == "de_escalate"
    assert warning["sources"][0]["quote"]
    assert data["attitudes"][0]["rule_id"] == "stay-calm"
    assert data["actions"][0]["rule_id"] == "pause-before-responding"
    assert data["pending"] == []
    assert all(item["kind"] == "avoid" for item in data["avoid"])
    assert data["avoid"]


def test_format_markdown(cli) -> None:
    path = str(EXAMPLE_STATES / "repeated_insults_before_warning.json")
    run = cli(["advise", path, "--format", "markdown"])
    assert run.status == 0
    assert run.out.startswith("### Throughout the conversation:\n\n- **Stay calm**")
    assert "### Do now, in this order:\n\n1. **Pause before you answer**" in run.out
    assert "**Give a clear warning**" in run.out
    assert "\n### " in run.out[4:]  # the things to avoid
    assert run.out.endswith("\n")
    assert not run.out.endswith("\n\n")


# --- explain --------------------------------------------------------------------------------


def test_explain_every_rule(cli) -> None:
    path = str(EXAMPLE_STATES / "repeated_insults_before_warning.json")
    run = cli(["explain", path])
    assert run.status == 0
    lines = run.out.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == list(default_rulebook().ids)
    assert "issue-warning: fired" in lines
    assert any(": did not fire: " in line for line in lines)
    assert 'call-security: did not fire: channel == "in_person"' in run.out


def test_explain_overridden(cli) -> None:
    # issue-warning overrides take-a-break when both fire.
    run = cli(["explain", *BREAK_STATE, "--set", "offensive_remarks=2", "--rule", "take-a-break"])
    assert run.out == "take-a-break: overridden by issue-warning\n"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["--set", "offensive_remarks=3"], "issue-warning: fired\n", id="fired"),
        pytest.param(
            ["--set", "mood=angry", "--set", "offensive_remarks=1", "--set", "agent_upset=true"],
            "issue-warning: did not fire: offensive_remarks >= 2 or threats "
            "(offensive_remarks=1, threats=False)\n",
            id="did-not-fire",
        ),
    ],
)
def test_explain_one_rule(cli, argv: list[str], expected: str) -> None:
    run = cli(["explain", *argv, "--rule", "issue-warning"])
    assert run.status == 0
    assert run.out == expected


def test_explain_as_json(cli) -> None:
    run = cli(["explain", "--set", "offensive_remarks=1", "--format", "json"])
    assert run.status == 0
    data = json.loads(run.out)
    assert [item["rule_id"] for item in data] == list(default_rulebook().ids)
    warning = next(item for item in data if item["rule_id"] == "issue-warning")
    assert warning["failure"]["clause"] == "offensive_remarks >= 2 or threats"
    one = json.loads(cli(["explain", "--rule", "stay-calm", "--format", "json"]).out)
    assert one["status"] == "not_fired"


# --- rules ----------------------------------------------------------------------------------


def test_rules_lists_every_rule_in_order(cli) -> None:
    run = cli(["rules"])
    assert run.status == 0
    lines = run.out.splitlines()
    assert [line.split()[0] for line in lines] == list(default_rulebook().ids)
    assert lines[0].split()[1:3] == ["do", "safety"]


def test_rules_json(cli) -> None:
    data = cli(["rules", "--format", "json"]).json()
    assert isinstance(data, list)
    assert [rule["id"] for rule in data] == list(default_rulebook().ids)
    first = data[0]
    assert {"id", "kind", "phase", "when", "title", "phrasing", "sources", "tags"} <= set(first)
    assert isinstance(first["when"], str)


@pytest.mark.parametrize(
    ("option", "value", "check"),
    [
        pytest.param("--tag", "ending", lambda rule: "ending" in rule["tags"], id="tag"),
        pytest.param("--phase", "safety", lambda rule: rule["phase"] == "safety", id="phase"),
        pytest.param("--kind", "avoid", lambda rule: rule["kind"] == "avoid", id="kind"),
        pytest.param("--reads", "threats", lambda rule: "threats" in rule["when"], id="reads"),
    ],
)
def test_rules_filters(cli, option: str, value: str, check) -> None:
    everything = cli(["rules", "--format", "json"]).json()
    expected = [rule["id"] for rule in everything if check(rule)]
    assert expected, "the filter should select something"
    assert len(expected) < len(everything)
    selected = cli(["rules", option, value, "--format", "json"]).json()
    assert [rule["id"] for rule in selected] == expected
    text = cli(["rules", option, value]).out
    assert [line.split()[0] for line in text.splitlines()] == expected


def test_rules_by_document(cli) -> None:
    run = cli(["rules", "--document", "002_81eb60c27948f47b.txt"])
    listed = [line.split()[0] for line in run.out.splitlines()]
    expected = default_rulebook().filter(document="002_81eb60c27948f47b.txt")
    assert listed == [rule.id for rule in expected]


def test_rules_known_members(cli) -> None:
    ending = cli(["rules", "--tag", "ending"]).out
    assert "end-the-conversation" in ending
    assert "issue-warning" not in ending
    assert "call-security" in cli(["rules", "--phase", "safety", "--reads", "threats"]).out


def test_rules_filters_combine(cli) -> None:
    run = cli(["rules", "--kind", "avoid", "--phase", "safety"])
    assert run.status == 0
    assert run.out == ""


def test_rules_with_a_pack(cli, pack: Path) -> None:
    run = cli(["rules", "--pack", str(pack), "--phase", "de_escalate"])
    assert "offer-a-coffee" in run.out
    assert "take-a-break" in run.out


# --- schema ---------------------------------------------------------------------------------


def test_schema(cli) -> None:
    run = cli(["schema"])
    assert run.status == 0
    schema = run.json()
    assert isinstance(schema, dict)
    assert schema["type"] == "object"
    # "$schema" lets a state file name the schema it follows; it is not a field.
    assert set(schema["properties"]) - {"$schema"} == set(ConversationState.model_fields)
    assert schema == ConversationState.model_json_schema()


# --- check ----------------------------------------------------------------------------------


def test_check_standalone_pack(cli, pack: Path) -> None:
    run = cli(["check", str(pack)])
    assert run.err == ""
    lines = run.out.splitlines()
    assert lines[0] == f"{pack}: 1 rules OK; locales: en"
    # On its own, one rule leaves most states without a move: the proof says so.
    assert run.status == 1
    assert any(line.startswith("violated never-empty: ") for line in lines)


def test_check_pack_with_builtin(cli, pack: Path) -> None:
    run = cli(["check", str(pack), "--with-builtin"])
    assert run.status == 0, run.err
    assert run.out.startswith(f"{pack}: {len(default_rulebook()) + 1} rules OK")
    # The built-in languages the pack does not translate are named, with an example.
    assert "  fr: 3 message(s) untranslated, such as 'Offer a coffee'" in run.out


def test_advise_with_a_pack(cli, pack: Path) -> None:
    run = cli(["advise", "--pack", str(pack), "--set", "channel=in_person", "--set", "mood=angry"])
    assert run.status == 0, run.err
    assert "Would you like a coffee while we sort this out?" in run.out


def test_check_seeds_ok(cli, pack: Path, seeds_folder: Path) -> None:
    run = cli(["check", str(pack), "--with-builtin", "--seeds", str(seeds_folder)])
    assert run.status == 0, run.err
    assert f"{len(default_rulebook()) + 1} rules OK" in run.out


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            {"quote": "Gardez votre sang-froid quand le client crie"},
            "quote not found verbatim in seed.txt section 'Restez calme'",
            id="wrong-quote",
        ),
        pytest.param(
            {"section": "Restez zen"}, "seed.txt has no section 'Restez zen'", id="wrong-section"
        ),
        pytest.param(
            {"document": "other.txt"}, "unknown document 'other.txt'", id="wrong-document"
        ),
    ],
)
def test_check_seeds_reports_bad_citations(
    cli, tmp_path: Path, seeds_folder: Path, source: dict[str, str], expected: str
) -> None:
    path = tmp_path / "wrong.toml"
    path.write_text(pack_toml(**source), encoding="utf-8")
    run = cli(["check", str(path), "--seeds", str(seeds_folder)])
    assert run.status == 1
    assert run.out == ""
    assert run.err.startswith(f"offer-a-coffee: {expected}")
    assert run.err.count("\n") == 1


# --- errors ---------------------------------------------------------------------------------

BAD_TOML = "[[rules]\nid = 1\n"


@pytest.mark.parametrize(
    ("argv", "files", "stdin", "expected"),
    [
        pytest.param(
            ["advise", "--set", "moood=1"],
            {},
            None,
            ["invalid state", "moood"],
            id="unknown-field",
        ),
        pytest.param(
            ["explain", "-"], {}, '{"chanel": "phone"}', ["chanel"], id="unknown-field-stdin"
        ),
        pytest.param(
            ["advise", "--set", "mood=livid"],
            {},
            None,
            ["mood", "'calm'", "'upset'", "'angry'", "'furious'"],
            id="wrong-enum",
        ),
        pytest.param(
            ["advise", "--set", "channel=fax"],
            {},
            None,
            ["channel", "'phone'", "'in_person'", "'email'", "'chat'", "'social_media'"],
            id="wrong-enum-channel",
        ),
        pytest.param(
            ["advise", "--set", "offensive_remarks=-1"],
            {},
            None,
            ["offensive_remarks", "greater than or equal to 0"],
            id="negative-count",
        ),
        pytest.param(
            ["advise", "--set", "warnings_given=-3"],
            {},
            None,
            ["warnings_given"],
            id="negative-warnings",
        ),
        pytest.param(
            ["advise", "--set", "customer_speaking=1"],
            {},
            None,
            ["customer_speaking"],
            id="int-for-bool",
        ),
        pytest.param(
            ["advise", "--set", 'offensive_remarks="2"'],
            {},
            None,
            ["offensive_remarks"],
            id="string-for-count",
        ),
        pytest.param(
            ["advise", "{tmp}/bad.json"],
            {"bad.json": '{"mood": "angry",}'},
            None,
            ["bad.json", "not valid JSON"],
            id="bad-json-file",
        ),
        pytest.param(
            ["advise", "-"], {}, "mood: angry", ["-", "not valid JSON"], id="bad-json-stdin"
        ),
        pytest.param(
            ["advise", "{tmp}/list.json"],
            {"list.json": '[{"mood": "angry"}]'},
            None,
            ["list.json", "JSON object"],
            id="json-array",
        ),
        pytest.param(["advise", "-"], {}, '"angry"', ["JSON object"], id="json-string-on-stdin"),
        pytest.param(
            ["advise", "{tmp}/missing.json"],
            {},
            None,
            ["cannot read", "missing.json"],
            id="missing-file",
        ),
        pytest.param(["explain", "{tmp}"], {}, None, ["cannot read"], id="directory-as-state"),
        pytest.param(
            ["advise", "--detail", "callback_in=soon"],
            {},
            None,
            ["invalid details", "callback_in"],
            id="bad-detail",
        ),
        pytest.param(
            ["advise", "--detail", "callback_in=P40D"],
            {},
            None,
            ["callback_in", "between 1 minute and 30 days"],
            id="detail-out-of-range",
        ),
        pytest.param(
            ["advise", "--detail", "colour=red"],
            {},
            None,
            ["invalid details", "colour"],
            id="unknown-detail",
        ),
        pytest.param(
            ["advise", "--locale", "de"],
            {},
            None,
            ["unsupported locale 'de'", "supported locales: ", *default_rulebook().locales],
            id="unsupported-locale",
        ),
        pytest.param(
            ["advise", "--locale", "not a locale!"],
            {},
            None,
            ["unsupported locale", "supported locales: "],
            id="garbage-locale",
        ),
        pytest.param(
            ["explain", "--rule", "issue-warnin"],
            {},
            None,
            ["no rule with id 'issue-warnin'", "did you mean 'issue-warning'?"],
            id="unknown-rule",
        ),
        pytest.param(
            ["check", "{tmp}/bad.toml"],
            {"bad.toml": BAD_TOML},
            None,
            ["bad.toml", "not valid TOML"],
            id="malformed-toml",
        ),
        pytest.param(
            ["check", "{tmp}/when.toml"],
            {"when.toml": pack_toml(when='moood >= "angry"')},
            None,
            ["when.toml", "rule 'offer-a-coffee'", "field 'when'", "moood", "'mood'"],
            id="unknown-field-in-when",
        ),
        pytest.param(
            ["check", "{tmp}/value.toml"],
            {"value.toml": pack_toml(when='mood == "livid"')},
            None,
            ["rule 'offer-a-coffee'", "field 'when'", "livid"],
            id="unknown-value-in-when",
        ),
        pytest.param(
            ["check", "{tmp}/syntax.toml"],
            {"syntax.toml": pack_toml(when="threats and and resolved")},
            None,
            ["rule 'offer-a-coffee'", "field 'when'"],
            id="syntax-error-in-when",
        ),
        pytest.param(
            ["check", "{tmp}/key.toml"],
            {"key.toml": pack_toml().replace("kind =", "knd =", 1)},
            None,
            ["rule 'offer-a-coffee'", "unknown key"],
            id="unknown-key",
        ),
        pytest.param(
            ["check", "{tmp}/empty.toml"],
            {"empty.toml": ""},
            None,
            ["no [[rules]]"],
            id="empty-pack",
        ),
        pytest.param(
            ["check", "{tmp}/absent.toml"],
            {},
            None,
            ["absent.toml", "cannot read"],
            id="missing-pack",
        ),
        pytest.param(
            ["advise", "--pack", "{tmp}/bad.toml"],
            {"bad.toml": BAD_TOML},
            None,
            ["not valid TOML"],
            id="advise-malformed-pack",
        ),
        pytest.param(
            ["check", "{tmp}/clash.toml", "--with-builtin"],
            {"clash.toml": pack_toml().replace("offer-a-coffee", "stay-calm")},
            None,
            ["rule 'stay-calm'", "replace = true"],
            id="pack-clashes-with-builtin",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    cli,
    tmp_path: Path,
    argv: list[str],
    files: dict[str, str],
    stdin: str | None,
    expected: list[str],
) -> None:
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    run = cli([arg.replace("{tmp}", str(tmp_path)) for arg in argv], stdin=stdin)
    assert_one_line_error(run)
    for part in expected:
        assert part in run.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["bogus"], ["invalid choice", "'bogus'"], id="unknown-command"),
        pytest.param([], ["required", "command"], id="missing-command"),
        pytest.param(["rules", "--phase", "nope"], ["--phase", "invalid choice"], id="phase"),
        pytest.param(["advise", "--format", "yaml"], ["--format", "invalid choice"], id="format"),
        pytest.param(["check"], ["PACK.toml", "--with-builtin"], id="check-without-pack"),
        pytest.param(["check", "--depth", "99"], ["--depth"], id="check-depth"),
        pytest.param(["advise", "--nope"], ["unrecognized", "--nope"], id="bad-flag"),
        pytest.param(["advise", "--set", "mood"], ["--set", "name=value", "'mood'"], id="set"),
        pytest.param(["advise", "--set", "=angry"], ["--set", "name=value"], id="set-no-name"),
        pytest.param(["advise", "--detail", "callback_in"], ["--detail", "name=value"], id="d"),
        pytest.param(["advise", "--keep", "turn_id"], ["go with --from-parquet"], id="keep"),
        pytest.param(["advise", "--jsonl", "--sources"], ["--sources does not"], id="jsonl"),
        pytest.param(["advise", "--jsonl"], ["--jsonl needs states"], id="jsonl-terminal"),
        pytest.param(["converse"], ["converse needs events"], id="converse-terminal"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(cli, argv: list[str], expected: list[str]) -> None:
    # The status of every error (docs/DESIGN: the command line), as argparse gives it; the
    # message says what was called wrongly.
    run = cli(argv)
    assert_one_line_error(run, status=2)
    for part in expected:
        assert part in run.err


@pytest.mark.parametrize(
    ("argv", "stdin", "expected"),
    [
        pytest.param(["advise", "-"], "[" * 100_000, "nested too deeply", id="stdin"),
        pytest.param(
            ["advise", "--set", "mood=" + "[" * 100_000], None, "invalid state", id="set"
        ),
    ],
)
def test_deeply_nested_json_is_one_line(
    cli, argv: list[str], stdin: str | None, expected: str
) -> None:
    # Other tests (or hypothesis) may have raised the limit; pin the interpreter's default so
    # that json's nesting check trips before the C stack is at risk.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        run = cli(argv, stdin=stdin)
    finally:
        sys.setrecursionlimit(limit)
    assert_one_line_error(run)
    assert expected in run.err


def test_unreadable_bytes_are_one_line(cli, tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"mood": "énervé"}'.encode("latin-1"))
    run = cli(["advise", str(path)])
    assert_one_line_error(run)
    assert "latin1.json" in run.err


# --- real processes -------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONIOENCODING": "utf-8"}


def test_python_dash_m(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "difficult_customers", "advise", "--set", 'mood="angry"'],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env=_env(),
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,  # nothing piped in, whatever stdin the test run has
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("Throughout the conversation:\n")
    assert "Stay calm" in result.stdout


def test_console_script(tmp_path: Path) -> None:
    try:
        metadata.distribution("difficult-customers")
    except metadata.PackageNotFoundError:
        pytest.skip("the package is not installed, so there is no console script")
    script = shutil.which("difficult-customers", path=str(Path(sys.executable).parent))
    assert script is not None, "the difficult-customers console script is not installed"
    result = subprocess.run(
        [script, "advise", "--set", "mood=furious", "--set", "customer_speaking=true"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env=_env(),
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,  # nothing piped in, whatever stdin the test run has
    )
    assert result.returncode == 0, result.stderr
    assert "[listen] Let the customer finish" in result.stdout
    bad = subprocess.run(
        [script, "advise", "--set", "mood=livid"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env=_env(),
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,  # nothing piped in, whatever stdin the test run has
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["advise", "x\ny.json"],
        ["advise", "--set", "a\nb=1"],
    ],
)
def test_line_breaks_in_the_input_stay_on_one_line(cli, argv: list[str]) -> None:
    assert_one_line_error(cli(argv))


def test_line_breaks_in_json_keys_stay_on_one_line(cli, tmp_path: Path) -> None:
    path = tmp_path / "nl.json"
    path.write_text('{"a\\nb": 1}', encoding="utf-8")
    assert_one_line_error(cli(["advise", str(path)]))


def test_version(cli) -> None:
    run = cli(["--version"])
    assert run.status == 0
    assert run.out.startswith("difficult-customers 0.")


# --- check: hostile and overriding packs (issue 7) -------------------------------------------


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_check_a_device(cli) -> None:
    run = cli(["check", "/dev/zero"])
    assert_one_line_error(run)
    assert "/dev/zero: cannot read the rule pack: not a regular file" in run.err


def test_check_a_fifo_does_not_block(cli, tmp_path: Path) -> None:
    import signal

    if not hasattr(os, "mkfifo"):
        pytest.skip("needs FIFOs")
    path = tmp_path / "pack.toml"
    os.mkfifo(path)

    def blocked(*_: object) -> None:
        raise AssertionError("check blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(5)
    try:
        run = cli(["check", str(path)])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert_one_line_error(run)
    assert "not a regular file" in run.err


def test_check_deeply_nested_toml(cli, tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000, encoding="utf-8")
    run = cli(["check", str(path)])
    assert_one_line_error(run)
    assert "nested more than" in run.err


def overriding_pack(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "overriding.toml"
    text = pack_toml().replace(
        'title = "Offer a coffee"', 'overrides = ["ask-to-calm-down"]\ntitle = "Offer a coffee"'
    )
    path.write_text(text.replace("[pack]\n", "[pack]\n" + extra), encoding="utf-8")
    return path


def test_check_with_builtin_verifies_the_quotes_of_an_overriding_pack(
    cli, tmp_path: Path, seeds_folder: Path
) -> None:
    path = overriding_pack(tmp_path)
    run = cli(["check", str(path), "--with-builtin", "--seeds", str(seeds_folder)])
    assert run.status == 0, run.err
    assert f"{len(default_rulebook()) + 1} rules OK" in run.out
    assert "unknown document" not in run.err


def test_check_with_builtin_still_finds_a_wrong_quote(
    cli, tmp_path: Path, seeds_folder: Path
) -> None:
    path = overriding_pack(tmp_path)
    path.write_text(path.read_text().replace("Gardez votre calme", "Gardez votre sang-froid"))
    run = cli(["check", str(path), "--with-builtin", "--seeds", str(seeds_folder)])
    assert run.status == 1
    assert run.err.startswith("offer-a-coffee: quote not found verbatim")
    assert run.err.count("\n") == 1


@pytest.mark.parametrize(
    "extra",
    ["", 'disable = ["stay-calm"]\n'],
    ids=["overrides", "disable"],
)
def test_check_hints_at_with_builtin(cli, tmp_path: Path, extra: str) -> None:
    run = cli(["check", str(overriding_pack(tmp_path, extra))])
    assert_one_line_error(run)
    assert "--with-builtin" in run.err


def test_check_does_not_hint_when_builtins_would_not_help(cli, tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text(pack_toml().replace("kind =", "knd =", 1), encoding="utf-8")
    run = cli(["check", str(path)])
    assert_one_line_error(run)
    assert "--with-builtin" not in run.err


def test_check_warns_about_the_locales_a_pack_loses(cli, pack: Path) -> None:
    run = cli(["check", str(pack), "--with-builtin"])
    assert run.status == 0
    warnings = run.err.splitlines()
    assert len(warnings) == 2
    assert warnings[0].startswith("difficult-customers: warning: the pack loses locale fr")
    assert "3 message(s) untranslated" in warnings[0]
    assert "'Offer a coffee' of rule 'offer-a-coffee'" in warnings[0]
    assert warnings[1].startswith("difficult-customers: warning: the pack loses locale pl")


def test_check_reports_disabled_and_replaced_rules(cli, tmp_path: Path) -> None:
    path = tmp_path / "house.toml"
    replacement = pack_toml().replace('"offer-a-coffee"', '"stay-calm"')
    replacement = replacement.replace(
        'phase = "de_escalate"', 'phase = "de_escalate"\nreplace = true'
    )
    replacement = replacement.replace("[pack]\n", '[pack]\ndisable = ["take-a-break"]\n')
    path.write_text(replacement, encoding="utf-8")
    run = cli(["check", str(path), "--with-builtin"])
    assert run.status == 0, run.err
    assert "  replaces built-in rule(s): stay-calm\n" in run.out
    assert "  disables built-in rule(s): take-a-break\n" in run.out


def test_check_reports_a_catalog_that_changes_builtin_translations(cli, tmp_path: Path) -> None:
    path = overriding_pack(tmp_path)
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "overriding.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgctxt "@ui"\nmsgid "Avoid:"\nmsgstr "Faites :"\n',
        encoding="utf-8",
    )
    run = cli(["check", str(path), "--with-builtin"])
    assert_one_line_error(run)
    assert "overriding.po" in run.err
    assert "heading 'Avoid:'" in run.err


def test_check_a_seed_that_is_not_utf8(cli, pack: Path, seeds_folder: Path) -> None:
    (seeds_folder / "latin1.txt").write_bytes("énervé".encode("latin-1"))
    run = cli(["check", str(pack), "--seeds", str(seeds_folder)])
    assert_one_line_error(run)
    assert "latin1.txt" in run.err
    assert "not UTF-8" in run.err


# --- issue 7, state part of item 15 and item 14 ------------------------------------------


def test_a_huge_number_in_a_state_file_names_the_field(cli, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"offensive_remarks": ' + "9" * 5000 + "}", encoding="utf-8")
    run = cli(["advise", str(path)])
    assert run.status == 2
    assert "offensive_remarks" in run.err
    assert "5000 digits" in run.err
    assert len(run.err) < 500


def test_a_huge_number_in_set_names_the_field(cli) -> None:
    run = cli(["advise", "--set", "warnings_given=" + "1" * 5000])
    assert run.status == 2
    assert "warnings_given" in run.err
    assert "5000 digits" in run.err


def test_a_misspelled_state_field_gets_a_suggestion(cli) -> None:
    run = cli(["advise", "-"], stdin='{"offensive_remark": 1}')
    assert run.status == 2
    assert "did you mean 'offensive_remarks'?" in run.err


def test_a_state_key_that_is_not_unicode_has_a_location(cli) -> None:
    run = cli(["advise", "-"], stdin='{"\\ud800": 1}')
    assert run.status == 2
    assert "\\ud800" in run.err
    assert "state:" not in run.err.replace("invalid state:", "")


def test_a_state_file_may_name_its_schema(cli, tmp_path: Path) -> None:
    schema = cli(["schema"]).json()
    assert isinstance(schema, dict)
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"$schema": schema["$id"], "mood": "furious"}), encoding="utf-8")
    run = cli(["advise", str(path), "--format", "json"])
    assert run.status == 0, run.err


def test_a_contradictory_state_is_refused_with_the_fields_named(cli) -> None:
    run = cli(["advise", "--set", "warnings_given=1", "--set", "abuse_after_warning=true"])
    assert run.status == 2
    assert "abuse_after_warning" in run.err
    assert "offensive_remarks" in run.err
    assert "Value error" not in run.err


# --- issue 7, item 5: the built-in sources ship with the package ---------------------------


def test_check_with_builtin_verifies_quotes_against_the_packaged_sources(
    cli, tmp_path: Path
) -> None:
    path = tmp_path / "misquote.toml"
    path.write_text(
        pack_toml(
            document="000_7657c944a5bc606c.txt",
            section="Faites preuve de bon sens",
            quote="Restez calme et criez plus fort que le client.",
        ),
        encoding="utf-8",
    )
    run = cli(["check", str(path), "--with-builtin"])
    assert run.status == 1
    assert "offer-a-coffee: quote not found verbatim in 000_7657c944a5bc606c.txt" in run.err


def test_check_with_builtin_accepts_a_true_quote_of_a_builtin_source(cli, tmp_path: Path) -> None:
    path = tmp_path / "quote.toml"
    path.write_text(
        pack_toml(
            document="000_7657c944a5bc606c.txt",
            section="Faites preuve de bon sens",
            quote="Restez calme, respirez profondément",
        ),
        encoding="utf-8",
    )
    run = cli(["check", str(path), "--with-builtin"])
    assert run.status == 0, run.err


# --- issue 7: piped input, several packs, filters -------------------------------------------


def test_piped_stdin_is_read_without_dash(cli) -> None:
    run = cli(["advise", "--format", "json"], stdin='{"mood": "furious"}')
    assert run.status == 0, run.err
    assert run.json()["state"]["mood"] == "furious"
    explained = cli(["explain", "--rule", "stay-calm"], stdin='{"mood": "furious"}')
    assert explained.out == "stay-calm: fired\n"


def test_set_applies_over_piped_stdin(cli) -> None:
    run = cli(["advise", "--set", "channel=chat", "--format", "json"], stdin='{"mood": "angry"}')
    assert (run.json()["state"]["mood"], run.json()["state"]["channel"]) == ("angry", "chat")


def test_empty_piped_stdin_is_no_state(cli) -> None:
    # Started from cron or CI with stdin on /dev/null: nothing was given, so the defaults.
    run = cli(["advise", "--set", "mood=angry", "--format", "json"], stdin="")
    assert run.status == 0, run.err
    assert run.json()["state"] == ConversationState(mood="angry").model_dump(mode="json")


def test_dash_with_empty_stdin_is_refused(cli) -> None:
    run = cli(["advise", "-"], stdin="")
    assert_one_line_error(run)
    assert "stdin" in run.err


def test_help_says_stdin_is_read(cli) -> None:
    run = cli(["advise", "--help"])
    assert run.status == 0
    assert "not a terminal" in " ".join(run.out.split())


def second_pack_toml() -> str:
    # Builds on the first pack: it silences the first pack's rule, which it can only name
    # when it is loaded over it.
    return (
        pack_toml()
        .replace('name = "test-pack"', 'name = "second-pack"')
        .replace('id = "offer-a-coffee"', 'id = "offer-a-tea"\noverrides = ["offer-a-coffee"]')
        .replace("Offer a coffee", "Offer a tea")
        .replace("Would you like a coffee", "Would you like a tea")
    )


def test_several_packs_stack_in_order(cli, pack: Path, tmp_path: Path) -> None:
    second = tmp_path / "second.toml"
    second.write_text(second_pack_toml(), encoding="utf-8")
    state = ["--set", "channel=in_person", "--set", "mood=angry"]
    run = cli(["advise", "--pack", str(pack), "--pack", str(second), *state, "--format", "json"])
    assert run.status == 0, run.err
    ids = [action["rule_id"] for action in run.json()["actions"]]
    assert "offer-a-tea" in ids
    assert "offer-a-coffee" not in ids  # present, but overridden by the second pack
    explained = cli(
        ["explain", "--pack", str(pack), "--pack", str(second), *state, "--rule", "offer-a-coffee"]
    )
    assert explained.out == "offer-a-coffee: overridden by offer-a-tea\n"
    listed = cli(["rules", "--pack", str(pack), "--pack", str(second), "--phase", "de_escalate"])
    assert "offer-a-coffee" in listed.out
    assert "offer-a-tea" in listed.out
    # In the other order, the second pack is loaded first and names a rule not there yet.
    reversed_order = cli(["advise", "--pack", str(second), "--pack", str(pack)])
    assert_one_line_error(reversed_order)
    assert "offer-a-coffee" in reversed_order.err


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        pytest.param("--tag", "nosuchtag", ["unknown tag 'nosuchtag'", "ending"], id="tag"),
        pytest.param("--tag", "endings", ["did you mean 'ending'?"], id="tag-typo"),
        pytest.param(
            "--reads",
            "offensive_remark",
            ["unknown field 'offensive_remark'", "did you mean 'offensive_remarks'?"],
            id="reads",
        ),
        pytest.param(
            "--document",
            "004",
            ["unknown document '004'", "did you mean '004_5f4e5305fe903518.txt'?"],
            id="document-prefix",
        ),
    ],
)
def test_rules_refuse_unknown_filter_values(
    cli, option: str, value: str, expected: list[str]
) -> None:
    run = cli(["rules", option, value])
    assert_one_line_error(run)
    for part in expected:
        assert part in run.err


def test_rules_filter_on_a_pack_tag(cli, tmp_path: Path) -> None:
    path = tmp_path / "tagged.toml"
    path.write_text(pack_toml().replace('kind = "do"', 'kind = "do"\ntags = ["coffee"]'), "utf-8")
    run = cli(["rules", "--pack", str(path), "--tag", "coffee"])
    assert run.status == 0, run.err
    assert run.out.split()[0] == "offer-a-coffee"
    assert cli(["rules", "--tag", "coffee"]).status == 2  # not a tag of the built-ins


# --- issue 7: hostile input never gives a traceback, and stays bounded ----------------------

HOSTILE_CHARACTERS = ["\x1b", "\x07", "\x00", "\u202e", "\u2066", "\x9b", "\x7f", "\u2028"]


def assert_no_raw_control(text: str) -> None:
    for character in HOSTILE_CHARACTERS:
        assert character not in text, f"{character!r} printed raw in {text!r}"
    assert "\x1b" not in text


@pytest.mark.parametrize("character", HOSTILE_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("where", ["key", "value"])
def test_control_characters_in_state_are_escaped_in_errors(
    cli, tmp_path: Path, character: str, where: str
) -> None:
    hostile = f"x{character}]52;c;aGk={character}y"
    state = {hostile: 1} if where == "key" else {"mood": hostile}
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(state), encoding="utf-8")
    run = cli(["advise", str(path)])
    assert_one_line_error(run)
    assert_no_raw_control(run.err)
    if where == "key":  # values are not echoed; keys are, as the unknown field's name
        assert f"\\x{ord(character):02x}" in run.err or f"\\u{ord(character):04x}" in run.err


def test_control_characters_in_set_and_file_names_are_escaped(cli, tmp_path: Path) -> None:
    assert_no_raw_control(cli(["advise", "--set", "a\x1b[2Jb=1"]).err)
    assert_no_raw_control(cli(["advise", str(tmp_path / "a\x1b]0;pwned\x07.json")]).err)
    assert_no_raw_control(cli(["advise", "--detail", "business_name=\x1b[31mRed"]).err)


def test_lone_surrogate_key_is_one_line(cli, tmp_path: Path) -> None:
    path = tmp_path / "surrogate.json"
    path.write_text('{"\\ud800": 1, "mood": "\\udfff"}', encoding="utf-8")
    run = cli(["advise", str(path)])
    assert_one_line_error(run)
    assert "\\ud800" in run.err  # escaped, never raw


def test_pack_text_with_escapes_never_reaches_the_terminal_raw(cli, tmp_path: Path) -> None:
    path = tmp_path / "escapes.toml"
    toml = pack_toml(when='channel == "in_person"  # \\u001b]52;c;aGk=\\u0007')
    toml = toml.replace("Offer a coffee", "Offer \\u001b[2J\\u202ea coffee")
    path.write_text(toml, encoding="utf-8")
    state = ["--set", "channel=in_person", "--set", "mood=angry"]
    for argv in (
        ["advise", "--pack", str(path), *state],
        ["advise", "--pack", str(path), *state, "--format", "markdown"],
        ["advise", "--pack", str(path), *state, "--format", "json"],
        ["rules", "--pack", str(path)],
        ["explain", "--pack", str(path), "--set", "channel=email"],
        ["check", str(path)],
    ):
        run = cli(argv)
        # Refused at load (one escaped line) or printed with the controls escaped.
        assert run.status in (0, 2), run
        assert_no_raw_control(run.out + run.err)


def _limit_memory() -> None:
    # A reader that does not stop at the size limit dies here instead of exhausting memory.
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))


def _run_process(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    # In a child process, with a timeout and bounded memory, so that a regression shows as a
    # failure rather than a hung or swapping test run.
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "difficult_customers", *argv],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=_env(),
        timeout=60,
        check=False,
        preexec_fn=_limit_memory if sys.platform != "win32" else None,
        **kwargs,
    )


@pytest.mark.parametrize("command", ["advise", "explain"])
def test_dev_zero_is_refused_before_reading(command: str) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    result = _run_process([command, "/dev/zero"], stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr[-500:]
    assert result.stderr.count("\n") == 1
    assert "/dev/zero" in result.stderr
    assert "not a regular file" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "state.fifo"
    os.mkfifo(fifo)
    # No writer ever opens the FIFO: opening it for reading the usual way would block forever.
    result = _run_process(["advise", str(fifo)], stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert "not a regular file" in result.stderr


def test_dev_zero_on_stdin_is_bounded(tmp_path: Path) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    with open("/dev/zero", "rb") as zero:
        result = _run_process(["advise"], stdin=zero)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "larger than" in result.stderr


def test_state_over_the_size_limit_is_refused(cli, tmp_path: Path) -> None:
    from difficult_customers.__main__ import MAX_STATE_BYTES

    # About 30 MB and 2 million keys: refused by size, without parsing it.
    path = tmp_path / "huge.json"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("{")
        handle.write(",".join(f'"k{i}":1' for i in range(2_000_000)))
        handle.write("}")
    assert path.stat().st_size > MAX_STATE_BYTES
    run = cli(["advise", str(path)])
    assert_one_line_error(run)
    assert f"larger than {MAX_STATE_BYTES:,} bytes" in run.err
    piped = cli(["advise"], stdin=b"{" + b" " * MAX_STATE_BYTES + b"}")
    assert_one_line_error(piped)
    assert "stdin" in piped.err


def test_many_errors_are_capped_on_one_line(cli, tmp_path: Path) -> None:
    from difficult_customers.__main__ import MAX_ERRORS_SHOWN

    count = 50_000
    path = tmp_path / "many.json"
    path.write_text(json.dumps({f"unknown_{i}": 1 for i in range(count)}), encoding="utf-8")
    run = cli(["advise", str(path)])
    assert_one_line_error(run)
    assert f"and {count - MAX_ERRORS_SHOWN:,} more" in run.err
    assert len(run.err) < 2_000


def test_long_keys_are_shortened_in_the_error_line(cli) -> None:
    run = cli(["advise", "-"], stdin=json.dumps({"k" * 100_000: 1}))
    assert_one_line_error(run)
    assert len(run.err) < 2_000


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[" * 100_000, id="array"),
        pytest.param('{"mood": ' + "[" * 100_000, id="in-a-value"),
        pytest.param('{"a":' * 100_000, id="objects"),
    ],
)
def test_deep_nesting_in_a_file_is_one_line(cli, tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(text, encoding="utf-8")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        run = cli(["advise", str(path)])
    finally:
        sys.setrecursionlimit(limit)
    assert_one_line_error(run)


# --- issue 7: error wording -----------------------------------------------------------------


def test_state_level_errors_are_not_prefixed_twice(cli) -> None:
    run = cli(["advise", "--set", "abuse_after_warning=true"])
    assert_one_line_error(run)
    assert "Value error" not in run.err
    assert "invalid state: state:" not in run.err
    assert "invalid state: abuse_after_warning" in run.err


@pytest.mark.parametrize("value", ["True", "False", "TRUE", "yes"])
def test_python_booleans_get_a_hint(cli, value: str) -> None:
    run = cli(["advise", "--set", f"resolved={value}"])
    assert_one_line_error(run)
    assert "resolved" in run.err
    expected = "false" if value == "False" else "true"
    assert f"write {expected}" in run.err


def test_sources_option_cites_the_seeds_in_text(cli) -> None:
    plain = cli(["advise", "--set", "mood=angry"])
    cited = cli(["advise", "--set", "mood=angry", "--sources"])
    assert cited.status == 0, cited.err
    advice = cli(["advise", "--set", "mood=angry", "--format", "json"]).json()
    documents = {s["document"] for a in advice["actions"] for s in a["sources"]}
    assert documents
    for document in documents:
        assert document not in plain.out
        assert document in cited.out
    markdown = cli(["advise", "--set", "mood=angry", "--format", "markdown"]).out
    assert "\n[^1]: " in markdown


def test_converse_with_dev_zero_on_stdin_is_bounded() -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    with open("/dev/zero", "rb") as zero:
        result = _run_process(["converse", "-"], stdin=zero)
    assert result.returncode == 2, result.stderr[-500:]
    assert result.stderr.count("\n") == 1
    assert "line 1: longer than" in result.stderr


def test_converse_reads_a_huge_file_in_bounded_memory(tmp_path: Path) -> None:
    # A sparse 8 GiB file (no disk used) after one good event: refused without being read
    # whole into memory.
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"type": "customer_insulted"}\n')
        handle.truncate(8 * 2**30)
    result = _run_process(["converse", str(path), "--last"], stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr[-500:]
    assert result.stderr.count("\n") == 1
    assert "larger than" in result.stderr or "longer than" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_converse_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    result = _run_process(["converse", str(fifo)], stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert "not a regular file" in result.stderr


def test_converse_escapes_hostile_event_text(cli, tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_text('{"type": "agent_followed", "rule": "x\\u001b]52;c;aGk=\\u0007"}\n', "utf-8")
    run = cli(["converse", str(path)])
    assert_one_line_error(run)
    assert_no_raw_control(run.err)


def test_a_huge_argparse_choice_gives_a_short_error_line(cli) -> None:
    from difficult_customers.__main__ import MAX_ERROR_LINE

    run = cli(["rules", "--phase", "x" * 100_000])
    assert_one_line_error(run, status=2)
    assert len(run.err) < MAX_ERROR_LINE + 100


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["advise", "--locale", "x" * 100_000], id="locale"),
        pytest.param(["explain", "--rule", "x" * 100_000], id="rule"),
        pytest.param(["rules", "--tag", "x" * 100_000], id="tag"),
        pytest.param(["advise", "--set", "mood=" + "x" * 100_000], id="set-value"),
        pytest.param(["advise", "/nonexistent/" + "x" * 100_000], id="path"),
    ],
)
def test_huge_arguments_give_a_short_error_line(cli, argv: list[str]) -> None:
    from difficult_customers.__main__ import MAX_ERROR_LINE

    run = cli(argv)
    assert_one_line_error(run)
    assert len(run.err) < MAX_ERROR_LINE + 100


def _run_quietly(argv: list[str], stdin: bytes) -> Run:
    """``main(argv)`` with stdin, outside pytest fixtures (for hypothesis)."""
    import contextlib

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = _Stdin(stdin, terminal=False)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
    finally:
        sys.stdin = saved
    return Run(status, out.getvalue(), err.getvalue())


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_STATE_LIKE = st.dictionaries(
    st.sampled_from([*ConversationState.model_fields, "moood", "\x1b", "\u202e"]) | st.text(),
    _JSON,
    max_size=6,
)


@given(data=st.binary(max_size=300) | _STATE_LIKE.map(lambda d: json.dumps(d).encode()))
@settings(max_examples=150)
def test_any_stdin_gives_advice_or_one_escaped_error_line(data: bytes) -> None:
    run = _run_quietly(["advise"], data)
    if run.status == 0:
        assert run.err == ""
        assert run.out
    else:
        assert run.status == 2
        assert run.out == ""
        assert run.err.count("\n") == 1
        assert run.err.startswith("difficult-customers: ")
    assert_no_raw_control(run.out.replace("\n", "") + run.err[:-1])


def test_security_md_states_the_cli_limits_the_code_enforces() -> None:
    from difficult_customers import __main__ as cli_module

    security = (Path(__file__).resolve().parents[1] / "SECURITY.md").read_text("utf-8")
    section = security.split("## Command line", 1)[1]
    rows = {
        line.rsplit("|", 2)[1].strip(" `"): line
        for line in section.splitlines()
        if line.startswith("|") and "`__main__." in line
    }
    assert f"{cli_module.MAX_STATE_BYTES:,} bytes" in rows["__main__.MAX_STATE_BYTES"]
    assert f"| {cli_module.MAX_ERRORS_SHOWN}, then" in rows["__main__.MAX_ERRORS_SHOWN"]
    assert f"| {cli_module.MAX_ERROR_LINE:,} characters" in rows["__main__.MAX_ERROR_LINE"]


@pytest.mark.parametrize(
    "argv",
    [["schema"], ["advise", "--set", "mood=calm", "--set", "resolved=true"], ["rules"]],
)
def test_a_reader_gone_before_the_output_is_flushed(argv: list[str]) -> None:
    # `difficult-customers advise ... | head -c 10`: output that fits in the buffer is
    # written at exit, where Python printed "Exception ignored ... BrokenPipeError" (120).
    env = {k: v for k, v in _env().items() if k != "PYTHONUNBUFFERED"}
    process = subprocess.Popen(
        [sys.executable, "-m", "difficult_customers", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    process.stdout.close()  # long before the child has imported anything
    _, err = process.communicate(timeout=60)
    assert err == b"", err
    assert process.returncode == 1


def test_a_state_file_may_open_with_a_byte_order_mark(cli, tmp_path: Path) -> None:
    # As Windows tools (Notepad, PowerShell's Out-File) write one; RFC 8259 lets a parser
    # ignore it, and advise --jsonl does.
    path = tmp_path / "windows.json"
    path.write_text('\ufeff{"mood": "furious"}', encoding="utf-8")
    plain = cli(["advise", "--set", 'mood="furious"', "--format", "json"])
    for run in (
        cli(["advise", str(path), "--format", "json"]),
        cli(["advise", "-", "--format", "json"], stdin=path.read_bytes()),
    ):
        assert run.status == 0, run.err
        assert run.out == plain.out


@pytest.mark.parametrize(
    "argv",
    [
        ["advise", "--set", "mood=angry", "--locale", "pl", "--format", "json"],
        ["rules", "--format", "json"],
        ["converse", "-", "--locale", "pl", "--format", "json"],
    ],
)
def test_json_output_is_utf8_whatever_the_locale_says(argv: list[str]) -> None:
    # JSON is UTF-8: a latin-1 terminal setting cannot encode the advice's typography (’),
    # and the command failed with "'latin-1' codec can't encode character", status 2.
    result = subprocess.run(
        [sys.executable, "-m", "difficult_customers", *argv],
        input=b'{"type": "customer_insulted"}\n' if argv[0] == "converse" else b"",
        capture_output=True,
        env={**_env(), "PYTHONIOENCODING": "latin-1"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode("utf-8")
    assert "\u2019" in text or "ó" in text or "ł" in text
    for line in text.splitlines() if argv[0] == "converse" else [text]:
        json.loads(line)


def test_text_the_terminal_cannot_show_says_how_to_fix_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "difficult_customers", "advise", "--set", "mood=angry"],
        input=b"",
        capture_output=True,
        env={**_env(), "PYTHONIOENCODING": "ascii"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count(b"\n") == 1
    assert b"the output's encoding (ascii) cannot show" in result.stderr, result.stderr
    assert b"PYTHONIOENCODING=utf-8" in result.stderr


@pytest.mark.parametrize(
    ("argv", "stdin"),
    [
        (["advise", "--set", "done=stay-calm"], None),
        (["advise", "-"], '{"done": "stay-calm"}'),
    ],
)
def test_done_given_as_one_id_says_how_to_write_a_list(
    cli, argv: list[str], stdin: str | None
) -> None:
    # "done: Input should be a valid tuple" did not say that a list is written in JSON.
    run = cli(argv, stdin)
    assert_one_line_error(run)
    assert 'done: Input should be a valid tuple (a list: write ["stay-calm"])' in run.err, run.err
