"""Builders of the non-speech test corpora: a meme folder with text rendered in it, a Telegram export
with sticker and photo files, and a SemEval/BRIGHTER-style CSV. Real files (Pillow, Debian's Noto
fonts); each builder writes into a folder the test gives it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

CHAT_FIXTURES = Path(__file__).resolve().parents[2] / "ingest" / "data" / "chat"
FONTS = {
    "bn": "/usr/share/fonts/truetype/noto/NotoSansBengali-Regular.ttf",
    "en": "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
}
MEME_TEXTS = {"bangla_joy.png": ("bn", "আমি খুব খুশি"), "english_joke.png": ("en", "when the code works"),
              "bangla_sad.png": ("bn", "আজ মন খারাপ")}
BRIGHTER_HEADER = "id,text,Anger,Disgust,Fear,Joy,Sadness,Surprise"


def meme(path: Path, text: str, language: str, *, background: str = "white", size: tuple[int, int] = (560, 220)) -> Path:
    """An image with ``text`` written large in the middle, and a coloured band (so memes differ as pictures)."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0], 40), fill=(hash(text) % 200, 80, 160))
    draw.text((24, 90), text, fill="black", font=ImageFont.truetype(FONTS[language], 44))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def meme_folder(folder: Path) -> Path:
    """Three memes (two Bengali, one English), a recompressed copy of one in a subfolder, a metadata.csv
    with captions/licence/source URL for one, and a corrupt file."""
    for name, (language, text) in MEME_TEXTS.items():
        meme(folder / name, text, language)
    (folder / "reposts").mkdir()
    Image.open(folder / "bangla_joy.png").convert("RGB").save(folder / "reposts" / "bangla_joy_again.jpg", quality=35)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (folder / "metadata.csv").write_text(
        "file_name,caption,licence,source_url,author\n"
        "english_joke.png,when the code works,CC-BY-4.0,https://example.org/memes/42,meme-page\n", encoding="utf-8")
    return folder


def telegram_export(folder: Path) -> Path:
    """The Telegram single-chat fixture with its sticker and photo files present; returns result.json."""
    shutil.copytree(CHAT_FIXTURES / "telegram_single", folder)
    result = folder / "result.json"
    data = json.loads(result.read_text(encoding="utf-8"))
    for message in data["messages"]:
        for key in ("file", "photo"):
            relative = message.get(key)
            if relative and not relative.startswith("(") and relative.endswith((".webp", ".jpg")):
                target = folder / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                colour = (255, 200, 0, 255) if relative.endswith(".webp") else (20, 120, 200, 255)
                Image.new("RGBA", (160, 160), colour).save(target) if relative.endswith(".webp") else \
                    Image.new("RGB", (320, 200), colour[:3]).save(target)
    return result


def brighter_csv(path: Path, rows: list[tuple[str, str, tuple[int, ...] | None]]) -> Path:
    """A SemEval-2025 Task 11 track B file: id, text, one 0-3 column per emotion (empty when unlabelled)."""
    lines = [BRIGHTER_HEADER]
    for row_id, text, levels in rows:
        cells = ",".join(str(level) for level in levels) if levels is not None else ",,,,,"
        quoted = '"' + text.replace('"', '""') + '"'
        lines.append(f"{row_id},{quoted},{cells}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
