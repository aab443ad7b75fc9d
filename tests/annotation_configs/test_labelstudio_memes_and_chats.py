"""Memes and chat turns in a real Label Studio: OCR text pre-filled and corrected, chats shown safely in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotation_configs.labelstudio import LabelStudioClient, LabelStudioLogin
from annotation_configs.labelstudio.results import result_from_values, values_from_result
from annotation_configs.registry import load_registry
from annotation_configs.xml import ChatLine, MediaKind, dialogue_html, label_config, task_data

pytestmark = pytest.mark.labelstudio
REGISTRY = load_registry()
MEME_URL = "/data/local-files/?d=memes/meme.png"
OCR = "যখন পরীক্ষা কাল"
STICKER = "/data/local-files/?d=stickers/wave.png"
CHAT = [
    ChatLine("author-001", "早上好，今天考试吗？", "2024-05-01 09:58"),
    ChatLine("author-002", "", "2024-05-01 09:59", (STICKER,)),  # a sticker, nothing typed
    ChatLine("author-001", "<script>window.__pwned = 1</script>谢谢 <img src=x onerror=\"window.__pwned = 2\">",
             "2024-05-01 10:00", current=True),
]


@pytest.fixture(scope="module")
def admin(ls_fleet) -> LabelStudioClient:
    instance = ls_fleet("configs")  # the instance test_labelstudio.py uses: one server for both modules
    return LabelStudioClient(instance.url, instance.admin_token)


@pytest.fixture(scope="module")
def annotator(admin: LabelStudioClient) -> LabelStudioLogin:
    return admin.create_login("memes-and-chats@example.org", "memes-and-chats-1")


CASES = [
    ("memosen", MediaKind.IMAGE, {"sentiment": "negative", "ocr_text": "যখন পরীক্ষা কাল সকালে"}),
    ("memotion3", MediaKind.IMAGE, {
        "sentiment": "positive", "emotions": ["humour", "sarcasm"], "humour": "very_funny",
        "sarcasm": "twisted_meaning", "offensive": "not_offensive", "motivational": "not_motivational",
        "ocr_text": OCR}),
    ("msairs_chat", MediaKind.DIALOGUE, {"sentiment": "positive", "intent": "ask_for_help"}),
    ("brighter", MediaKind.TEXT, {"emotion_intensity": {"anger": 0, "disgust": 0, "fear": 2, "joy": 0,
                                                        "sadness": 3, "surprise": 1}}),
    ("brighter", MediaKind.DIALOGUE, {"emotion_intensity": {"anger": 1, "disgust": 0, "fear": 0, "joy": 0,
                                                            "sadness": 0, "surprise": 0}}),
]


def test_an_annotation_of_each_meme_and_chat_scheme_comes_back_normalised(admin, annotator) -> None:
    """The OCR text arrives as a prediction of the editable field; what the annotator submits with their
    own login reads back as the values they gave, for images, chat turns and texts."""
    user = admin.as_user(annotator.token)
    content = {MediaKind.IMAGE: MEME_URL, MediaKind.DIALOGUE: dialogue_html(CHAT), MediaKind.TEXT: "আমি খুব দুঃখিত"}
    for item_id, (name, media, values) in enumerate(CASES, start=100):
        scheme = REGISTRY[name]
        project = admin.create_project(f"roundtrip {name} {media.value}", label_config(scheme, media, "bn"))
        task = {"data": task_data(media, content[media], item_id=item_id, ocr_text=OCR)}
        predicted = scheme.predicted_texts({"ocr": OCR})
        if predicted:
            task["predictions"] = [{"result": result_from_values(scheme, predicted, media.value),
                                    "model_version": "tesseract"}]
        (task_id,) = admin.import_tasks(project, [task])
        if predicted:
            (prediction,) = admin.task(task_id)["predictions"]
            assert values_from_result(scheme, prediction["result"])["ocr_text"] == OCR
        user.create_annotation(task_id, result_from_values(scheme, values, media.value), lead_time_s=4.0)
        (pulled,) = admin.annotations(project)
        assert pulled.completed_by == annotator.user_id and pulled.task_data["item_id"] == item_id
        assert values_from_result(scheme, pulled.result) == values, (name, media)


def _log_in(page, url: str, login: LabelStudioLogin) -> None:
    page.goto(f"{url}/user/login/", timeout=60_000)
    page.fill("input[name=email]", login.email)
    page.fill("input[name=password]", login.password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(lambda at: "/user/login" not in at, timeout=60_000)


@pytest.mark.browser
def test_the_ocr_text_is_prefilled_under_the_meme_and_submitted_with_the_label(
        admin, annotator, ls_media_root: Path, tmp_path: Path) -> None:
    """The lead's OCR prediction must show in the annotator's text area (Label Studio shows predictions only
    when the project's show_collab_predictions is on) and come back in the annotation when left as it is."""
    from PIL import Image
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from tests.browser import chromium

    (ls_media_root / "memes").mkdir(exist_ok=True)
    Image.new("RGB", (200, 150), (30, 120, 250)).save(ls_media_root / "memes" / "meme.png")
    scheme = REGISTRY["memosen"]
    project = admin.create_project("meme in the browser", label_config(scheme, MediaKind.IMAGE, "en"))
    admin.ensure_local_storage(project, str(ls_media_root / "memes"))
    prediction = {"result": result_from_values(scheme, {"ocr_text": OCR}, "image"), "model_version": "tesseract"}
    admin.import_tasks(project, [{"data": task_data(MediaKind.IMAGE, MEME_URL, item_id=8, ocr_text=OCR),
                                  "predictions": [prediction]}])
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
        try:
            _log_in(page, admin.url, annotator)
            with page.expect_response(lambda r: "/data/local-files/" in r.url, timeout=60_000) as meme:
                page.goto(f"{admin.url}/projects/{project}/data?labeling=1")
                page.get_by_text("Text in the image (OCR)").wait_for(timeout=60_000)
            assert meme.value.status == 200
            try:  # the prediction, ready to correct
                page.get_by_text(OCR).first.wait_for(timeout=15_000)
                prefilled = True
            except PlaywrightTimeout:
                prefilled = False
            page.get_by_text(re.compile(r"^negative")).first.click()
            page.get_by_role("button", name="Submit current annotation").click()
            page.wait_for_timeout(1500)
        except Exception:
            page.screenshot(path=str(tmp_path / "meme.png"), full_page=True)
            raise AssertionError(f"the meme task failed at {page.url}; screenshot {tmp_path / 'meme.png'}") from None
    assert prefilled, ("the OCR prediction is not pre-filled in the annotator's text area: Label Studio passes "
                       "predictions to the editor only when the project's show_collab_predictions is on "
                       "(LabelStudioClient.create_project must set it)")
    (made,) = admin.annotations(project)
    assert values_from_result(scheme, made.result) == {"sentiment": "negative", "ocr_text": OCR}


SEEN = """
() => {
  const turns = [...document.querySelectorAll('.mm-dialogue .mm-turn')];
  const inside = [...document.querySelectorAll('.mm-dialogue *')];
  return {
    texts: turns.map(t => t.innerText.replace(/\\s+/g, ' ').trim()),
    current: turns.map(t => t.classList.contains('mm-current')),
    images: [...document.querySelectorAll('.mm-dialogue img')].map(i => ({src: i.getAttribute('src'), alt: i.alt,
             width: i.naturalWidth, height: i.getBoundingClientRect().height})),
    scripts: document.querySelectorAll('.mm-dialogue script').length,
    handlers: inside.filter(e => [...e.attributes].some(a => /^on/i.test(a.name))).length,
    pwned: window.__pwned === undefined ? null : window.__pwned,
  };
}
"""


@pytest.mark.browser
def test_a_chat_turn_shows_its_earlier_turns_in_order_with_the_sticker_and_no_script(
        admin, annotator, ls_media_root: Path, tmp_path: Path) -> None:
    """Headless Chromium, logged in as the annotator: the dialogue HTML renders in the labeling view, the
    sticker loads from the instance's local-files storage with the user's session, injected markup stays text."""
    from PIL import Image

    from tests.browser import chromium

    (ls_media_root / "stickers").mkdir(exist_ok=True)
    Image.new("RGB", (96, 64), (250, 180, 30)).save(ls_media_root / "stickers" / "wave.png")
    scheme = REGISTRY["msairs_chat"]
    project = admin.create_project("chat in the browser", label_config(scheme, MediaKind.DIALOGUE, "en"))
    admin.ensure_local_storage(project, str(ls_media_root / "stickers"))
    admin.import_tasks(project, [{"data": task_data(MediaKind.DIALOGUE, dialogue_html(CHAT), item_id=7,
                                                    language_badge="Language: Chinese · 中文 (zh)")}])
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
        try:
            _log_in(page, admin.url, annotator)
            with page.expect_response(lambda r: "/data/local-files/" in r.url, timeout=60_000) as sticker:
                page.goto(f"{admin.url}/projects/{project}/data?labeling=1")
                page.wait_for_selector(".mm-dialogue .mm-current", timeout=60_000)
            assert sticker.value.status == 200 and sticker.value.url.endswith("d=stickers/wave.png")
            page.wait_for_function("() => [...document.querySelectorAll('.mm-dialogue img')]"
                                   ".every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
            seen = page.evaluate(SEEN)
            page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)  # kept for a look after the run
            page.get_by_text(re.compile(r"^positive")).first.click()
            page.get_by_text(re.compile(r"^thank")).first.click()
            page.get_by_role("button", name="Submit current annotation").click()
            page.wait_for_timeout(1500)
        except Exception:
            page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
            raise AssertionError(f"the chat task failed at {page.url}; screenshot {tmp_path / 'chat.png'}") from None
    assert seen["texts"] == [
        "author-001 · 2024-05-01 09:58 早上好，今天考试吗？",
        "author-002 · 2024-05-01 09:59",
        ("▶ this turn · author-001 · 2024-05-01 10:00 <script>window.__pwned = 1</script>谢谢 "
         "<img src=x onerror=\"window.__pwned = 2\">"),
    ]
    assert seen["current"] == [False, False, True]
    assert seen["images"] == [{"src": STICKER, "alt": "sticker", "width": 96, "height": 64}]
    assert seen["scripts"] == 0 and seen["handlers"] == 0 and seen["pwned"] is None
    (made,) = admin.annotations(project)
    assert values_from_result(scheme, made.result) == {"sentiment": "positive", "intent": "thank"}
