"""ingest.sources: URL lists, manifests, and the yt-dlp adapter against a loopback site (no database)."""

from __future__ import annotations

import json

import pytest
import yt_dlp
from yt_dlp.extractor.common import InfoExtractor

from backend.domain import MediaError, SpeakerCountHint, ValidationError
from ingest.sources.manifest import read_manifest
from ingest.sources.urls import read_url_list
from ingest.sources.ytdlp import (
    AUDIO_FORMAT,
    VIDEO_FORMAT,
    DownloadArchive,
    FetchFailure,
    FetchOptions,
    MediaFetcher,
    RemoteMedia,
    describe,
    failure_reason,
    parse_rate_limit,
    readable_reason,
    text_content_type,
    ytdlp_params,
)


def test_a_url_list_skips_comments_blanks_and_repeats_and_names_every_bad_line(tmp_path):
    good = tmp_path / "talks.txt"
    good.write_text("# talks to fetch\n\nhttps://example.org/a.mp4\n  http://example.org/b.wav#t=10  \n"
                    "https://example.org/a.mp4\n")
    assert [(u.line, u.url) for u in read_url_list(good)] == [(3, "https://example.org/a.mp4"),
                                                            (4, "http://example.org/b.wav#t=10")]
    bad = tmp_path / "bad.txt"
    bad.write_text("https://example.org/a.mp4\nexample.org/b.wav\nftp://example.org/c.wav\nhttps://x.org/a b.mp4\n")
    with pytest.raises(ValidationError) as refused:
        read_url_list(bad)
    assert str(refused.value) == (
        "bad.txt: 3 problem(s), nothing imported; fix them and ingest again:\n"
        "  line 2: 'example.org/b.wav' is not an http(s) URL\n"
        "  line 3: 'ftp://example.org/c.wav' is not an http(s) URL\n"
        "  line 4: 'https://x.org/a b.mp4' holds spaces; give one URL per line (encode spaces as %20)")
    (tmp_path / "empty.txt").write_text("# nothing yet\n")
    with pytest.raises(ValidationError, match="empty.txt lists no URLs"):
        read_url_list(tmp_path / "empty.txt")


def test_a_manifest_reads_urls_paths_metadata_hints_and_labels(tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "local.wav").write_bytes(b"RIFF")
    csv = tmp_path / "sources.csv"
    csv.write_text("url,path,title,channel,license,lang,num_speakers,max_speakers,labels,notes\n"
                   "https://example.org/a.mp4,,A talk,Some channel,CC-BY-4.0,TA,2,,positive,first\n"
                   ",media/local.wav,Local,,,en_US,,3,,\n")
    first, second = read_manifest(csv)
    assert (first.line, first.url, first.path, first.title, first.author, first.licence, first.language) == (
        2, "https://example.org/a.mp4", None, "A talk", "Some channel", "CC-BY-4.0", "ta")
    assert first.speakers == SpeakerCountHint(num_speakers=2) and first.labels == "positive"
    assert first.metadata == {"notes": "first"} and first.hints() == {"language": "ta", "num_speakers": 2}
    assert second.path == (tmp_path / "media" / "local.wav").resolve() and second.url is None
    assert second.language == "en-us" and second.hints() == {"language": "en-us", "max_speakers": 3}

    jsonl = tmp_path / "sources.jsonl"
    jsonl.write_text(json.dumps({"url": "https://example.org/b.wav", "labels": {"sentiment": "negative"},
                                 "min_speakers": 1}) + "\n")
    (row,) = read_manifest(jsonl)
    assert row.labels == {"sentiment": "negative"} and row.speakers == SpeakerCountHint(min_speakers=1)


