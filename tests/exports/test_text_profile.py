"""Each text's profile — normalised text, scripts, Han variant, identified language, CMI — in every
format of a release, and the card's *Languages, scripts and code-mixing* section worked by hand."""

from __future__ import annotations

import csv
import dataclasses
import json

import pytest
from huggingface_hub import DatasetCard

from backend.domain import ValidationError
from exports.build import build_release, export_jsonl, export_meld
from exports.card import (
    NO_PROFILE_NOTE,
    CmiSummary,
    LanguageScripts,
    cmi_summary,
    language_scripts,
    language_section,
)
from exports.records import ReleaseRow
from tests.exports.builders import make_context, make_profiled_rows, make_spec

PROFILE_COLUMNS = ("text_normalized", "text_language", "scripts", "dominant_script", "han_variant", "cmi")


def published_profile(row: ReleaseRow) -> dict[str, object]:
    """What every format should publish of ``row``'s profile (scripts largest share first)."""
    return {
        "text_normalized": row.text_normalized,
        "text_language": row.text_language,
        "scripts": [{"script": s, "share": share} for s, share in sorted(row.scripts.items(), key=lambda kv: -kv[1])],
        "dominant_script": row.dominant_script,
        "han_variant": row.han_variant,
        "cmi": row.cmi,
    }


@pytest.fixture(scope="module")
def profiled_rows(tmp_path_factory):
    return make_profiled_rows(tmp_path_factory.mktemp("profiled") / "clips")


@pytest.fixture(scope="module")
def profiled_release(profiled_rows, tmp_path_factory):
    return build_release(profiled_rows, make_spec(), make_context(), tmp_path_factory.mktemp("profiled-release") / "rel", code="x")


def test_profile_columns_round_trip_through_load_dataset(profiled_release, profiled_rows, tmp_path):
    import datasets

    ds = datasets.load_dataset(str(profiled_release.folder), cache_dir=str(tmp_path / "cache"))
    features = next(iter(ds.values())).features
    assert features["scripts"] == datasets.List({"script": datasets.Value("string"), "share": datasets.Value("float64")})
    assert features["cmi"] == datasets.Value("float64")
    assert all(features[name] == datasets.Value("string")
               for name in ("text_normalized", "text_language", "dominant_script", "han_variant"))
    loaded = {e["item_id"]: {name: e[name] for name in PROFILE_COLUMNS} for split in ds for e in ds[split]}
    assert loaded == {r.item_id: published_profile(r) for r in profiled_rows}
    assert loaded[2]["scripts"] == [{"script": "Tamil", "share": 0.6}, {"script": "Latin", "share": 0.4}]
    assert loaded[5] == {"text_normalized": "", "text_language": None, "scripts": [], "dominant_script": None,
                         "han_variant": None, "cmi": None}


def test_text_language_sits_beside_the_items_own_language(profiled_release):
    import pyarrow.parquet as pq

    names = pq.read_schema(next(profiled_release.folder.glob("data/default/*.parquet"))).names
    assert names[names.index("text"):names.index("dialogue_id")] == [
        "text", "text_normalized", "ocr_text", "speaker", "author", "language", "text_language", "scripts",
        "dominant_script", "han_variant", "cmi",
    ]


