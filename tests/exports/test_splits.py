"""Splits: no source, speaker or dialogue in two splits; deterministic; balance reported honestly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain import ValidationError
from exports.records import SPLITS, AggregatedLabel, ReleaseRow
from exports.splits import assign_splits, leakage_groups


def row(item_id: int, source: int, speaker: str | None = None, label: str = "pos", language: str = "ta",
        dialogue: str | None = None) -> ReleaseRow:
    return ReleaseRow(item_id=item_id, source_id=source, source_uri=f"u{source}", licence="cc-by-4.0",
                      speaker_label=speaker, dialogue_id=dialogue, language=language,
                      labels={"sentiment": AggregatedLabel(label)})


rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 12),                      # source
        st.sampled_from(["A", "B", "C", None]),  # speaker label
        st.sampled_from(["pos", "neg", "neu"]),
        st.sampled_from(["ta", "ml", "bn", "zh"]),
        st.one_of(st.none(), st.integers(0, 5)),  # dialogue (may span sources, like a chat thread)
    ),
    min_size=0, max_size=60,
).map(lambda specs: [
    row(i + 1, src, spk, lab, lang, dialogue=(f"d{dia}" if dia is not None else None))
    for i, (src, spk, lab, lang, dia) in enumerate(specs)
])


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, seed=st.integers(0, 2**16))
def test_no_source_speaker_or_dialogue_is_in_two_splits(rows, seed):
    assignment = assign_splits(rows, seed=seed, stratify_field="sentiment")
    assert set(assignment.split_of) == {r.item_id for r in rows}
    split_of_key: dict[str, str] = {}
    for r in rows:
        for key in r.group_keys:
            assert split_of_key.setdefault(key, assignment.split_of[r.item_id]) == assignment.split_of[r.item_id], key
    assert sum(assignment.statistics.items.values()) == len(rows)


@settings(max_examples=30, deadline=None)
@given(rows=rows_strategy, seed=st.integers(0, 2**16))
def test_same_rows_and_seed_give_the_same_assignment_whatever_the_input_order(rows, seed):
    a = assign_splits(rows, seed=seed, stratify_field="sentiment")
    b = assign_splits(list(reversed(rows)), seed=seed, stratify_field="sentiment")
    assert a.split_of == b.split_of


def test_speaker_labels_are_scoped_to_their_source_in_the_split_and_the_published_id():
    # Regression: SPEAKER_00 of four sources was published as one speaker spread over train,
    # validation and test; it is four speakers, each kept inside one split under its own id.
    rows = [row(i, 10 + i, "SPEAKER_00") for i in range(1, 5)]
    assert [r.speaker for r in rows] == ["src11/SPEAKER_00", "src12/SPEAKER_00", "src13/SPEAKER_00", "src14/SPEAKER_00"]
    assert [r.group_keys[1] for r in rows] == [f"speaker:{r.speaker}" for r in rows]
    assert len(leakage_groups(rows)) == 4
    assert len(set(assign_splits(rows, seed=0).split_of.values())) == 3


def test_many_small_groups_are_stratified_close_to_the_targets():
    rows = [row(i, i, label=["pos", "neg", "neu"][i % 3], language=["ta", "ml"][i % 2]) for i in range(300)]
    a = assign_splits(rows, seed=1, stratify_field="sentiment")
    assert a.statistics.items == {"train": 240, "validation": 30, "test": 30}
    for split in SPLITS:
        for label in ("pos", "neg", "neu"):
            assert a.statistics.labels[split][label] == a.statistics.items[split] // 3
    assert a.unbalanced == ()


def test_a_dominant_source_is_reported_as_unbalanced():
    rows = [row(i, 0) for i in range(1, 81)] + [row(100 + i, i) for i in range(1, 6)]
    a = assign_splits(rows, seed=3, stratify_field="sentiment")
    assert a.statistics.items["train"] == 80
    assert any("only 6 leak-free groups" in u for u in a.unbalanced)


def test_every_split_gets_a_group_when_there_are_enough_groups():
    rows = [row(i, i) for i in range(1, 4)]
    a = assign_splits(rows, seed=0)
    assert sorted(a.split_of.values()) == sorted(SPLITS)


def test_bad_fractions_are_refused_with_the_values_quoted():
    with pytest.raises(ValidationError, match=r"\(0\.5, 0\.5, 0\.5\)"):
        assign_splits([row(1, 1)], seed=0, fractions=(0.5, 0.5, 0.5))


def test_repeated_item_ids_are_refused():
    with pytest.raises(ValidationError, match=r"item ids repeat.*\[1\]"):
        assign_splits([row(1, 1), row(1, 2)], seed=0)


def test_texts_of_one_corpus_file_are_split_but_near_duplicates_and_conversations_stay_together():
    # a text corpus (or a chat export) is one source: kept together by source it would be one split
    texts = [ReleaseRow(item_id=i, source_id=1, source_uri="eng_train.csv", licence="cc-by-4.0", kind="text",
                        duplicate_group="dup-1" if i in (1, 2, 3) else None,
                        labels={"sentiment": AggregatedLabel(["pos", "neg"][i % 2])}) for i in range(1, 41)]
    turns = [ReleaseRow(item_id=100 + i, source_id=2, source_uri="result.json", licence="cc-by-4.0", kind="chat_turn",
                        dialogue_id=f"telegram-{i % 4}", labels={"sentiment": AggregatedLabel("pos")}) for i in range(20)]
    split_of = assign_splits(texts + turns, seed=0, stratify_field="sentiment").split_of
    assert len({split_of[r.item_id] for r in texts}) == 3
    assert len({split_of[i] for i in (1, 2, 3)}) == 1
    for conversation in range(4):
        assert len({split_of[r.item_id] for r in turns if r.dialogue_id == f"telegram-{conversation}"}) == 1
