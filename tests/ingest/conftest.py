"""Session-wide speech fixtures: the generated dialogues and each model, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import media, testmedia


@pytest.fixture(scope="session")
def dialogues(tmp_path_factory: pytest.TempPathFactory) -> dict[str, testmedia.GeneratedDialogue]:
    """The five demo dialogues (en, ta with video, ml, bn, zh) with their RTTM and JSON truth."""
    out = tmp_path_factory.mktemp("dialogues")
    return {spec.language: testmedia.generate(spec, out) for spec in testmedia.DEMO_SET}


@pytest.fixture(scope="session")
def prepared_audio(dialogues, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each dialogue's 16 kHz mono WAV as the prepare stage extracts it."""
    out = tmp_path_factory.mktemp("prepared")
    return {lang: media.extract_audio(d.media_path, out / f"{lang}.wav") for lang, d in dialogues.items()}


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def vad():
    from ingest.vad import SileroVad

    return SileroVad()


@pytest.fixture(scope="session")
def whisper_base(models_dir: Path):
    """faster-whisper with the packaged multilingual Whisper base, int8 on the CPU."""
    from ingest.asr import ModelSpec, load_recognizer
    from ingest.whisper_weights import ensure_ct2_base

    return load_recognizer(ModelSpec(backend="faster-whisper", model=str(ensure_ct2_base(models_dir)),
                                     compute_type="int8", cpu_threads=2))


@pytest.fixture(scope="session")
def diarizer():
    from ingest.diarize import EmbeddingDiarizer

    return EmbeddingDiarizer()


def read_truth(rttm: Path):
    """An RTTM file as a pyannote Annotation."""
    from pyannote.core import Annotation, Segment

    ref = Annotation()
    for line in rttm.read_text().splitlines():
        parts = line.split()
        start, dur = float(parts[3]), float(parts[4])
        ref[Segment(start, start + dur)] = parts[7]
    return ref
