"""Speaker diarization behind one interface.

- ``EmbeddingDiarizer`` (offline default): Silero speech regions → 1.6 s sliding windows →
  resemblyzer d-vectors computed in one batch → agglomerative clustering (speaker count
  given, or estimated by silhouette) → centroid re-assignment → 10 ms frame voting →
  turns; turns shorter than ``min_turn_s`` are absorbed by their neighbour, and windows
  close to two speakers can be emitted as overlapped speech.
- ``PyannoteDiarizer``: pyannote.audio's ``SpeakerDiarization`` pipeline from a local folder
  (``config.yaml`` + checkpoints), the production option when the user has its weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol, Sequence

from backend.domain import Diarization, Progress, Span, SpeakerCountHint, SpeakerTurn, ValidationError

SAMPLE_RATE = 16_000
FRAME_S = 0.01


@dataclass(frozen=True)
class DiarizeOptions:
    """``num_speakers`` fixes the count; otherwise it is estimated within [min_speakers, max_speakers]."""

    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int = 6
    step_s: float = 0.4
    min_turn_s: float = 0.4
    single_speaker_silhouette: float = 0.12
    single_speaker_similarity: float = 0.85
    overlap: bool = False
    overlap_margin: float = 0.03

    def __post_init__(self) -> None:
        if self.num_speakers is not None and self.num_speakers < 1:
            raise ValidationError(f"num_speakers must be >= 1, got {self.num_speakers}")
        if not 1 <= self.min_speakers <= self.max_speakers:
            raise ValidationError(
                f"need 1 <= min_speakers <= max_speakers, got {self.min_speakers} and {self.max_speakers}"
            )

    def with_hint(self, hint: SpeakerCountHint) -> "DiarizeOptions":
        """These options with a user's speaker-count hint applied (a fixed count, or bounds).

        A lower bound above the default upper bound raises that bound with it, so "at least 8"
        alone is a valid hint.

        >>> DiarizeOptions().with_hint(SpeakerCountHint(min_speakers=8)).max_speakers
        8
        """
        if hint.num_speakers is not None:
            return replace(self, num_speakers=hint.num_speakers)
        low = hint.min_speakers if hint.min_speakers is not None else self.min_speakers
        high = hint.max_speakers if hint.max_speakers is not None else max(self.max_speakers, low)
        if low > high:  # an upper bound under the default lower one
            low = high
        return replace(self, min_speakers=low, max_speakers=high)


class Diarizer(Protocol):
    name: str
    version: str

    def diarize(self, audio: Any, regions: Sequence[Span], options: DiarizeOptions,
                on_progress: Progress | None = None) -> Diarization:
        """Who spoke when in 16 kHz mono float32 ``audio``, within the speech ``regions``."""
        ...


def estimate_clusters(embeddings: Any, options: DiarizeOptions) -> Any:
    """Cluster labels (0..k-1) for L2-normalised ``embeddings`` [n, d]; k given or chosen by silhouette."""
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist, squareform

    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=int)
    if n == 1 or options.num_speakers == 1:
        return np.zeros(n, dtype=int)
    distances = pdist(embeddings, metric="cosine")
    tree = linkage(distances, method="average")
    if options.num_speakers is not None:
        return fcluster(tree, t=min(options.num_speakers, n), criterion="maxclust") - 1
    square = squareform(distances)
    if options.min_speakers <= 1:  # one voice when even the best two-way split has near-identical centroids
        halves = fcluster(tree, t=2, criterion="maxclust") - 1
        if len(set(halves.tolist())) == 2:
            a, b = (embeddings[halves == c].mean(0) for c in (0, 1))
            if float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) > options.single_speaker_similarity:
                return np.zeros(n, dtype=int)
    best_k, best_score, best = 1, -1.0, np.zeros(n, dtype=int)
    for k in range(max(2, options.min_speakers), min(options.max_speakers, n - 1) + 1):
        labels = fcluster(tree, t=k, criterion="maxclust") - 1
        if len(set(labels)) < 2:
            continue
        score = _silhouette(square, labels)
        if score > best_score:
            best_k, best_score, best = k, score, labels
    if options.min_speakers <= 1 and best_score < options.single_speaker_silhouette:
        return np.zeros(n, dtype=int)
    del best_k
    return best


def _silhouette(square: Any, labels: Any) -> float:
    import numpy as np

    scores = []
    for i in range(len(labels)):
        same = labels == labels[i]
        same[i] = False
        if not same.any():
            scores.append(0.0)
            continue
        a = square[i, same].mean()
        b = min(square[i, labels == other].mean() for other in set(labels.tolist()) if other != labels[i])
        scores.append((b - a) / max(a, b, 1e-9))
    return float(np.mean(scores))


class EmbeddingDiarizer:
    """Offline default: resemblyzer speaker embeddings over sliding windows, clustered."""

    name = "resemblyzer-cluster"

    def __init__(self, device: str = "cpu") -> None:
        from importlib.metadata import version

        from resemblyzer import VoiceEncoder

        self.encoder = VoiceEncoder(device=device, verbose=False)
        self.version = f"resemblyzer {version('resemblyzer')}"

    def _windows(self, regions: Sequence[Span], n_frames: int, step_s: float) -> list[tuple[int, Span]]:
        """(first mel frame, span it stands for) of every 1.6 s window, one or more per region."""
        width = 160  # resemblyzer's partial utterance: 160 frames of 10 ms
        step = max(1, int(round(step_s / FRAME_S)))
        out: list[tuple[int, Span]] = []
        for region in regions:
            first, last = int(region.start / FRAME_S), int(region.end / FRAME_S)
            if last - first <= width:
                centre = (first + last) // 2
                begin = min(max(0, centre - width // 2), max(0, n_frames - width))
                out.append((begin, region))
                continue
            starts = list(range(first, last - width + 1, step))
            if starts[-1] != last - width:
                starts.append(last - width)
            for begin in starts:
                out.append((begin, Span(begin * FRAME_S, (begin + width) * FRAME_S)))
        return out

    def embed(self, audio: Any, regions: Sequence[Span], step_s: float) -> tuple[list[Span], Any]:
        """Window spans and their L2-normalised embeddings [n, 256], computed as one batch."""
        import numpy as np
        import torch

        mel = mel_frames(audio)
        if len(mel) < 160:
            mel = np.pad(mel, ((0, 160 - len(mel)), (0, 0)))
        windows = self._windows(regions, len(mel), step_s)
        if not windows:
            return [], np.zeros((0, 256), dtype=np.float32)
        batch = np.stack([mel[b : b + 160] for b, _ in windows])
        with torch.inference_mode():
            out = []
            for i in range(0, len(batch), 256):
                chunk = torch.from_numpy(batch[i : i + 256]).to(self.encoder.device)
                out.append(self.encoder(chunk).cpu().numpy())
        return [span for _, span in windows], np.concatenate(out)

    def diarize(self, audio: Any, regions: Sequence[Span], options: DiarizeOptions = DiarizeOptions(),
                on_progress: Progress | None = None) -> Diarization:
        import numpy as np

        regions = sorted(regions)
        spans, embeddings = self.embed(audio, regions, options.step_s)
        if on_progress:
            on_progress("diarize", 1, 2)
        labels = estimate_clusters(embeddings, options)
        k = int(labels.max()) + 1 if len(labels) else 0
        if k > 1:  # re-assign every window to its nearest centroid (one k-means step)
            centroids = np.stack([embeddings[labels == c].mean(0) for c in range(k)])
            centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
            labels = (embeddings @ centroids.T).argmax(1)
        else:
            centroids = embeddings.mean(0, keepdims=True) if len(embeddings) else np.zeros((1, 256))
            centroids /= max(np.linalg.norm(centroids), 1e-9)
        similarity = embeddings @ centroids.T if len(embeddings) else np.zeros((0, 1))
        turns = frame_turns(regions, spans, similarity, options)
        names = _speaker_names(turns)
        turns = [SpeakerTurn(t.start, t.end, names[t.speaker], t.confidence) for t in turns]
        if on_progress:
            on_progress("diarize", 2, 2)
        return Diarization(tuple(turns), len(names), self.name, asdict(options))


def mel_frames(audio: Any) -> Any:
    """resemblyzer's input features [frames, 40] (power mel, 25 ms Hann window, 10 ms hop, Slaney scale).

    Computed with torch instead of resemblyzer's librosa call, whose numba compilation costs
    15-90 s on first use; equal to it within float tolerance.
    """
    import numpy as np
    import torch
    from torchaudio.functional import melscale_fbanks

    wav = torch.from_numpy(np.asarray(audio, dtype=np.float32))
    spec = torch.stft(wav, n_fft=400, hop_length=160, window=torch.hann_window(400), center=True,
                      pad_mode="constant", return_complex=True).abs().pow(2)  # [201, frames]
    banks = melscale_fbanks(201, 0.0, SAMPLE_RATE / 2, 40, SAMPLE_RATE, norm="slaney", mel_scale="slaney")
    return (banks.T @ spec).T.contiguous().numpy()


def frame_turns(regions: Sequence[Span], spans: Sequence[Span], similarity: Any,
                options: DiarizeOptions) -> list[SpeakerTurn]:
    """Speaker turns from window-to-centroid ``similarity`` [n_windows, k] by 10 ms frame voting.

    Every frame of a region takes the speaker whose windows covering it are most similar in
    total; runs shorter than ``min_turn_s`` join the neighbour they touch. With
    ``options.overlap``, frames whose two best speakers are within ``overlap_margin`` also
    yield a turn for the second speaker.
    """
    import numpy as np

    turns: list[SpeakerTurn] = []
    if not len(spans):
        return turns
    k = similarity.shape[1]
    starts = np.array([s.start for s in spans])
    ends = np.array([s.end for s in spans])
    centres = (starts + ends) / 2
    for region in regions:
        n = max(1, int(round(region.duration / FRAME_S)))
        times = region.start + (np.arange(n) + 0.5) * FRAME_S
        covering = (starts[None, :] <= times[:, None]) & (ends[None, :] > times[:, None])
        votes = covering.astype(float) @ similarity  # [n, k]
        empty = ~covering.any(1)
        if empty.any():
            nearest = np.abs(centres[None, :] - times[empty][:, None]).argmin(1)
            votes[empty] = similarity[nearest]
        counts = np.maximum(covering.sum(1, keepdims=True), 1)
        mean_sim = votes / counts
        frame_label = votes.argmax(1)
        runs = _runs(frame_label)
        runs = _absorb_short(runs, int(round(options.min_turn_s / FRAME_S)))
        for label, a, b in runs:
            conf = float(np.clip(mean_sim[a:b, label].mean(), 0.0, 1.0))
            turns.append(SpeakerTurn(round(region.start + a * FRAME_S, 3),
                                     round(min(region.end, region.start + b * FRAME_S), 3), str(label), conf))
        if options.overlap and k > 1:
            ordered = np.sort(mean_sim, axis=1)
            second = np.argsort(mean_sim, axis=1)[:, -2]
            close = (ordered[:, -1] - ordered[:, -2]) < options.overlap_margin
            for label, a, b in _runs(np.where(close, second, -1)):
                if label >= 0 and (b - a) * FRAME_S >= options.min_turn_s:
                    turns.append(SpeakerTurn(round(region.start + a * FRAME_S, 3),
                                             round(region.start + b * FRAME_S, 3), str(label),
                                             float(ordered[a:b, -2].mean())))
    turns.sort(key=lambda t: (t.start, t.end))
    return [t for t in turns if t.end > t.start]


def _runs(labels: Any) -> list[tuple[int, int, int]]:
    runs: list[tuple[int, int, int]] = []
    for i, label in enumerate(labels.tolist()):
        if runs and runs[-1][0] == label:
            runs[-1] = (label, runs[-1][1], i + 1)
        else:
            runs.append((label, i, i + 1))
    return runs


def _absorb_short(runs: list[tuple[int, int, int]], min_frames: int) -> list[tuple[int, int, int]]:
    """Give each run shorter than ``min_frames`` to its longer neighbour, shortest first."""
    runs = list(runs)
    while len(runs) > 1:
        short = [i for i, (_, a, b) in enumerate(runs) if b - a < min_frames]
        if not short:
            break
        i = min(short, key=lambda j: runs[j][2] - runs[j][1])
        left = runs[i - 1] if i > 0 else None
        right = runs[i + 1] if i + 1 < len(runs) else None
        target = max((r for r in (left, right) if r is not None), key=lambda r: r[2] - r[1])
        label = target[0]
        runs[i] = (label, runs[i][1], runs[i][2])
        merged: list[tuple[int, int, int]] = []
        for run in runs:
            if merged and merged[-1][0] == run[0]:
                merged[-1] = (run[0], merged[-1][1], run[2])
            else:
                merged.append(run)
        runs = merged
    return runs


def _speaker_names(turns: Sequence[SpeakerTurn]) -> dict[str, str]:
    names: dict[str, str] = {}
    for turn in sorted(turns, key=lambda t: t.start):
        names.setdefault(turn.speaker, f"SPEAKER_{len(names):02d}")
    return names


class PyannoteDiarizer:
    """pyannote.audio's speaker-diarization pipeline, loaded from a local folder (``config.yaml``)."""

    name = "pyannote"

    def __init__(self, folder: Path | str, device: str = "cpu") -> None:
        import os
        from importlib.metadata import version

        os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
        folder = Path(folder)
        if not (folder / "config.yaml").is_file():
            raise ValidationError(
                f"{folder} has no config.yaml; give the local folder of a pyannote speaker-diarization pipeline"
            )
        import torch
        from pyannote.audio import Pipeline

        pipeline = Pipeline.from_pretrained(folder)
        if pipeline is None:
            raise ValidationError(f"pyannote could not load the pipeline in {folder}")
        self.pipeline = pipeline.to(torch.device(device))
        self.name = f"pyannote:{folder.name}"
        self.version = f"pyannote.audio {version('pyannote.audio')}"

    def diarize(self, audio: Any, regions: Sequence[Span], options: DiarizeOptions = DiarizeOptions(),
                on_progress: Progress | None = None) -> Diarization:
        import numpy as np
        import torch

        waveform = torch.from_numpy(np.asarray(audio, dtype=np.float32)).unsqueeze(0)
        kwargs: dict[str, Any] = {}
        if options.num_speakers is not None:
            kwargs["num_speakers"] = options.num_speakers
        else:
            kwargs["min_speakers"], kwargs["max_speakers"] = options.min_speakers, options.max_speakers
        hook = (lambda step, *a, completed=None, total=None, **k: on_progress(  # noqa: E731
            f"diarize:{step}", int(completed or 0), int(total or 0))) if on_progress else None
        out = self.pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE}, hook=hook, **kwargs)
        annotation = getattr(out, "speaker_diarization", out)
        duration = len(audio) / SAMPLE_RATE  # pyannote pads the last chunk; keep turns inside the audio
        raw = [SpeakerTurn(round(seg.start, 3), round(min(seg.end, duration), 3), str(label))
               for seg, _, label in annotation.itertracks(yield_label=True) if min(seg.end, duration) > seg.start]
        names = _speaker_names(raw)
        turns = tuple(SpeakerTurn(t.start, t.end, names[t.speaker]) for t in raw)
        return Diarization(turns, len(names), self.name, asdict(options))
