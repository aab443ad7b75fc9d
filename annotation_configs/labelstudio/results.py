"""Label Studio result JSON <-> normalised values per scheme field.

``values_from_result`` reads what an annotator submitted (the ``result`` list of a Label
Studio annotation) into ``{field: normalised value}`` (see ``registry`` for the forms);
``result_from_values`` is the reverse, used for predictions (pre-annotation) and for
simulated annotators, so that both speak the exact format the editor produces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from annotation_configs.registry import Scheme, SchemeField
from annotation_configs.xml import INTENSITY_SEPARATOR, control_name
from backend.domain import NotFoundError, ValidationError, ValueKind
from backend.language import normalize_text

_RESULT_TYPE = {
    ValueKind.NOMINAL: "choices",
    ValueKind.ORDINAL: "choices",
    ValueKind.MULTI_LABEL: "choices",
    ValueKind.MULTI_LABEL_INTENSITY: "choices",
    ValueKind.INTERVAL: "number",
    ValueKind.FREE_TEXT: "textarea",
}


def values_from_result(scheme: Scheme, result: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Normalised ``{field: value}`` from a Label Studio ``result`` list.

    Fields the annotator left empty are absent, except multi-label fields (empty list) and
    intensity fields with at least one row answered (unanswered rows count 0). Regions and
    controls that are not part of ``scheme`` are errors: the annotation was made with another
    config, and guessing would store a wrong label.
    """
    if not isinstance(result, Sequence) or isinstance(result, (str, bytes)):
        raise ValidationError(f"a Label Studio result must be a list of regions, got {result!r:.80}")
    by_field: dict[str, dict[str, Any]] = {}
    for region in result:
        if not isinstance(region, Mapping) or not isinstance(region.get("from_name"), str):
            raise ValidationError(f"result region {region!r:.120} has no 'from_name'; is this a Label Studio result?")
        from_name: str = region["from_name"]
        field_name, _, label_key = from_name.partition(INTENSITY_SEPARATOR)
        try:
            field = scheme.field(field_name)
        except NotFoundError:
            raise ValidationError(
                f"result names control {from_name!r}, which scheme {scheme.name!r} does not have "
                f"(fields: {', '.join(scheme.field_names)}); was the task made with another scheme?"
            ) from None
        value = region.get("value")
        if not isinstance(value, Mapping):
            raise ValidationError(f"result region for {from_name!r} has no 'value' mapping: {region!r:.120}")
        slot = by_field.setdefault(field.name, {})
        slot[label_key or ""] = _read_region(field, from_name, label_key, value)
    values: dict[str, Any] = {}
    for field in scheme.fields:
        slot = by_field.get(field.name)
        if field.kind is ValueKind.MULTI_LABEL:
            values[field.name] = field.check(slot[""] if slot else [])
        elif field.kind is ValueKind.MULTI_LABEL_INTENSITY:
            if slot:
                values[field.name] = field.check(slot)
        elif slot is not None:
            values[field.name] = field.check(slot[""])
    return values


def _read_region(field: SchemeField, from_name: str, label_key: str, value: Mapping[str, Any]) -> Any:
    kind = field.kind
    if kind is ValueKind.MULTI_LABEL_INTENSITY:
        if not label_key:
            raise ValidationError(f"intensity control {from_name!r} must be named '<field>__<label>'")
        field.label(label_key)
    elif label_key:
        raise ValidationError(f"control {from_name!r}: field {field.name!r} is not an intensity field")
    if kind is ValueKind.FREE_TEXT:  # a corrected transcript: stored normalised (the raw result keeps what was typed)
        text = value.get("text")
        if isinstance(text, str):
            return normalize_text(text)
        if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
            raise ValidationError(f"textarea {from_name!r} carries {text!r:.80}, expected a list of strings")
        return normalize_text("\n".join(text))
    if kind is ValueKind.INTERVAL:
        number = value.get("number", value.get("rating"))
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValidationError(f"number control {from_name!r} carries {number!r}, expected a number")
        return number
    choices = value.get("choices")
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise ValidationError(f"choices control {from_name!r} carries {choices!r:.80}, expected a list of labels")
    if kind is ValueKind.MULTI_LABEL:
        return choices
    if len(choices) != 1:
        raise ValidationError(f"single-choice control {from_name!r} carries {len(choices)} choices: {choices!r}")
    if kind is ValueKind.MULTI_LABEL_INTENSITY:
        if not choices[0].isdigit():
            raise ValidationError(f"intensity control {from_name!r} carries {choices[0]!r}, expected 0..{field.max_intensity}")
        return int(choices[0])
    return choices[0]


def result_from_values(scheme: Scheme, values: Mapping[str, Any], to_name: str) -> list[dict[str, Any]]:
    """The Label Studio ``result`` list that ``values`` would be when made in the editor over ``to_name``.

    ``to_name`` is the object tag the config shows (``MediaKind.value``: ``"audio"``, ``"image"``,
    ``"dialogue"``...): choices and text areas read the same over every object, so an OCR text
    corrected under an image and a choice about a chat turn round-trip like any other.
    """
    result: list[dict[str, Any]] = []
    for name, raw in values.items():
        field = scheme.field(name)
        value = field.check(raw)
        kind = field.kind
        rtype = _RESULT_TYPE[kind]
        if kind is ValueKind.MULTI_LABEL_INTENSITY:
            for key, level in value.items():
                result.append(_region(control_name(field, key), to_name, rtype, {"choices": [str(level)]}))
            continue
        if kind is ValueKind.MULTI_LABEL:
            if not value:
                continue
            payload: dict[str, Any] = {"choices": list(value)}
        elif kind is ValueKind.INTERVAL:
            payload = {"number": value}
        elif kind is ValueKind.FREE_TEXT:
            payload = {"text": [value]}
        else:
            payload = {"choices": [value]}
        result.append(_region(field.name, to_name, rtype, payload))
    return result


def _region(from_name: str, to_name: str, rtype: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"from_name": from_name, "to_name": to_name, "type": rtype, "origin": "manual", "value": value}
