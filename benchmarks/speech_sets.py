"""Speech evaluation sets for the diarizer, with truth: a TUNING set and a HELD-OUT set.

The lead tunes the diarizer on ``tuning`` only and reports ``heldout``, on which nothing is chosen.
Both are generated, deterministically (same seed, same bytes), from Debian's espeak-ng, with sox
for noise and reverberation:

- the two sets use disjoint voice pools (espeak-ng variants, whole variant families in one set),
  disjoint pitch and speed bands, their own English accents and their own second languages
  (tuning: de, es; held-out: fr, it), their own sentences; neither uses ingest/testmedia.py's
  voices (variants m3, f3 and m7), on which the diarizer was developed;
- the conditions (``CONDITIONS``) are the same in both, so tuning stands for held-out; held-out
  also carries one real recording (condition ``real``) when pyannote.audio's sample is installed.

Per file: ``NAME.wav`` (16 kHz mono PCM16), ``NAME.rttm`` (speech segments: a turn is split where
its own synthesized audio is silent for ``SPLIT_PAUSE_S`` or longer, so the truth holds no
pauses), ``NAME.json`` (title, author, licence, language, condition, num_speakers, voices, the
effects applied and ``lines``: one per turn, with start, end, speaker, text, language, kind
"turn" or "backchannel" and espeak speed). ``index.json`` lists the files.

Voices checked on espeak-ng 1.51 (Debian): every variant under ``voices/!v`` speaks; ``caleb`` and
``klatt6`` give byte-identical audio to ``klatt``; ``Mr serious`` has a space in its name;
``whisper``/``whisperf`` are unvoiced; the ``mb-*`` MBROLA voices are listed by
``espeak-ng --voices`` but not installed (no mbrola binary or voice data); none of these is used.

Run: ``.venv/bin/python benchmarks/speech_sets.py OUT_DIR --set heldout [--quick] [--seed 0]``
(e.g. ``.venv/bin/python benchmarks/speech_sets.py /tmp/sets/heldout --set heldout``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]

SAMPLE_RATE = 16_000
SETS = ("tuning", "heldout")
SPLIT_PAUSE_S = 0.3
LEAD_IN_S = (0.5, 1.0)
TAIL_S = 0.8
NOISE_FLOOR_STD = 0.001  # ~ -60 dBFS seeded Gaussian floor under every synthetic file

CONDITIONS: dict[str, str] = {
    "clean": "two speakers, pauses of 0.2-1.0 s between turns, noise floor only",
    "rate": "two speakers, every turn spoken slow or fast (each set its own rate bands)",
    "noise_10db": "2-3 speakers, sox pink/brown/fan noise at 10 dB SNR (active speech power)",
    "noise_5db": "2-3 speakers, sox pink/brown/fan noise at 5 dB SNR",
    "reverb": "2-3 speakers, each through its own sox reverb (room, reverberance, pre-delay)",
    "overlap": "2-3 speakers, about 60 % of turn changes start 0.3-1.2 s before the previous turn ends",
    "speakers_3": "three speakers, unbalanced participation",
    "speakers_4": "four speakers, unbalanced participation",
    "speakers_5": "five speakers, unbalanced participation",
    "backchannel": "2-3 speakers, short back-channels (yes, mm-hmm, really?) by the same voices, in gaps or "
                   "inside the other's turn",
    "language": "two speakers in the set's second languages: one dialogue wholly in one, one switching "
                "with English turn by turn",
    "long": "three speakers, unbalanced, 20 dB brown noise, some overlaps and back-channels; 10.5 min in "
            "held-out, 5 min in tuning",
    "real": "a real two-party telephone recording (pyannote.audio's bundled sample), held-out only",
}

TESTMEDIA_VARIANTS = frozenset({"m3", "f3", "m7"})  # ingest/testmedia.py's voices, used by neither set


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an espeak-ng variant on an accent, with its own pitch (0-99) and speed (wpm)."""

    variant: str
    accent: str
    pitch: int
    speed: int

    def espeak(self, language: str | None = None) -> str:
        return f"{language or self.accent}+{self.variant}"


@dataclass(frozen=True)
class Pool:
    """What one set may use: voices, sentences per language, back-channels and the rate bands."""

    name: str
    seed: int
    voices: tuple[Voice, ...]
    pitch_bands: tuple[tuple[int, int], ...]  # half-open [low, high) bands
    speed_bands: tuple[tuple[int, int], ...]
    slow: tuple[float, float]  # speed factor range of a slow turn
    fast: tuple[float, float]
    sentences: dict[str, tuple[str, ...]]  # language -> sentences; "en" plus the set's second languages
    backchannels: tuple[str, ...]
    long_s: float


