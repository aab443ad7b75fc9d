"""The labeling scheme registry: schemes are data (YAML files in ``schemes/``), read into typed records.

A scheme is what annotators answer about one item: a few fields, each with a value kind
(``backend.domain.ValueKind``), a label set with English and native-language display names
(Tamil ``ta``, Malayalam ``ml``, Bengali ``bn``, Chinese ``zh``), instructions, and the
agreement metric QA applies to it. Label Studio XML (``annotation_configs.xml``) and the
result normalisation (``annotation_configs.labelstudio.results``) are both generated from these records,
so a scheme is defined once. ``item_kinds`` (optional) names the item kinds a scheme is meant for
(``[image]`` for a meme scheme); without it a scheme applies to every kind.

Normalised values, per kind (what ``annotations.values`` stores and QA reads):

- nominal, ordinal: the label key, ``"positive"`` (ordinal order is ``SchemeField.order``)
- interval: a number inside ``[minimum, maximum]``
- multi_label: a sorted list of label keys, ``["anger", "fear"]``
- multi_label_intensity: ``{label key: intensity}`` for every label, intensity ``0..max``
  (0 = absent), as in BRIGHTER / SemEval-2025 Task 11 (Muhammad et al. 2025)
- free_text: a string
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from backend.domain import DEFAULT_METRICS, ItemKind, NotFoundError, ValidationError, ValueKind

DISPLAY_LANGUAGES: tuple[str, ...] = ("en", "ta", "ml", "bn", "zh")
"""Every label carries a display name in each of these (ISO 639-1)."""

METRICS: frozenset[str] = frozenset(DEFAULT_METRICS.values()) | {
    "fleiss_kappa",
    "cohen_kappa",
    "gwet_ac1",
    "gwet_ac2",
    "percent_agreement",
    "pearson_per_label",
}

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
SCHEMES_DIR = Path(__file__).with_name("schemes")


@dataclass(frozen=True)
class Label:
    """One answer an annotator can give, with its display name per language."""

    key: str
    names: Mapping[str, str]
    hint: str | None = None

    def display(self, language: str | None = None) -> str:
        """English name, followed by the native name when ``language`` is not English."""
        english = self.names["en"]
        if language in (None, "en"):
            return english
        native = self.names.get(language)
        if native is None or native == english:
            return english
        return f"{english} · {native}"


@dataclass(frozen=True)
class SchemeField:
    """One question of a scheme; its ``kind`` decides the control, the value and the metric."""

    name: str
    kind: ValueKind
    title: str
    metric: str
    labels: tuple[Label, ...] = ()
    intensity: tuple[Label, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    required: bool = True
    predictor: str | None = None
    description: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(label.key for label in self.labels)

    @property
    def order(self) -> tuple[str, ...]:
        """Label keys low to high; meaningful for ordinal fields (file order)."""
        return self.keys

    @property
    def max_intensity(self) -> int:
        return len(self.intensity) - 1

    def label(self, key: str) -> Label:
        for label in self.labels:
            if label.key == key:
                return label
        raise ValidationError(f"{key!r} is not a label of field {self.name!r}; use one of {', '.join(self.keys)}")

    def check(self, value: Any) -> Any:
        """Return ``value`` in normalised form, or raise ValidationError saying what is wrong."""
        where = f"field {self.name!r} ({self.kind.value})"
        if self.kind in (ValueKind.NOMINAL, ValueKind.ORDINAL):
            if not isinstance(value, str) or value not in self.keys:
                raise ValidationError(f"{value!r} is not a label of {where}; use one of {', '.join(self.keys)}")
            return value
        if self.kind is ValueKind.INTERVAL:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValidationError(f"{value!r} is not a number for {where}")
            if self.minimum is None or self.maximum is None or not self.minimum <= value <= self.maximum:
                raise ValidationError(
                    f"{value!r} is outside {where}'s range {self.minimum:g}..{self.maximum:g}"
                )
            return value
        if self.kind is ValueKind.MULTI_LABEL:
            if not isinstance(value, (list, tuple, set, frozenset)):
                raise ValidationError(f"{value!r} is not a list of labels for {where}")
            for key in value:
                if key not in self.keys:
                    raise ValidationError(f"{key!r} is not a label of {where}; use one of {', '.join(self.keys)}")
            return sorted(set(value))
        if self.kind is ValueKind.MULTI_LABEL_INTENSITY:
            if not isinstance(value, Mapping):
                raise ValidationError(f"{value!r} is not a mapping label -> intensity for {where}")
            out: dict[str, int] = {}
            for key in self.keys:
                level = value.get(key, 0)
                if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= self.max_intensity:
                    raise ValidationError(
                        f"intensity {level!r} for {key!r} in {where} must be an integer 0..{self.max_intensity}"
                    )
                out[key] = level
            unknown = sorted(set(value) - set(self.keys))
            if unknown:
                raise ValidationError(f"{unknown[0]!r} is not a label of {where}; use one of {', '.join(self.keys)}")
            return out
        if not isinstance(value, str):
            raise ValidationError(f"{value!r} is not text for {where}")
        return value


@dataclass(frozen=True)
class Scheme:
    """A named set of fields annotators answer about one item."""

    name: str
    title: str
    fields: tuple[SchemeField, ...]
    instructions: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    source: str | None = None
    item_kinds: tuple[ItemKind, ...] = ()
    """The item kinds the scheme is meant for; empty: every kind."""

    def applies_to(self, kind: ItemKind | str) -> bool:
        """Whether items of ``kind`` may be annotated with this scheme (always, when ``item_kinds`` is empty)."""
        try:
            kind = ItemKind(kind)
        except ValueError:
            raise ValidationError(f"{kind!r} is not an item kind; use one of {', '.join(k.value for k in ItemKind)}") from None
        return not self.item_kinds or kind in self.item_kinds

    def field(self, name: str) -> SchemeField:
        for f in self.fields:
            if f.name == name:
                return f
        known = ", ".join(f.name for f in self.fields)
        raise NotFoundError(f"scheme {self.name!r} has no field {name!r}; its fields are {known}")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def instruction(self, language: str | None = None) -> str:
        """Instructions in ``language`` when written, else English."""
        return self.instructions.get(language or "en") or self.instructions.get("en", "")

    def predicted_texts(self, outputs: Mapping[str, str | None]) -> dict[str, str]:
        """``{field: text}`` for every free-text field whose ``predictor`` gave a non-empty output.

        ``outputs`` maps predictor names to their text, ``{"asr": transcript, "ocr": text in the
        image}``: what a prediction pre-fills for the annotator to correct, and what a simulated
        annotator starts from.
        """
        return {f.name: text for f in self.fields
                if f.kind is ValueKind.FREE_TEXT and f.predictor and (text := outputs.get(f.predictor))}

    def check_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a ``{field: value}`` mapping; unknown fields are errors, missing ones are allowed."""
        out: dict[str, Any] = {}
        for name, value in values.items():
            out[name] = self.field(name).check(value)
        return out


