"""Deterministic multi-speaker test dialogues in en, ta, ml, bn and zh, with their truth.

Each dialogue is spoken line by line by Debian's espeak-ng with a different voice per
speaker, placed on a timeline with pauses, mixed with light seeded noise and written as
16 kHz WAV (one as MP4 with an ffmpeg test-pattern video track). Beside each media file:
``NAME.rttm`` (who spoke when) and ``NAME.json`` (title, author, licence, language and one
line per turn with its text and the intended sentiment and emotion). The sentences were
written for this project and are released with it (CC0-1.0).

Run ``python -m ingest.testmedia OUT_DIR`` to write the demo set.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 16_000
SENTIMENTS = ("negative", "neutral", "positive")
EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")


@dataclass(frozen=True)
class Line:
    """One turn: who says it, the text shown to people, what espeak reads, and the intended labels."""

    speaker: str
    text: str
    sentiment: str
    emotion: str
    spoken: str | None = None  # what espeak reads when it differs from text (pinyin for zh)


@dataclass(frozen=True)
class Voice:
    espeak: str  # voice name with variant, e.g. "en-us+m3"
    pitch: int
    speed: int


@dataclass(frozen=True)
class DialogueSpec:
    name: str
    language: str
    voices: dict[str, Voice]
    lines: tuple[Line, ...]
    video: bool = False


def _voices(lang_voice: str) -> dict[str, Voice]:
    return {
        "A": Voice(f"{lang_voice}+m3", pitch=35, speed=150),
        "B": Voice(f"{lang_voice}+f3", pitch=75, speed=165),
    }


EN = DialogueSpec(
    name="en_dialogue",
    language="en",
    voices={
        "A": Voice("en-us+m3", pitch=35, speed=150),
        "B": Voice("en-gb+f3", pitch=75, speed=160),
        "C": Voice("en-us+m7", pitch=55, speed=140),
    },
    lines=(
        Line("A", "I am so happy to see you again today.", "positive", "joy"),
        Line("B", "Why were you so late? This makes me really angry.", "negative", "anger"),
        Line("A", "The meeting starts tomorrow morning at ten o'clock.", "neutral", "neutral"),
        Line("C", "I heard that he left the city, and I feel very sad.", "negative", "sadness"),
        Line("B", "What? You actually won the whole competition?", "positive", "surprise"),
        Line("A", "I am scared to walk home alone in the dark.", "negative", "fear"),
        Line("C", "That food smells rotten and disgusting.", "negative", "disgust"),
        Line("B", "Thank you, that was a wonderful evening.", "positive", "joy"),
    ),
)

TA = DialogueSpec(
    name="ta_dialogue",
    language="ta",
    voices=_voices("ta"),
    video=True,
    lines=(
        Line("A", "இன்று எனக்கு மிகவும் மகிழ்ச்சியாக இருக்கிறது", "positive", "joy"),
        Line("B", "ஏன் இவ்வளவு தாமதம் ஆனது? எனக்கு கோபம் வருகிறது", "negative", "anger"),
        Line("A", "நாளை காலை பத்து மணிக்கு கூட்டம் இருக்கிறது", "neutral", "neutral"),
        Line("B", "அவர் போய்விட்டார் என்று கேட்டு மிகவும் வருத்தமாக இருக்கிறது", "negative", "sadness"),
        Line("A", "என்ன! நீ உண்மையாகவே வெற்றி பெற்றாயா?", "positive", "surprise"),
        Line("B", "இருட்டில் தனியாக போக எனக்கு பயமாக இருக்கிறது", "negative", "fear"),
    ),
)

ML = DialogueSpec(
    name="ml_dialogue",
    language="ml",
    voices=_voices("ml"),
    lines=(
        Line("A", "ഇന്ന് എനിക്ക് വളരെ സന്തോഷമുണ്ട്", "positive", "joy"),
        Line("B", "നീ എന്തിനാണ് ഇത്ര വൈകിയത്? എനിക്ക് ദേഷ്യം വരുന്നു", "negative", "anger"),
        Line("A", "നാളെ രാവിലെ പത്തു മണിക്ക് യോഗമുണ്ട്", "neutral", "neutral"),
        Line("B", "അവൻ പോയി എന്ന് കേട്ടപ്പോൾ വല്ലാത്ത സങ്കടം തോന്നി", "negative", "sadness"),
        Line("A", "അയ്യോ! നീ ശരിക്കും ജയിച്ചോ?", "positive", "surprise"),
        Line("B", "ഈ ഭക്ഷണം കണ്ടിട്ട് എനിക്ക് അറപ്പ് തോന്നുന്നു", "negative", "disgust"),
    ),
)

BN = DialogueSpec(
    name="bn_dialogue",
    language="bn",
    voices=_voices("bn"),
    lines=(
        Line("A", "আজ আমি খুব খুশি", "positive", "joy"),
        Line("B", "তুমি এত দেরি করলে কেন? আমার খুব রাগ হচ্ছে", "negative", "anger"),
        Line("A", "কাল সকাল দশটায় মিটিং আছে", "neutral", "neutral"),
        Line("B", "ও চলে গেছে শুনে আমার খুব কষ্ট হচ্ছে", "negative", "sadness"),
        Line("A", "কী! তুমি সত্যিই জিতেছ?", "positive", "surprise"),
        Line("B", "অন্ধকারে একা যেতে আমার ভয় লাগে", "negative", "fear"),
    ),
)

ZH = DialogueSpec(
    name="zh_dialogue",
    language="zh",
    voices=_voices("cmn-latn-pinyin"),
    lines=(
        Line("A", "今天我非常高兴", "positive", "joy", "jin1 tian1 wo3 fei1 chang2 gao1 xing4"),
        Line("B", "你为什么来得这么晚？我很生气", "negative", "anger",
             "ni3 wei4 shen2 me lai2 de5 zhe4 me wan3. wo3 hen3 sheng1 qi4"),
        Line("A", "明天上午十点开会", "neutral", "neutral", "ming2 tian1 shang4 wu3 shi2 dian3 kai1 hui4"),
        Line("B", "听说他走了，我很难过", "negative", "sadness", "ting1 shuo1 ta1 zou3 le5. wo3 hen3 nan2 guo4"),
        Line("A", "什么！你真的赢了吗？", "positive", "surprise", "shen2 me! ni3 zhen1 de5 ying2 le5 ma5?"),
        Line("B", "这个菜太恶心了", "negative", "disgust", "zhe4 ge4 cai4 tai4 e3 xin1 le5"),
    ),
)

DEMO_SET: tuple[DialogueSpec, ...] = (EN, TA, ML, BN, ZH)


@dataclass(frozen=True)
class GeneratedDialogue:
    media_path: Path
    rttm_path: Path
    sidecar_path: Path
    duration_s: float


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise RuntimeError(f"{tool} is not installed; apt-get install espeak-ng ffmpeg")
    return found


def _speak(voice: Voice, text: str, work: Path, index: int):
    """Synthesize one line and return it trimmed of leading/trailing silence, as float32 at 16 kHz."""
    import numpy as np
    import soundfile as sf
    from scipy.signal import resample_poly

    raw = work / f"line{index}.wav"
    subprocess.run(
        [_need("espeak-ng"), "-v", voice.espeak, "-p", str(voice.pitch), "-s", str(voice.speed), "-w", str(raw),
         text],
        check=True,
        capture_output=True,
    )
    samples, rate = sf.read(raw, dtype="float32")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    samples = resample_poly(samples, SAMPLE_RATE, rate).astype("float32")
    loud = np.flatnonzero(np.abs(samples) > 0.02 * float(np.abs(samples).max()))
    return samples[loud[0] : loud[-1] + 1]


def generate(spec: DialogueSpec, out_dir: Path | str, *, seed: int = 0) -> GeneratedDialogue:
    """Write one dialogue's media, RTTM and JSON sidecar into ``out_dir``; same inputs, same bytes."""
    import numpy as np
    import soundfile as sf

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + sum(map(ord, spec.name)))
    lead, tail = 0.6, 0.8
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pieces = [_speak(spec.voices[line.speaker], line.spoken or line.text, work, i) for i, line in enumerate(spec.lines)]
        pauses = rng.uniform(0.35, 1.1, size=len(pieces))
        starts: list[float] = []
        cursor = lead
        for piece, pause in zip(pieces, pauses):
            starts.append(round(cursor, 3))
            cursor = starts[-1] + len(piece) / SAMPLE_RATE + float(pause)
        total = int((cursor - float(pauses[-1]) + tail) * SAMPLE_RATE)
        mix = np.zeros(total, dtype="float32")
        for piece, start in zip(pieces, starts):
            begin = int(round(start * SAMPLE_RATE))
            mix[begin : begin + len(piece)] += 0.7 * piece / float(np.abs(piece).max())
        mix += rng.normal(0.0, 0.003, size=total).astype("float32")  # ~ -40 dB noise floor
        np.clip(mix, -1.0, 1.0, out=mix)
        wav = work / "mix.wav"
        sf.write(wav, mix, SAMPLE_RATE, subtype="PCM_16")
        media = out_dir / (f"{spec.name}.mp4" if spec.video else f"{spec.name}.wav")
        if spec.video:
            duration = total / SAMPLE_RATE
            subprocess.run(
                [_need("ffmpeg"), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                 f"testsrc2=size=160x120:rate=10:duration={duration:.3f}", "-i", str(wav), "-map", "0:v", "-map",
                 "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-threads", "1",
                 "-c:a", "aac", "-b:a", "96k", "-shortest", "-fflags", "+bitexact", "-flags:v", "+bitexact",
                 "-flags:a", "+bitexact", str(media)],
                check=True,
                capture_output=True,
            )
        else:
            shutil.copyfile(wav, media)
    truth = [
        {
            "start": start,
            "end": round(start + len(piece) / SAMPLE_RATE, 3),
            "speaker": line.speaker,
            "text": line.text,
            "language": spec.language,
            "sentiment": line.sentiment,
            "emotion": line.emotion,
        }
        for line, piece, start in zip(spec.lines, pieces, starts)
    ]
    rttm = out_dir / f"{spec.name}.rttm"
    rttm.write_text(
        "".join(
            f"SPEAKER {spec.name} 1 {t['start']:.3f} {t['end'] - t['start']:.3f} <NA> <NA> {t['speaker']} <NA> <NA>\n"
            for t in truth
        )
    )
    sidecar = out_dir / f"{spec.name}.json"
    sidecar.write_text(
        json.dumps(
            {
                "title": f"Synthetic {spec.language} dialogue ({spec.name})",
                "author": "mmcurate test media generator (espeak-ng voices)",
                "licence": "CC0-1.0",
                "language": spec.language,
                "lines": truth,
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    return GeneratedDialogue(media, rttm, sidecar, total / SAMPLE_RATE)


def generate_demo_set(out_dir: Path | str, *, seed: int = 0) -> list[GeneratedDialogue]:
    """The five bundled demo dialogues (en, ta with video, ml, bn, zh)."""
    return [generate(spec, out_dir, seed=seed) for spec in DEMO_SET]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m ingest.testmedia OUT_DIR   (e.g. python -m ingest.testmedia var/samples)",
              file=sys.stderr)
        return 2
    for made in generate_demo_set(argv[0]):
        print(f"{made.media_path}\t{made.duration_s:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
