"""ingest.engine without a cluster: what a Ray worker computes from bytes is what the in-process stage
computes from the file, the same refusals read the same, and the driver's checks fail fast."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from backend.domain import MediaError, ServiceUnavailableError, Span, ValidationError
from ingest import media, stages, testmedia
from ingest.asr import ModelSpec
from ingest.engine import (CutClips, DetectSpeech, ModelChoice, ModelOutput, PrepareMedia, RayOptions, SpeechWorker,
                           StageModels, check_reachable, cut_video_bytes, join_bundled_model, prepare_bytes,
                           run_locally)
from ingest.vad import VadOptions


@pytest.fixture(scope="module")
def dialogues(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dialogues")
    return {"en": testmedia.generate(testmedia.EN, folder).media_path,
            "ta": testmedia.generate(testmedia.TA, folder).media_path}  # an MP4 with a video track


@pytest.mark.parametrize("language", ["en", "ta"])
def test_a_worker_prepares_from_bytes_what_the_stage_prepares_from_the_file(dialogues, tmp_path, language):
    source = dialogues[language]
    here = run_locally(PrepareMedia(source, tmp_path / "media", media.MediaLimits()), StageModels(None))
    info, wav = prepare_bytes(str(source), source.read_bytes(), media.MediaLimits(), extract=True)
    assert info == here.info and info.has_video == (language == "ta")
    assert wav == here.audio_path.read_bytes()
    assert prepare_bytes(str(source), source.read_bytes(), media.MediaLimits(), extract=False) == (info, None)


def test_a_refusal_on_a_worker_reads_as_the_refusal_in_process(tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00not really a wave file" * 20)
    with pytest.raises(MediaError) as here:
        stages.prepare(broken, tmp_path / "media")
    with pytest.raises(MediaError) as there:
        prepare_bytes(str(broken), broken.read_bytes(), media.MediaLimits(), extract=True)
    assert str(there.value) == str(here.value) and str(here.value).startswith("broken.wav: ffprobe failed")
    playlist = tmp_path / "talk.mp4"
    playlist.write_bytes(b"#EXTM3U\nhttp://example.org/a.ts\n")
    with pytest.raises(MediaError, match="talk.mp4 is an HLS/M3U playlist"):
        prepare_bytes(str(playlist), playlist.read_bytes(), media.MediaLimits(), extract=True)


def test_video_clips_cut_from_bytes_are_the_clips_cut_from_the_file(dialogues, tmp_path):
    source, spans = dialogues["ta"], [Span(0.5, 2.0), Span(3.0, 4.25)]
    from_bytes = cut_video_bytes(str(source), source.read_bytes(), spans)
    from_file = [media.cut_clip(source, span, tmp_path, video=True).read_bytes() for span in spans]
    assert from_bytes == from_file and all(clip[4:8] == b"ftyp" for clip in from_bytes)
    stored = media.store_content(from_bytes[0], tmp_path / "store", ".mp4")
    assert stored == media.cut_clip(source, spans[0], tmp_path / "store", video=True)


def test_cut_clips_in_process_writes_wavs_from_the_samples_and_mp4s_for_video(dialogues, tmp_path):
    prepared = stages.prepare(dialogues["ta"], tmp_path / "media")
    samples = media.load_audio(prepared.audio_path)
    spans = (Span(0.5, 2.0),)
    (clip,) = run_locally(CutClips(prepared, spans, tmp_path / "clips", samples), StageModels(None))
    assert clip.audio_path == media.write_wav_clip(samples, spans[0], tmp_path / "clips")
    assert clip.video_path is not None and clip.video_path.suffix == ".mp4"


def test_a_speech_worker_takes_read_only_samples_from_the_object_store(dialogues, tmp_path):
    """Samples resolved from Ray's object store are read-only; the worker's models get a writable copy and
    find what the in-process stage finds."""
    prepared = stages.prepare(dialogues["en"], tmp_path / "media")
    samples = media.load_audio(prepared.audio_path)
    frozen = samples.copy()
    frozen.flags.writeable = False
    worker = SpeechWorker(ModelChoice(ModelSpec(model="unused")), threads=1, models_dir=None)
    found = worker.detect_speech(DetectSpeech(None, VadOptions()), frozen)
    here = run_locally(DetectSpeech(samples, VadOptions()), StageModels(None))
    assert isinstance(found, ModelOutput) and found.value == here.value and found.model == "silero-vad"
    assert len(found.value.regions) >= 6 and worker.pid() > 0


def test_each_worker_joins_the_bundled_whisper_base_itself(tmp_path):
    spec = ModelSpec(model="/driver/var/models/whisper-base-ct2")
    assert join_bundled_model(ModelChoice(spec), str(tmp_path)) == ModelChoice(spec)
    joined = join_bundled_model(ModelChoice(spec, bundled_asr=True), str(tmp_path / "node"))
    assert joined.asr_model.model == str(tmp_path / "node" / "whisper-base-ct2") and not joined.bundled_asr
    assert (Path(joined.asr_model.model) / "model.bin").stat().st_size > 100_000_000


def test_an_unreachable_cluster_is_refused_at_once():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
        check_reachable(f"127.0.0.1:{port}")
    assert time.monotonic() - started < 5
    with pytest.raises(ValidationError, match="'head-node' is not HOST:PORT"):
        check_reachable("head-node")
    check_reachable("auto")  # Ray finds it itself


def test_ray_options_are_checked_first():
    with pytest.raises(ValidationError, match="--ray-workers must be at least 1, got 0"):
        RayOptions(workers=0)
    with pytest.raises(ValidationError, match="cpus_per_worker=0"):
        RayOptions(cpus_per_worker=0)
    assert RayOptions(gpus_per_worker=0.5, resources={"gpu_node": 1}).retries == 2



def test_the_docstring_examples_hold():
    import doctest

    import ingest.engine

    result = doctest.testmod(ingest.engine)
    assert result.attempted > 0 and result.failed == 0