class SchemeRegistry(Mapping[str, Scheme]):
    """Schemes by name, read from one folder of YAML files."""

    def __init__(self, schemes: Mapping[str, Scheme]):
        self._schemes = dict(schemes)

    def __getitem__(self, name: str) -> Scheme:
        try:
            return self._schemes[name]
        except KeyError:
            raise NotFoundError(
                f"no labeling scheme named {name!r}; known schemes: {', '.join(sorted(self._schemes))}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._schemes))

    def __len__(self) -> int:
        return len(self._schemes)


def load_registry(directory: Path | None = None) -> SchemeRegistry:
    """Read every ``*.yaml`` scheme in ``directory`` (default: the shipped ``schemes/``).

    Schemes may ``include`` fields of other schemes in the same folder
    (``include: [sentiment3.sentiment]``); an unknown or circular include is an error.
    """
    import yaml

    folder = directory or SCHEMES_DIR
    if not folder.is_dir():
        raise NotFoundError(f"scheme folder {str(folder)!r} does not exist")
    raw: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ValidationError(f"scheme file {path.name!r} is not valid YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise ValidationError(f"scheme file {path.name!r} must hold a mapping with name, title and fields")
        name = doc.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValidationError(
                f"scheme file {path.name!r}: name {name!r} must be lower-case letters, digits and _"
            )
        if name in raw:
            raise ValidationError(f"scheme {name!r} is defined twice: {raw[name][0].name} and {path.name}")
        raw[name] = (path, doc)
    schemes: dict[str, Scheme] = {}
    for name in raw:
        _build(name, raw, schemes, ())
    return SchemeRegistry(schemes)


@lru_cache(maxsize=1)
def shipped_registry() -> SchemeRegistry:
    """The shipped schemes, read once per process (the webhook receiver needs them per event)."""
    return load_registry()


def load_scheme(name: str, directory: Path | None = None) -> Scheme:
    """One scheme by name (reads the whole folder so that includes resolve)."""
    return load_registry(directory)[name]


def _build(
    name: str,
    raw: Mapping[str, tuple[Path, dict[str, Any]]],
    done: dict[str, Scheme],
    chain: tuple[str, ...],
) -> Scheme:
    if name in done:
        return done[name]
    if name in chain:
        raise ValidationError(f"scheme includes form a cycle: {' -> '.join(chain + (name,))}")
    path, doc = raw[name]
    where = f"scheme file {path.name!r}"
    unknown = set(doc) - {"name", "title", "description", "instructions", "fields", "include", "source", "item_kinds"}
    if unknown:
        raise ValidationError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    title = doc.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValidationError(f"{where}: 'title' must be a non-empty string")
    instructions = doc.get("instructions") or {}
    if not isinstance(instructions, dict) or not isinstance(instructions.get("en"), str):
        raise ValidationError(f"{where}: 'instructions' must map languages to text and include 'en'")
    fields: list[SchemeField] = []
    for ref in doc.get("include") or []:
        if not isinstance(ref, str) or ref.count(".") != 1:
            raise ValidationError(f"{where}: include {ref!r} must read 'scheme.field', e.g. 'sentiment3.sentiment'")
        other, field_name = ref.split(".")
        if other not in raw:
            raise ValidationError(f"{where}: include {ref!r} names unknown scheme {other!r}")
        fields.append(_build(other, raw, done, chain + (name,)).field(field_name))
    for index, spec in enumerate(doc.get("fields") or []):
        fields.append(_parse_field(spec, f"{where} field #{index + 1}"))
    if not fields:
        raise ValidationError(f"{where}: a scheme needs at least one field (under 'fields' or 'include')")
    seen: set[str] = set()
    for f in fields:
        if f.name in seen:
            raise ValidationError(f"{where}: field {f.name!r} appears twice")
        seen.add(f.name)
    scheme = Scheme(
        name=name,
        title=title,
        fields=tuple(fields),
        instructions=dict(instructions),
        description=doc.get("description"),
        source=doc.get("source"),
        item_kinds=_parse_item_kinds(doc.get("item_kinds"), where),
    )
    done[name] = scheme
    return scheme


def _parse_item_kinds(value: Any, where: str) -> tuple[ItemKind, ...]:
    """``item_kinds: [image, chat_turn]`` -> ItemKinds in file order; absent or empty: every kind."""
    allowed = ", ".join(k.value for k in ItemKind)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValidationError(f"{where}: 'item_kinds' must be a list of item kinds ({allowed}), got {value!r}")
    kinds: list[ItemKind] = []
    for entry in value:
        try:
            kind = ItemKind(entry)
        except ValueError:
            raise ValidationError(f"{where}: item kind {entry!r} is not one of {allowed}") from None
        if kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)


def _parse_labels(items: Any, where: str, what: str) -> tuple[Label, ...]:
    if not isinstance(items, list) or not items:
        raise ValidationError(f"{where}: '{what}' must be a non-empty list")
    labels: list[Label] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("key"), bool):
            raise ValidationError(
                f"{where}: label key {item['key']!r} was read as a boolean; quote it (YAML reads yes/no/on/off as true/false)"
            )
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise ValidationError(f"{where}: each entry of '{what}' needs a 'key', got {item!r}")
        key = item["key"]
        names = item.get("names")
        if not isinstance(names, dict):
            raise ValidationError(f"{where}: label {key!r} needs 'names' with {', '.join(DISPLAY_LANGUAGES)}")
        missing = [lang for lang in DISPLAY_LANGUAGES if not isinstance(names.get(lang), str) or not names[lang]]
        if missing:
            raise ValidationError(f"{where}: label {key!r} has no display name in {', '.join(missing)}")
        labels.append(Label(key=key, names=dict(names), hint=item.get("hint")))
    keys = [label.key for label in labels]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValidationError(f"{where}: label key {duplicates[0]!r} appears twice in '{what}'")
    return tuple(labels)