def test_a_malformed_manifest_is_refused_with_every_bad_line(tmp_path):
    manifest = tmp_path / "bad.jsonl"
    manifest.write_text("\n".join([
        json.dumps({"url": "https://example.org/a.mp4", "num_speakers": 2}),
        json.dumps({"url": "https://example.org/b.mp4", "path": "b.mp4"}),
        json.dumps({"title": "nothing to fetch"}),
        json.dumps({"url": "www.example.org/c.mp4"}),
        json.dumps({"path": "missing.wav"}),
        json.dumps({"url": "https://example.org/d.mp4", "language": "Tamil"}),
        json.dumps({"url": "https://example.org/e.mp4", "num_speakers": "two"}),
        json.dumps({"url": "https://example.org/f.mp4", "min_speakers": 4, "max_speakers": 3}),
        json.dumps({"url": "https://example.org/a.mp4"}),
        "{not json",
    ]) + "\n")
    with pytest.raises(ValidationError) as refused:
        read_manifest(manifest)
    assert str(refused.value) == "bad.jsonl: 1 problem(s), nothing imported; fix them and ingest again:\n" \
                                 "  line 10: not valid JSON (Expecting property name enclosed in double quotes at column 2)"
    manifest.write_text(manifest.read_text().replace("{not json\n", ""))
    with pytest.raises(ValidationError) as refused:
        read_manifest(manifest)
    assert str(refused.value).splitlines()[1:] == [
        "  line 2: give either url or path, not both",
        "  line 3: no url or path; every row names its media by one of them",
        "  line 4: 'www.example.org/c.mp4' is not an http(s) URL",
        "  line 5: no such file 'missing.wav' (a relative path is read from the manifest's folder)",
        "  line 6: language 'tamil' is not an ISO 639 code such as 'ta' or 'zh'",
        "  line 7: num_speakers must be a whole number from 1 to 50, got 'two'",
        "  line 8: min_speakers (4) is more than max_speakers (3)",
        "  line 9: url 'https://example.org/a.mp4' repeats line 1",
    ]


def test_the_options_become_ytdlp_parameters(tmp_path):
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    archive = DownloadArchive(None)
    params = ytdlp_params(FetchOptions(video=True, rate_limit_bytes=parse_rate_limit("1M"), retries=5,
                                       cookies=cookies, max_entries=20), tmp_path, archive)
    assert params["format"] == VIDEO_FORMAT and params["ratelimit"] == 1024 * 1024
    assert params["retries"] == params["fragment_retries"] == 5 and params["cookiefile"] == str(cookies)
    assert params["download_archive"] is archive and params["playlistend"] == 20 and params["noplaylist"] is True
    plain = ytdlp_params(FetchOptions(), tmp_path, None)
    assert plain["format"] == AUDIO_FORMAT and "ratelimit" not in plain and "download_archive" not in plain
    with pytest.raises(ValidationError, match="rate limit 'fast' is not a size per second"):
        parse_rate_limit("fast")
    with pytest.raises(ValidationError, match="cookies file .* does not exist"):
        FetchOptions(cookies=tmp_path / "none.txt")


def test_a_licence_in_the_metadata_is_read_with_the_other_provenance():
    """A site that states a licence (PeerTube, Vimeo, SoundCloud, Wikimedia ... fill yt-dlp's `license`)."""
    info = {"id": "9c9de5e8", "extractor_key": "PeerTube", "title": "What is PeerTube?",
            "license": "Attribution - Share Alike", "channel": "Framasoft", "channel_url": "https://framatube.org/c/x",
            "upload_date": "20181029", "duration": 113, "language": "en",
            "webpage_url": "https://framatube.org/videos/watch/9c9de5e8"}
    found = describe(info, "https://framatube.org/w/9c9de5e8")
    assert (found.licence, found.author, found.upload_date, found.duration_s, found.archive_id) == (
        "Attribution - Share Alike", "Framasoft", "2018-10-29", 113.0, "peertube 9c9de5e8")
    assert found.provenance()["language"] == "en" and "licence" not in found.provenance()


def test_text_is_told_from_media_by_its_first_bytes():
    assert text_content_type(b"  <!DOCTYPE html><html>") == "text/html"
    assert text_content_type(b'{"error": "no such video"}') == "application/json"
    assert text_content_type(b"just notes\n") == "text/plain"
    assert text_content_type("caf\u00e9".encode()[:4]) == "text/plain"  # cut inside a character
    assert text_content_type(b"RIFF\x24\x00\x00\x00WAVEfmt ") is None
    assert text_content_type(b"\xff\xfb\x90\x64\x00") is None  # an MP3 frame


