"""What the import leaves for first use, and what the first advice builds without validating."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import fresh_python, run_prebuilt
from difficult_customers import (
    Details,
    Effect,
    Kind,
    Phrasing,
    Recommendation,
    Rule,
    Source,
    advise,
    default_rulebook,
)
from difficult_customers.engine import _recommendation

DEFERRED = (Rule, Phrasing, Source, Effect, Details, Recommendation)


def test_the_schemas_of_deferred_models_are_built_on_first_use() -> None:
    code = (
        "import difficult_customers as dc\n"
        "deferred = (dc.Rule, dc.Phrasing, dc.Source, dc.Effect, dc.Details, dc.Recommendation)\n"
        "assert not any(m.__pydantic_complete__ for m in deferred)\n"
        "assert dc.ConversationState.__pydantic_complete__\n"
        "import json\n"
        "print(json.dumps([m.model_json_schema() for m in deferred], sort_keys=True))\n"
    )
    output = fresh_python(code)
    from difficult_customers import Details, Effect, Phrasing, Recommendation, Rule, Source

    built = [
        m.model_json_schema() for m in (Rule, Phrasing, Source, Effect, Details, Recommendation)
    ]
    assert json.loads(output) == built


def test_a_recommendation_built_without_validation_is_the_validated_one() -> None:
    for rule in default_rulebook():
        for text in (rule.phrasing[0].text, "Un texte traduit"):
            fast = _recommendation(rule, rule.title, text, rule.rationale)
            validated = Recommendation(
                rule_id=rule.id,
                kind=rule.kind,
                phase=rule.phase,
                title=rule.title,
                text=text,
                rationale=rule.rationale,
                sources=rule.sources,
            )
            assert fast == validated
            assert fast.model_fields_set == validated.model_fields_set
            assert fast.model_dump_json() == validated.model_dump_json()
            assert [type(getattr(fast, f)) for f in Recommendation.model_fields] == [
                type(getattr(validated, f)) for f in Recommendation.model_fields
            ]


def test_a_rule_built_around_validation_gets_a_validated_recommendation() -> None:
    # Rule.model_construct keeps whatever it is given: the recommendation is validated then,
    # so its kind is still a Kind and its sources Source objects.
    rule = default_rulebook()["stay-calm"]
    loose = Rule.model_construct(
        **{**rule.__dict__, "kind": "do", "sources": [s.model_dump() for s in rule.sources]}
    )
    recommendation = _recommendation(loose, rule.title, "Text", rule.rationale)
    assert recommendation.kind is Kind.DO
    assert recommendation.sources == rule.sources
    with pytest.raises(ValueError, match="title"):
        _recommendation(rule, 3, "Text", rule.rationale)  # type: ignore[arg-type]


def test_the_first_advice_in_a_fresh_process_is_the_advice() -> None:
    state = {"mood": "angry", "offensive_remarks": 2, "channel": "chat"}
    code = (
        "import json, sys, difficult_customers as dc\n"
        "print(dc.advise(json.loads(sys.argv[1]), locale='fr').to_json())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(state)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout) == advise(state, locale="fr").to_dict()


def test_the_import_and_first_advice_load_only_what_advising_needs(tmp_path: Path) -> None:
    # Each of these is loaded on first use, and the first advice of the built-in rulebook
    # uses none: its evaluators are prebuilt and a phrasing's `when` is read from their bits.
    code = (
        "import difficult_customers as dc\n"
        "SKIPPED = {'babel', 'json', 'tomllib', 'difficult_customers', 'pydantic'}\n"
        "dc.advise({'mood': 'angry', 'offensive_remarks': 2, 'channel': 'chat'}, locale='fr')\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in SKIPPED)))\n"
    )
    loaded = set(run_prebuilt(code, tmp_path).split())
    assert "difficult_customers._prebuilt" in loaded
    never = {
        "babel",
        "json",
        "tomllib",
        "difficult_customers._parser",
        "difficult_customers.compile",
        "difficult_customers.compile._tree",
        "difficult_customers.compile.python",
        "difficult_customers._explanation",
        "difficult_customers.details",
        "difficult_customers.conversation",
        "difficult_customers.events",
        # The rule models serialize their `when` and `effects` with plain functions.
        "pydantic.functional_serializers",
    }
    assert loaded & never == set()


def test_the_first_advice_compiles_none_of_the_library_s_patterns(tmp_path: Path) -> None:
    # The built-in rulebook is checked at every load; its texts are printable, which needs no
    # regular expression.
    code = (
        "import re\n"
        "from difficult_customers import _text\n"
        "import difficult_customers as dc\n"
        "dc.advise({'mood': 'angry', 'offensive_remarks': 2}, locale='pl')\n"
        "mine = {_text._ONE_LINE, _text._MULTI_LINE}\n"
        "print(sum(key[1] in mine for key in re._cache))\n"
    )
    assert run_prebuilt(code, tmp_path).split() == ["0"]


def test_the_import_loads_nothing_a_pydantic_program_does_not() -> None:
    # What any program with one pydantic model has loaded is the floor of the import; all
    # the library adds on top should be its own modules (pydantic.functional_serializers,
    # for one, was a tenth of its share). The first advice is checked above.
    code = (
        "import sys\n"
        "import pydantic\n"
        "class Model(pydantic.BaseModel):\n"
        "    count: int = 0\n"
        "Model(count=1)\n"
        "floor = set(sys.modules)\n"
        "import difficult_customers\n"
        "extra = set(sys.modules) - floor\n"
        "print(' '.join(sorted(m for m in extra if m.split('.')[0] != 'difficult_customers')))\n"
    )
    assert fresh_python(code).split() == []
