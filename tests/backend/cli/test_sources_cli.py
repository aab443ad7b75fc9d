"""`mmcurate ingest urls|manifest|ytdlp` and `sources list`: thin commands over backend.services.speech.remote."""

from __future__ import annotations

import json


def test_ingest_urls_then_sources_list_shows_provenance_decisions_and_reasons(cli, loopback_site, tmp_path):
    urls = tmp_path / "talks.txt"
    urls.write_text(f"{loopback_site.url('a.wav')}\n{loopback_site.url('missing.wav')}\n")
    assert cli("project", "create", "web", "--languages", "en")[0] == 0
    code, out, err = cli("ingest", "urls", str(urls), "--project", "web", "--retries", "0")
    assert code == 0 and out.splitlines()[-1] == ("1 new sources, 0 already registered, 0 skipped by the licence policy, "
                                                  "1 failed")
    assert f"failed {loopback_site.url('missing.wav')}: not found (HTTP 404)" in err
    code, out, _ = cli("sources", "list", "--project", "web", "--json")
    fetched, dead = (json.loads(line) for line in out.splitlines())
    assert (fetched["kind"], fetched["status"], fetched["uri"], fetched["webpage_url"]) == (
        "url", "registered", loopback_site.url("a.wav"), loopback_site.url("a.wav"))
    assert fetched["extractor"] == "Generic" and fetched["duration"] == 1.5 and fetched["upload_date"]
    assert fetched["licence_decision"]["allowed"] is True and fetched["stages"] == []
    assert (dead["status"], dead["error"], dead["licence_decision"]) == ("failed", "not found (HTTP 404)", None)

    code, out, _ = cli("ingest", "urls", str(urls), "--project", "web", "--retries", "0", "--json")
    report = json.loads(out.splitlines()[-1])
    assert code == 0 and report["added"] == [] and report["already_registered"] == [fetched["id"]]
    assert report["from_archive"] == 1 and report["failed"] == [{"input": loopback_site.url("missing.wav"),
                                                                 "reason": "not found (HTTP 404)"}]


def test_ingest_ytdlp_skips_by_licence_and_without_the_archive_still_adds_nothing_twice(cli, loopback_site):
    cli("project", "create", "web", "--languages", "en", "--licences", "CC-BY-4.0")
    code, out, err = cli("ingest", "ytdlp", loopback_site.url("two.html"), "--project", "web")
    assert code == 0 and "0 new sources, 0 already registered, 2 skipped by the licence policy, 0 failed" in out
    assert f"skipped {loopback_site.url('two.html#two-1')}: no licence given; the project allows only CC-BY-4.0" in err
    code, out, _ = cli("sources", "list", "--project", "web")
    assert code == 0 and out.count("skipped") == 2

    cli("project", "create", "open", "--languages", "en")
    args = ("ingest", "ytdlp", loopback_site.url("feed.xml"), "--project", "open", "--limit", "2", "--no-archive")
    code, out, _ = cli(*args)
    assert code == 0 and out.splitlines()[-1].startswith("2 new sources, 0 already registered")
    code, out, _ = cli(*args)
    assert code == 0 and out.splitlines()[-1].startswith("0 new sources, 2 already registered, 0 skipped")


def test_bad_inputs_are_refused_before_anything_is_fetched(cli, loopback_site, tmp_path):
    cli("project", "create", "web", "--languages", "en")
    urls = tmp_path / "talks.txt"
    urls.write_text(f"{loopback_site.url('a.wav')}\nnot a url\n")
    code, _, err = cli("ingest", "urls", str(urls), "--project", "web")
    assert code == 2 and err.strip().splitlines() == [
        "error: talks.txt: 1 problem(s), nothing imported; fix them and ingest again:",
        "  line 2: 'not a url' holds spaces; give one URL per line (encode spaces as %20)"]
    manifest = tmp_path / "sources.csv"
    manifest.write_text("url,num_speakers\n"
                        f"{loopback_site.url('a.wav')},2\n"
                        f"{loopback_site.url('b.wav')},many\n")
    code, _, err = cli("ingest", "manifest", str(manifest), "--project", "web")
    assert code == 2 and "  line 3: num_speakers must be a whole number from 1 to 50, got 'many'" in err
    code, _, err = cli("ingest", "ytdlp", loopback_site.url("a.wav"), "--project", "web", "--rate-limit", "fast")
    assert code == 2 and err.strip() == "error: rate limit 'fast' is not a size per second such as 500K or 1M"
    assert json.loads(cli("sources", "list", "--project", "web", "--json")[1] or "null") is None


def test_a_manifest_on_the_command_line_registers_urls_and_files(cli, loopback_site, tmp_path):
    cli("project", "create", "web", "--languages", "en,ta")
    (tmp_path / "f.wav").write_bytes((loopback_site.folder / "f.wav").read_bytes())
    manifest = tmp_path / "sources.csv"
    manifest.write_text("url,path,title,language,num_speakers\n"
                        f"{loopback_site.url('c.wav')},,Review,ta,2\n"
                        ",f.wav,Local,en,\n")
    code, out, _ = cli("ingest", "manifest", str(manifest), "--project", "web", "--json")
    assert code == 0 and len(json.loads(out.splitlines()[-1])["added"]) == 2
    review, local = (json.loads(line) for line in cli("sources", "list", "--project", "web", "--json")[1].splitlines())
    assert (review["kind"], review["title"], review["language"]) == ("url", "Review", "ta")
    assert (local["kind"], local["title"], local["language"]) == ("file", "Local", "en")


def test_every_sources_command_has_an_example_in_its_help(cli):
    for args in (["ingest", "ytdlp"], ["ingest", "urls"], ["ingest", "manifest"]):
        code, out, _ = cli(*args, "--help")
        assert code == 0 and "Example: mmcurate" in out, args
