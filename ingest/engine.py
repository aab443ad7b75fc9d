"""Run the speech stages in-process or on a Ray cluster: the same ``ingest.stages`` functions, two ways.

What a stage computes is a *work* record — :class:`PrepareMedia`, :class:`DetectSpeech`,
:class:`Transcribe`, :class:`Diarize`, :class:`CutClips` — holding its inputs and nothing of the
database. The caller that owns the database (``backend.services.speech``) builds one per stage,
has it computed and records the result. :func:`run_locally` computes it in this process with
models loaded once (:class:`StageModels`); :class:`RayEngine` computes it on a Ray cluster:

- preparation (ffprobe + 16 kHz extraction) and MP4 clip cutting run as CPU tasks;
- VAD, ASR and diarization run on a pool of :class:`SpeechWorker` actors, each holding its
  models, loaded once on first use (GPU actors with ``gpus_per_worker``);
- the driver keeps at most ``files_in_flight`` files (2 × workers by default) in flight, so a
  large batch never loads every file at once, and the next files are decoded while the actors
  infer on the current ones.

**No shared disk is assumed: media reach workers through Ray's object store.** The driver reads
a source file's bytes and puts them in the store; a task writes them into a temporary folder on
its own node, runs ffmpeg there, and returns what ffprobe said and the prepared WAV's bytes,
which the driver writes into its data dir as the in-process prepare does. The actors get the
prepared samples by object reference. WAV clips are sliced on the driver from the samples it
holds; an MP4 clip task gets the source's bytes and returns the clips' bytes, which the driver
stores under their content hash. Workers read only their own temporary files and the models:
a model given by path (``MMCURATE_ASR_MODEL``) must be installed at that path on every worker
node; the bundled Whisper base is joined by each worker from its own installed packages.

A worker that dies mid-call is restarted and the call retried, ``retries`` times (Ray's actor
restarts and task retries). The stages are pure, so a retry duplicates nothing, and the driver
records each stage once, when its result arrives. Past the retries the call fails with a
``ServiceUnavailableError`` (the caller records the stage failed; the next run redoes it) and
the dead actor is replaced for the files that follow.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from backend.domain import MediaError, MediaInfo, ServiceUnavailableError, Span, ValidationError
from ingest import media, stages
from ingest.asr import AsrOptions, ModelSpec
from ingest.diarize import DiarizeOptions
from ingest.vad import VadOptions

# --------------------------------------------------------------------------- what a stage computes


@dataclass(frozen=True, eq=False)
class PrepareMedia:
    """Probe ``source`` and extract its 16 kHz mono WAV into ``media_dir`` → ``PreparedMedia``."""

    source: Path
    media_dir: Path
    limits: media.MediaLimits
    content_hash: str | None = None


@dataclass(frozen=True, eq=False)
class DetectSpeech:
    """Speech regions of the 16 kHz mono float32 ``audio`` → ``ModelOutput(SpeechRegions)``."""

    audio: Any
    options: VadOptions


@dataclass(frozen=True, eq=False)
class Transcribe:
    """Whisper over the speech ``regions`` of ``audio`` → ``ModelOutput(Transcript)``."""

    audio: Any
    regions: tuple[Span, ...]
    options: AsrOptions


@dataclass(frozen=True, eq=False)
class Diarize:
    """Speaker turns within the speech ``regions`` of ``audio`` → ``ModelOutput(Diarization)``."""

    audio: Any
    regions: tuple[Span, ...]
    options: DiarizeOptions


@dataclass(frozen=True, eq=False)
class CutClips:
    """A WAV per span (sliced from ``audio``) and an MP4 where the source has video → ``list[ClipFiles]``."""

    prepared: stages.PreparedMedia
    spans: tuple[Span, ...]
    clips_dir: Path
    audio: Any = None


Work = PrepareMedia | DetectSpeech | Transcribe | Diarize | CutClips
MODEL_WORK = (DetectSpeech, Transcribe, Diarize)


@dataclass(frozen=True)
class ModelOutput:
    """A model stage's result with the name and version of the model that produced it."""

    value: Any
    model: str
    version: str


# --------------------------------------------------------------------------- models, loaded once


