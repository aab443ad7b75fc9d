"""ingest.media: probing, extraction and clip cutting with Debian's ffmpeg; each bad input refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from backend.domain import MediaError, Span
from ingest import media


def test_probe_reads_streams_and_duration(dialogues):
    wav = media.probe(dialogues["en"].media_path)
    mp4 = media.probe(dialogues["ta"].media_path)
    assert wav.has_audio and not wav.has_video and wav.sample_rate == 16000
    assert mp4.has_audio and mp4.has_video and mp4.video_codec == "h264" and (mp4.width, mp4.height) == (160, 120)
    assert wav.duration == pytest.approx(dialogues["en"].duration_s, abs=0.05)


def test_extract_audio_gives_16k_mono_of_the_same_length(dialogues, tmp_path):
    import soundfile as sf

    out = media.extract_audio(dialogues["ta"].media_path, tmp_path / "ta.wav")
    info = sf.info(out)
    assert (info.samplerate, info.channels) == (16000, 1)
    assert info.duration == pytest.approx(dialogues["ta"].duration_s, abs=0.1)


def test_empty_file_is_refused(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty.wav is empty \(0 bytes\)"):
        media.probe(empty)


def test_corrupt_file_is_refused(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x01garbage, not a media container" * 50)
    with pytest.raises(MediaError, match="corrupt.mp4: ffprobe failed .*corrupt or not a media file"):
        media.probe(corrupt)


def test_video_without_audio_is_refused(tmp_path):
    silent = tmp_path / "silent.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=5:duration=1",
                    "-c:v", "libx264", "-preset", "ultrafast", str(silent)], check=True)
    with pytest.raises(MediaError, match="silent.mp4 has no audio stream"):
        media.probe(silent)


def test_over_limit_duration_and_size_are_refused(dialogues):
    path = dialogues["en"].media_path
    with pytest.raises(MediaError, match=r"over the limit of 10 s; raise the limit or split the file"):
        media.probe(path, media.MediaLimits(max_duration_s=10))
    with pytest.raises(MediaError, match=r"bytes, over the limit of 1000"):
        media.probe(path, media.MediaLimits(max_size_bytes=1000))


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        media.probe(tmp_path / "nope.wav")


def test_truncated_wav_header_only_is_refused(tmp_path, dialogues):
    header_only = tmp_path / "header.wav"
    header_only.write_bytes(Path(dialogues["en"].media_path).read_bytes()[:44])
    with pytest.raises(MediaError):
        media.probe(header_only)


def test_clips_are_content_addressed_and_cut_where_asked(prepared_audio, dialogues, tmp_path):
    import soundfile as sf

    span = Span(1.0, 3.5)
    first = media.cut_clip(prepared_audio["en"], span, tmp_path)
    again = media.cut_clip(prepared_audio["en"], span, tmp_path)
    other = media.cut_clip(prepared_audio["en"], Span(4.0, 5.0), tmp_path)
    assert first == again != other
    assert first.name == f"{media.file_sha256(first)}.wav" and first.parent.name == first.name[:2]
    assert sf.info(first).duration == pytest.approx(2.5, abs=0.02)
    video = media.cut_clip(dialogues["ta"].media_path, span, tmp_path, video=True)
    info = media.probe(video)
    assert video.suffix == ".mp4" and info.has_video and info.has_audio
    assert info.duration == pytest.approx(2.5, abs=0.15)


def test_wav_clips_from_memory_hold_the_samples_ffmpeg_cuts(prepared_audio, tmp_path):
    import numpy as np
    import soundfile as sf

    audio = media.load_audio(prepared_audio["zh"])
    span = Span(2.0, 4.25)
    direct = media.write_wav_clip(audio, span, tmp_path / "direct")
    assert direct == media.write_wav_clip(audio, span, tmp_path / "direct").resolve()
    assert direct.name == f"{media.file_sha256(direct)}.wav"
    cut, _ = sf.read(media.cut_clip(prepared_audio["zh"], span, tmp_path / "ffmpeg"), dtype="float32")
    mine, rate = sf.read(direct, dtype="float32")
    assert rate == 16000 and abs(len(mine) - len(cut)) <= 1
    n = min(len(mine), len(cut))
    assert np.abs(mine[:n] - cut[:n]).max() < 1e-3
    with __import__("pytest").raises(media.MediaError, match="lies outside the audio"):
        media.write_wav_clip(audio, Span(100.0, 101.0), tmp_path)


@pytest.fixture
def listener():
    """A loopback TCP port that notices any connection: proof that nothing was fetched."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def hls_playlist_as_mp4(tmp_path: Path, port: int) -> Path:
    """A real HLS playlist (ffmpeg's own, of a generated tone) whose segments point at
    http://127.0.0.1:<port>/, renamed clip.mp4 as an attacker would."""
    out = tmp_path / "hls"
    out.mkdir()
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
                    "-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", str(out / "tone.m3u8")],
                   check=True)
    lines = (out / "tone.m3u8").read_text().splitlines()
    assert lines[0] == "#EXTM3U" and any(line.endswith(".ts") for line in lines)
    remote = [line if line.startswith("#") else f"http://127.0.0.1:{port}/{line}" for line in lines]
    playlist = tmp_path / "clip.mp4"
    playlist.write_text("\n".join(remote) + "\n")
    return playlist


def test_an_hls_playlist_named_mp4_is_refused_before_ffmpeg_runs(tmp_path, listener):
    """Regression (issue 11): ffmpeg fetched the URLs of a playlist disguised as a media file."""
    playlist = hls_playlist_as_mp4(tmp_path, listener.getsockname()[1])
    message = r"^clip\.mp4 is an HLS/M3U playlist \(#EXTM3U\), not a media file: .* so it is refused; download"
    with pytest.raises(MediaError, match=message):
        media.probe(playlist)
    with pytest.raises(MediaError, match=message):
        media.extract_audio(playlist, tmp_path / "out.wav")
    with pytest.raises(MediaError, match=message):
        media.cut_clip(playlist, Span(0.0, 1.0), tmp_path / "clips")
    assert not (tmp_path / "out.wav").exists()
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected


def test_the_protocol_whitelist_alone_stops_the_fetch(tmp_path, listener):
    """Defence in depth: with the options mmcurate passes, ffmpeg itself refuses the playlist's URLs."""
    playlist = hls_playlist_as_mp4(tmp_path, listener.getsockname()[1])
    done = subprocess.run(["ffprobe", "-v", "error", *media.LOCAL_ONLY, "-show_format", f"file:{playlist}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "Protocol 'http' not on whitelist 'file'" in done.stderr
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_concat_lists_and_urls_are_refused(tmp_path, dialogues):
    wav = dialogues["en"].media_path
    with pytest.raises(MediaError, match=r"^concat:.*: concat: inputs are not read; give each media file on its own"):
        media.probe(f"concat:{wav}|{wav}")
    listing = tmp_path / "list.wav"
    listing.write_text(f"ffconcat version 1.0\nfile '{wav}'\n")
    with pytest.raises(MediaError, match=r"^list\.wav is an ffconcat list, not a media file"):
        media.extract_audio(listing, tmp_path / "out.wav")
    with pytest.raises(MediaError, match=r"^https://example\.org/a\.mp4: only local files are read, not URLs"):
        media.probe("https://example.org/a.mp4")


def test_a_local_name_with_a_colon_is_read_as_a_file(tmp_path, dialogues):
    odd = tmp_path / "http:clip.wav"
    odd.write_bytes(Path(dialogues["en"].media_path).read_bytes())
    assert media.probe(odd).has_audio
