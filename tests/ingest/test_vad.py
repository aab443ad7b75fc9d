"""Silero VAD: the sequence export gives the streaming model's regions, on real speech and on noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest import media
from ingest.vad import SileroVad, VadOptions, total_speech


@pytest.fixture(scope="module")
def streaming_vads():
    return {"onnx": SileroVad(mode="onnx"), "jit": SileroVad(mode="jit")}


@pytest.fixture(scope="module")
def noisy_dialogue(prepared_audio) -> np.ndarray:
    """The English demo dialogue twice over, in noise at about 10 dB SNR (fixed seed), with 2 s of silence
    between: longer than one 512-frame block, so the state crosses block edges."""
    speech = media.load_audio(prepared_audio["en"])
    rng = np.random.default_rng(7)
    joined = np.concatenate([speech, np.zeros(32_000, np.float32), speech])
    noise = rng.normal(0.0, 1.0, len(joined)).astype(np.float32)
    noise *= np.sqrt(np.mean(speech ** 2) / 10.0)
    return (joined + noise).astype(np.float32)


@pytest.mark.parametrize("language", ["en", "ta", "zh"])
def test_sequence_mode_finds_the_streaming_regions(vad, streaming_vads, prepared_audio, language):
    audio = media.load_audio(prepared_audio[language])
    found = vad.detect(audio)
    assert vad.mode == "sequence" and vad.version.endswith("-sequence")
    assert found and total_speech(found) > 5.0
    for other in streaming_vads.values():
        assert other.detect(audio) == found


def test_sequence_mode_matches_in_noise_and_across_blocks(vad, streaming_vads, noisy_dialogue):
    options = VadOptions(threshold=0.4, min_silence_s=0.3, max_speech_s=8.0)
    found = vad.detect(noisy_dialogue, options)
    assert len(noisy_dialogue) / 16_000 > 16.4 * 3  # more than three of the sequence model's blocks
    assert found == streaming_vads["onnx"].detect(noisy_dialogue, options)
    assert max(r.duration for r in found) <= 8.0 + 2 * options.speech_pad_s


def test_silence_and_scraps_have_no_speech(vad):
    for samples in (0, 100, 512, 16_000):
        assert vad.detect(np.zeros(samples, np.float32)) == []


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="sequence, onnx, jit"):
        SileroVad(mode="fast")


def test_loading_silero_leaves_torchs_thread_count_alone():
    """silero_vad's import sets torch to one thread process-wide; the diarizer's embeddings would pay for it."""
    import subprocess
    import sys

    code = ("import torch; torch.set_num_threads(2); from ingest.vad import SileroVad; SileroVad(); "
            "print(torch.get_num_threads())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.split()[-1] == "2"