TUNING_SENTENCES = (
    # kitchen and cooking
    "Put the kettle on while I chop the onions.",
    "The soup needs a little more salt and pepper.",
    "I burnt the toast again this morning.",
    "We should bake bread on Sunday afternoon.",
    "Can you pass me the big wooden spoon?",
    "The recipe says to stir it for ten minutes.",
    "My grandmother always made the best apple pie.",
    "Let the rice rest before you open the lid.",
    # garden
    "The tomatoes are finally turning red.",
    "Something has been eating the lettuce at night.",
    "I planted three rows of carrots by the fence.",
    "Water the roses before the sun gets too strong.",
    "The old apple tree needs pruning this winter.",
    "We found a hedgehog under the shed yesterday.",
    "Those sunflowers are taller than the roof now.",
    # trains and travel by rail
    "The train to the coast leaves at half past nine.",
    "Our platform changed at the very last minute.",
    "I fell asleep and missed my station twice.",
    "The night train has small beds and a tiny sink.",
    "Do you have a seat reservation for the return?",
    "The conductor checked every ticket very slowly.",
    "We watched the fields go by for hours.",
    # music
    "She practises the violin every single evening.",
    "The band played our favourite song as an encore.",
    "I can never remember the words of the second verse.",
    "That old record player still sounds wonderful.",
    "The choir meets on Thursdays in the church hall.",
    "He bought a second hand guitar for his birthday.",
    "The concert was loud but the drummer was brilliant.",
    # school
    "The children have a spelling test on Friday.",
    "My teacher wrote the answer on the blackboard.",
    "We built a volcano for the science fair.",
    "The library closes early during the holidays.",
    "Homework takes longer when the television is on.",
    "Our class went to the museum by bus.",
    "She finally understood fractions this week.",
    # home repairs
    "The kitchen tap has been dripping all week.",
    "I need a smaller screwdriver for this hinge.",
    "We painted the hallway a pale shade of green.",
    "The ladder is in the garage behind the bicycles.",
    "Mind the wet paint on the door frame.",
    "That shelf will fall down if you put books on it.",
    "The plumber promised to come back tomorrow.",
    "Let us fix the squeaky stair before the guests arrive.",
)

HELDOUT_SENTENCES = (
    # weather
    "It rained all night and the river is very high.",
    "They say the fog will lift by lunchtime.",
    "I left my umbrella on the bus again.",
    "The first snow always makes the city quiet.",
    "It is far too hot to walk to the station.",
    "A thunderstorm knocked out the power last night.",
    "The wind blew the fence over on Tuesday.",
    # sport
    "Our team lost the final in extra time.",
    "She swims forty lengths before breakfast.",
    "The referee did not see the handball.",
    "He trained for months to run the marathon.",
    "The tennis match went on for almost five hours.",
    "We cycled up the hill without stopping once.",
    "The stadium was full for the derby match.",
    # office
    "The printer on the third floor is jammed again.",
    "Can we move the meeting to Thursday morning?",
    "I have forty unread emails since lunch.",
    "The new manager starts work next Monday.",
    "Please send me the figures before five o'clock.",
    "Someone took my stapler from my desk.",
    "The budget report is due at the end of the month.",
    "Our video call kept freezing this afternoon.",
    # health
    "The doctor told me to drink more water.",
    "My back hurts after sitting all day.",
    "I have an appointment with the dentist at noon.",
    "You should rest until the fever goes down.",
    "She walks for half an hour every evening.",
    "The pharmacy closes at seven on Saturdays.",
    "I slept badly because of the neighbour's dog.",
    # shopping
    "The market sells fresh fish on Wednesdays.",
    "These shoes were half price in the sale.",
    "We ran out of milk and bread again.",
    "The queue at the checkout was enormous.",
    "I bought a new kettle because the old one leaked.",
    "Do they deliver to the village on weekends?",
    "The corner shop has the best oranges in town.",
    # holidays
    "We are flying to the islands in August.",
    "The hotel room had a view of the harbour.",
    "I forgot to pack my sunglasses and my charger.",
    "The ferry crossing took longer than we expected.",
    "We hired a small car and drove along the coast.",
    "The old town is beautiful in the early morning.",
    "Our camp site was next to a noisy road.",
    "Next year I would like to see the mountains.",
)

TUNING_SECOND = {
    "de": (
        "Heute Abend kochen wir zusammen eine Suppe.",
        "Der Zug nach Hamburg hat zwanzig Minuten Verspätung.",
        "Im Garten blühen schon die ersten Tulpen.",
        "Kannst du mir bitte das Salz geben?",
        "Mein Bruder spielt jeden Samstag Gitarre.",
        "Die Kinder schreiben morgen eine Mathearbeit.",
        "Wir müssen das Fenster im Bad reparieren.",
        "Das Konzert gestern war wirklich wunderbar.",
    ),
    "es": (
        "Mañana vamos a comer paella en casa de mi abuela.",
        "El tren de la mañana siempre llega tarde.",
        "Las flores del balcón necesitan más agua.",
        "Mi hermana toca el piano desde pequeña.",
        "Los niños tienen un examen de historia el lunes.",
        "Hay que pintar la puerta de la cocina.",
        "La biblioteca cierra a las ocho de la tarde.",
        "Este pan está recién hecho y huele muy bien.",
    ),
}