def test_jsonl_carries_the_profile_as_the_shards_do(profiled_rows, tmp_path):
    export_jsonl(profiled_rows, make_spec(), tmp_path / "items.jsonl")
    lines = [json.loads(x) for x in (tmp_path / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {x["item_id"]: {name: x[name] for name in PROFILE_COLUMNS} for x in lines} == {
        r.item_id: published_profile(r) for r in profiled_rows
    }


def test_meld_csv_appends_the_one_value_profile_columns(profiled_rows, tmp_path):
    paths = export_meld(profiled_rows, make_spec(), tmp_path / "meld")
    lines = {}
    for path in paths.values():
        with path.open(newline="", encoding="utf-8") as fh:
            lines.update({int(x["item_id"]): x for x in csv.DictReader(fh)})
    assert {i: (x["text_language"], x["dominant_script"], x["han_variant"], x["cmi"]) for i, x in lines.items()} == {
        1: ("ta", "Tamil", "", "0.0"),
        2: ("ta", "Tamil", "", "25.0"),
        3: ("ta", "Latin", "", "40.0"),
        4: ("zh", "Han", "traditional", "0.0"),
        5: ("", "", "", ""),
    }
    assert "scripts" not in lines[1] and "text_normalized" not in lines[1]


def test_script_facts_per_language_are_the_hand_computed_ones(profiled_rows):
    assert language_scripts(profiled_rows) == [
        LanguageScripts("ml", items=1, with_script=0, dominant=(), romanised=None, han_variants=None),
        LanguageScripts("ta", items=3, with_script=3, dominant=(("Tamil", 2 / 3), ("Latin", 1 / 3)), romanised=1 / 3,
                        han_variants=None),
        LanguageScripts("zh", items=1, with_script=1, dominant=(("Han", 1.0),), romanised=0.0,
                        han_variants=(("simplified", 0), ("traditional", 1), ("mixed", 0))),
    ]


def test_cmi_distribution_is_the_hand_computed_one(profiled_rows):
    assert cmi_summary(profiled_rows) == CmiSummary(
        profiled=4, not_profiled=1, mean=16.25, median=12.5, mixed_share=0.5,
        bins=(("0", 2), ("(0, 10]", 0), ("(10, 20]", 0), ("(20, 30]", 1), ("(30, 40]", 1), ("> 40", 0)),
    )


@pytest.mark.parametrize(("cmi", "bin_name"), [
    (0.0, "0"), (0.01, "(0, 10]"), (10.0, "(0, 10]"), (10.5, "(10, 20]"), (40.0, "(30, 40]"), (40.01, "> 40"), (100.0, "> 40"),
])
def test_cmi_bins_include_their_upper_bound(cmi, bin_name):
    row = ReleaseRow(item_id=1, source_id=1, source_uri="u", licence="x", cmi=cmi)
    assert dict(cmi_summary([row]).bins)[bin_name] == 1


def test_the_card_section_shows_the_hand_computed_numbers(profiled_release):
    body = DatasetCard.load(profiled_release.folder / "README.md").text
    section = body[body.index("## Languages, scripts and code-mixing"):body.index("## Sources and licences")]
    for line in (
        "| language | items | with a script | dominant script | romanised | Han variant |",
        "| ml | 1 | 0 | — | — | — |",
        "| ta | 3 | 3 | Tamil 66.7%, Latin 33.3% | 33.3% | — |",
        "| zh | 1 | 1 | Han 100.0% | 0.0% | simplified 0, traditional 1, mixed 0 |",
        "over 4 profiled items, 1 not profiled: mean 16.25, median 12.50; 50.0% have CMI > 0.",
        "| 0 | 2 | 50.0% |",
        "| (0, 10] | 0 | 0.0% |",
        "| (10, 20] | 0 | 0.0% |",
        "| (20, 30] | 1 | 25.0% |",
        "| (30, 40] | 1 | 25.0% |",
        "| > 40 | 0 | 0.0% |",
        "| not profiled | 1 | — |",
    ):
        assert line in section, line


def test_a_card_without_profiles_says_so_in_one_line(built_release):
    body = DatasetCard.load(built_release.folder / "README.md").text
    section = body[body.index("## Languages, scripts and code-mixing"):body.index("## Sources and licences")]
    assert section.strip().splitlines() == ["## Languages, scripts and code-mixing", "", NO_PROFILE_NOTE]


def test_scripts_without_cmi_give_no_cmi_table(profiled_rows):
    rows = [dataclasses.replace(r, cmi=None) for r in profiled_rows]
    lines = language_section(rows)
    assert "No item has a Code-Mixing Index (CMI): the texts were not profiled for code-mixing." in lines
    assert not any(line.startswith("| CMI |") for line in lines)


def test_the_han_variant_column_appears_only_for_a_han_language(profiled_rows):
    header = next(line for line in language_section([r for r in profiled_rows if r.language != "zh"]) if line.startswith("| language"))
    assert header.splitlines()[0] == "| language | items | with a script | dominant script | romanised |"


def test_a_code_mixed_tag_counts_by_its_first_language():
    row = ReleaseRow(item_id=1, source_id=1, source_uri="u", licence="x", language="ta-en",
                     scripts={"Latin": 1.0}, dominant_script="Latin", cmi=30.0)
    assert language_scripts([row])[0].romanised == 1.0
    english = dataclasses.replace(row, language="en")
    assert language_scripts([english])[0].romanised is None


def test_the_card_header_stays_valid_with_profiles(profiled_release):
    from exports.card import validate_card

    names = validate_card((profiled_release.folder / "README.md").read_text(encoding="utf-8"), profiled_release.folder)
    assert set(PROFILE_COLUMNS) <= set(names)


def test_a_release_of_profiled_rows_rebuilds_byte_identical(profiled_rows, profiled_release, tmp_path):
    again = build_release(
        [dataclasses.replace(r, scripts=dict(reversed(list(r.scripts.items())))) for r in profiled_rows],
        make_spec(), make_context(), tmp_path / "again", code="x",
    )
    for rel in profiled_release.manifest["files"]:
        assert (again.folder / rel).read_bytes() == (profiled_release.folder / rel).read_bytes(), rel


@pytest.mark.parametrize(("profile", "message"), [
    ({"han_variant": "Traditional"}, r"item 1 has Han variant 'Traditional'; use one of simplified, traditional, mixed or None"),
    ({"cmi": 120.0}, r"item 1 has CMI 120\.0; the Code-Mixing Index lies in \[0, 100\]"),
    ({"cmi": -1.0}, r"item 1 has CMI -1\.0"),
    ({"scripts": {"Tamil": 80.0}}, r"item 1 has script shares outside \[0, 1\]: \{'Tamil': 80\.0\}"),
])
def test_a_profile_outside_its_ranges_is_refused(profile, message):
    with pytest.raises(ValidationError, match=message):
        ReleaseRow(item_id=1, source_id=1, source_uri="u", licence="x", **profile)


def test_rows_made_before_profiles_keep_working():
    row = ReleaseRow(item_id=1, source_id=1, source_uri="u", licence="x", text="hello")
    assert (row.text_normalized, dict(row.scripts), row.dominant_script, row.han_variant, row.text_language, row.cmi) == (
        "", {}, None, None, None, None,
    )
    assert language_section([row]) == ["## Languages, scripts and code-mixing", "", NO_PROFILE_NOTE, ""]
