"""The dataset card: a header the Hub accepts, generated from the shards' Features, and a body from the data."""

from __future__ import annotations

import dataclasses

import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard

from backend.domain import ValidationError, ValueKind
from exports.build import build_release
from exports.card import card_languages, size_category, validate_card
from tests.exports.builders import make_context


def test_card_header_carries_what_the_hub_reads(built_release):
    card = DatasetCard.load(built_release.folder / "README.md")
    meta = card.data.to_dict()
    assert meta["language"] == ["ta", "ml", "bn", "en", "zh"]
    assert meta["license"] == "cc-by-4.0"
    assert meta["task_categories"] == ["audio-classification", "text-classification"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["pretty_name"] == "demo 1.0.0"
    assert meta["configs"][0]["data_files"][0] == {"split": "train", "path": "data/default/train-*"}
    assert {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]} == {
        s: n for s, n in built_release.assignment.statistics.items.items() if n
    }


def test_card_features_are_exactly_the_parquet_columns(built_release):
    names = validate_card((built_release.folder / "README.md").read_text(), built_release.folder)
    for shard in built_release.folder.glob("data/default/*.parquet"):
        assert pq.read_schema(shard).names == names


def test_card_body_shows_agreement_splits_and_distributions(built_release):
    body = DatasetCard.load(built_release.folder / "README.md").text
    assert "| sentiment | krippendorff_alpha | 0.412 | [0.301, 0.523] | 24 | 3 | tentative |" in body
    assert "| emotion | krippendorff_alpha | 0.912 | [0.871, 0.950] | 24 | 3 | accept |" in body
    stats = built_release.assignment.statistics
    for split in ("train", "validation", "test"):
        assert f"| {split} | {stats.items[split]} | {stats.groups[split]} |" in body
    assert "Code-mixed language tags present: `ta-en`" in body
    assert "Annotators: 3 (pseudonymous)" in body
    assert "| cc-by-4.0 | 6 | 24 |" in body
    for note in built_release.assignment.unbalanced:
        assert f"- {note}" in body


def test_size_categories_follow_the_hub_buckets():
    assert [size_category(n) for n in (0, 999, 1000, 9999, 10_000, 250_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "1K<n<10K", "10K<n<100K", "100K<n<1M",
    ]


def test_code_mixed_tags_contribute_each_language():
    assert card_languages([], ["ta-en", "zh"]) == (["ta", "en", "zh"], ["ta-en"])


def test_a_language_that_is_not_an_iso_code_is_refused():
    with pytest.raises(ValidationError, match=r"language 'Tamil' is not an ISO 639 code"):
        card_languages([], ["Tamil"])


def test_a_licence_the_hub_does_not_know_is_refused(release_inputs, tmp_path):
    rows, spec = release_inputs
    with pytest.raises(ValidationError, match=r"licence 'CC BY 4.0' is not a Hub licence identifier"):
        build_release(rows, dataclasses.replace(spec, licence="CC BY 4.0"), make_context(), tmp_path / "r", code="x")


def test_validation_names_every_problem_of_a_broken_card(built_release, tmp_path):
    text = (built_release.folder / "README.md").read_text()
    broken = text.replace("license: cc-by-4.0", "license: cc-by-5.0").replace("- n<1K", "- tiny")
    with pytest.raises(ValidationError, match=r"licence 'cc-by-5.0'.*size category 'tiny'"):
        validate_card(broken)
    with pytest.raises(ValidationError, match=r"split 'train': no file matches 'data/default/train-\*'"):
        validate_card(text, tmp_path)


def test_card_prose_is_written_from_the_typed_facts(release_inputs):
    from exports.card import (
        CLIP_PROCESSING,
        card_limitations,
        collection_text,
        guidelines_text,
        scheme_label,
    )
    from exports.records import CardContext, SchemeRecord, SourceRecord

    rows, spec = release_inputs
    sources = tuple(SourceRecord(s, f"https://example.org/video/{s}", "cc-by-4.0", kind="url" if s % 2 else "file")
                    for s in sorted({r.source_id for r in rows}))
    scheme = SchemeRecord("sentiment3", "Sentiment", "Pick the speaker's sentiment.", source="SemEval-2017",
                          field_kinds=(("sentiment", ValueKind.NOMINAL), ("transcript", ValueKind.FREE_TEXT)))
    context = CardContext(description="Film clips.", scheme_names=("sentiment3", "local"), schemes=(scheme,), sources=sources)
    assert collection_text(spec, rows, context) == (
        f"24 items from 6 sources (3 file, 3 url) of the mmcurate project `demo`. Film clips. {CLIP_PROCESSING}"
    )
    assert collection_text(spec, rows, CardContext()) == f"24 items from 6 sources of the mmcurate project `demo`. {CLIP_PROCESSING}"
    assert scheme_label(context) == "sentiment3, local" and scheme_label(CardContext()) == "imported labels"
    assert guidelines_text(context) == "**Sentiment** (`sentiment3`): Pick the speaker's sentiment. Source: SemEval-2017."
    notes = card_limitations(rows, context)
    assert not any("not exported" in n or "not yet supported" in n for n in notes)  # every kind has columns now
    assert any(n.startswith("Transcripts are automatic") for n in notes)