HELDOUT_SECOND = {
    "fr": (
        "Il a plu toute la nuit et la rivière a débordé.",
        "Notre équipe a perdu le match de dimanche.",
        "La réunion est reportée à jeudi matin.",
        "Le médecin m'a conseillé de marcher tous les jours.",
        "Le marché du samedi vend des fromages délicieux.",
        "Nous partons en vacances au bord de la mer.",
        "J'ai oublié mon parapluie dans le métro.",
        "La pharmacie ferme à sept heures ce soir.",
    ),
    "it": (
        "Domani pioverà su tutta la costa.",
        "La partita è finita due a uno dopo i supplementari.",
        "Il nuovo direttore arriva lunedì prossimo.",
        "Devo prendere un appuntamento dal dentista.",
        "Al mercato il pesce è fresco il mercoledì.",
        "Abbiamo noleggiato una macchina per girare l'isola.",
        "La stampante dell'ufficio non funziona più.",
        "Quest'estate vorrei vedere le montagne.",
    ),
}

BACKCHANNELS = ("yes", "really?", "mm-hmm", "okay", "right", "no way")

POOLS: dict[str, Pool] = {
    "tuning": Pool(
        name="tuning",
        seed=1601,
        # accents en-us, en-gb-x-rp, en-gb-x-gbclan; variant families m1/m2/m4, klatt, iven, Andy, f1/f2 ...
        voices=(
            Voice("m1", "en-us", 22, 135),
            Voice("m2", "en-gb-x-rp", 52, 172),
            Voice("m4", "en-gb-x-gbclan", 30, 145),
            Voice("klatt", "en-us", 58, 140),
            Voice("klatt2", "en-gb-x-rp", 26, 178),
            Voice("klatt4", "en-us", 62, 132),
            Voice("iven", "en-gb-x-gbclan", 54, 148),
            Voice("iven3", "en-us", 33, 176),
            Voice("Andy", "en-gb-x-rp", 60, 138),
            Voice("croak", "en-us", 24, 182),
            Voice("grandpa", "en-gb-x-gbclan", 56, 130),
            Voice("benjamin", "en-us", 84, 143),
            Voice("norbert", "en-gb-x-rp", 28, 171),
            Voice("michel", "en-gb-x-gbclan", 64, 146),
            Voice("f1", "en-us", 52, 174),
            Voice("f2", "en-gb-x-rp", 86, 136),
            Voice("Alicia", "en-us", 20, 149),
            Voice("Annie", "en-gb-x-gbclan", 57, 180),
            Voice("belinda", "en-us", 90, 141),
            Voice("aunty", "en-gb-x-rp", 50, 177),
        ),
        pitch_bands=((20, 35), (50, 65), (80, 95)),
        speed_bands=((130, 150), (170, 185)),
        slow=(0.62, 0.72),
        fast=(1.35, 1.50),
        sentences={"en": TUNING_SENTENCES, **TUNING_SECOND},
        backchannels=BACKCHANNELS + ("sure", "uh-huh", "I see"),
        long_s=300.0,
    ),
    "heldout": Pool(
        name="heldout",
        seed=1602,
        # accents en-gb, en-gb-scotland, en-029, en-us-nyc, en-gb-x-gbcwmd; families m5/m6/m8, steph, edward ...
        voices=(
            Voice("m5", "en-gb", 38, 155),
            Voice("m6", "en-gb-scotland", 68, 188),
            Voice("m8", "en-029", 45, 162),
            Voice("edward", "en-us-nyc", 72, 152),
            Voice("Lee", "en-gb-x-gbcwmd", 36, 195),
            Voice("john", "en-gb", 66, 166),
            Voice("paul", "en-gb-scotland", 48, 158),
            Voice("travis", "en-029", 78, 186),
            Voice("marcelo", "en-us-nyc", 40, 168),
            Voice("robert", "en-gb-x-gbcwmd", 70, 151),
            Voice("Mario", "en-gb", 43, 192),
            Voice("david", "en-gb-scotland", 75, 160),
            Voice("f4", "en-us-nyc", 46, 157),
            Voice("f5", "en-gb", 67, 190),
            Voice("steph", "en-gb-x-gbcwmd", 37, 164),
            Voice("steph3", "en-029", 74, 153),
            Voice("Andrea", "en-gb-scotland", 42, 197),
            Voice("anika", "en-us-nyc", 69, 169),
            Voice("grandma", "en-029", 39, 185),
            Voice("shelby", "en-gb", 76, 159),
        ),
        pitch_bands=((35, 50), (65, 80)),
        speed_bands=((150, 170), (185, 200)),
        slow=(0.72, 0.82),
        fast=(1.25, 1.35),
        sentences={"en": HELDOUT_SENTENCES, **HELDOUT_SECOND},
        backchannels=BACKCHANNELS + ("yeah", "oh", "wow", "exactly"),
        long_s=630.0,
    ),
}


