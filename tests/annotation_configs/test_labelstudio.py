"""The Label Studio adapter against real servers: configs accepted, annotators isolated, media guarded."""

from __future__ import annotations

import httpx
import pytest

from annotation_configs.labelstudio import LabelStudioClient, LabelStudioError
from annotation_configs.labelstudio.results import result_from_values, values_from_result
from annotation_configs.registry import load_registry
from annotation_configs.xml import MediaKind, label_config, task_data
from backend.domain import NotFoundError, ServiceUnavailableError, ValidationError

pytestmark = pytest.mark.labelstudio
REGISTRY = load_registry()
CLIP_URL = "/data/local-files/?d=clips/tone.wav"


@pytest.fixture(scope="module")
def admin(ls_fleet) -> LabelStudioClient:
    instance = ls_fleet("configs")
    return LabelStudioClient(instance.url, instance.admin_token)


@pytest.mark.parametrize("media", list(MediaKind), ids=lambda m: m.value)
def test_label_studio_accepts_every_generated_config(admin: LabelStudioClient, media: MediaKind) -> None:
    # every scheme on every media; the display language only changes label text, so all five
    # languages are checked on audio (the common case) and English elsewhere
    languages = ("en", "ta", "ml", "bn", "zh") if media is MediaKind.AUDIO else ("en",)
    for name, scheme in REGISTRY.items():
        for language in languages:
            config = label_config(scheme, media, language)
            project = admin.create_project(f"{name}-{media.value}-{language}", config)
            assert admin.project_config(project) == config


def test_a_broken_config_is_refused_with_label_studios_reason(admin: LabelStudioClient) -> None:
    broken = '<View><Audio name="audio" value="$audio"/><Choices name="s" toName="video"><Choice value="a"/></Choices></View>'
    with pytest.raises(LabelStudioError, match="refused to create project 'broken'.*video"):
        admin.create_project("broken", broken)


def test_media_are_served_only_to_logged_in_users(admin: LabelStudioClient, ls_media_root) -> None:
    project = admin.create_project("media", label_config(REGISTRY["sentiment3"], MediaKind.AUDIO))
    admin.ensure_local_storage(project, str(ls_media_root / "clips"))
    assert admin.ensure_local_storage(project, str(ls_media_root / "clips")) is not None  # found again, not duplicated
    assert httpx.get(admin.url + CLIP_URL).status_code == 401
    served = httpx.get(admin.url + CLIP_URL, headers={"Authorization": f"Token {admin.token}"})
    assert served.status_code == 200 and served.content[:4] == b"RIFF"


def test_a_submitted_annotation_comes_back_normalised(admin: LabelStudioClient) -> None:
    scheme = REGISTRY["utterance"]
    project = admin.create_project("roundtrip", label_config(scheme, MediaKind.AUDIO, "ml"), maximum_annotations=1)
    (task,) = admin.import_tasks(project, [{"data": task_data(MediaKind.AUDIO, CLIP_URL, item_id=41, transcript="asr text")}])
    user = admin.as_user(admin.create_login("roundtrip@example.org", "roundtrip-pass-1").token)
    values = {"transcript": "corrected text", "sentiment": "negative", "emotion": "anger", "sarcasm": "sarcastic"}
    made = user.create_annotation(task, result_from_values(scheme, values, "audio"), lead_time_s=7.5)

    (pulled,) = admin.annotations(project)
    assert pulled.id == made.id and pulled.task_data["item_id"] == 41
    assert values_from_result(scheme, pulled.result) == values
    assert pulled.lead_time_s == 7.5
    user.update_annotation(made.id, result_from_values(scheme, {**values, "emotion": "disgust"}, "audio"))
    assert values_from_result(scheme, admin.annotations(project)[0].result)["emotion"] == "disgust"
    user.delete_annotation(made.id)
    assert admin.annotations(project) == []


def test_each_annotator_sees_nothing_of_another_annotators_instance(ls_fleet) -> None:
    a_server, b_server = ls_fleet("ann-a"), ls_fleet("ann-b")
    a_admin = LabelStudioClient(a_server.url, a_server.admin_token)
    b_admin = LabelStudioClient(b_server.url, b_server.admin_token)
    scheme = REGISTRY["sentiment3"]
    a_login = a_admin.create_login("a@example.org", "password-of-a")
    b_login = b_admin.create_login("b@example.org", "password-of-b")
    a_project = a_admin.create_project("share of a", label_config(scheme, MediaKind.AUDIO))
    (a_task,) = a_admin.import_tasks(a_project, [{"data": task_data(MediaKind.AUDIO, CLIP_URL, item_id=1)}])
    a_annotation = a_admin.as_user(a_login.token).create_annotation(
        a_task, result_from_values(scheme, {"sentiment": "positive"}, "audio"))

    # B, with B's own token and password, against A's instance: nothing to list, read, change or delete
    b_on_a = LabelStudioClient(a_server.url, b_login.token)
    for attempt in (
        lambda: b_on_a.find_project("share of a"),
        lambda: b_on_a.task(a_task),
        lambda: b_on_a.annotation(a_annotation.id),
        lambda: b_on_a.update_annotation(a_annotation.id, result_from_values(scheme, {"sentiment": "negative"}, "audio")),
        lambda: b_on_a.delete_annotation(a_annotation.id),
        lambda: b_on_a.delete_project(a_project),
    ):
        with pytest.raises(LabelStudioError, match="refused the token"):
            attempt()
    with pytest.raises(LabelStudioError, match="refused the login of 'b@example.org'"):
        a_admin.login("b@example.org", "password-of-b")
    # on B's own instance, B finds only B's work: A's project does not exist there
    b_self = LabelStudioClient(b_server.url, b_login.token)
    assert b_self.find_project("share of a") is None
    # and A's annotation is untouched
    (kept,) = a_admin.annotations(a_project)
    assert values_from_result(scheme, kept.result) == {"sentiment": "positive"} and kept.completed_by == a_login.user_id
    assert a_admin.login("a@example.org", "password-of-a").user_id == a_login.user_id


def test_a_server_that_is_down_gives_a_clear_error() -> None:
    from annotation_configs.labelstudio.instances import free_port

    down = LabelStudioClient(f"http://127.0.0.1:{free_port()}", "0" * 40, timeout_s=5)
    with pytest.raises(ServiceUnavailableError, match=r"cannot be reached to create project 'x'.*mmcurate labelstudio start"):
        down.create_project("x", "<View/>")
    with pytest.raises(ServiceUnavailableError, match="cannot be reached to check the connection"):
        down.check()


def test_bad_connection_settings_are_refused_before_any_call() -> None:
    with pytest.raises(ValidationError, match="Label Studio URL 'localhost:8080' must look like http://"):
        LabelStudioClient("localhost:8080", "t")
    with pytest.raises(ValidationError, match="no API token given"):
        LabelStudioClient("http://127.0.0.1:1", "")


def test_a_missing_task_is_not_found(admin: LabelStudioClient) -> None:
    with pytest.raises(NotFoundError, match="has nothing to read task 999999"):
        admin.task(999999)


def test_signup_refuses_a_bad_email_and_a_short_password(admin: LabelStudioClient) -> None:
    with pytest.raises(ValidationError, match="'not-an-email' is not an email address"):
        admin.create_login("not-an-email", "long-enough-1")
    with pytest.raises(ValidationError, match="at least 8 characters"):
        admin.create_login("short@example.org", "short")
