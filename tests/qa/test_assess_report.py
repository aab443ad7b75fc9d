"""qa.assess + qa.report: a whole batch assessed, stored as plain JSON and drawn as a self-contained page."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from backend.domain import GateVerdict, ValueKind
from qa.agreement import AgreementInputError, krippendorff_alpha
from qa.assess import AssessOptions, assess
from qa.fields import FieldSpec
from qa.report import render_html, write_report

SPECS = [
    FieldSpec("sentiment", ValueKind.NOMINAL, ("negative", "neutral", "positive")),
    FieldSpec("emotions", ValueKind.MULTI_LABEL, ("joy", "anger", "fear")),
    FieldSpec("valence", ValueKind.INTERVAL, minimum=1, maximum=9),
]


def simulated_batch(accuracies=(0.95, 0.9, 0.3), n_items=60, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sentiments = np.array(["negative", "neutral", "positive"])
    emotions = ["joy", "anger", "fear"]
    rows = []
    start = pd.Timestamp("2026-01-01", tz="UTC")
    for i in range(n_items):
        truth = int(rng.integers(3))
        emotion = emotions[truth]
        for k, accuracy in enumerate(accuracies):
            name = f"ann-{k + 1:03d}"
            right = rng.random() < accuracy
            base = dict(item=i, annotator=name, language=("ta", "ml", "bn")[i % 3], source=f"s{i % 2}",
                        created_at=start + pd.Timedelta(minutes=10 * i + k), lead_time_s=float(rng.gamma(3, 2)),
                        simulated=k == 2, is_gold=i < 12, gold_value=sentiments[truth] if i < 12 else None)
            rows.append({**base, "field": "sentiment", "value": sentiments[truth] if right else sentiments[rng.integers(3)]})
            rows.append({**base, "field": "emotions", "value": [emotion] if right else [emotions[rng.integers(3)]],
                         "gold_value": None})
            rows.append({**base, "field": "valence", "value": float(np.clip(2 + 3 * truth + rng.normal(0, 0.3 if right else 2.5), 1, 9)),
                         "gold_value": None})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    return simulated_batch()


@pytest.fixture(scope="module")
def result(batch):
    return assess(batch, SPECS, options=AssessOptions(n_boot=200, seed=1))


def test_every_field_is_measured_decided_and_aggregated(result, batch):
    assert [f.spec.name for f in result.fields] == ["sentiment", "emotions", "valence"]
    sentiment = result.fields[0]
    part = batch[batch.field == "sentiment"][["item", "annotator", "value"]]
    expected = krippendorff_alpha(part, categories=["negative", "neutral", "positive"]).value
    assert sentiment.agreement.primary.value == pytest.approx(expected)
    assert sentiment.decision.value == pytest.approx(expected)
    assert sentiment.decision.ci_low < expected < sentiment.decision.ci_high
    assert len(sentiment.aggregated) == 60
    assert result.verdict is max((f.decision.verdict for f in result.fields),
                                 key=[GateVerdict.ACCEPT, GateVerdict.TENTATIVE, GateVerdict.REJECT].index)


def test_the_careless_annotator_is_flagged_and_marked_simulated(result):
    flags = result.fields[0].flags
    assert [f.annotator for f in flags] == ["ann-003"]
    others = [a["gold_accuracy"] for a in result.to_dict()["fields"][0]["diagnostics"]["annotators"] if a["annotator"] != "ann-003"]
    assert flags[0].simulated and flags[0].gold_accuracy < min(others)


def test_low_agreement_items_go_to_adjudication(result):
    cases = result.fields[0].adjudications
    assert cases and all(c.agreement is None or c.agreement < 0.5 or c.reason == "tied vote" for c in cases)


def test_result_is_plain_json_without_nan(result):
    text = json.dumps(result.to_dict(), allow_nan=False)
    data = json.loads(text)
    assert data["verdict"] in ("accept", "tentative", "reject")
    assert data["options"]["n_boot"] == 200
    diag = data["fields"][0]["diagnostics"]
    assert diag["categories"] == ["negative", "neutral", "positive"]
    assert set(diag["distributions"]) == {"language", "source"}


def test_same_seed_same_numbers(batch):
    one = assess(batch, SPECS[:1], options=AssessOptions(n_boot=100, seed=4)).to_dict()
    two = assess(batch, SPECS[:1], options=AssessOptions(n_boot=100, seed=4)).to_dict()
    assert one == two


def test_fields_without_spec_are_inferred_and_declared_fields_without_data_are_reported(batch):
    part = batch[batch.field == "valence"]
    result = assess(part, [FieldSpec("sarcasm", ValueKind.NOMINAL, ("yes", "no"))], options=AssessOptions(n_boot=0))
    names = {f.spec.name: f for f in result.fields}
    assert names["valence"].spec.kind is ValueKind.INTERVAL
    assert names["sarcasm"].agreement.reason == "no judgements for this field"


def test_bad_input_is_refused(batch):
    with pytest.raises(AgreementInputError, match="lack column\\(s\\) field"):
        assess(batch.drop(columns=["field"]), SPECS)
    with pytest.raises(AgreementInputError, match="no judgements to assess"):
        assess(batch.iloc[:0], SPECS)


def test_progress_is_reported_per_field(batch):
    seen = []
    assess(batch, SPECS, options=AssessOptions(n_boot=0), on_progress=lambda step, done, total: seen.append((step, done, total)))
    assert seen == [("field sentiment", 0, 3), ("field emotions", 1, 3), ("field valence", 2, 3), ("done", 3, 3)]


def test_report_is_self_contained_and_shows_ci_verdict_and_plots(result, tmp_path):
    html_path, json_path = write_report(result.to_dict(), tmp_path / "out", title="QA report — demo")
    page = html_path.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the page must not load anything from outside"
    assert "<script" not in page
    assert page.count('data-plot="heatmap"') >= 4  # coincidence + 3 annotator pairs
    assert 'data-plot="stacked"' in page and 'data-plot="lines"' in page
    sentiment = result.fields[0].decision
    assert f"[{sentiment.ci_low:.3f}, {sentiment.ci_high:.3f}]" in page
    assert f'class="verdict {result.verdict.value}"' in page
    assert "ann-003" in page and 'class="sim"' in page
    assert json.loads(json_path.read_text(encoding="utf-8"))["verdict"] == result.verdict.value


def test_report_escapes_what_annotators_typed():
    frame = pd.DataFrame(
        {"item": [1, 1], "annotator": ["<b>x</b>", "y"], "field": ["f", "f"], "value": ["<script>", "a"]}
    )
    page = render_html(assess(frame, options=AssessOptions(n_boot=0)).to_dict())
    assert "<script>" not in page and "&lt;script&gt;" in page