@dataclass(frozen=True)
class FileSpec:
    """One file to generate: its condition and the knobs that condition sets."""

    name: str
    set_name: str
    condition: str
    num_speakers: int
    target_s: float
    seed: int
    language: str = "en"  # the file's language; with ``switching`` turns alternate with English at random
    switching: bool = False
    rate: bool = False
    overlap_prob: float = 0.0
    backchannel_prob: float = 0.0
    snr_db: float | None = None
    noise_kind: str | None = None
    reverb: bool = False
    unbalanced: bool = False


@dataclass
class _Turn:
    speaker: str
    text: str
    language: str
    kind: str  # "turn" | "backchannel"
    speed: int
    samples: Any  # float32 [n] at 16 kHz, trimmed
    pieces: list[tuple[int, int]]  # speech runs inside ``samples`` (sample offsets, end exclusive)
    start_sample: int = 0

    @property
    def start(self) -> float:
        return self.start_sample / SAMPLE_RATE

    @property
    def end(self) -> float:
        return (self.start_sample + len(self.samples)) / SAMPLE_RATE


@dataclass(frozen=True)
class GeneratedFile:
    """One file of a set as ``index.json`` lists it."""

    name: str
    condition: str
    num_speakers: int
    duration_s: float
    files: dict[str, str] = field(default_factory=dict)


Progress = Callable[[str, int, int], None]


def _file_seed(set_name: str, name: str, seed: int) -> int:
    return zlib.crc32(f"{set_name}/{name}/{seed}".encode())


def plan(set_name: str, *, quick: bool = False, seed: int = 0) -> list[FileSpec]:
    """The files of ``set_name`` (tuning | heldout): every condition, 30-120 s each apart from ``long``.

    ``quick`` gives six ~30 s files (clean, overlap, noise_5db, reverb, speakers_4, backchannel).
    The real recording is not planned here (see ``copy_real_sample``).
    """
    import numpy as np

    if set_name not in POOLS:
        raise ValueError(f"unknown set {set_name!r}; choose one of {', '.join(SETS)}")
    pool = POOLS[set_name]
    rng = np.random.default_rng(pool.seed + 1000 * seed)
    second = [lang for lang in pool.sentences if lang != "en"]
    noise_kinds = ("pink", "brown", "fan")
    specs: list[FileSpec] = []

    def add(condition: str, number: int, num_speakers: int, low: float = 40.0, high: float = 100.0,
            **knobs: Any) -> None:
        name = f"{set_name}_{condition}_{number:02d}" if not quick else f"{set_name}_{condition}_quick"
        target = 28.0 if quick else round(float(rng.uniform(low, high)), 1)
        specs.append(FileSpec(name, set_name, condition, num_speakers, target,
                              _file_seed(set_name, name, seed), **knobs))

    if quick:
        add("clean", 1, 2)
        add("overlap", 1, 2, overlap_prob=0.6)
        add("noise_5db", 1, 2, snr_db=5.0, noise_kind="pink")
        add("reverb", 1, 2, reverb=True)
        add("speakers_4", 1, 4, unbalanced=True)
        add("backchannel", 1, 2, backchannel_prob=0.5)
        return specs
    for i in range(4):
        add("clean", i + 1, 2)
    for i in range(3):
        add("rate", i + 1, 2, rate=True)
    for condition, snr in (("noise_10db", 10.0), ("noise_5db", 5.0)):
        for i in range(3):
            add(condition, i + 1, (2, 3, 2)[i], snr_db=snr, noise_kind=noise_kinds[i])
    for i in range(3):
        add("reverb", i + 1, (2, 3, 2)[i], reverb=True)
    for i in range(3):
        add("overlap", i + 1, (2, 2, 3)[i], overlap_prob=0.6)
    for k in (3, 4, 5):
        for i in range(2):
            add(f"speakers_{k}", i + 1, k, low=60.0, high=105.0, unbalanced=True)
    for i in range(3):
        add("backchannel", i + 1, (2, 3, 2)[i], backchannel_prob=0.5)
    add("language", 1, 2, language=second[0])
    add("language", 2, 2, language=second[1], switching=True)
    add("long", 1, 3, low=pool.long_s, high=pool.long_s, unbalanced=True, overlap_prob=0.15,
        backchannel_prob=0.2, snr_db=20.0, noise_kind="brown")
    return specs


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise RuntimeError(f"{tool} is not installed; apt-get install espeak-ng sox")
    return found


