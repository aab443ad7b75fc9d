"""A loopback web site for the fetching tests: real media, an HLS stream, pages, a podcast feed, bad answers.

``http.server.ThreadingHTTPServer`` on 127.0.0.1 (a free port) in a thread, for the whole test
session, serving a folder of media made with ffmpeg (and, on request, a generated dialogue).
yt-dlp reaches it as it would any site: its generic extractor reads direct files, the HLS
playlist, ``<audio>``/``<video>`` tags in pages and the RSS feed's enclosures.

=====================  ====================================================================
path                   what it is
=====================  ====================================================================
``/a.wav`` ...         short tones (WAV), each different, so each is its own source
``/clip.mp4``          a short video with an audio track
``/tone.m4a``          AAC audio
``/hls/index.m3u8``    an HLS playlist of ``clip.mp4`` made by ffmpeg (``-f hls``, 2 segments)
``/talk.html``         a page with one ``<video>``
``/two.html``          a page with two ``<audio>`` tags (a playlist of two entries)
``/feed.xml``          an RSS feed: ``b.wav``, ``c.wav`` and ``/missing.mp3`` (404)
``/empty.html``        a page with no media
``/notes.txt``         plain text
``/fake.wav``          says ``audio/wav`` but sends an HTML page
``/gone.wav``          410 Gone; anything else not in the folder: 404
``/truncated.wav``     a Content-Length twice the bytes sent, then the connection closes
``/members/d.wav``     403 unless the request carries the cookie ``session=member``
=====================  ====================================================================

Tests ask for ``loopback_site`` (and ``served_dialogue`` for a spoken dialogue) by name.
"""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest import testmedia

TONES = {"a.wav": 330, "b.wav": 440, "c.wav": 550, "d.wav": 660, "e.wav": 770, "f.wav": 880}
MEMBER_COOKIE = ("session", "member")


@dataclass(frozen=True)
class LoopbackSite:
    """The running site: its base URL and the folder it serves."""

    base_url: str
    folder: Path

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def cookies_file(self, path: Path) -> Path:
        """A Netscape cookies file that lets yt-dlp into ``/members/``."""
        name, value = MEMBER_COOKIE
        path.write_text("# Netscape HTTP Cookie File\n"
                        f"127.0.0.1\tFALSE\t/\tFALSE\t0\t{name}\t{value}\n")
        return path


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, capture_output=True)


def make_site_folder(folder: Path) -> None:
    """Write the media and pages of the site into ``folder``."""
    for name, hz in TONES.items():
        _ffmpeg("-f", "lavfi", "-i", f"sine=frequency={hz}:duration=1.5", "-ac", "1", "-ar", "16000", str(folder / name))
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=1.5", "-c:a", "aac", "-b:a", "48k", str(folder / "tone.m4a"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=2", "-f", "lavfi", "-i",
            "sine=frequency=500:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt",
            "yuv420p", "-c:a", "aac", "-b:a", "48k", "-shortest", str(folder / "clip.mp4"))
    (folder / "hls").mkdir()
    _ffmpeg("-i", str(folder / "clip.mp4"), "-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
            str(folder / "hls" / "index.m3u8"))
    (folder / "talk.html").write_text('<html><head><title>A talk on video</title></head>'
                                      '<body><video src="clip.mp4" controls></video></body></html>')
    (folder / "two.html").write_text('<html><head><title>Two recordings</title></head><body>'
                                     '<audio src="e.wav"></audio><audio src="tone.m4a"></audio></body></html>')
    (folder / "empty.html").write_text("<html><head><title>Nothing here</title></head><body><p>no media</p></body></html>")
    (folder / "notes.txt").write_text("just some notes, not a recording\n" * 20)
    (folder / "members").mkdir()
    (folder / "members" / "d.wav").write_bytes((folder / "d.wav").read_bytes())


FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>
<title>Loopback podcast</title><description>Three episodes, one of them gone</description>
<item><title>Episode one</title><guid>ep-1</guid><enclosure url="{base}/b.wav" type="audio/wav"/>
<itunes:duration>1</itunes:duration><pubDate>Tue, 03 Jun 2025 10:00:00 GMT</pubDate></item>
<item><title>Episode two</title><guid>ep-2</guid><enclosure url="{base}/c.wav" type="audio/wav"/></item>
<item><title>Episode gone</title><guid>ep-3</guid><enclosure url="{base}/missing.mp3" type="audio/mpeg"/></item>
</channel></rss>
"""


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """The folder's files, plus the feed, and the answers a real site gives when things go wrong."""

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?")[0]
        if path == "/feed.xml":
            base = f"http://{self.headers['Host']}"
            return self._send(200, FEED.format(base=base).encode(), "application/rss+xml")
        if path == "/fake.wav":
            return self._send(200, b"<!DOCTYPE html><html><body>Sign in to listen</body></html>", "audio/wav")
        if path == "/gone.wav":
            return self.send_error(410)
        if path == "/truncated.wav":
            body = (Path(self.directory) / "f.wav").read_bytes()
            self.close_connection = True
            return self._send(200, body[: len(body) // 2], "audio/wav", length=len(body))
        if path.startswith("/members/") and f"{MEMBER_COOKIE[0]}={MEMBER_COOKIE[1]}" not in (self.headers["Cookie"] or ""):
            return self.send_error(403)
        return super().do_GET()

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()


@pytest.fixture(scope="session")
def loopback_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackSite]:
    """The site, up for the test session."""
    folder = tmp_path_factory.mktemp("site")
    make_site_folder(folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SiteHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, name="loopback-site", daemon=True)
    thread.start()
    try:
        yield LoopbackSite(f"http://127.0.0.1:{server.server_port}", folder)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def served_dialogue(loopback_site: LoopbackSite) -> testmedia.GeneratedDialogue:
    """The English test dialogue (three voices), served as ``/en_dialogue.wav``."""
    return testmedia.generate(testmedia.EN, loopback_site.folder)
