"""Whisper ASR behind one interface, two backends.

- ``FasterWhisperRecognizer``: CTranslate2 (faster-whisper); the CPU default and CUDA 12 GPUs.
- ``TransformersWhisperRecognizer``: PyTorch (transformers); fp16 batched 30 s windows on any
  CUDA GPU, and any Hugging Face Whisper checkpoint as it is (e.g. a Tamil fine-tune).

Both decode speech *windows*: consecutive VAD regions grouped into at most 30 s (WhisperX's
"cut & merge"), so that windows can be batched and the language detected per window for
code-mixed recordings. Results are absolute times in seconds.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, Sequence

from backend.domain import AsrSegment, Progress, Span, Transcript, ValidationError, Word

SAMPLE_RATE = 16_000
FRAMES_PER_SECOND = 100  # Whisper's log-mel frames (10 ms hop)
# faster-whisper's defaults: punctuation joined to the word after / before it when words are timed
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
# Field metadata of options that change speed or memory but not a stage's output (see ingest.stages.config_hash).
NOT_HASHED = {"hashed": False}


@dataclass(frozen=True)
class AsrOptions:
    """How to decode. ``language=None`` detects it (per window when ``language_per_window``).

    ``batch_size`` is how many windows decode at once: it changes speed and memory, not the
    result, so it stays out of the ASR stage's configuration hash (``NOT_HASHED``).
    """

    beam_size: int = 5
    batch_size: int = field(default=8, metadata=NOT_HASHED)
    language: str | None = None
    language_per_window: bool = True
    word_timestamps: bool = True
    max_window_s: float = 30.0
    temperature: float = 0.0

    def __post_init__(self) -> None:
        if self.beam_size < 1 or self.batch_size < 1:
            raise ValidationError(
                f"beam_size and batch_size must be >= 1, got beam_size={self.beam_size} batch_size={self.batch_size}"
            )
        if not 1.0 <= self.max_window_s <= 30.0:
            raise ValidationError(f"max_window_s must be within 1-30 s (Whisper's window), got {self.max_window_s}")


@dataclass(frozen=True)
class ModelSpec:
    """Which Whisper to load and how. ``model`` is a local folder or a hub name the backend accepts.

    Only ``backend`` and ``model`` decide what the ASR stage produces; where it runs (``device``,
    ``cpu_threads``) and its arithmetic (``compute_type``) are deployment choices, kept out of
    the configuration hash so moving a project to a GPU re-runs nothing.
    """

    backend: Literal["faster-whisper", "transformers"] = "faster-whisper"
    model: str = ""
    device: str = field(default="cpu", metadata=NOT_HASHED)
    # faster-whisper: int8, float16, int8_float16 …; transformers: float32/float16
    compute_type: str = field(default="int8", metadata=NOT_HASHED)
    cpu_threads: int = field(default=0, metadata=NOT_HASHED)


class SpeechRecognizer(Protocol):
    name: str
    version: str

    def transcribe(self, audio: Any, regions: Sequence[Span], options: AsrOptions,
                   on_progress: Progress | None = None) -> Transcript:
        """Decode the ``regions`` of 16 kHz mono float32 ``audio``."""
        ...


def speech_windows(regions: Sequence[Span], max_window_s: float = 30.0) -> list[Span]:
    """Group ordered speech regions into windows no longer than ``max_window_s``.

    A region longer than the window is cut into equal pieces. Regions are never split
    between windows otherwise, so a word cut at a window edge can only happen in those.

    >>> speech_windows([Span(0.0, 10.0), Span(12.0, 25.0), Span(26.0, 40.0)], 30.0)
    [Span(start=0.0, end=25.0), Span(start=26.0, end=40.0)]
    """
    pieces: list[Span] = []
    for region in sorted(regions):
        if region.duration <= max_window_s:
            pieces.append(region)
            continue
        n = math.ceil(region.duration / max_window_s)
        step = region.duration / n
        pieces += [Span(region.start + i * step, min(region.end, region.start + (i + 1) * step)) for i in range(n)]
    windows: list[Span] = []
    for piece in pieces:
        if windows and piece.end - windows[-1].start <= max_window_s and piece.start >= windows[-1].end:
            windows[-1] = Span(windows[-1].start, piece.end)
        else:
            windows.append(piece)
    return windows


def _slice(audio: Any, window: Span) -> Any:
    return audio[int(window.start * SAMPLE_RATE) : int(math.ceil(window.end * SAMPLE_RATE))]


def spread_words(text: str, start: float, end: float, probability: float) -> tuple[Word, ...]:
    """Approximate word times spread over a segment by character count (when a backend gives none).

    Text without spaces (Chinese, Japanese) becomes one word.
    """
    tokens = text.split()
    if not tokens or end <= start:
        return ()
    total = sum(len(t) for t in tokens)
    words, cursor = [], start
    for token in tokens:
        span = (end - start) * len(token) / total
        words.append(Word(round(cursor, 3), round(cursor + span, 3), token, probability))
        cursor += span
    return tuple(words)


def summarise_language(segments: Sequence[AsrSegment]) -> tuple[str | None, float | None]:
    """The language spoken longest across segments and its mean probability."""
    weight: Counter[str] = Counter()
    probs: dict[str, list[float]] = {}
    for seg in segments:
        if seg.language:
            weight[seg.language] += seg.end - seg.start
            probs.setdefault(seg.language, []).append(seg.language_probability or 0.0)
    if not weight:
        return None, None
    lang = weight.most_common(1)[0][0]
    return lang, sum(probs[lang]) / len(probs[lang])


class FasterWhisperRecognizer:
    """faster-whisper (CTranslate2), batched over windows. Load once; ``transcribe`` is safe to call for many files.

    Per batch of ``batch_size`` windows it runs the encoder once and reads each window's
    language from that same encoder output (one decoder step, as faster-whisper's batched
    pipeline does; skipped when the language is given), then decodes the batch with beam
    search as ``BatchedInferencePipeline`` does (no timestamp tokens: one segment per window)
    and aligns the words on the same encoder output. Windows of different languages in one
    batch are decoded and aligned per language, each with its own tokenizer. Up to arithmetic,
    the result does not depend on ``batch_size`` (``tests/ingest/test_asr.py`` checks 1 against 8).
    """

    def __init__(self, spec: ModelSpec) -> None:
        from importlib.metadata import version

        from faster_whisper import WhisperModel

        if not spec.model:
            raise ValidationError("no ASR model given; pass a model folder or name (e.g. the data dir's whisper-base-ct2)")
        try:
            self.model = WhisperModel(spec.model, device=spec.device, compute_type=spec.compute_type,
                                      cpu_threads=spec.cpu_threads, local_files_only=True)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ValidationError(
                f"cannot load faster-whisper model {spec.model!r} ({exc}); give a CTranslate2 Whisper folder"
            ) from exc
        self.spec = spec
        self.name = f"faster-whisper:{spec.model.rstrip('/').split('/')[-1]}"
        self.version = f"faster-whisper {version('faster-whisper')}, ctranslate2 {version('ctranslate2')}"

    def transcribe(self, audio: Any, regions: Sequence[Span], options: AsrOptions = AsrOptions(),
                   on_progress: Progress | None = None) -> Transcript:
        windows = speech_windows(regions, options.max_window_s)
        segments: list[AsrSegment] = []
        first: tuple[str, float] | None = None  # the first window's language, when one is used for all
        last_speech = 0.0  # where the last word ended: faster-whisper's word timing heuristics read it
        for begin in range(0, len(windows), options.batch_size):
            batch = windows[begin : begin + options.batch_size]
            features = self._features(audio, batch)
            encoded = self.model.encode(features)
            languages = self._languages(encoded, len(batch), options, first)
            if not options.language and not options.language_per_window:
                first = first or languages[0]
            by_lang: dict[str, list[int]] = {}
            for i, (lang, _) in enumerate(languages):
                by_lang.setdefault(lang, []).append(i)
            for lang, rows in by_lang.items():
                part = encoded if len(rows) == len(batch) else self._rows(encoded, features, rows)
                found, last_speech = self._decode(part, [batch[i] for i in rows], [languages[i] for i in rows],
                                                  options, last_speech)
                segments += found
            if on_progress:
                on_progress("asr", begin + len(batch), len(windows))
        segments.sort(key=lambda s: s.start)
        lang, prob = summarise_language(segments)
        return Transcript(tuple(segments), lang, prob, self.name, {**asdict(options), **asdict(self.spec)})

    def _features(self, audio: Any, windows: Sequence[Span]) -> Any:
        """Log-mel features of each window, padded to 30 s: ``(len(windows), n_mels, 3000)`` float32.

        Cut and computed as ``BatchedInferencePipeline`` does for its clips, so the same windows
        decode to the same words. The mel projection is a BLAS product whose last bits depend on
        how many threads BLAS uses, and those bits can change a word: it runs on one BLAS thread,
        so a transcript is the same in this process, on a one-CPU Ray worker, or on another machine.
        """
        import numpy as np
        from faster_whisper.audio import pad_or_trim
        from threadpoolctl import threadpool_limits

        chunks = [audio[int(w.start * SAMPLE_RATE) : int(w.end * SAMPLE_RATE)] for w in windows]
        with threadpool_limits(limits=1, user_api="blas"):
            return np.stack([pad_or_trim(self.model.feature_extractor(c)[..., :-1]) for c in chunks])

    def _languages(self, encoded: Any, n: int, options: AsrOptions,
                   first: tuple[str, float] | None) -> list[tuple[str, float]]:
        """Each window's language and its probability, read from the batch's encoder output.

        Nothing is run when the language is given, the model is English-only, or the first
        window's language is already known and stands for all.
        """
        if options.language:
            return [(options.language, 1.0)] * n
        if not self.model.model.is_multilingual:
            return [("en", 1.0)] * n
        if first is not None:
            return [first] * n
        found = [(ranked[0][0][2:-2], float(ranked[0][1])) for ranked in self.model.model.detect_language(encoded)]
        return found if options.language_per_window else [found[0]] * n

    def _rows(self, encoded: Any, features: Any, rows: Sequence[int]) -> Any:
        """The encoder output of some windows of a batch (copied on the CPU, encoded again elsewhere)."""
        if self.model.model.device != "cpu":
            return self.model.encode(features[list(rows)])
        import ctranslate2
        import numpy as np

        return ctranslate2.StorageView.from_array(np.ascontiguousarray(np.asarray(encoded)[list(rows)]))

    def _decode(self, encoded: Any, windows: Sequence[Span], languages: Sequence[tuple[str, float]],
                options: AsrOptions, last_speech: float) -> tuple[list[AsrSegment], float]:
        """Beam search over windows of one language, then word times aligned on the same encoder output.

        Returns the segments and where their last word ends. faster-whisper places words on the
        10 ms frame grid (``seek``); the rest of each window's start is added back, so times are
        exact to the alignment's 20 ms.
        """
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        model = self.model
        lang = languages[0][0]
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=lang)
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
        results = model.model.generate(
            encoded, [list(prompt) for _ in windows], beam_size=options.beam_size, patience=1, length_penalty=1,
            max_length=model.max_length, suppress_blank=True, suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            return_scores=True, return_no_speech_prob=True, sampling_temperature=options.temperature,
            repetition_penalty=1, no_repeat_ngram_size=0,
        )
        decoded, seeks = [], [int(w.start * FRAMES_PER_SECOND) for w in windows]
        for window, seek, result in zip(windows, seeks, results):
            tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
            length = len(result.sequences_ids[0])
            begin = seek / FRAMES_PER_SECOND
            decoded.append([{"seek": seek, "start": begin, "end": begin + window.duration, "tokens": tokens,
                             "avg_logprob": result.scores[0] * length / (length + 1),
                             "no_speech_prob": result.no_speech_prob}])
        if options.word_timestamps:
            most = model.feature_extractor.nb_max_frames
            sizes = [min(most, int(math.ceil(w.duration)) * FRAMES_PER_SECOND) for w in windows]
            last_speech = model.add_word_timestamps(decoded, tokenizer, encoded, sizes, PREPEND_PUNCTUATION,
                                                    APPEND_PUNCTUATION, last_speech) or last_speech
        segments = []
        for (piece,), window, seek, (lang, prob) in zip(decoded, windows, seeks, languages):
            text = tokenizer.decode(piece["tokens"]).strip()
            if not text:
                continue
            shift = window.start - seek / FRAMES_PER_SECOND
            start, end = round(piece["start"] + shift, 3), round(piece["end"] + shift, 3)
            words = tuple(Word(round(w["start"] + shift, 3), round(w["end"] + shift, 3), w["word"].strip(),
                               float(w["probability"]))
                          for w in piece.get("words", ()) if w["word"].strip() and w["end"] > w["start"])
            if not words:
                words = spread_words(text, start, end, math.exp(piece["avg_logprob"]))
            segments.append(AsrSegment(start, end, text, words, lang, prob, float(piece["avg_logprob"]),
                                       float(piece["no_speech_prob"])))
        return segments, last_speech


class TransformersWhisperRecognizer:
    """transformers' Whisper (PyTorch), batched over windows; any Hugging Face Whisper checkpoint.

    Per batch it runs the encoder once, reads language and no-speech probabilities from one
    decoder step (as openai-whisper does), then generates with timestamps. Word times are
    spread over each timestamped segment by character count (approximate).
    """

    def __init__(self, spec: ModelSpec) -> None:
        from importlib.metadata import version

        import torch
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        if not spec.model:
            raise ValidationError("no ASR model given; pass a Hugging Face Whisper folder or hub name")
        dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(spec.compute_type, torch.float32)
        if spec.device == "cpu" and dtype != torch.float32:
            dtype = torch.float32  # half precision matmuls are slow or missing on CPU
        try:
            self.processor = WhisperProcessor.from_pretrained(spec.model)
            self.model = WhisperForConditionalGeneration.from_pretrained(spec.model, dtype=dtype).to(spec.device)
        except (OSError, ValueError) as exc:
            raise ValidationError(
                f"cannot load transformers Whisper {spec.model!r} ({exc}); give a Hugging Face Whisper folder"
            ) from exc
        self.model.eval()
        if spec.cpu_threads and spec.device == "cpu":
            torch.set_num_threads(spec.cpu_threads)
        self.dtype = dtype
        self.spec = spec
        tok = self.processor.tokenizer
        vocab = tok.get_vocab()
        self.sot = vocab["<|startoftranscript|>"]
        self.no_speech = vocab.get("<|nospeech|>", vocab.get("<|nocaptions|>"))
        self.lang_ids = {k[2:-2]: v for k, v in self.model.generation_config.lang_to_id.items()}
        self.eot = vocab["<|endoftext|>"]
        self.ts_begin = self.model.generation_config.no_timestamps_token_id + 1
        self.name = f"transformers:{spec.model.rstrip('/').split('/')[-1]}"
        self.version = f"transformers {version('transformers')}, torch {version('torch')}"

    def _encode(self, chunks: Sequence[Any]) -> Any:
        features = self.processor.feature_extractor(list(chunks), sampling_rate=SAMPLE_RATE, return_tensors="pt")
        return features.input_features.to(self.spec.device, self.dtype)

    def transcribe(self, audio: Any, regions: Sequence[Span], options: AsrOptions = AsrOptions(),
                   on_progress: Progress | None = None) -> Transcript:
        import torch

        windows = speech_windows(regions, options.max_window_s)
        segments: list[AsrSegment] = []
        first_lang: tuple[str, float] | None = None
        for begin in range(0, len(windows), options.batch_size):
            batch = windows[begin : begin + options.batch_size]
            features = self._encode([_slice(audio, w) for w in batch])
            with torch.inference_mode():
                encoded = self.model.model.encoder(features)
                start = torch.full((len(batch), 1), self.sot, device=self.spec.device)
                logits = self.model(encoder_outputs=encoded, decoder_input_ids=start).logits[:, -1].float()
                probs = logits.softmax(-1)
                lang_names = list(self.lang_ids)
                lang_probs = probs[:, [self.lang_ids[n] for n in lang_names]]
                no_speech = probs[:, self.no_speech] if self.no_speech is not None else torch.zeros(len(batch))
                langs: list[tuple[str, float]] = []
                for row in lang_probs / lang_probs.sum(-1, keepdim=True):
                    idx = int(row.argmax())
                    langs.append((lang_names[idx], float(row[idx])))
                if options.language:
                    langs = [(options.language, 1.0)] * len(batch)
                elif not options.language_per_window:
                    first_lang = first_lang or langs[0]
                    langs = [first_lang] * len(batch)
                out = self.model.generate(
                    input_features=features, encoder_outputs=encoded, language=[l for l, _ in langs],
                    task="transcribe", return_timestamps=True, num_beams=options.beam_size, do_sample=False,
                )
                sequences = out if isinstance(out, torch.Tensor) else out["sequences"]
                logprobs = self._avg_logprobs(encoded, sequences, langs)
            for i, window in enumerate(batch):
                segments += self._segments(sequences[i], window, langs[i], float(logprobs[i]), float(no_speech[i]))
            if on_progress:
                on_progress("asr", min(begin + len(batch), len(windows)), len(windows))
        segments.sort(key=lambda s: s.start)
        lang, prob = summarise_language(segments)
        return Transcript(tuple(segments), lang, prob, self.name, {**asdict(options), **asdict(self.spec)})

    def _avg_logprobs(self, encoded: Any, sequences: Any, langs: Sequence[tuple[str, float]]) -> list[float]:
        """Mean log-probability of the decoded text tokens (one teacher-forced decoder pass)."""
        import torch

        gen = self.model.generation_config
        prompt = torch.tensor(
            [[self.sot, self.lang_ids[lang], gen.task_to_id["transcribe"]] for lang, _ in langs],
            device=sequences.device, dtype=sequences.dtype,
        )
        if sequences.shape[1] and bool((sequences[:, 0] == self.sot).all()):
            prompt = prompt[:, :0]
        full = torch.cat([prompt, sequences], dim=1)
        logits = self.model(encoder_outputs=encoded, decoder_input_ids=full[:, :-1]).logits.float()
        picked = logits.log_softmax(-1).gather(-1, full[:, 1:].unsqueeze(-1)).squeeze(-1)
        text = full[:, 1:] < self.eot
        text[:, : max(0, prompt.shape[1] - 1)] = False
        return [float(picked[i][text[i]].mean()) if text[i].any() else -10.0 for i in range(len(full))]

    def _segments(self, tokens: Any, window: Span, lang: tuple[str, float], avg_logprob: float,
                  no_speech: float) -> list[AsrSegment]:
        """Split one window's tokens at Whisper's timestamp tokens into timed segments."""
        pieces: list[tuple[float, float, list[int]]] = []
        begin: float | None = None
        text: list[int] = []
        for tok in [int(t) for t in tokens]:
            if tok >= self.ts_begin:
                stamp = (tok - self.ts_begin) * 0.02
                if begin is None:
                    begin = stamp
                else:
                    pieces.append((begin, stamp, text))
                    begin, text = None, []
            elif tok < self.eot:
                text.append(tok)
        if text:
            pieces.append((begin or 0.0, window.duration, text))
        segments = []
        for s, e, ids in pieces:
            body = self.processor.tokenizer.decode(ids, skip_special_tokens=True).strip()
            start, end = round(window.start + s, 3), round(min(window.end, window.start + e), 3)
            if not body or end <= start:
                continue
            words = spread_words(body, start, end, math.exp(avg_logprob))
            segments.append(AsrSegment(start, end, body, words, lang[0], lang[1], avg_logprob, no_speech))
        return segments


def load_recognizer(spec: ModelSpec) -> SpeechRecognizer:
    """The backend ``spec.backend`` names, loaded once."""
    if spec.backend == "faster-whisper":
        return FasterWhisperRecognizer(spec)
    if spec.backend == "transformers":
        return TransformersWhisperRecognizer(spec)
    raise ValidationError(f"unknown ASR backend {spec.backend!r}; use 'faster-whisper' or 'transformers'")