def _speak(espeak_voice: str, pitch: int, speed: int, text: str, work: Path) -> tuple[Any, list[tuple[int, int]]]:
    """espeak-ng's rendering of ``text`` at 16 kHz, trimmed, and its speech runs split at pauses >= SPLIT_PAUSE_S."""
    import numpy as np
    import soundfile as sf
    from scipy.signal import resample_poly

    raw = work / "line.wav"
    subprocess.run([_need("espeak-ng"), "-v", espeak_voice, "-p", str(pitch), "-s", str(speed), "-w", str(raw), text],
                   check=True, capture_output=True)
    samples, rate = sf.read(raw, dtype="float64")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    samples = resample_poly(samples, SAMPLE_RATE, rate)
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak <= 0:
        raise RuntimeError(f"espeak-ng voice {espeak_voice} produced silence for {text!r}")
    loud = np.flatnonzero(np.abs(samples) > 0.02 * peak)
    samples = samples[loud[0] : loud[-1] + 1] / peak
    hop = SAMPLE_RATE // 100
    frames = len(samples) // hop + 1
    padded = np.pad(samples, (0, frames * hop - len(samples)))
    rms = np.sqrt((padded.reshape(frames, hop) ** 2).mean(1))
    silent = rms < 0.01 * float(rms.max())
    pieces: list[tuple[int, int]] = []
    begin = 0
    min_frames = int(round(SPLIT_PAUSE_S * 100))
    i = 0
    while i < frames:
        if silent[i]:
            j = i
            while j < frames and silent[j]:
                j += 1
            if j - i >= min_frames and i > 0 and j < frames:
                pieces.append((begin, i * hop))
                begin = j * hop
            i = j
        else:
            i += 1
    pieces.append((begin, len(samples)))
    return samples.astype(np.float32), [(a, min(b, len(samples))) for a, b in pieces if b > a]


class _Deck:
    """Sentences of one language dealt in a seeded shuffled order, reshuffled when used up."""

    def __init__(self, sentences: tuple[str, ...], rng: Any) -> None:
        self.sentences, self.rng, self.order = sentences, rng, []

    def deal(self) -> str:
        if not self.order:
            self.order = [int(i) for i in self.rng.permutation(len(self.sentences))]
        return self.sentences[self.order.pop()]


def _script(spec: FileSpec, pool: Pool, voices: dict[str, Voice], rng: Any, work: Path) -> list[_Turn]:
    """Turns with their audio, placed on the timeline (``start_sample``), until ``spec.target_s`` is reached."""
    import numpy as np

    labels = list(voices)
    if spec.unbalanced:
        weights = rng.dirichlet(np.full(len(labels), 1.5)) + 0.08
    else:
        weights = np.ones(len(labels))
    weights = weights / weights.sum()
    decks = {lang: _Deck(sentences, rng) for lang, sentences in pool.sentences.items()}
    turns: list[_Turn] = []
    long_turns = {label: 0 for label in labels}
    opening = [labels[int(i)] for i in rng.permutation(len(labels))]
    last: str | None = None
    hold: str | None = None

    def synth(speaker: str, text: str, language: str, kind: str, speed: int) -> _Turn:
        voice = voices[speaker]
        espeak_voice = voice.espeak(None if language == "en" else language)
        samples, pieces = _speak(espeak_voice, voice.pitch, speed, text, work)
        return _Turn(speaker, text, language, kind, speed, samples, pieces)

    def floor_for(speaker: str, ignore: _Turn | None = None) -> float:
        """Earliest start that makes no speaker overlap itself and no three voices overlap."""
        ends = sorted((t.end for t in turns if t is not ignore), reverse=True)
        own = [t.end + 0.15 for t in turns if t.speaker == speaker]
        others = ends[1:] if ignore is None else ends
        return max(own + others[:1] + [0.0])

    def put(turn: _Turn, start: float) -> None:
        turn.start_sample = int(round(start * SAMPLE_RATE))
        turns.append(turn)

    while True:
        latest = max(turns, key=lambda t: t.end) if turns else None
        if latest is not None and latest.end >= spec.target_s and min(long_turns.values()) >= 2:
            break
        if opening:
            speaker = opening.pop(0)
        elif hold is not None:
            speaker = hold
        elif latest is not None and latest.end >= spec.target_s:
            speaker = min(long_turns, key=lambda s: (long_turns[s], labels.index(s)))
            if speaker == last:
                speaker = next(s for s in labels if s != last)
        else:
            others = [s for s in labels if s != last]
            p = np.array([weights[labels.index(s)] for s in others])
            speaker = others[int(rng.choice(len(others), p=p / p.sum()))]
        hold = None
        language = spec.language
        if spec.switching and rng.random() < 0.5:
            language = "en"
        text = " ".join(decks[language].deal() for _ in range(int(rng.choice([1, 1, 2, 2, 3]))))
        speed = voices[speaker].speed
        if spec.rate:
            band = pool.slow if rng.random() < 0.5 else pool.fast
            speed = int(round(speed * rng.uniform(*band)))
        turn = synth(speaker, text, language, "turn", speed)
        if latest is None:
            start = float(rng.uniform(*LEAD_IN_S))
        elif latest.speaker != speaker and rng.random() < spec.overlap_prob:
            overlap = min(float(rng.uniform(0.3, 1.2)), 0.5 * (latest.end - latest.start))
            start = max(latest.end - overlap, floor_for(speaker))
        else:
            start = max(latest.end + float(rng.uniform(0.2, 1.0)), floor_for(speaker))
        put(turn, start)
        long_turns[speaker] += 1
        last = speaker
        if len(labels) > 1 and rng.random() < spec.backchannel_prob:
            listener = [s for s in labels if s != speaker][int(rng.integers(len(labels) - 1))]
            word = pool.backchannels[int(rng.integers(len(pool.backchannels)))]
            back = synth(listener, word, "en", "backchannel", voices[listener].speed)
            length = len(back.samples) / SAMPLE_RATE
            inside = turn.end - turn.start >= 2.5 and rng.random() < 0.35
            if inside:
                begin = turn.start + float(rng.uniform(0.4, 0.7)) * (turn.end - turn.start)
                begin = max(begin, floor_for(listener, ignore=turn))
                if begin + length <= turn.end - 0.2:
                    put(back, begin)
                    continue
            put(back, max(turn.end + float(rng.uniform(0.15, 0.45)), floor_for(listener)))
            if rng.random() < 0.6:
                hold = speaker  # the speaker keeps the floor after the listener's back-channel
    return turns


