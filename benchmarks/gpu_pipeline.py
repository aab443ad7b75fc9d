"""Whole speech pipeline throughput on one CUDA GPU vs bare batched Whisper on the same GPU.

Self-contained (torch + transformers + numpy + soundfile only; what the lent GPU machine has),
so it runs where faster-whisper/CTranslate2 cannot (see ../shared/notes/speech-models.md).
Speed depends on the architecture, not the weight values, so models are random-weight:
Whisper ``large-v3`` (or ``base``) shapes in fp16, and a resemblyzer-shaped speaker encoder
(3-layer LSTM, 256 units, 40 mel bins, 1.6 s windows).

Pipeline, overlapped rather than serial per window:
- a CPU thread loads audio, runs the energy VAD and cuts 30 s windows for the next batch while
  the GPU decodes the current one;
- log-mel features on the GPU; Whisper ``generate`` fp16 greedy on batches of windows;
- speaker embeddings for every 1.6 s window of the batch in one call on a second CUDA stream,
  clustering on the CPU thread pool;
- clip WAVs written by a thread pool.
Bare: the same windows, features precomputed on the GPU, only ``generate`` timed.

Usage (GPU):  python benchmarks/gpu_pipeline.py --arch large-v3 --batch 64 --minutes 60
Smoke (CPU):  python benchmarks/gpu_pipeline.py --arch tiny --device cpu --batch 2 --minutes 1
Writes --out (default benchmarks/results/speech_gpu.json, or $OUT/speech_gpu.json when $OUT is set).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SR = 16_000
ARCHS = {
    "tiny": dict(d_model=384, encoder_layers=4, decoder_layers=4, encoder_attention_heads=6,
                 decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536, num_mel_bins=80),
    "base": dict(d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                 decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048, num_mel_bins=80),
    "large-v3": dict(d_model=1280, encoder_layers=32, decoder_layers=32, encoder_attention_heads=20,
                     decoder_attention_heads=20, encoder_ffn_dim=5120, decoder_ffn_dim=5120, num_mel_bins=128,
                     vocab_size=51866),
}


def synth_files(folder: Path, minutes: float, n_files: int, seed: int = 0) -> list[Path]:
    """Speech-like test audio: voiced bursts (harmonics with a moving pitch) separated by pauses."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    paths = []
    per_file = minutes * 60 / n_files
    for i in range(n_files):
        n = int(per_file * SR)
        audio = rng.normal(0, 0.003, n).astype(np.float32)
        t = 0.5
        while t < per_file - 3:
            dur = rng.uniform(1.0, 6.0)
            a, b = int(t * SR), int(min(per_file, t + dur) * SR)
            tt = np.arange(b - a) / SR
            f0 = rng.choice([110.0, 210.0]) * (1 + 0.1 * np.sin(2 * np.pi * 3 * tt))
            phase = 2 * np.pi * np.cumsum(f0) / SR
            burst = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * tt) ** 2)
            audio[a:b] += 0.2 * burst.astype(np.float32)
            t += dur + rng.uniform(0.3, 1.5)
        path = folder / f"f{i:03d}.wav"
        sf.write(path, audio, SR, subtype="PCM_16")
        paths.append(path)
    return paths


def energy_vad(audio, frame_s: float = 0.03, threshold_db: float = -35.0, min_gap_s: float = 0.3):
    """Speech regions [(start_s, end_s)] where frame RMS is within ``threshold_db`` of the loudest frame."""
    import numpy as np

    hop = int(frame_s * SR)
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    db = 20 * np.log10(np.sqrt((frames ** 2).mean(1)) + 1e-9)
    voiced = db > db.max() + threshold_db
    regions, start = [], None
    for i, v in enumerate(voiced):
        if v and start is None:
            start = i
        elif not v and start is not None:
            regions.append([start * frame_s, i * frame_s])
            start = None
    if start is not None:
        regions.append([start * frame_s, len(voiced) * frame_s])
    merged = []
    for r in regions:
        if merged and r[0] - merged[-1][1] < min_gap_s:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    return [(a, b) for a, b in merged if b - a >= 0.25]


