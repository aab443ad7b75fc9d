"""Speaker diarization behind one interface.

- ``EmbeddingDiarizer`` (offline default): Silero speech regions → 1.6 s sliding windows →
  resemblyzer d-vectors computed in one batch → auto-tuned spectral clustering (NME-SC, Park
  et al. 2019: the speaker count from the largest normalised eigengap of a pruned affinity
  graph, given or bounded by hints) → clusters with too little speech merged into their most
  similar speaker → centroid re-assignment → 10 ms frame voting → turns; turns shorter than
  ``min_turn_s`` are absorbed by their neighbour, turn edges and pauses are trimmed to the
  voiced energy, and windows close to two speakers can be emitted as overlapped speech.
  Measured on held-out speech it never tuned on: ``benchmarks/diarization.py`` (decision 19).
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
WINDOW_S = 1.6  # resemblyzer's partial utterance: 160 frames of 10 ms


@dataclass(frozen=True)
class DiarizeOptions:
    """``num_speakers`` fixes the count; otherwise it is estimated within [min_speakers, max_speakers]."""

    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int = 6
    step_s: float = 0.4
    max_windows: int = 600  # long recordings step further between windows, so clustering stays cheap
    min_turn_s: float = 0.4
    single_speaker_similarity: float = 0.85
    max_neighbour_fraction: float = 0.15  # NME-SC: the largest share of windows a window keeps as neighbours
    min_speaker_s: float = 2.0  # an estimated speaker with less speech is merged into the most similar one
    edge_drop_db: float = 30.0  # turn frames this far below the turn's loud frames are not speech
    min_pause_s: float = 0.3  # a quiet stretch this long inside a turn splits it
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


def estimate_clusters(embeddings: Any, options: DiarizeOptions, support_s: Any = None,
                      neighbours_in_time: int = 0) -> Any:
    """Cluster labels (0..k-1) for L2-normalised ``embeddings`` [n, d]; k given, or estimated within bounds.

    One voice is recognised first (when the bounds allow one): the best two-way split has
    near-identical halves. Otherwise NME-SC picks the graph pruning and the speaker count
    together, spectral k-means assigns the windows, and, when the count was estimated, a
    cluster whose windows cover less than ``min_speaker_s`` of speech (``support_s[i]``:
    seconds window i stands for) is a short turn, not a speaker: it joins the most similar
    remaining cluster. ``neighbours_in_time`` is how many windows overlap each window in time.
    """
    import numpy as np

    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=int)
    if n == 1 or options.num_speakers == 1 or options.max_speakers == 1:
        return np.zeros(n, dtype=int)
    if options.num_speakers is None and options.min_speakers <= 1 and _one_voice(embeddings, options):
        return np.zeros(n, dtype=int)
    low = min(max(options.min_speakers, 2), n - 1)
    high = max(low, min(options.max_speakers, n - 1))
    if options.num_speakers is not None:
        low = high = min(options.num_speakers, n - 1)
    k, vectors = nme_spectral(embeddings, low, high, options.max_neighbour_fraction, options.num_speakers,
                              min_neighbours=neighbours_in_time + 1)
    labels = spectral_kmeans(vectors[:, :k], k)
    if options.num_speakers is None and support_s is not None:
        labels = merge_small_clusters(embeddings, labels, np.asarray(support_s, dtype=float),
                                      options.min_speaker_s, max(options.min_speakers, 1))
    return labels


def _one_voice(embeddings: Any, options: DiarizeOptions) -> bool:
    """Whether the best two-way split (average-linkage) has near-identical centroids."""
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    halves = fcluster(linkage(pdist(embeddings, metric="cosine"), method="average"), t=2, criterion="maxclust") - 1
    if len(set(halves.tolist())) < 2:
        return True
    a, b = (embeddings[halves == c].mean(0) for c in (0, 1))
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) > options.single_speaker_similarity


def nme_spectral(embeddings: Any, low: int, high: int, max_fraction: float,
                 fixed: int | None = None, min_neighbours: int = 2) -> tuple[int, Any]:
    """NME-SC: for each pruning p (keep each window's p most similar windows), the Laplacian's largest
    eigengap among k in [low, high], normalised by its largest eigenvalue; the p with the smallest
    ``(p / n) / gap`` wins. Returns k (``fixed`` when given) and that graph's eigenvectors, smallest first.

    ``min_neighbours`` is the smallest p tried: sliding windows overlap their neighbours in time
    and are near-copies of them, so a graph keeping fewer neighbours than that falls apart into
    stretches of time, not speakers.
    """
    import numpy as np
    from scipy.linalg import eigh

    n = len(embeddings)
    similarity = np.clip(embeddings @ embeddings.T, -1.0, 1.0)
    order = np.argsort(-similarity, axis=1, kind="stable")
    first = min(max(2, min_neighbours), n - 1)
    top = min(n - 1, max(first + 1, int(n * max_fraction)))
    grid = sorted(set(np.linspace(first, top, num=min(20, top - first + 1)).astype(int).tolist()))
    def laplacian(p: int) -> Any:
        graph = np.zeros((n, n))
        graph[np.repeat(np.arange(n), p), order[:, :p].reshape(-1)] = 1.0
        graph = 0.5 * (graph + graph.T)
        return np.diag(graph.sum(1)) - graph

    best: tuple[float, int, Any] | None = None
    for p in grid:  # only the eigenvalues that matter: the high+1 smallest and the largest
        matrix = laplacian(p)
        values = eigh(matrix, eigvals_only=True, subset_by_index=[0, high], driver="evr")
        largest = float(eigh(matrix, eigvals_only=True, subset_by_index=[n - 1, n - 1], driver="evr")[0])
        gaps = np.diff(values)[low - 1 : high]
        ratio = (p / n) / (float(gaps.max()) / (largest + 1e-10) + 1e-10)
        if best is None or ratio < best[0]:
            best = (ratio, p, values)
    assert best is not None
    _, chosen, values = best
    _, vectors = eigh(laplacian(chosen), subset_by_index=[0, high], driver="evr")
    if fixed is not None:
        return min(fixed, n), vectors
    gaps = np.diff(values)[low - 1 : high]
    return low + int(np.argmax(gaps)), vectors


def spectral_kmeans(vectors: Any, k: int, restarts: int = 5) -> Any:
    """k-means (k-means++ starts, fixed seeds: the same input gives the same labels) on row-normalised
    spectral vectors; labels renumbered 0..k'-1 in order of first appearance."""
    import numpy as np
    from scipy.cluster.vq import kmeans2

    if k <= 1:
        return np.zeros(len(vectors), dtype=int)
    points = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    best: tuple[float, Any] | None = None
    for seed in range(restarts):
        centres, labels = kmeans2(points, k, minit="++", seed=seed)
        inertia = float(((points - centres[labels]) ** 2).sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels)
    assert best is not None
    return _renumber(best[1])


def merge_small_clusters(embeddings: Any, labels: Any, support_s: Any, min_speaker_s: float, keep_at_least: int) -> Any:
    """Clusters covering less than ``min_speaker_s`` of speech join their most similar cluster, smallest first,
    while more than ``keep_at_least`` clusters remain."""
    import numpy as np

    labels = labels.copy()
    while True:
        present = sorted(set(labels.tolist()))
        if len(present) <= keep_at_least:
            break
        speech = {c: float(support_s[labels == c].sum()) for c in present}
        small = min(present, key=lambda c: speech[c])
        if speech[small] >= min_speaker_s:
            break
        centroids = {c: embeddings[labels == c].mean(0) for c in present}
        others = [c for c in present if c != small]
        target = max(others, key=lambda c: float(centroids[small] @ centroids[c]
                                                 / (np.linalg.norm(centroids[small]) * np.linalg.norm(centroids[c]))))
        labels[labels == small] = target
    return _renumber(labels)


def _renumber(labels: Any) -> Any:
    import numpy as np

    mapping: dict[int, int] = {}
    for label in labels.tolist():
        mapping.setdefault(label, len(mapping))
    return np.array([mapping[label] for label in labels.tolist()], dtype=int)


def window_support(spans: Sequence[Span], regions: Sequence[Span]) -> Any:
    """Seconds of speech each window stands for: its span within the speech regions, shared equally with
    the windows overlapping it (so the supports add up to the speech the windows cover)."""
    import numpy as np

    if not spans:
        return np.zeros(0)
    end = max(max(s.end for s in spans), max((r.end for r in regions), default=0.0))
    n = int(np.ceil(end / FRAME_S)) + 1
    speech = np.zeros(n, dtype=bool)
    for region in regions:
        speech[int(region.start / FRAME_S) : int(np.ceil(region.end / FRAME_S))] = True
    cover = np.zeros(n)
    bounds = [(int(s.start / FRAME_S), int(np.ceil(s.end / FRAME_S))) for s in spans]
    for a, b in bounds:
        cover[a:b] += 1
    share = np.where(speech & (cover > 0), 1.0 / np.maximum(cover, 1), 0.0)
    return np.array([share[a:b].sum() * FRAME_S for a, b in bounds])


class EmbeddingDiarizer:
    """Offline default: resemblyzer speaker embeddings over sliding windows, clustered."""

    name = "resemblyzer-nmesc"

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
        speech_s = sum(r.duration for r in regions)
        step_s = max(options.step_s, speech_s / max(options.max_windows, 1))
        spans, embeddings = self.embed(audio, regions, step_s)
        if on_progress:
            on_progress("diarize", 1, 2)
        overlapping = 2 * int(WINDOW_S / step_s)  # windows sharing time with each window
        labels = estimate_clusters(embeddings, options, window_support(spans, regions), overlapping)
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
        turns = trim_to_voice(turns, frame_energy_db(audio), options.edge_drop_db, options.min_pause_s)
        names = _speaker_names(turns)
        turns = [SpeakerTurn(t.start, t.end, names[t.speaker], t.confidence) for t in turns]
        if on_progress:
            on_progress("diarize", 2, 2)
        return Diarization(tuple(turns), len(names), self.name, asdict(options))


def frame_energy_db(audio: Any) -> Any:
    """Energy of every 10 ms frame (25 ms window), in dB.

    A 400-sample window at a 160-sample hop is five 80-sample blocks, so the squares are summed
    once per block and each window adds five block sums (linear time; the sliding-window mean
    this replaces took 0.5 s on 11 minutes).
    """
    import numpy as np

    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    hop, width, block = int(SAMPLE_RATE * FRAME_S), 400, 80
    count = len(samples) // hop
    if count == 0:
        return np.zeros(0)
    blocks_needed = 2 * (count - 1) + width // block
    padded = np.zeros(blocks_needed * block, dtype=np.float64)
    used = min(len(samples), len(padded))
    padded[:used] = samples[:used]
    sums = np.square(padded).reshape(-1, block).sum(1)
    windows = sum(sums[k : k + 2 * count - 1 : 2] for k in range(width // block))
    return 10.0 * np.log10(windows / width + 1e-12)


def trim_to_voice(turns: Sequence[SpeakerTurn], energy_db: Any, drop_db: float, min_pause_s: float) -> list[SpeakerTurn]:
    """Each turn cut to its voiced frames: frames more than ``drop_db`` below the turn's loud frames
    (95th percentile) are trimmed from its edges, and a quiet stretch of ``min_pause_s`` or more
    inside it splits it. VAD regions carry padding and bridge short pauses for the ASR's sake;
    speaker turns should not. In noise the quiet frames are not that quiet, and nothing is cut.
    """
    import numpy as np

    out: list[SpeakerTurn] = []
    longest_gap = max(1, int(round(min_pause_s / FRAME_S)))
    for turn in turns:
        a, b = int(round(turn.start / FRAME_S)), min(int(round(turn.end / FRAME_S)), len(energy_db))
        frames = energy_db[a:b]
        if len(frames) < 5:
            out.append(turn)
            continue
        loud = np.flatnonzero(frames > np.percentile(frames, 95) - drop_db)
        if not len(loud):
            out.append(turn)
            continue
        pieces, first, previous = [], int(loud[0]), int(loud[0])
        for index in loud[1:].tolist():
            if index - previous > longest_gap:
                pieces.append((first, previous + 1))
                first = index
            previous = index
        pieces.append((first, previous + 1))
        for begin, end in pieces:
            start = round(max(turn.start, (a + begin) * FRAME_S), 3)
            stop = round(min(turn.end, (a + end) * FRAME_S), 3)
            if stop > start:
                out.append(SpeakerTurn(start, stop, turn.speaker, turn.confidence))
    return out


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