def _sox_noise(kind: str, n: int, offset: int, work: Path) -> Any:
    """``n`` samples of sox-made noise (pink, brown, or 'fan': low-passed white), ``offset`` samples in."""
    import soundfile as sf

    seconds = (n + offset) / SAMPLE_RATE + 0.1
    effects = {
        "pink": ["synth", f"{seconds:.3f}", "pinknoise"],
        "brown": ["synth", f"{seconds:.3f}", "brownnoise", "highpass", "40"],
        "fan": ["synth", f"{seconds:.3f}", "whitenoise", "lowpass", "1200", "highpass", "80"],
    }[kind]
    out = work / f"noise_{kind}.wav"
    subprocess.run([_need("sox"), "-R", "-D", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-e", "floating-point",
                    "-b", "32", str(out), *effects], check=True, capture_output=True)
    samples, _ = sf.read(out, dtype="float64")
    return samples[offset : offset + n]


def _sox_reverb(track: Any, params: tuple[float, ...], work: Path) -> Any:
    """``track`` through sox ``reverb reverberance hf-damping room-scale 100 pre-delay-ms wet-gain-db``."""
    import numpy as np
    import soundfile as sf

    src, dst = work / "dry.wav", work / "wet.wav"
    sf.write(src, track.astype("float32"), SAMPLE_RATE, subtype="FLOAT")
    reverberance, damping, room, predelay, wet = params
    subprocess.run([_need("sox"), "-R", "-D", str(src), "-e", "floating-point", "-b", "32", str(dst), "reverb",
                    f"{reverberance:.0f}", f"{damping:.0f}", f"{room:.0f}", "100", f"{predelay:.0f}", f"{wet:.1f}"],
                   check=True, capture_output=True)
    samples, _ = sf.read(dst, dtype="float64")
    return np.pad(samples, (0, max(0, len(track) - len(samples))))[: len(track)]