def windows_of(regions, max_s: float = 30.0):
    out = []
    for a, b in regions:
        if out and b - out[-1][0] <= max_s:
            out[-1] = (out[-1][0], b)
        else:
            while b - a > max_s:
                out.append((a, a + max_s))
                a += max_s
            out.append((a, b))
    return out


class SpeakerEncoder:
    """resemblyzer's architecture (3-layer LSTM 40→256, linear 256, ReLU, L2 norm), random weights."""

    def __init__(self, device: str, dtype) -> None:
        import torch

        self.lstm = torch.nn.LSTM(40, 256, 3, batch_first=True).to(device, dtype)
        self.linear = torch.nn.Linear(256, 256).to(device, dtype)
        self.device, self.dtype = device, dtype

    def mel(self, audio):
        import torch

        spec = torch.stft(audio, 400, 160, window=torch.hann_window(400, device=audio.device),
                          return_complex=True).abs().pow(2)
        banks = _mel_banks(201, 40, audio.device)
        return (banks.T @ spec).T  # [frames, 40]

    def __call__(self, windows):
        import torch

        _, (h, _) = self.lstm(windows.to(self.dtype))
        emb = torch.relu(self.linear(h[-1]))
        return emb / (emb.norm(dim=1, keepdim=True) + 1e-6)


def _mel_banks(n_freqs: int, n_mels: int, device):
    import numpy as np
    import torch

    def hz_to_mel(f):
        return 2595 * np.log10(1 + f / 700)

    mels = np.linspace(hz_to_mel(0), hz_to_mel(SR / 2), n_mels + 2)
    hz = 700 * (10 ** (mels / 2595) - 1)
    freqs = np.linspace(0, SR / 2, n_freqs)
    banks = np.zeros((n_freqs, n_mels), dtype=np.float32)
    for m in range(n_mels):
        lo, centre, hi = hz[m], hz[m + 1], hz[m + 2]
        banks[:, m] = np.maximum(0, np.minimum((freqs - lo) / (centre - lo), (hi - freqs) / (hi - centre)))
    return torch.from_numpy(banks).to(device)