class RestrictedIE(InfoExtractor):
    """A site that refuses as real ones do, through yt-dlp's own helpers (so the messages are yt-dlp's)."""

    _VALID_URL = r"restricted:(?P<id>\w+)"

    def _real_extract(self, url):
        case = self._match_id(url)
        if case == "geo":
            self.raise_geo_restricted(countries=["DE"])
        if case == "private":  # YouTube's wording of a private video
            self.raise_login_required("Private video. Sign in if you've been granted access to this video")
        self.raise_login_required()


@pytest.mark.parametrize("case, reason", [
    ("geo", "geo-blocked: This video is not available from your location due to geo restriction; "
            "This video is available in Germany"),
    ("private", "private or needs login: Private video. Sign in if you've been granted access to this video"),
    ("login", "private or needs login: This video is only available for registered users"),
])
def test_refusals_yt_dlp_raises_read_as_reasons(case, reason):
    with yt_dlp.YoutubeDL({"quiet": True, "logger": _Silent()}) as ydl:
        ydl.add_info_extractor(RestrictedIE())
        with pytest.raises(yt_dlp.utils.DownloadError) as raised:
            ydl.extract_info(f"restricted:{case}", ie_key="Restricted", download=False)
    assert failure_reason(raised.value) == reason


@pytest.mark.parametrize("message, reason", [
    ("ERROR: [generic] talk: Unable to download webpage: HTTP Error 404: Not Found (caused by <HTTPError 404: Not "
     "Found>)", "not found (HTTP 404)"),
    ("ERROR: [youtube] dQw4w9WgXcQ: Video unavailable. This video has been removed by the uploader",
     "not found: Video unavailable. This video has been removed by the uploader"),
    ("ERROR: [youtube] abc: Join this channel to get access to members-only content like this video, and other "
     "exclusive perks.", "private or needs login: Join this channel to get access to members-only content like "
                         "this video, and other exclusive perks"),
    ("ERROR: \r[download] Got error: Downloaded 1000 bytes, expected 2000 bytes. Giving up after 3 retries",
     "download incomplete: Downloaded 1000 bytes, expected 2000 bytes. Giving up after 3 retries"),
    ("ERROR: [generic] x: Unable to download webpage: The read operation timed out (caused by "
     "TransportError('The read operation timed out'))", "unreachable: Unable to download webpage: The read "
                                                        "operation timed out"),
    ("ERROR: [generic] x: Unable to download webpage: HTTP Error 503: Service Unavailable (caused by "
     "<HTTPError 503: Service Unavailable>)", "HTTP error 503: Unable to download webpage: HTTP Error 503: "
                                              "Service Unavailable"),
])
def test_yt_dlp_messages_read_as_reasons(message, reason):
    assert readable_reason(message) == reason


class _Silent:
    def debug(self, message):
        pass

    info = warning = error = debug


@pytest.fixture
def fetcher(tmp_path):
    with MediaFetcher(FetchOptions(retries=1, archive=tmp_path / "archive.txt"), tmp_path / "work") as f:
        yield f


def test_direct_files_an_hls_stream_and_a_page_are_described_then_downloaded_and_checked(fetcher, loopback_site):
    (wav,) = fetcher.discover(loopback_site.url("a.wav"))
    assert isinstance(wav, RemoteMedia) and wav.key == loopback_site.url("a.wav")
    assert (wav.title, wav.extractor, wav.archive_id, wav.licence) == ("a", "Generic", "generic a", None)
    downloaded = fetcher.download(wav)
    assert downloaded.suffix == ".wav" and downloaded.size_bytes == (loopback_site.folder / "a.wav").stat().st_size
    assert downloaded.info.has_audio and abs(downloaded.info.duration - 1.5) < 0.05

    (hls,) = fetcher.discover(loopback_site.url("hls/index.m3u8"))
    stream = fetcher.download(hls)
    assert stream.suffix == ".mp4" and stream.info.has_video and abs(stream.info.duration - 2.0) < 0.1

    (page,) = fetcher.discover(loopback_site.url("talk.html"))
    assert (page.title, page.extractor, page.webpage_url) == ("A talk on video (1)", "HTML5MediaEmbed",
                                                              loopback_site.url("talk.html"))
    assert fetcher.download(page).info.has_video