def generate_file(spec: FileSpec, out_dir: Path | str) -> GeneratedFile:
    """Write ``spec``'s WAV, RTTM and JSON into ``out_dir``; same spec, same bytes."""
    import numpy as np
    import soundfile as sf

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pool = POOLS[spec.set_name]
    rng = np.random.default_rng(spec.seed)
    chosen = rng.choice(len(pool.voices), size=spec.num_speakers, replace=False)
    voices = {"ABCDE"[i]: pool.voices[int(j)] for i, j in enumerate(chosen)}
    effects: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        turns = _script(spec, pool, voices, rng, work)
        total = int(round((max(t.end for t in turns) + TAIL_S) * SAMPLE_RATE))
        gains = {s: 0.5 * 10 ** (float(rng.uniform(-6.0, 0.0)) / 20) for s in voices}
        tracks = {s: np.zeros(total) for s in voices}
        speech = np.zeros(total, dtype=bool)
        for turn in turns:
            a = turn.start_sample
            level = gains[turn.speaker] * (0.8 if turn.kind == "backchannel" else 1.0)
            tracks[turn.speaker][a : a + len(turn.samples)] += level * turn.samples
            for p, q in turn.pieces:
                speech[a + p : a + q] = True
        if spec.reverb:
            rooms = {}
            for s in voices:
                params = (float(rng.uniform(40, 85)), float(rng.uniform(30, 70)), float(rng.uniform(50, 100)),
                          float(rng.uniform(0, 25)), float(rng.uniform(-3, 2)))
                params = tuple(round(v, 1) for v in params)
                rooms[s] = dict(zip(("reverberance", "hf_damping", "room_scale", "pre_delay_ms", "wet_gain_db"),
                                    params))
                tracks[s] = _sox_reverb(tracks[s], params, work)
            effects["reverb"] = {"tool": "sox reverb", "per_speaker": rooms}
        mix = sum(tracks.values())
        if spec.snr_db is not None and spec.noise_kind is not None:
            noise = _sox_noise(spec.noise_kind, total, int(rng.integers(0, 30 * SAMPLE_RATE)), work)
            speech_power = float((mix[speech] ** 2).mean())
            noise *= np.sqrt(speech_power / (10 ** (spec.snr_db / 10)) / float((noise ** 2).mean()))
            mix = mix + noise
            effects["noise"] = {"tool": "sox synth", "kind": spec.noise_kind, "snr_db": spec.snr_db,
                                "snr_definition": "mean power over truth speech samples / mean noise power"}
        mix = mix + rng.normal(0.0, NOISE_FLOOR_STD, size=total)
        peak = float(np.abs(mix).max())
        if peak > 0.9:
            mix *= 0.9 / peak
        sf.write(out_dir / f"{spec.name}.wav", mix.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    segments = sorted(
        ((turn.start_sample + p) / SAMPLE_RATE, (turn.start_sample + q) / SAMPLE_RATE, turn.speaker)
        for turn in turns for p, q in turn.pieces
    )
    (out_dir / f"{spec.name}.rttm").write_text("".join(
        f"SPEAKER {spec.name} 1 {a:.3f} {b - a:.3f} <NA> <NA> {s} <NA> <NA>\n" for a, b, s in segments))
    duration = round(total / SAMPLE_RATE, 3)
    languages = sorted({t.language for t in turns})
    sidecar = {
        "title": f"Synthetic {spec.condition} conversation ({spec.name})",
        "author": "mmcurate benchmarks/speech_sets.py (espeak-ng voices, sox effects)",
        "licence": "CC0-1.0",
        "language": spec.language if len(languages) == 1 else "+".join(languages),
        "set": spec.set_name,
        "condition": spec.condition,
        "condition_description": CONDITIONS[spec.condition],
        "num_speakers": spec.num_speakers,
        "duration_s": duration,
        "seed": spec.seed,
        "voices": {s: {"espeak": v.espeak(), "pitch": v.pitch, "speed": v.speed} for s, v in voices.items()},
        "speaker_gain_db": {s: round(20 * np.log10(g / 0.5), 2) for s, g in gains.items()},
        "effects": effects,
        "truth": f"RTTM segments are turns split at their own pauses >= {SPLIT_PAUSE_S} s",
        "lines": [
            {"start": round(t.start, 3), "end": round(t.end, 3), "speaker": t.speaker, "text": t.text,
             "language": t.language, "kind": t.kind, "speed": t.speed}
            for t in sorted(turns, key=lambda t: t.start_sample)
        ],
    }
    (out_dir / f"{spec.name}.json").write_text(json.dumps(sidecar, ensure_ascii=False, indent=1) + "\n")
    return GeneratedFile(spec.name, spec.condition, spec.num_speakers, duration,
                         {"wav": f"{spec.name}.wav", "rttm": f"{spec.name}.rttm", "json": f"{spec.name}.json"})


def pyannote_sample() -> Path | None:
    """Folder of pyannote.audio's bundled ``sample.wav`` + ``sample.rttm``, or None when not installed."""
    import importlib.util

    found = importlib.util.find_spec("pyannote.audio")
    if found is None or not found.submodule_search_locations:
        return None
    folder = Path(list(found.submodule_search_locations)[0]) / "sample"
    return folder if (folder / "sample.wav").is_file() and (folder / "sample.rttm").is_file() else None


def copy_real_sample(out_dir: Path | str, name: str = "heldout_real_01") -> GeneratedFile | None:
    """pyannote.audio's sample recording (16 kHz mono) with its RTTM as condition ``real``; None when absent."""
    import numpy as np
    import soundfile as sf
    from scipy.signal import resample_poly

    folder = pyannote_sample()
    if folder is None:
        return None
    from importlib.metadata import version

    out_dir = Path(out_dir)
    samples, rate = sf.read(folder / "sample.wav", dtype="float64")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if rate != SAMPLE_RATE:
        samples = resample_poly(samples, SAMPLE_RATE, rate)
    sf.write(out_dir / f"{name}.wav", samples.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    segments = []
    for line in (folder / "sample.rttm").read_text().splitlines():
        parts = line.split()
        segments.append((float(parts[3]), float(parts[3]) + float(parts[4]), parts[7]))
    (out_dir / f"{name}.rttm").write_text("".join(
        f"SPEAKER {name} 1 {a:.3f} {b - a:.3f} <NA> <NA> {s} <NA> <NA>\n" for a, b, s in segments))
    lines = []
    stm = folder / "sample.stm"
    if stm.is_file():
        for row in stm.read_text().splitlines():
            _, _, who, start, end, *words = row.split()
            a, b = float(start), float(end)
            speaker = max(sorted({s for *_, s in segments}),
                          key=lambda s: sum(max(0.0, min(b, e) - max(a, st)) for st, e, x in segments if x == s))
            lines.append({"start": a, "end": b, "speaker": speaker, "text": " ".join(words), "language": "en",
                          "kind": "turn", "name_in_stm": who})
    duration = round(len(samples) / SAMPLE_RATE, 3)
    package = version("pyannote.audio")
    sidecar = {
        "title": "Real two-party telephone call (pyannote.audio sample)",
        "author": "unknown speakers; recording bundled with pyannote.audio by its authors (CNRS, pyannoteAI)",
        "licence": "MIT, as part of the pyannote.audio package; the package does not name the recording's own "
                   "source",
        "origin": f"pyannote.audio {package}: pyannote/audio/sample/sample.wav, sample.rttm, sample.stm; "
                  f"copied (original rate {rate} Hz, resampled to {SAMPLE_RATE} Hz mono where needed)",
        "language": "en",
        "set": "heldout",
        "condition": "real",
        "condition_description": CONDITIONS["real"],
        "num_speakers": len({s for *_, s in segments}),
        "duration_s": duration,
        "voices": {},
        "truth": "the package's own RTTM, unchanged apart from the file id",
        "lines": lines,
    }
    (out_dir / f"{name}.json").write_text(json.dumps(sidecar, ensure_ascii=False, indent=1) + "\n")
    return GeneratedFile(name, "real", sidecar["num_speakers"], duration,
                         {"wav": f"{name}.wav", "rttm": f"{name}.rttm", "json": f"{name}.json"})


def generator_digest() -> str:
    """SHA-256 of this file: a cached set made by another version of the generator is made again."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _tool_version(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True)
    return (done.stdout or done.stderr).strip().splitlines()[0]


def generate_set(out_dir: Path | str, set_name: str, *, quick: bool = False, seed: int = 0,
                 on_progress: Progress | None = None) -> dict[str, Any]:
    """Write every file of the set and ``index.json`` into ``out_dir``; returns the index."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = plan(set_name, quick=quick, seed=seed)
    started = time.perf_counter()
    made: list[GeneratedFile] = []
    for i, spec in enumerate(specs):
        made.append(generate_file(spec, out_dir))
        if on_progress:
            on_progress(spec.name, i + 1, len(specs))
    real_note = None
    if set_name == "heldout" and not quick:
        real = copy_real_sample(out_dir)
        if real is None:
            real_note = "pyannote.audio is not installed here: no real recording in this set"
        else:
            made.append(real)
    index = {
        "set": set_name,
        "quick": quick,
        "seed": seed,
        "generator": "benchmarks/speech_sets.py",
        "generator_sha256": generator_digest(),
        "espeak_ng": _tool_version([_need("espeak-ng"), "--version"]),
        "sox": _tool_version([_need("sox"), "--version"]).split(":", 1)[-1].strip(),
        "voices": [asdict(v) for v in POOLS[set_name].voices],
        "real_recording": real_note or ("included" if set_name == "heldout" and not quick else "none in this set"),
        "files": [{"name": m.name, "condition": m.condition, "num_speakers": m.num_speakers,
                   "duration_s": m.duration_s, **m.files} for m in made],
    }
    (out_dir / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    if on_progress:
        on_progress(f"done in {time.perf_counter() - started:.1f} s", len(specs), len(specs))
    return index


def is_current(folder: Path | str, set_name: str, *, quick: bool = False, seed: int = 0) -> bool:
    """Whether ``folder`` holds this set, made by this version of the generator with this seed."""
    index_path = Path(folder) / "index.json"
    if not index_path.is_file():
        return False
    index = json.loads(index_path.read_text())
    return (index.get("set"), index.get("quick"), index.get("seed"), index.get("generator_sha256")) == (
        set_name, quick, seed, generator_digest())


def ensure_set(folder: Path | str, set_name: str, *, quick: bool = False, seed: int = 0,
               on_progress: Progress | None = None) -> dict[str, Any]:
    """The set's index in ``folder``, generating it first when the folder is empty or was made differently."""
    folder = Path(folder)
    if is_current(folder, set_name, quick=quick, seed=seed):
        return json.loads((folder / "index.json").read_text())
    if not (folder / "index.json").is_file() and folder.is_dir() and any(folder.iterdir()):
        raise RuntimeError(f"{folder} is not empty and has no index.json; give an empty or new --data folder")
    return generate_set(folder, set_name, quick=quick, seed=seed, on_progress=on_progress)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate a diarization speech set with truth (WAV, RTTM, JSON, index.json).",
        epilog="example: .venv/bin/python benchmarks/speech_sets.py /tmp/sets/heldout --set heldout")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--set", dest="set_name", choices=SETS, required=True)
    parser.add_argument("--quick", action="store_true", help="six ~30 s files, for smoke runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    def show(step: str, done: int, total: int) -> None:
        print(f"[{done}/{total}] {step}", flush=True)

    index = generate_set(args.out_dir, args.set_name, quick=args.quick, seed=args.seed, on_progress=show)
    minutes = sum(f["duration_s"] for f in index["files"]) / 60
    print(f"{len(index['files'])} files, {minutes:.1f} min of audio in {args.out_dir}; real recording: "
          f"{index['real_recording']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