def cluster(embeddings, k_max: int = 6):
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(embeddings) < 3:
        return np.zeros(len(embeddings), dtype=int)
    return fcluster(linkage(embeddings, "average", metric="cosine"), t=min(k_max, len(embeddings)),
                    criterion="maxclust") - 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHS), default="large-v3")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--new-tokens", type=int, default=100)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import numpy as np
    import soundfile as sf
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    dtype = torch.float16 if args.device.startswith("cuda") else torch.float32
    torch.manual_seed(0)
    arch = ARCHS[args.arch]
    config = WhisperConfig(**arch, max_source_positions=1500, max_target_positions=448)
    model = WhisperForConditionalGeneration(config).to(args.device, dtype).eval()
    features = WhisperFeatureExtractor(feature_size=arch["num_mel_bins"])
    encoder = SpeakerEncoder(args.device, dtype)

    work = Path(tempfile.mkdtemp(prefix="gpubench-"))
    files = synth_files(work, args.minutes, args.files)
    total_audio = args.minutes * 60
    clips_dir = work / "clips"
    clips_dir.mkdir()

    def featurize(chunks):
        return features(chunks, sampling_rate=SR, return_tensors="pt", device=args.device).input_features.to(
            args.device, dtype)

    def decode(feats):
        start = torch.full((feats.shape[0], 1), config.decoder_start_token_id, device=args.device)
        with torch.inference_mode():
            return model.generate(input_features=feats, decoder_input_ids=start, max_new_tokens=args.new_tokens,
                                  min_new_tokens=args.new_tokens, do_sample=False, num_beams=1)

    # warm-up
    decode(featurize([np.zeros(SR * 30, dtype=np.float32)] * min(2, args.batch)))
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    # ---- the whole pipeline, overlapped -----------------------------------------------------
    batches: queue.Queue = queue.Queue(maxsize=3)
    pool = ThreadPoolExecutor(max_workers=4)
    side = torch.cuda.Stream() if args.device.startswith("cuda") else None
    stats = {"windows": 0, "clips": 0, "speakers": []}

    def producer() -> None:
        pending: list = []
        for path in files:
            audio, _ = sf.read(path, dtype="float32")
            regions = energy_vad(audio)
            for a, b in windows_of(regions):
                pending.append((path, audio, a, b, [r for r in regions if a <= r[0] < b]))
                if len(pending) == args.batch:
                    batches.put(pending)
                    pending = []
        if pending:
            batches.put(pending)
        batches.put(None)

    def write_clips(path, audio, regions) -> int:
        for a, b in regions:
            sf.write(clips_dir / f"{path.stem}_{int(a * 1000)}_{int(b * 1000)}.wav",
                     audio[int(a * SR):int(b * SR)], SR, subtype="PCM_16")
        return len(regions)

    sync()
    t0 = time.perf_counter()
    threading.Thread(target=producer, daemon=True).start()
    futures = []
    while (batch := batches.get()) is not None:
        chunks = [audio[int(a * SR):int(b * SR)] for _, audio, a, b, _ in batch]
        feats = featurize(chunks)
        # speaker embeddings of every 1.6 s window in the batch, on a side stream, while decoding runs
        with torch.cuda.stream(side) if side is not None else _null():
            with torch.inference_mode():
                mels = [encoder.mel(torch.from_numpy(c).to(args.device)) for c in chunks]
                win = [m[i:i + 160] for m in mels for i in range(0, max(1, len(m) - 160), 40) if len(m) >= 160]
                emb = encoder(torch.stack(win)) if win else None
        decode(feats)
        if side is not None:
            torch.cuda.current_stream().wait_stream(side)
        if emb is not None:
            futures.append(pool.submit(cluster, emb.float().cpu().numpy()))
        for path, audio, _, _, regions in batch:
            futures.append(pool.submit(write_clips, path, audio, regions))
        stats["windows"] += len(batch)
    for f in futures:
        r = f.result()
        if isinstance(r, int):
            stats["clips"] += r
    sync()
    pipeline_s = time.perf_counter() - t0

    # ---- bare batched Whisper on the same windows --------------------------------------------
    all_chunks = []
    for path in files:
        audio, _ = sf.read(path, dtype="float32")
        all_chunks += [audio[int(a * SR):int(b * SR)] for a, b in windows_of(energy_vad(audio))]
    feats_all = [featurize(all_chunks[i:i + args.batch]) for i in range(0, len(all_chunks), args.batch)]
    sync()
    t0 = time.perf_counter()
    for feats in feats_all:
        decode(feats)
    sync()
    bare_s = time.perf_counter() - t0

    result = {
        "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu",
        "torch": torch.__version__, "arch": args.arch, "dtype": str(dtype), "batch": args.batch,
        "new_tokens_per_window": args.new_tokens, "audio_seconds": total_audio, "files": len(files),
        "windows": stats["windows"], "clips_written": stats["clips"],
        "bare_whisper_seconds": round(bare_s, 3), "bare_whisper_x_realtime": round(total_audio / bare_s, 1),
        "pipeline_seconds": round(pipeline_s, 3), "pipeline_x_realtime": round(total_audio / pipeline_s, 1),
        "pipeline_overhead": round(pipeline_s / bare_s - 1, 4),
        "peak_gpu_memory_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if args.device.startswith("cuda")
        else None,
        "vad": "energy (GPU-side Silero not available on the device image)",
    }
    out = Path(args.out or (Path(os.environ["OUT"]) / "speech_gpu.json" if os.environ.get("OUT") else
                            Path(__file__).parent / "results" / "speech_gpu.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    raise SystemExit(main())
