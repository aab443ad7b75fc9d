"""Voice activity detection with Silero VAD (weights ship in the ``silero-vad`` package)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol, Sequence

from backend.domain import Span

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class VadOptions:
    """Silero's knobs, in seconds; ``threshold`` is the speech probability above which a frame is speech."""

    threshold: float = 0.5
    min_speech_s: float = 0.25
    min_silence_s: float = 0.2
    speech_pad_s: float = 0.05
    max_speech_s: float = 30.0


class SpeechDetector(Protocol):
    name: str
    version: str

    def detect(self, audio: Any, options: VadOptions) -> list[Span]:
        """Speech regions of 16 kHz mono float32 ``audio``, in order, non-overlapping."""
        ...


class SileroVad:
    """Silero VAD v6; load once.

    ``mode="sequence"`` (the default) runs the package's sequence export: the same per-frame
    probabilities as the streaming model, bit for bit, from one ONNX call per 512 frames (16 s)
    instead of one per 32 ms frame, so the same regions in about a third of the time (measured on
    11 minutes: 0.6 s against 1.6 s). ``"onnx"`` and ``"jit"`` run the streaming model frame by
    frame; ``tests/ingest/test_vad.py`` checks all three give the same regions.
    """

    name = "silero-vad"
    MODES = ("sequence", "onnx", "jit")

    def __init__(self, *, mode: str = "sequence") -> None:
        from importlib.metadata import version

        import torch

        if mode not in self.MODES:
            raise ValueError(f"unknown Silero VAD mode {mode!r}; use one of {', '.join(self.MODES)}")
        threads = torch.get_num_threads()
        from silero_vad import load_silero_vad  # its import sets torch to one thread for the whole process

        torch.set_num_threads(threads)  # ... which made the diarizer's embeddings 1.8x slower: undone
        self.mode = mode
        self.model = load_silero_vad(onnx=mode == "onnx", sequence=mode == "sequence")
        self.version = f"{version('silero-vad')}-{mode}"

    def detect(self, audio: Any, options: VadOptions = VadOptions()) -> list[Span]:
        import numpy as np

        samples = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        knobs = dict(
            threshold=options.threshold,
            sampling_rate=SAMPLE_RATE,
            min_speech_duration_ms=int(options.min_speech_s * 1000),
            min_silence_duration_ms=int(options.min_silence_s * 1000),
            speech_pad_ms=int(options.speech_pad_s * 1000),
            max_speech_duration_s=options.max_speech_s,
        )
        if self.mode == "sequence":
            from silero_vad import get_speech_timestamps_sequence

            found = get_speech_timestamps_sequence(samples, self.model, **knobs)
        else:
            import torch
            from silero_vad import get_speech_timestamps

            self.model.reset_states()
            found = get_speech_timestamps(torch.from_numpy(samples), self.model, **knobs)
        return [Span(f["start"] / SAMPLE_RATE, f["end"] / SAMPLE_RATE) for f in found if f["end"] > f["start"]]


def options_dict(options: VadOptions) -> dict[str, Any]:
    return asdict(options)


def total_speech(regions: Sequence[Span]) -> float:
    """Seconds of speech in ``regions``."""
    return sum(r.duration for r in regions)
