"""ingest.diarize.PyannoteDiarizer: pyannote.audio's real pipeline code, with models the test builds."""

from __future__ import annotations

import pytest

from backend.domain import ValidationError
from ingest import media
from ingest.diarize import DiarizeOptions, PyannoteDiarizer

from .pyannote_models import build_random_pipeline


def test_pyannote_pipeline_loads_from_a_local_folder_and_diarizes(tmp_path, prepared_audio, vad):
    folder = build_random_pipeline(tmp_path / "pipeline")
    diarizer = PyannoteDiarizer(folder)
    audio = media.load_audio(prepared_audio["zh"])
    result = diarizer.diarize(audio, vad.detect(audio), DiarizeOptions(max_speakers=3))
    # random weights: the labels mean nothing, but the turns must be well-formed and inside the audio
    assert result.model.startswith("pyannote:") and diarizer.version.startswith("pyannote.audio 4.")
    assert result.turns and result.num_speakers == len({t.speaker for t in result.turns}) >= 1
    assert all(0.0 <= t.start < t.end <= len(audio) / 16000 + 0.1 for t in result.turns)


def test_a_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="has no config.yaml; give the local folder of a pyannote"):
        PyannoteDiarizer(tmp_path)


def test_speaker_count_hints_reach_the_pyannote_pipeline(tmp_path, prepared_audio, vad):
    """A hint becomes pyannote's own num_speakers / min_speakers / max_speakers arguments (the real pipeline
    is called; a wrapper records what it was given)."""
    from backend.domain import SpeakerCountHint

    diarizer = PyannoteDiarizer(build_random_pipeline(tmp_path / "pipeline"))
    real, given = diarizer.pipeline, []

    def recording(*args, **kwargs):
        given.append({k: v for k, v in kwargs.items() if k.endswith("speakers")})
        return real(*args, **kwargs)

    diarizer.pipeline = recording
    audio = media.load_audio(prepared_audio["zh"])[: 16000 * 12]
    fixed = diarizer.diarize(audio, vad.detect(audio), DiarizeOptions().with_hint(SpeakerCountHint(num_speakers=2)))
    diarizer.diarize(audio, vad.detect(audio), DiarizeOptions().with_hint(SpeakerCountHint(min_speakers=2, max_speakers=3)))
    assert given == [{"num_speakers": 2}, {"min_speakers": 2, "max_speakers": 3}]
    assert fixed.num_speakers <= 2 and fixed.options["num_speakers"] == 2