def test_a_feed_is_a_playlist_whose_dead_episode_fails_alone(fetcher, loopback_site):
    one, two, gone = fetcher.discover(loopback_site.url("feed.xml"))
    assert (one.key, one.title, one.upload_date, one.playlist, one.playlist_url) == (
        loopback_site.url("b.wav"), "Episode one", "2025-06-03", "Loopback podcast", loopback_site.url("feed.xml"))
    assert one.webpage_url == loopback_site.url("b.wav") and two.title == "Episode two"
    assert gone == FetchFailure(loopback_site.url("missing.mp3"), "not found (HTTP 404)", "Episode gone")
    entries = list(fetcher.discover(loopback_site.url("two.html")))
    assert [(e.key, e.title) for e in entries] == [(loopback_site.url("two.html#two-1"), "Two recordings (1)"),
                                                  (loopback_site.url("two.html#two-2"), "Two recordings (2)")]


@pytest.mark.parametrize("path, reason", [
    ("missing.wav", "not found (HTTP 404)"),
    ("gone.wav", "not found (HTTP 410)"),
    ("empty.html", "unsupported site or no media found at this URL"),
    ("members/d.wav", "private or needs login (HTTP 403): the site refused access; if you can open it in a "
                      "browser, give --cookies FILE"),
])
def test_what_cannot_be_read_fails_with_a_reason(fetcher, loopback_site, path, reason):
    assert list(fetcher.discover(loopback_site.url(path))) == [FetchFailure(loopback_site.url(path), reason)]


def test_an_address_nobody_listens_on_is_unreachable(fetcher):
    (failure,) = fetcher.discover("http://127.0.0.1:9/talk.wav")
    assert failure.reason == "unreachable: [Errno 111] Connection refused"


@pytest.mark.parametrize("path, reason", [
    ("notes.txt", "not media: text/plain"),
    ("fake.wav", "not media: text/html"),
    ("truncated.wav", "download incomplete: 24039 bytes read, 24039 more expected. Giving up after 1 retries"),
])
def test_downloads_that_are_not_whole_media_are_refused(fetcher, loopback_site, path, reason):
    (found,) = fetcher.discover(loopback_site.url(path))
    with pytest.raises(MediaError) as refused:
        fetcher.download(found)
    assert str(refused.value) == reason


def test_cookies_open_what_needs_a_login(loopback_site, tmp_path):
    options = FetchOptions(cookies=loopback_site.cookies_file(tmp_path / "cookies.txt"))
    with MediaFetcher(options, tmp_path / "work") as fetcher:
        (found,) = fetcher.discover(loopback_site.url("members/d.wav"))
        assert fetcher.download(found).info.has_audio


def test_the_archive_skips_only_what_was_confirmed(loopback_site, tmp_path):
    archive = tmp_path / "archive.txt"
    with MediaFetcher(FetchOptions(archive=archive), tmp_path / "work") as fetcher:
        first, second = fetcher.discover(loopback_site.url("two.html"))
        fetcher.download(first)
        fetcher.download(second)
        fetcher.archive.confirm(first.archive_id)  # the second was not registered: it is tried again
    assert archive.read_text() == "html5mediaembed two-1\n"
    with MediaFetcher(FetchOptions(archive=archive), tmp_path / "work") as fetcher:
        assert [e.key for e in fetcher.discover(loopback_site.url("two.html"))] == [loopback_site.url("two.html#two-2")]
        assert list(fetcher.discover(loopback_site.url("a.wav")))[0].archive_id == "generic a"
        assert fetcher.archive.take_skipped() == ["html5mediaembed two-1"]
        fetcher.archive.confirm("generic a")
        assert list(fetcher.discover(loopback_site.url("a.wav"))) == []
        assert fetcher.archive.take_skipped() == ["generic a"]
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


@pytest.mark.parametrize("name", ["ingest.sources.urls", "ingest.sources.ytdlp", "backend.services.speech.remote"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
