"""Answers of simulated annotators: the reference label with a given accuracy, a plausible slip otherwise.

Pure functions over a seeded ``random.Random``: the service submits what they return through
Label Studio's own API as a real user, so simulated judgements travel the same path as human
ones. A slip is what people actually get wrong: a neighbouring level on ordinal scales, a
nearby number, one emotion too many or too few, a dropped word; any other label for nominal
fields.
"""

from __future__ import annotations

import math
import random
from typing import Any

from annotation_configs.registry import Scheme, SchemeField
from backend.domain import ValidationError, ValueKind


def answer(field: SchemeField, reference: Any, accuracy: float, rng: random.Random) -> Any:
    """The value one annotator of ``accuracy`` (0..1) gives for ``field`` when the truth is ``reference``.

    ``reference`` None (no truth known) gives a uniformly random label.
    """
    if not 0.0 <= accuracy <= 1.0:
        raise ValidationError(f"accuracy {accuracy!r} must be between 0 and 1")
    if reference is None:
        return _random_value(field, rng)
    truth = field.check(reference)
    if rng.random() < accuracy:
        return truth
    return _slip(field, truth, rng)


def answers(scheme: Scheme, references: dict[str, Any], accuracy: float, rng: random.Random,
            fallback: dict[str, Any] | None = None) -> dict[str, Any]:
    """One simulated answer per scheme field; ``fallback`` supplies truths missing from ``references``:
    the predictor's text of a free-text field (the ASR text of a transcript, the OCR text of an image,
    see ``Scheme.predicted_texts``), which the simulated annotator corrects with its accuracy."""
    out: dict[str, Any] = {}
    for field in scheme.fields:
        reference = references.get(field.name, (fallback or {}).get(field.name))
        out[field.name] = answer(field, reference, accuracy, rng)
    return out


def lead_time_s(scheme: Scheme, rng: random.Random, median_s: float = 6.0) -> float:
    """A plausible time on task: log-normal around ``median_s`` per field (sigma 0.5), at least 1 s."""
    total = sum(rng.lognormvariate(math.log(median_s), 0.5) for _ in scheme.fields)
    return round(max(1.0, total), 2)


def _random_value(field: SchemeField, rng: random.Random) -> Any:
    kind = field.kind
    if kind in (ValueKind.NOMINAL, ValueKind.ORDINAL):
        return rng.choice(field.keys)
    if kind is ValueKind.MULTI_LABEL:
        return sorted(k for k in field.keys if rng.random() < 0.25)
    if kind is ValueKind.MULTI_LABEL_INTENSITY:
        return {k: rng.choice([0, 0, 0, rng.randint(1, field.max_intensity)]) for k in field.keys}
    if kind is ValueKind.INTERVAL:
        steps = int((field.maximum - field.minimum) / field.step)  # type: ignore[operator]
        return field.minimum + field.step * rng.randint(0, steps)  # type: ignore[operator]
    return ""


def _slip(field: SchemeField, truth: Any, rng: random.Random) -> Any:
    kind = field.kind
    if kind is ValueKind.NOMINAL:
        return rng.choice([k for k in field.keys if k != truth])
    if kind is ValueKind.ORDINAL:
        index = field.keys.index(truth)
        neighbours = [i for i in (index - 1, index + 1) if 0 <= i < len(field.keys)]
        return field.keys[rng.choice(neighbours)]
    if kind is ValueKind.MULTI_LABEL:
        flipped = rng.choice(field.keys)
        return sorted(set(truth) ^ {flipped})
    if kind is ValueKind.MULTI_LABEL_INTENSITY:
        key = rng.choice(field.keys)
        level = truth[key]
        options = [lvl for lvl in (level - 1, level + 1) if 0 <= lvl <= field.max_intensity]
        return {**truth, key: rng.choice(options)}
    if kind is ValueKind.INTERVAL:
        options = [v for v in (truth - field.step, truth + field.step)  # type: ignore[operator]
                   if field.minimum <= v <= field.maximum]  # type: ignore[operator]
        return rng.choice(options)
    if not truth:
        return truth  # nothing to get wrong in an empty text
    words = str(truth).split()
    if len(words) > 1:
        del words[rng.randrange(len(words))]
        return " ".join(words)
    return str(truth) + "?"
