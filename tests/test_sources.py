"""Citations: every quote is verbatim in its seed section, and every section is cited."""

from __future__ import annotations

from pathlib import Path

import pytest

import difficult_customers.sources as sources
from difficult_customers import RulebookError, default_rulebook
from difficult_customers.sources import read_sections, uncited_sections, verify_sources


def test_every_quote_is_verbatim_in_its_section(seeds: Path) -> None:
    assert verify_sources(default_rulebook(), seeds) == []


def test_every_section_of_every_seed_is_cited(seeds: Path) -> None:
    assert uncited_sections(default_rulebook(), seeds) == []


def test_the_seeds_have_27_titled_sections(seeds: Path) -> None:
    titled = [
        heading
        for path in seeds.glob("*.txt")
        for heading in read_sections(path.read_text(encoding="utf-8"))
        if heading is not None
    ]
    assert len(titled) == 27


def test_parallel_passages_of_000_and_003_are_cited_on_the_same_rules(seeds: Path) -> None:
    # 000 (French) and 003 (Polish) are the same article: section k of one is section k
    # of the other, and a rule citing one must cite the other.
    french = list(read_sections((seeds / "000_7657c944a5bc606c.txt").read_text("utf-8")))
    polish = list(read_sections((seeds / "003_2ae55a8cb98bd00e.txt").read_text("utf-8")))
    parallel = dict(zip(french, polish, strict=True))
    for rule in default_rulebook():
        cited = {(s.document, s.section) for s in rule.sources}
        for fr_section, pl_section in parallel.items():
            has_fr = ("000_7657c944a5bc606c.txt", fr_section) in cited
            has_pl = ("003_2ae55a8cb98bd00e.txt", pl_section) in cited
            assert has_fr == has_pl, (rule.id, fr_section, pl_section)


def test_a_wrong_quote_is_reported(seeds: Path) -> None:
    rule = default_rulebook()["stay-calm"]
    source = rule.sources[0].model_copy(update={"quote": "Restez calme, criez fort."})
    broken = rule.model_copy(update={"sources": (source,)})
    (problem,) = verify_sources([broken], seeds)
    assert "stay-calm" in problem
    assert "not found verbatim" in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Opening line.\nHeading\nBody.", {None: "Opening line.", "Heading": "Body."}),
        ("Sommaire\nOpening.\nTitle\nBody.", {None: "Sommaire\nOpening.", "Title": "Body."}),
        ("Heading\n\nBody one.\nBody two.", {None: "", "Heading": "Body one.\nBody two."}),
    ],
)
def test_read_sections(text: str, expected: dict[str | None, str]) -> None:
    assert read_sections(text) == expected


# --- hostile seed folders (issue 7) ----------------------------------------------------------


def test_a_seed_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes("Gardez votre calme, énervé.".encode("latin-1"))
    with pytest.raises(RulebookError, match="not UTF-8") as info:
        verify_sources(default_rulebook(), tmp_path)
    assert info.value.file == str(tmp_path / "latin1.txt")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_seed_linked_to_a_device_is_refused(tmp_path: Path) -> None:
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    with pytest.raises(RulebookError, match="not a regular file") as info:
        verify_sources(default_rulebook(), tmp_path)
    assert info.value.file == str(tmp_path / "zero.txt")


def test_a_broken_seed_link_is_named(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    with pytest.raises(RulebookError, match="cannot read") as info:
        verify_sources(default_rulebook(), tmp_path)
    assert info.value.file == str(tmp_path / "gone.txt")


def test_seed_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_SEED_BYTES", 10)
    (tmp_path / "long.txt").write_text("x" * 11, encoding="utf-8")
    with pytest.raises(RulebookError, match="larger than 10 bytes"):
        verify_sources(default_rulebook(), tmp_path)


# --- issue 7, item 5: the sources are part of the project ---------------------------------

REPO = Path(__file__).resolve().parents[1]


def test_the_sources_are_found_without_shared() -> None:
    from difficult_customers.sources import builtin_sources_dir

    folder = builtin_sources_dir()
    assert sorted(path.name for path in folder.glob("*.txt")) == sorted(
        {source.document for rule in default_rulebook() for source in rule.sources}
    )
    assert verify_sources(default_rulebook(), folder) == []


def test_the_repository_keeps_the_sources_under_their_names() -> None:
    from difficult_customers.sources import builtin_sources_dir

    kept = REPO / "sources"
    assert kept.is_dir()
    installed = builtin_sources_dir()
    for path in sorted(kept.glob("*.txt")):
        assert (installed / path.name).read_bytes() == path.read_bytes()


def test_the_sources_equal_the_shared_seeds_when_present() -> None:
    shared = REPO.parent / "shared" / "seeds"
    if not shared.is_dir():
        pytest.skip("no ../shared/seeds beside this clone to compare with")
    kept = {path.name: path.read_bytes() for path in (REPO / "sources").glob("*.txt")}
    seeds = {path.name: path.read_bytes() for path in shared.glob("*.txt")}
    assert kept == seeds
