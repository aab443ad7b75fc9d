"""backend.services.speech.remote: URL lists, manifests and yt-dlp playlists in, against a loopback site."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from backend.db.models import Source
from backend.domain import SourceStatus, ValidationError
from backend.services import speech
from backend.services.projects import ProjectChanges, ProjectSpec, create_project, update_project
from backend.services.speech import remote
from backend.services.speech.sources import source_as_dict, source_media_path
from backend.services.speech.stages import asr_options, diarize_options, source_speaker_hint
from ingest.asr import AsrOptions, ModelSpec
from ingest.sources.ytdlp import FetchOptions

QUICK = FetchOptions(retries=1)


def _sources(session) -> dict[str, Source]:
    return {s.uri: s for s in session.scalars(select(Source).order_by(Source.id))}


def test_a_url_list_ingests_with_provenance_and_a_dead_url_does_not_stop_the_others(any_settings, any_session,
                                                                                   loopback_site, tmp_path):
    create_project(any_session, ProjectSpec(name="web", languages=("en",)))
    listed = ["a.wav", "missing.wav", "clip.mp4", "empty.html", "hls/index.m3u8", "notes.txt", "truncated.wav"]
    urls = tmp_path / "talks.txt"
    urls.write_text("# loopback talks\n" + "\n".join(loopback_site.url(p) for p in listed) + "\n")
    report = remote.ingest_urls(any_session, any_settings, "web", urls, options=QUICK)
    assert len(report.added) == 3 and report.already_registered == [] and report.skipped == []
    assert report.failed == [
        (loopback_site.url("missing.wav"), "not found (HTTP 404)"),
        (loopback_site.url("empty.html"), "unsupported site or no media found at this URL"),
        (loopback_site.url("notes.txt"), "not media: text/plain"),
        (loopback_site.url("truncated.wav"), "download incomplete: 24039 bytes read, 24039 more expected. "
                                             "Giving up after 1 retries"),
    ]
    sources = _sources(any_session)
    wav = sources[loopback_site.url("a.wav")]
    stored = source_media_path(wav)
    assert (wav.kind, wav.status, wav.error, wav.title) == ("url", "registered", None, "a")
    assert stored == any_settings.media_dir / "downloads" / wav.content_hash[:2] / f"{wav.content_hash}.wav"
    assert stored.read_bytes() == (loopback_site.folder / "a.wav").read_bytes() and wav.size_bytes == stored.stat().st_size
    public = source_as_dict(wav)
    assert (public["webpage_url"], public["extractor"], public["duration"]) == (loopback_site.url("a.wav"), "Generic", 1.5)
    assert public["licence_decision"] == {"allowed": True, "reason": "the project has no licence policy: every "
                                          "licence is allowed", "policy": [], "licence": None, "from": None}
    assert source_as_dict(sources[loopback_site.url("hls/index.m3u8")])["duration"] == pytest.approx(2.0, abs=0.1)
    dead = sources[loopback_site.url("missing.wav")]
    assert (dead.status, dead.error, dead.content_hash[:4], dead.size_bytes) == ("failed", "not found (HTTP 404)",
                                                                              "url:", None)

    again = remote.ingest_urls(any_session, any_settings, "web", urls, options=QUICK)
    assert again.added == [] and sorted(again.already_registered) == sorted(report.added) and again.from_archive == 3
    assert [where for where, _ in again.failed] == [where for where, _ in report.failed]  # retried, same rows
    assert any_session.scalar(select(func.count()).select_from(Source)) == 7


def test_a_ytdlp_playlist_and_a_page_of_recordings_become_one_source_per_entry(any_settings, any_session,
                                                                              loopback_site):
    create_project(any_session, ProjectSpec(name="web", languages=("en",)))
    report = remote.ingest_ytdlp(any_session, any_settings, "web",
                                 [loopback_site.url("feed.xml"), loopback_site.url("two.html")], options=QUICK)
    assert len(report.added) == 4 and report.failed == [(loopback_site.url("missing.mp3"), "not found (HTTP 404)")]
    sources = _sources(any_session)
    episode = sources[loopback_site.url("b.wav")]
    assert (episode.kind, episode.title, episode.status) == ("ytdlp", "Episode one", "registered")
    assert {k: episode.extra[k] for k in ("playlist", "playlist_url", "upload_date", "archive_id")} == {
        "playlist": "Loopback podcast", "playlist_url": loopback_site.url("feed.xml"), "upload_date": "2025-06-03",
        "archive_id": "generic ep-1"}
    gone = sources[loopback_site.url("missing.mp3")]
    assert (gone.title, gone.status, gone.error) == ("Episode gone", "failed", "not found (HTTP 404)")
    second = sources[loopback_site.url("two.html#two-2")]
    assert (second.title, second.extra["webpage_url"], source_media_path(second).suffix) == (
        "Two recordings (2)", loopback_site.url("two.html"), ".m4a")

    again = remote.ingest_ytdlp(any_session, any_settings, "web",
                                [loopback_site.url("feed.xml"), loopback_site.url("two.html")], options=QUICK)
    assert again.added == [] and again.from_archive == 4 and sorted(again.already_registered) == sorted(report.added)


def test_the_licence_policy_is_decided_before_downloading(settings, session, loopback_site, tmp_path):
    create_project(session, ProjectSpec(name="web", languages=("en",), allowed_licences=("CC-BY-4.0",)))
    report = remote.ingest_ytdlp(session, settings, "web", [loopback_site.url("two.html")], options=QUICK)
    reason = "no licence given; the project allows only CC-BY-4.0"
    assert report.added == [] and report.skipped == [(loopback_site.url("two.html#two-1"), reason),
                                                     (loopback_site.url("two.html#two-2"), reason)]
    skipped = _sources(session)[loopback_site.url("two.html#two-1")]
    assert (skipped.status, skipped.error, skipped.title) == ("skipped", reason, "Two recordings (1)")
    assert skipped.extra["licence_decision"] == {"allowed": False, "reason": reason, "policy": ["CC-BY-4.0"],
                                                 "licence": None, "from": None}
    assert not (settings.media_dir / "downloads").exists() or not list((settings.media_dir / "downloads").rglob("*.wav"))

    manifest = tmp_path / "licensed.csv"
    manifest.write_text("url,title,licence\n"
                        f"{loopback_site.url('b.wav')},Open talk,cc-by-4.0\n"
                        f"{loopback_site.url('c.wav')},Closed talk,All rights reserved\n")
    licensed = remote.ingest_manifest(session, settings, "web", manifest, options=QUICK)
    assert len(licensed.added) == 1 and licensed.skipped == [
        (loopback_site.url("c.wav"), "licence 'All rights reserved' is not among the project's allowed licences "
                                     "(CC-BY-4.0)")]
    open_talk = session.get(Source, licensed.added[0])
    assert (open_talk.licence, open_talk.extra["licence_decision"]["from"]) == ("cc-by-4.0", "manifest")

    update_project(session, "web", ProjectChanges(allowed_licences=(), fields_set=frozenset({"allowed_licences"})))
    session.commit()
    now = remote.ingest_ytdlp(session, settings, "web", [loopback_site.url("two.html")], options=QUICK)
    assert now.added == [skipped.id, skipped.id + 1]  # the same rows, decided again and fetched
    session.refresh(skipped)
    assert skipped.status == "registered" and skipped.error is None and not skipped.content_hash.startswith("url:")


def test_a_manifest_gives_its_rows_hints_labels_and_metadata(settings, session, loopback_site, tmp_path):
    create_project(session, ProjectSpec(name="web", languages=("en", "ta")))
    local = tmp_path / "local.wav"
    local.write_bytes((loopback_site.folder / "f.wav").read_bytes())
    manifest = tmp_path / "sources.jsonl"
    manifest.write_text("\n".join(json.dumps(row) for row in [
        {"url": loopback_site.url("d.wav"), "title": "Review", "author": "Reviewer", "language": "ta",
         "num_speakers": 1, "labels": {"sentiment": "positive"}, "rating": 4},
        {"path": "local.wav", "language": "en", "min_speakers": 1, "max_speakers": 2},
        {"url": loopback_site.url("gone.wav"), "title": "Gone"},
    ]) + "\n")
    report = remote.ingest_manifest(session, settings, "web", manifest, options=QUICK)
    assert len(report.added) == 2 and report.failed == [(loopback_site.url("gone.wav"), "not found (HTTP 410)")]
    review, in_place = (session.get(Source, i) for i in report.added)
    assert (review.kind, review.title, review.author) == ("url", "Review", "Reviewer")
    assert (review.extra["labels"], review.extra["metadata"], review.extra["manifest_line"]) == (
        {"sentiment": "positive"}, {"rating": 4}, 1)
    config = speech.PipelineConfig(asr_model=ModelSpec())
    assert source_speaker_hint(review).num_speakers == 1 and diarize_options(config, review.project, review).num_speakers == 1
    assert asr_options(config, review).language == "ta"
    assert (in_place.kind, in_place.uri, source_media_path(in_place)) == ("file", local.resolve().as_uri(), local.resolve())
    assert source_speaker_hint(in_place).as_dict() == {"min_speakers": 1, "max_speakers": 2}
    gone = _sources(session)[loopback_site.url("gone.wav")]
    assert (gone.title, gone.status, gone.extra["manifest"]) == ("Gone", "failed", "sources.jsonl")

    manifest.write_text(manifest.read_text() + json.dumps({"url": loopback_site.url("e.wav"), "num_speakers": 0}) + "\n")
    with pytest.raises(ValidationError, match="line 4: num_speakers must be a whole number from 1 to 50, got 0"):
        remote.ingest_manifest(session, settings, "web", manifest, options=QUICK)


def test_cookies_let_a_members_only_url_in_on_a_rerun(settings, session, loopback_site, tmp_path):
    create_project(session, ProjectSpec(name="web", languages=("en",)))
    members = [loopback_site.url("members/d.wav")]
    refused = remote.ingest_ytdlp(session, settings, "web", members, options=QUICK)
    assert refused.failed[0][1].startswith("private or needs login (HTTP 403)")
    with_cookies = replace(QUICK, cookies=loopback_site.cookies_file(tmp_path / "cookies.txt"))
    admitted = remote.ingest_ytdlp(session, settings, "web", members, options=with_cookies)
    (source,) = session.scalars(select(Source)).all()
    assert admitted.added == [source.id] and source.status == SourceStatus.REGISTERED and source.error is None


@pytest.fixture(scope="module")
def ct2_model(tmp_path_factory) -> str:
    from ingest.whisper_weights import ensure_ct2_base

    return str(ensure_ct2_base(tmp_path_factory.mktemp("models")))


def test_a_downloaded_dialogue_is_processed_with_its_manifest_speaker_count(settings, session, loopback_site,
                                                                           served_dialogue, ct2_model, tmp_path):
    """The English dialogue has three voices; its manifest row says one, and diarization finds one.
    Sources that failed or were skipped at ingest are not processed."""
    create_project(session, ProjectSpec(name="web", languages=("en",), allowed_licences=("CC0-1.0",)))
    manifest = tmp_path / "dialogue.csv"
    manifest.write_text("url,licence,language,num_speakers\n"
                        f"{loopback_site.url('en_dialogue.wav')},CC0-1.0,en,1\n"
                        f"{loopback_site.url('a.wav')},,,\n"
                        f"{loopback_site.url('missing.wav')},CC0-1.0,,\n")
    ingested = remote.ingest_manifest(session, settings, "web", manifest, options=QUICK)
    assert len(ingested.added) == 1 and len(ingested.skipped) == 1 and len(ingested.failed) == 1
    project = session.get(Source, ingested.added[0]).project
    config = speech.config_from_settings(settings.model_copy(update={"asr_model": ct2_model}), project)
    config = replace(config, asr=AsrOptions(beam_size=1), asr_model=replace(config.asr_model, cpu_threads=2))
    models = speech.PipelineModels(config)
    report = speech.process_project(session, "web", settings, config, models)
    assert report.processed == ingested.added and report.failed == []
    utterances = speech.list_utterances(session, "web")
    assert utterances and len({u["speaker"] for u in utterances}) == 1
    assert {u["language"] for u in utterances} == {"en"}