@dataclass(frozen=True)
class ModelChoice:
    """Which models a worker loads. ``bundled_asr``: ``asr_model`` is the bundled Whisper base, which
    each worker joins from its own installed packages instead of reading the driver's copy."""

    asr_model: ModelSpec
    diarizer: str = "embedding"
    diarization_model: str | None = None
    bundled_asr: bool = False


class StageModels:
    """The VAD, ASR and diarization models, each loaded on first use, so a run with nothing left to do
    loads none. ``config`` is a :class:`ModelChoice` or anything with its first three attributes
    (the service's ``PipelineConfig``); it is read when a model is first needed."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self._vad: Any = None
        self._asr: Any = None
        self._diarizer: Any = None

    @property
    def vad(self) -> Any:
        if self._vad is None:
            from ingest.vad import SileroVad

            self._vad = SileroVad()
        return self._vad

    @property
    def asr(self) -> Any:
        if self._asr is None:
            from ingest.asr import load_recognizer

            self._asr = load_recognizer(self.config.asr_model)
        return self._asr

    @property
    def diarizer(self) -> Any:
        if self._diarizer is None:
            from ingest.diarize import EmbeddingDiarizer, PyannoteDiarizer

            if self.config.diarizer == "pyannote":
                if not self.config.diarization_model:
                    raise ValidationError("the pyannote diarizer needs MMCURATE_DIARIZATION_MODEL (a local folder)")
                self._diarizer = PyannoteDiarizer(self.config.diarization_model)
            else:
                self._diarizer = EmbeddingDiarizer()
        return self._diarizer


def run_locally(work: Work, models: StageModels) -> Any:
    """Compute ``work`` in this process with the ``ingest.stages`` function of its stage."""
    if isinstance(work, PrepareMedia):
        return stages.prepare(work.source, work.media_dir, work.limits, work.content_hash)
    if isinstance(work, DetectSpeech):
        found = stages.detect_speech(work.audio, models.vad, work.options)
        return ModelOutput(found, found.model, found.model_version)
    if isinstance(work, Transcribe):
        recognizer = models.asr
        return ModelOutput(stages.transcribe(work.audio, work.regions, recognizer, work.options), recognizer.name,
                           recognizer.version)
    if isinstance(work, Diarize):
        diarizer = models.diarizer
        return ModelOutput(stages.diarize(work.audio, work.regions, diarizer, work.options), diarizer.name,
                           diarizer.version)
    if isinstance(work, CutClips):
        return stages.cut_clips(work.prepared, work.spans, work.clips_dir, work.audio)
    raise TypeError(f"not a stage's work: {work!r}")


# --------------------------------------------------------------------------- on a Ray worker (no driver paths)


def prepare_bytes(origin: str, data: bytes, limits: media.MediaLimits,
                  extract: bool) -> tuple[MediaInfo, bytes | None]:
    """Probe a source given as bytes and, with ``extract``, decode its 16 kHz mono WAV; both in a temporary
    folder of this node. Returns what ffprobe said and the WAV's bytes. ``origin`` is the source's path on
    the driver, never opened here: the copy keeps its name, and a refusal names the driver's file, so it
    reads as the in-process one does (``broken.wav: ffprobe failed (file:/data/broken.wav: ...)``)."""
    with _source_copy(origin, data) as source:
        info = media.probe(source, limits)
        if not extract:
            return info, None
        return info, media.extract_audio(source, source.parent.parent / "audio.wav").read_bytes()


def cut_video_bytes(origin: str, data: bytes, spans: Sequence[Span], workers: int = 2) -> list[bytes]:
    """The MP4 clip of each span of a source given as bytes, cut by ffmpeg in a temporary folder of this node."""
    with _source_copy(origin, data) as source:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            paths = list(pool.map(lambda s: media.cut_clip(source, s, source.parent.parent / "clips", video=True),
                                  spans))
        return [path.read_bytes() for path in paths]


@contextmanager
def _source_copy(origin: str, data: bytes) -> Iterator[Path]:
    """``data`` as a file named like ``origin`` (the driver's absolute path, text only) in a temporary folder;
    a ``MediaError`` raised while it is in use names ``origin`` instead of the copy."""
    with tempfile.TemporaryDirectory(prefix="mmcurate-worker-") as tmp:
        source = Path(tmp) / "source" / Path(origin).name
        source.parent.mkdir()
        source.write_bytes(data)
        try:
            yield source
        except MediaError as exc:
            message = str(exc).replace(str(source.resolve()), origin)
            raise MediaError(message) from None


def join_bundled_model(choice: ModelChoice, models_dir: str | None) -> ModelChoice:
    """``choice`` with the bundled Whisper base joined into this node's ``models_dir`` (default: the temp
    folder's ``mmcurate-models``) when it asks for it; once per node, however many workers start at once."""
    if not choice.bundled_asr:
        return choice
    import fcntl

    from ingest import whisper_weights

    root = Path(models_dir) if models_dir else Path(tempfile.gettempdir()) / "mmcurate-models"
    root.mkdir(parents=True, exist_ok=True)
    ensure = (whisper_weights.ensure_ct2_base if choice.asr_model.backend == "faster-whisper"
              else whisper_weights.ensure_hf_base)
    with open(root / ".join.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folder = ensure(root)
    return replace(choice, asr_model=replace(choice.asr_model, model=str(folder)), bundled_asr=False)


class SpeechWorker:
    """A Ray actor: the VAD, ASR and diarization models, each loaded once on first use.

    One method per model stage, so a worker's process title says what it runs
    (``ray::SpeechWorker.transcribe``). The samples arrive as an object reference, resolved by Ray.
    """

    def __init__(self, choice: ModelChoice, threads: int, models_dir: str | None) -> None:
        if threads > 0:
            try:
                import torch

                torch.set_num_threads(threads)
            except ImportError:  # pragma: no cover - torch comes with the speech extra
                pass
            if choice.asr_model.cpu_threads == 0:  # not hashed: where and how fast, not what
                choice = replace(choice, asr_model=replace(choice.asr_model, cpu_threads=threads))
        self.models = StageModels(join_bundled_model(choice, models_dir))

    def pid(self) -> int:
        return os.getpid()

    def detect_speech(self, work: DetectSpeech, audio: Any) -> ModelOutput:
        return run_locally(replace(work, audio=_writable(audio)), self.models)

    def transcribe(self, work: Transcribe, audio: Any) -> ModelOutput:
        return run_locally(replace(work, audio=_writable(audio)), self.models)

    def diarize(self, work: Diarize, audio: Any) -> ModelOutput:
        return run_locally(replace(work, audio=_writable(audio)), self.models)


def _writable(audio: Any) -> Any:
    """Samples from the object store are read-only views; the models get a copy they may write."""
    import numpy as np

    return audio if getattr(audio, "flags", None) is None or audio.flags.writeable else np.array(audio)


# --------------------------------------------------------------------------- on the driver


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide the Ray engine runs.

    ``address``: a running cluster (``HOST:PORT`` of its head, ``ray://HOST:PORT`` for Ray Client,
    or ``auto``); ``None`` starts a local Ray sized to this machine for the run. ``workers``: model
    actors (default: as many as the cluster's CPUs, and GPUs if they take any, hold). ``resources``:
    custom resources (name → amount) every actor and task asks for, to keep the work on the nodes
    that declare them (give those nodes more than the actors take, so the tasks find some).
    ``task_cpus``: what a preparation or clip task reserves (0: it runs beside the actors, overlapping
    their inference). ``models_dir``: where each worker joins the bundled Whisper base.
    """

    address: str | None = None
    workers: int | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    task_cpus: float = 0.0
    resources: dict[str, float] = field(default_factory=dict)
    files_in_flight: int | None = None
    retries: int = 2
    models_dir: str | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValidationError(f"--ray-workers must be at least 1, got {self.workers}")
        if self.cpus_per_worker <= 0 or self.gpus_per_worker < 0 or self.task_cpus < 0:
            raise ValidationError(
                f"CPUs per worker must be > 0 and GPUs and task CPUs >= 0, got cpus_per_worker={self.cpus_per_worker}, "
                f"gpus_per_worker={self.gpus_per_worker}, task_cpus={self.task_cpus}")
        if self.files_in_flight is not None and self.files_in_flight < 1:
            raise ValidationError(f"files_in_flight must be at least 1, got {self.files_in_flight}")
        if self.retries < 0:
            raise ValidationError(f"retries must be 0 or more, got {self.retries}")


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ValidationError("the Ray engine needs Ray: pip install 'mmcurate[scale]' (ray==2.60.0), "
                              "or use --engine local") from exc
    return ray


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Refuse, quickly, a cluster address nothing listens on (``ray.init`` would retry for minutes)."""
    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValidationError(f"--ray-address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379, the head node's "
                              "address that `ray start --head` prints)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ServiceUnavailableError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); start it with `ray start --head` "
            "on the head node, or check --ray-address") from exc


@contextmanager
def ray_session(options: RayOptions) -> Iterator[Any]:
    """Ray, connected for the run: the session already open in this process (left open), the cluster
    at ``options.address``, or a local Ray sized to this machine (both shut down afterwards)."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if options.address:
        check_reachable(options.address)
        try:
            ray.init(address=options.address, **quiet)
        except (ConnectionError, RuntimeError, TimeoutError) as exc:
            raise ServiceUnavailableError(f"cannot connect to the Ray cluster at {options.address} ({exc}); "
                                          "check --ray-address and that this machine runs the same Ray version") from exc
    else:
        ray.init(include_dashboard=False, **quiet)
    try:
        yield ray
    finally:
        ray.shutdown()


@dataclass
class Pending:
    """Work submitted to the cluster: the reference the driver waits on, and how its value becomes the
    stage's result on the driver (``finish``). ``slot`` and ``actor``: the pool slot and actor running it."""

    work: Work
    ref: Any
    finish: Callable[[Any], Any]
    slot: int | None = None
    actor: Any = None


class RayEngine:
    """Stage work on a Ray cluster; the driver calls :meth:`submit`, waits for any of its works with
    :meth:`first_ready` and collects each result with :meth:`result`. Needs a connected Ray
    (:func:`ray_session`). The model actors start on the first model work, so a run that only
    re-aligns utterances starts none."""

    def __init__(self, options: RayOptions, models: ModelChoice) -> None:
        ray = import_ray()
        self.ray, self.options, self.models = ray, options, models
        self.workers = options.workers or default_workers(ray.cluster_resources(), options)
        self.files_in_flight = options.files_in_flight or 2 * self.workers
        resources = dict(options.resources)
        task = {"num_cpus": options.task_cpus, "resources": resources, "max_retries": options.retries,
                "scheduling_strategy": "SPREAD"}
        self._prepare = ray.remote(prepare_bytes).options(**task)
        self._cut = ray.remote(cut_video_bytes).options(**task)
        self._actor_class = ray.remote(SpeechWorker).options(
            num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker, resources=resources,
            max_restarts=options.retries, max_task_retries=options.retries)
        self._actors: list[Any] = []
        self._calls: list[int] = []  # calls outstanding per actor
        self._audio: OrderedDict[int, tuple[Any, Any]] = OrderedDict()  # id(samples) → (samples, ref)

    # -- submitting

    def submit(self, work: Work) -> Pending:
        """Start ``work`` on the cluster; what the driver reads (source files, samples) is read here."""
        if isinstance(work, PrepareMedia):
            return self._submit_prepare(work)
        if isinstance(work, MODEL_WORK):
            return self._submit_model(work)
        if isinstance(work, CutClips):
            return self._submit_clips(work)
        raise TypeError(f"not a stage's work: {work!r}")

    def _submit_prepare(self, work: PrepareMedia) -> Pending:
        media.local_input(work.source)  # the same refusals as in-process, before anything is read
        media.check_size(work.source, work.limits)
        digest = work.content_hash or media.file_sha256(work.source)
        audio_path = media.content_path(work.media_dir, digest, ".wav")
        data = self.ray.put(work.source.read_bytes())
        ref = self._prepare.remote(str(work.source.resolve()), data, work.limits, not audio_path.is_file())

        def finish(value: tuple[MediaInfo, bytes | None]) -> stages.PreparedMedia:
            info, wav = value
            if wav is not None and not audio_path.is_file():
                write_atomically(audio_path, wav)
            return stages.PreparedMedia(work.source, audio_path, info, digest)

        return Pending(work, ref, finish)

    def _submit_model(self, work: DetectSpeech | Transcribe | Diarize) -> Pending:
        slot = self._idlest_actor()
        actor = self._actors[slot]
        method = {DetectSpeech: "detect_speech", Transcribe: "transcribe", Diarize: "diarize"}[type(work)]
        ref = getattr(actor, method).remote(replace(work, audio=None), self._audio_ref(work.audio))
        self._calls[slot] += 1
        return Pending(work, ref, lambda value: value, slot, actor)

    def _submit_clips(self, work: CutClips) -> Pending:
        prepared = work.prepared
        if prepared.info.has_video and work.spans:
            media.local_input(prepared.source_path)
            data = self.ray.put(prepared.source_path.read_bytes())
            ref = self._cut.remote(str(prepared.source_path.resolve()), data, work.spans)
        else:
            ref = self.ray.put([])

        def finish(videos: list[bytes]) -> list[stages.ClipFiles]:
            samples = media.load_audio(prepared.audio_path) if work.audio is None else work.audio
            wavs = [media.write_wav_clip(samples, span, work.clips_dir) for span in work.spans]
            mp4s = [media.store_content(v, work.clips_dir, ".mp4") for v in videos] or [None] * len(wavs)
            return [stages.ClipFiles(w, m) for w, m in zip(wavs, mp4s)]

        return Pending(work, ref, finish)

    def _idlest_actor(self) -> int:
        if not self._actors:
            self._actors = [self._new_actor() for _ in range(self.workers)]
            self._calls = [0] * self.workers
        return min(range(len(self._actors)), key=self._calls.__getitem__)

    def _new_actor(self) -> Any:
        threads = max(1, int(self.options.cpus_per_worker))
        return self._actor_class.remote(self.models, threads, self.options.models_dir)

    def _audio_ref(self, audio: Any) -> Any:
        """The samples in the object store, put once per file (the last ``files_in_flight`` files are kept)."""
        held = self._audio.get(id(audio))
        if held is not None and held[0] is audio:
            return held[1]
        ref = self.ray.put(audio)
        self._audio[id(audio)] = (audio, ref)
        while len(self._audio) > self.files_in_flight:
            self._audio.popitem(last=False)
        return ref

    # -- collecting

    def first_ready(self, refs: Sequence[Any]) -> Any:
        """Wait until one of the submitted works' references is ready, and return it."""
        (ready, *_), _ = self.ray.wait(list(refs), num_returns=1)
        return ready

    def result(self, pending: Pending) -> Any:
        """The stage's result of finished work; the stage's own error re-raised as in-process; a worker lost
        past its retries a ``ServiceUnavailableError`` (its actor replaced)."""
        from ray.exceptions import RayActorError, RayError, RayTaskError

        try:
            value = self.ray.get(pending.ref)
        except RayTaskError as exc:
            if isinstance(exc.cause, Exception):
                raise exc.cause from None
            raise
        except RayError as exc:
            if isinstance(exc, RayActorError) and pending.slot is not None:
                self._replace(pending.slot, pending.actor)
            raise ServiceUnavailableError(
                f"the Ray worker computing {type(pending.work).__name__} was lost ({type(exc).__name__}) after "
                f"{self.options.retries} retries; the next run redoes this stage") from exc
        finally:
            if pending.slot is not None and self._actors and self._actors[pending.slot] is pending.actor:
                self._calls[pending.slot] -= 1
        return pending.finish(value)

    def _replace(self, slot: int, dead: Any) -> None:
        """A fresh actor in ``slot`` for the ``dead`` one (once, however many of its calls failed)."""
        if self._actors[slot] is not dead:
            return
        try:
            self.ray.kill(dead, no_restart=True)
        except Exception:  # noqa: BLE001 - it is gone already
            pass
        self._actors[slot] = self._new_actor()
        self._calls[slot] = 0

    def close(self) -> None:
        """Release the actors (and the CPUs and GPUs they hold) and the samples kept in the object store."""
        for actor in self._actors:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._actors, self._calls = [], []
        self._audio.clear()


def default_workers(cluster: dict[str, float], options: RayOptions) -> int:
    """As many model actors as the cluster's CPUs hold, and its GPUs when the actors take GPUs (at least one).

    >>> default_workers({"CPU": 64.0, "GPU": 8.0}, RayOptions(gpus_per_worker=1))
    8
    >>> default_workers({"CPU": 2.0}, RayOptions())
    2
    """
    fits = [cluster.get("CPU", 0.0) // options.cpus_per_worker]
    if options.gpus_per_worker:
        fits.append(cluster.get("GPU", 0.0) // options.gpus_per_worker)
    return max(1, int(min(fits)))


def write_atomically(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file beside it, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
