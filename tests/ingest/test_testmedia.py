"""ingest.testmedia: deterministic dialogues whose truth files agree with each other."""

from __future__ import annotations

import json

from ingest import testmedia


def test_same_spec_gives_the_same_bytes(tmp_path, dialogues):
    again = testmedia.generate(testmedia.EN, tmp_path)
    assert again.media_path.read_bytes() == dialogues["en"].media_path.read_bytes()
    assert again.rttm_path.read_text() == dialogues["en"].rttm_path.read_text()


def test_sidecar_lines_carry_text_labels_and_match_the_rttm(dialogues):
    for lang, made in dialogues.items():
        sidecar = json.loads(made.sidecar_path.read_text())
        assert sidecar["language"] == lang and sidecar["licence"] == "CC0-1.0"
        rttm = [line.split() for line in made.rttm_path.read_text().splitlines()]
        assert len(rttm) == len(sidecar["lines"]) >= 6
        previous_end = 0.0
        for line, row in zip(sidecar["lines"], rttm):
            assert line["sentiment"] in testmedia.SENTIMENTS and line["emotion"] in testmedia.EMOTIONS
            assert line["text"] and line["language"] == lang
            assert float(row[3]) == line["start"] and row[7] == line["speaker"]
            assert line["start"] > previous_end and line["end"] > line["start"]
            previous_end = line["end"]
        assert 15.0 <= made.duration_s <= 40.0
        assert len({line["speaker"] for line in sidecar["lines"]}) >= 2
