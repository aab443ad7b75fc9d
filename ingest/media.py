"""ffprobe/ffmpeg wrappers: probe a file, extract 16 kHz mono audio, cut clips.

The only module that runs ffmpeg. Every refusal is a ``MediaError`` whose message
names the file and says what was wrong, so callers can record it and move on.

Local files only: ffmpeg opens whatever a playlist names, so a user's "clip.mp4" that is
really an HLS playlist would make it fetch URLs (or read other local files). Every input is
checked first (a regular file, not a ``concat:``-style URL, not a playlist or concat list by
its content) and then handed over as ``file:<absolute path>`` with
``-protocol_whitelist file``, so anything it names on the network is refused by ffmpeg too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from backend.domain import MediaError, MediaInfo, Span

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class MediaLimits:
    """What a source may be before it is refused (duration in seconds, size in bytes)."""

    max_duration_s: float = 4 * 3600.0
    max_size_bytes: int = 8 * 1024**3
    min_duration_s: float = 0.1


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise MediaError(f"{name} is not installed; install Debian's ffmpeg package (apt-get install ffmpeg)")
    return found


# Only the file protocol, for every input read from user media (ffprobe's report goes to its stdout,
# and the outputs are our own local paths).
LOCAL_ONLY = ["-protocol_whitelist", "file"]
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
# Text formats ffmpeg recognises by content that make it open other files or network addresses.
_INDIRECT: list[tuple[re.Pattern[bytes], str]] = [
    (re.compile(rb"^#EXTM3U"), "an HLS/M3U playlist (#EXTM3U)"),
    (re.compile(rb"^ffconcat version"), "an ffconcat list"),
    (re.compile(rb"^(<\?xml[^>]*>\s*)?<MPD[\s>]"), "a DASH manifest (<MPD>)"),
    (re.compile(rb"^v=0\r?\n(?:[^\n]*\n)*?c=IN IP"), "an SDP session description (RTP over the network)"),
]


def local_input(path: Path | str) -> str:
    """``path`` as the argument ffmpeg reads it by (``file:<absolute path>``), after refusing
    anything that is not a local media file: a ``concat:`` or other URL, a missing file, or a
    playlist / concat list / stream description, recognised by content whatever its name."""
    text = str(path)
    if text.startswith("concat:") or text.startswith("concatf:"):
        raise MediaError(f"{text}: concat: inputs are not read; give each media file on its own")
    path = Path(path)
    if not path.is_file():
        if _URL.match(text):
            raise MediaError(f"{text}: only local files are read, not URLs; download it first "
                             "(e.g. `mmcurate ingest urls` or `mmcurate ingest ytdlp`)")
        raise MediaError(f"{path}: no such file; check the path")
    with open(path, "rb") as handle:
        head = handle.read(4096)
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    for pattern, kind in _INDIRECT:
        if pattern.match(head):
            raise MediaError(
                f"{path.name} is {kind}, not a media file: it would make ffmpeg open the files or URLs it "
                "lists, so it is refused; download the media it points to and ingest those files"
            )
    return f"file:{path.resolve()}"


def _run(args: list[str], *, what: str, path: Path, timeout_s: float = 3600.0) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"{path.name}: {what} took longer than {timeout_s:.0f} s; file skipped") from exc
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["(no message)"]
        raise MediaError(f"{path.name}: {what} failed ({tail[0]}); the file is corrupt or not a media file")
    return done


def probe(path: Path | str, limits: MediaLimits = MediaLimits()) -> MediaInfo:
    """Streams, duration and size of ``path``; refuses empty, corrupt, audio-less or over-limit files."""
    source = local_input(path)
    path = Path(path)
    size = check_size(path, limits)
    done = _run(
        [_tool("ffprobe"), "-v", "error", *LOCAL_ONLY, "-print_format", "json", "-show_format", "-show_streams",
         source],
        what="ffprobe",
        path=path,
        timeout_s=120.0,
    )
    data = json.loads(done.stdout.decode("utf-8", "replace") or "{}")
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    if audio is None:
        raise MediaError(f"{path.name} has no audio stream; recorded as failed and skipped")
    duration = _duration(fmt, audio)
    if duration is None or duration < limits.min_duration_s:
        raise MediaError(
            f"{path.name} lasts {duration or 0:.3f} s, under the minimum of {limits.min_duration_s} s; "
            "the file is empty or truncated"
        )
    if duration > limits.max_duration_s:
        raise MediaError(
            f"{path.name} lasts {duration:.0f} s, over the limit of {limits.max_duration_s:.0f} s; "
            "raise the limit or split the file"
        )
    return MediaInfo(
        duration=duration,
        has_audio=True,
        has_video=video is not None,
        audio_codec=audio.get("codec_name"),
        video_codec=video.get("codec_name") if video else None,
        sample_rate=int(audio["sample_rate"]) if audio.get("sample_rate") else None,
        channels=int(audio["channels"]) if audio.get("channels") else None,
        width=int(video["width"]) if video and video.get("width") else None,
        height=int(video["height"]) if video and video.get("height") else None,
        format_name=fmt.get("format_name"),
        size_bytes=size,
    )


def check_size(path: Path, limits: MediaLimits = MediaLimits()) -> int:
    """The size of ``path`` in bytes; refuses an empty file or one over ``limits.max_size_bytes``."""
    size = path.stat().st_size
    if size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes); recorded as failed and skipped")
    if size > limits.max_size_bytes:
        raise MediaError(
            f"{path.name} is {size} bytes, over the limit of {limits.max_size_bytes}; "
            "raise the limit or split the file"
        )
    return size


def _duration(fmt: dict, audio: dict) -> float | None:
    for value in (fmt.get("duration"), audio.get("duration")):
        try:
            if value is not None:
                return float(value)
        except ValueError:
            continue
    return None


def extract_audio(path: Path | str, out_path: Path | str, sample_rate: int = SAMPLE_RATE) -> Path:
    """Decode the first audio stream to a mono 16-bit WAV at ``sample_rate``; written atomically."""
    source = local_input(path)
    path, out_path = Path(path), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.part.wav")
    try:
        _run(
            [_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", *LOCAL_ONLY, "-i", source, "-map", "0:a:0", "-vn",
             "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", "-fflags", "+bitexact",
             "-flags:a", "+bitexact", str(tmp)],
            what="audio extraction",
            path=path,
        )
        if not tmp.is_file() or tmp.stat().st_size <= 44:
            raise MediaError(f"{path.name}: ffmpeg decoded no audio samples; the audio stream is empty or corrupt")
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def file_sha256(path: Path | str, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def content_path(root: Path, digest: str, suffix: str) -> Path:
    """Where a file with this content hash lives: ``root/ab/abcdef....suffix``."""
    return root / digest[:2] / f"{digest}{suffix}"


def cut_clip(source: Path | str, span: Span, out_root: Path | str, *, video: bool = False) -> Path:
    """Cut ``span`` of ``source`` to a WAV (16 kHz mono) or, with ``video``, an MP4 (H.264 + AAC).

    The clip is stored under its own content hash, so the same cut is stored once.
    """
    url = local_input(source)
    source, out_root = Path(source), Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    suffix = ".mp4" if video else ".wav"
    with tempfile.TemporaryDirectory(dir=out_root) as tmp_dir:
        tmp = Path(tmp_dir) / f"clip{suffix}"
        args = [_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", *LOCAL_ONLY, "-ss", f"{span.start:.3f}", "-i", url,
                "-t", f"{span.duration:.3f}", "-fflags", "+bitexact"]
        if video:
            args += ["-map", "0:v:0", "-map", "0:a:0", "-c:v", "libx264", "-preset", "veryfast", "-crf", "28",
                     "-pix_fmt", "yuv420p", "-threads", "1", "-c:a", "aac", "-b:a", "64k", "-flags:v", "+bitexact",
                     "-flags:a", "+bitexact", "-movflags", "+faststart"]
        else:
            args += ["-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le",
                     "-flags:a", "+bitexact"]
        _run(args + [str(tmp)], what=f"cutting {span.start:.2f}-{span.end:.2f} s", path=source)
        digest = file_sha256(tmp)
        final = content_path(out_root, digest, suffix)
        final.parent.mkdir(parents=True, exist_ok=True)
        if not final.exists():
            os.replace(tmp, final)
    return final


def load_audio(path: Path | str):
    """A prepared 16 kHz mono WAV as a float32 numpy array in [-1, 1]."""
    import soundfile as sf

    path = Path(path)
    try:
        samples, rate = sf.read(path, dtype="float32", always_2d=False)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise MediaError(f"{path.name} cannot be read as a WAV file ({exc}); prepare it again") from exc
    if rate != SAMPLE_RATE:
        raise MediaError(f"{path.name} is sampled at {rate} Hz, not {SAMPLE_RATE}; run the prepare stage on it")
    if samples.ndim != 1:
        samples = samples.mean(axis=1)
    return samples


def write_wav_clip(audio, span: Span, out_root: Path | str, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write ``span`` of already loaded mono ``audio`` as a 16-bit WAV under its content hash.

    The same samples as cutting the prepared WAV with ffmpeg, without starting a process per clip.
    """
    import io

    import soundfile as sf

    out_root = Path(out_root)
    piece = audio[int(round(span.start * sample_rate)) : int(round(span.end * sample_rate))]
    if len(piece) == 0:
        raise MediaError(f"span {span.start:.3f}-{span.end:.3f} s lies outside the audio; nothing to cut")
    buffer = io.BytesIO()
    sf.write(buffer, piece, sample_rate, subtype="PCM_16", format="WAV")
    return store_content(buffer.getvalue(), out_root, ".wav")


def store_content(data: bytes, out_root: Path | str, suffix: str) -> Path:
    """Write ``data`` under its own content hash (``out_root/ab/abcdef....suffix``), atomically, once."""
    final = content_path(Path(out_root), hashlib.sha256(data).hexdigest(), suffix)
    if not final.exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.part")
        tmp.write_bytes(data)
        os.replace(tmp, final)
    return final