def _parse_field(spec: Any, where: str) -> SchemeField:
    if not isinstance(spec, dict):
        raise ValidationError(f"{where}: must be a mapping, got {spec!r}")
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or "__" in name:
        raise ValidationError(f"{where}: name {name!r} must be lower-case letters, digits and single _")
    where = f"{where} ({name})"
    try:
        kind = ValueKind(spec.get("kind"))
    except ValueError:
        kinds = ", ".join(k.value for k in ValueKind)
        raise ValidationError(f"{where}: kind {spec.get('kind')!r} is not one of {kinds}") from None
    metric = spec.get("metric", DEFAULT_METRICS[kind])
    if metric not in METRICS:
        raise ValidationError(f"{where}: metric {metric!r} is not one of {', '.join(sorted(METRICS))}")
    labels: tuple[Label, ...] = ()
    intensity: tuple[Label, ...] = ()
    minimum = maximum = step = None
    if kind in (ValueKind.NOMINAL, ValueKind.ORDINAL, ValueKind.MULTI_LABEL, ValueKind.MULTI_LABEL_INTENSITY):
        labels = _parse_labels(spec.get("labels"), where, "labels")
        if kind is not ValueKind.MULTI_LABEL and len(labels) < 2:
            raise ValidationError(f"{where}: a {kind.value} field needs at least 2 labels")
    elif spec.get("labels"):
        raise ValidationError(f"{where}: a {kind.value} field takes no 'labels'")
    if kind is ValueKind.MULTI_LABEL_INTENSITY:
        intensity = _parse_labels(spec.get("intensity"), where, "intensity")
        if [lvl.key for lvl in intensity] != [str(i) for i in range(len(intensity))]:
            raise ValidationError(f"{where}: intensity keys must be '0', '1', ... in order")
    if kind is ValueKind.INTERVAL:
        minimum, maximum, step = spec.get("minimum"), spec.get("maximum"), spec.get("step", 1)
        for label, number in (("minimum", minimum), ("maximum", maximum), ("step", step)):
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise ValidationError(f"{where}: an interval field needs a numeric {label!r}, got {number!r}")
        if not minimum < maximum or step <= 0:
            raise ValidationError(f"{where}: needs minimum < maximum and step > 0, got {minimum}, {maximum}, {step}")
    title = spec.get("title", name.replace("_", " ").capitalize())
    predictor = spec.get("predictor")
    if predictor is not None and not isinstance(predictor, str):
        raise ValidationError(f"{where}: predictor {predictor!r} must be a name")
    return SchemeField(
        name=name,
        kind=kind,
        title=str(title),
        metric=metric,
        labels=labels,
        intensity=intensity,
        minimum=minimum,
        maximum=maximum,
        step=step,
        required=bool(spec.get("required", True)),
        predictor=predictor,
        description=spec.get("description"),
    )
