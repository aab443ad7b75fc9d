"""The dataset card (README.md): a YAML header the Hub and ``load_dataset`` read, and a body
written from the data — collection, languages, scripts and code-mixing, sources and
licences, scheme, annotators, agreement with CIs and gate verdicts, label distributions,
splits, and known limitations.

All of the card's prose is written here, from the rows, the spec and the facts of a
``CardContext`` (the service that gathers them writes no sentences).

The header's ``dataset_info.features`` comes from the same ``datasets.Features`` object that
wrote the shards (a mismatch makes ``load_dataset`` fail with a CastError).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.domain import ValidationError
from backend.language.scripts import LANGUAGE_NAMES, NATIVE_SCRIPTS
from backend.domain import ValueKind
from exports.hf import SplitFiles, data_files_config, release_features, released_value
from exports.records import (
    HAN_VARIANTS,
    ITEM_KINDS,
    SPLITS,
    CardContext,
    LabelField,
    ReleaseRow,
    ReleaseSpec,
)
from exports.splits import SplitAssignment, value_counts

HUB_LICENSES: frozenset[str] = frozenset(
    """apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
    bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc
    cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0
    cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0
    cdla-sharing-1.0 cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1
    eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc lppl-1.3c ms-pl mpl-2.0 odc-by odbl
    openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr unknown other""".split()
)
"""Licence identifiers the Hub accepts in a card's ``license`` field."""

SIZE_CATEGORIES: tuple[tuple[int, str], ...] = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
)

SPEAKER_ID_NOTE = (
    "Speaker ids (`speaker`) are diarization labels scoped to their source, written `src<source_id>/<label>` "
    "(e.g. `src12/SPEAKER_00`): each id is unique in the corpus, and the same person speaking in two sources "
    "has two ids (speakers are not linked across sources)."
)
"""How the card explains the ``speaker`` column (the scheme of ``exports.records.scoped_speaker_id``)."""

CLIP_PROCESSING = (
    "Audio was extracted at 16 kHz mono, split into speech regions (VAD), transcribed (ASR) and "
    "diarized; utterances were cut into clips, one per row."
)
"""How the card describes the clips of rows that have audio (the speech pipeline's stages)."""

ITEM_KIND_NAMES: dict[str, str] = {"clip": "clips", "image": "images", "chat_turn": "chat turns", "text": "texts"}
OCR_NOTE = (
    "Each image carries the text OCR read in it (`ocr_text`, normalised like `text_normalized`; `text` holds a "
    "caption when the source had one); the image itself is embedded in `image`."
)
CHAT_NOTE = (
    "Chat turns keep their conversation in `dialogue_id` and their position in it in `utterance_index`; `author` "
    "is a pseudonym, `posted_at` the time (UTC), `reply_to_item_id` the turn answered (it may not be in the "
    "release) and `attachments` the turn's stickers and photos in order ({n} in all)."
)
MEDOID_NOTE = (
    "the adjudicated text, else the medoid judgement — the one with the least summed error rate against the "
    "others (WER; CER for languages read by characters, e.g. Tamil, Malayalam, Bengali, Chinese), ties to the "
    "smallest annotator pseudonym"
)
FIELD_COLUMNS: dict[ValueKind, str] = {
    ValueKind.NOMINAL: "`{c}`: the aggregated label (ClassLabel); `{c}_distribution`: the probability of each label, "
    "in label order; `{c}_agreement`: the share of annotator pairs that gave the same label.",
    ValueKind.ORDINAL: "`{c}`: the rank of the aggregated label (0 = `{first}`); `{c}_distribution`: the probability of "
    "each label, in label order; `{c}_agreement`: the share of annotator pairs that gave the same label.",
    ValueKind.INTERVAL: "`{c}`: the aggregated score (float); `{c}_distribution`: `{{mean, std}}` of the judgements; "
    "`{c}_agreement`: 1 − |a − b| / (maximum − minimum), averaged over annotator pairs.",
    ValueKind.MULTI_LABEL: "`{c}`: the labels most annotators chose (list of ClassLabel); `{c}_distribution`: the share "
    "of judgements holding each label, in label order; `{c}_agreement`: 1 − MASI distance (Passonneau 2006), "
    "averaged over annotator pairs.",
    ValueKind.MULTI_LABEL_INTENSITY: "`{c}`: `{{label: intensity}}` over every label, the median per label (0 = absent); "
    "`{c}_distribution`: the mean intensity of each label, in label order; `{c}_agreement`: 1 − the mean per-label "
    "|a − b| / {top}, averaged over annotator pairs. The multi-label set is the labels with intensity above 0.",
    ValueKind.FREE_TEXT: "`{c}`: " + MEDOID_NOTE + "; `{c}_distribution`: each distinct text with its share of "
    "judgements; `{c}_agreement`: the share of annotator pairs that wrote the same text.",
}
"""What each field's columns hold, by kind (``{c}``: the field's column name)."""

_ISO = re.compile(r"^[a-z]{2,3}$")


CMI_BINS: tuple[tuple[str, float], ...] = (
    ("0", 0.0), ("(0, 10]", 10.0), ("(10, 20]", 20.0), ("(20, 30]", 30.0), ("(30, 40]", 40.0), ("> 40", math.inf),
)
"""The card's CMI histogram: each bin's name and its upper bound (included)."""

NO_PROFILE_NOTE = "No text profile (scripts, identified language, code-mixing) was recorded for these items."
PROFILE_COLUMNS_NOTE = (
    "Each row carries its text's profile: `text_normalized` (Unicode NFC, invisible characters removed, "
    "whitespace collapsed), `text_language` (ISO 639-1 code identified from the text; `language` is the "
    "item's own), `scripts` (`[{script, share}]`, the share of the text's letters in each Unicode script, "
    "largest first), `dominant_script`, `han_variant` (`simplified`, `traditional` or `mixed`; empty when "
    "the text has no Han or only characters both forms share) and `cmi` (see below)."
)
SCRIPTS_TABLE_NOTE = (
    "Per item language: items whose text has letters of some script, the share of those by their dominant "
    "script, and the share that is romanised (dominant script Latin where the language's native script is not; "
    "a code-mixed tag such as `ta-en` counts by its first language)."
)


def size_category(n: int) -> str:
    """The Hub's size bucket for ``n`` rows (``n<1K`` … ``n>1T`` style names)."""
    for bound, name in SIZE_CATEGORIES:
        if n < bound:
            return name
    return "n>10M" if n < 100_000_000 else "n>1T"


def card_languages(rows: Sequence[ReleaseRow], declared: Sequence[str]) -> tuple[list[str], list[str]]:
    """ISO 639 codes for the header, and the code-mixed tags (``ta-en``) seen in the rows.

    A row language like ``ta-en`` (Tamil–English code-mixing) contributes both ``ta`` and
    ``en`` to the header, and is listed in the body as code-mixed.
    """
    codes: list[str] = []
    mixed: list[str] = []
    for lang in [*declared, *sorted({r.language for r in rows if r.language})]:
        parts = [p.lower() for p in re.split(r"[-_]", lang) if p]
        if len(parts) > 1 and lang not in mixed:
            mixed.append(lang)
        for p in parts:
            if not _ISO.match(p):
                raise ValidationError(
                    f"language {lang!r} is not an ISO 639 code (like 'ta', 'ml', 'bn', 'zh', or 'ta-en' for code-mixed); fix the project's languages"
                )
            if p not in codes:
                codes.append(p)
    return codes, mixed


def card_metadata(
    spec: ReleaseSpec, rows: Sequence[ReleaseRow], written: dict[str, SplitFiles]
) -> dict[str, Any]:
    """The YAML header as a plain dict, in a fixed key order."""
    import datasets

    if spec.licence not in HUB_LICENSES:
        raise ValidationError(
            f"licence {spec.licence!r} is not a Hub licence identifier; use one such as cc-by-4.0, cc-by-sa-4.0, "
            "cc-by-nc-4.0, cc0-1.0 or other"
        )
    features = release_features(spec)
    codes, _ = card_languages(rows, spec.languages)
    has_audio = any(r.audio_path is not None for r in rows)
    has_images = any(r.image_path is not None or r.attachment_paths for r in rows)
    splits = datasets.SplitDict()
    for s in SPLITS:
        if written[s].num_rows:
            splits.add(datasets.SplitInfo(name=s, num_bytes=written[s].num_bytes, num_examples=written[s].num_rows))
    total_bytes = sum(w.num_bytes for w in written.values())
    info = datasets.DatasetInfo(features=features, splits=splits, download_size=total_bytes, dataset_size=total_bytes)
    dataset_info = {"config_name": spec.config_name, **info._to_yaml_dict()}
    meta: dict[str, Any] = {
        "pretty_name": spec.display_name,
        "language": codes,
        "license": spec.licence,
        "task_categories": (["audio-classification"] if has_audio else []) + (["image-classification"] if has_images else [])
        + ["text-classification"],
        "size_categories": [size_category(len(rows))],
        "tags": ["sentiment", "emotion", "multimodal", "low-resource"],
        "configs": data_files_config(spec, written),
        "dataset_info": dataset_info,
    }
    if spec.licence == "other":
        meta["license_name"] = f"{spec.project}-licence"
        meta["license_link"] = "LICENSE"
    return meta


def collection_text(spec: ReleaseSpec, rows: Sequence[ReleaseRow], context: CardContext) -> str:
    """The card's *Collection process* paragraph: how many items from how many sources (by
    kind, when ``context.sources`` names them), the curators' description, and how clips
    were made when any row has one."""
    present = {r.source_id for r in rows}
    kinds = Counter(s.kind for s in context.sources if s.kind and s.source_id in present)
    by_kind = f" ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})" if kinds else ""
    parts = [f"{len(rows)} items from {len(present)} sources{by_kind} of the mmcurate project `{spec.project}`."]
    if context.description:
        parts.append(context.description)
    if any(r.audio_path is not None for r in rows):
        parts.append(CLIP_PROCESSING)
    return " ".join(parts)


def scheme_label(context: CardContext) -> str:
    """The schemes the project names, or ``imported labels`` when it names none."""
    return ", ".join(context.scheme_names) or "imported labels"


def guidelines_text(context: CardContext) -> str:
    """One paragraph per known scheme: its title, name, instruction and source."""
    parts = []
    for scheme in context.schemes:
        text = f"**{scheme.title}** (`{scheme.name}`): {scheme.instruction}"
        if scheme.source:
            text += f" Source: {scheme.source}."
        parts.append(text)
    return "\n\n".join(parts)


def card_limitations(rows: Sequence[ReleaseRow], context: CardContext) -> list[str]:
    """The card's *Known limitations*: simulated judgements, languages with fewer than 50
    items, automatic transcripts and OCR text."""
    notes = []
    if any(r.simulated for r in rows) or context.n_simulated_annotators:
        notes.append("Some judgements come from simulated annotators (marked in `simulated`); they are for demonstration, not research use.")
    lang_counts = Counter(r.language or "unknown" for r in rows)
    small = [f"{lang} ({n})" for lang, n in sorted(lang_counts.items()) if n < 50]
    if small:
        notes.append("Few items for: " + ", ".join(small) + "; per-language results will be noisy.")
    if any(r.asr_model for r in rows):
        notes.append("Transcripts are automatic (see `asr_model`, `asr_confidence`) and were not all corrected by hand.")
    if any(r.ocr_text for r in rows):
        notes.append("OCR text (`ocr_text`) is automatic: stylised meme fonts and small text are misread or missed.")
    return notes


def native_script(language: str | None) -> str | None:
    """The native script of an item language, a code-mixed tag counting by its first language
    (``ta-en`` → Tamil); ``None`` for a language ``NATIVE_SCRIPTS`` does not name.

    >>> native_script("ta-en"), native_script("zh"), native_script("en"), native_script(None)
    ('Tamil', 'Han', 'Latin', None)
    """
    if not language:
        return None
    return NATIVE_SCRIPTS.get(re.split(r"[-_]", language)[0].lower())


@dataclass(frozen=True)
class LanguageScripts:
    """The scripts of one item language's texts, as the card reports them.

    ``with_script``: items whose text has a dominant script (letters of some script);
    ``dominant``: (script, share of those items whose dominant script it is), largest first;
    ``romanised``: share of those items whose dominant script is Latin, ``None`` when the
    language's native script is unknown or Latin, or no item has a script;
    ``han_variants``: (variant, items) for each of ``HAN_VARIANTS`` when the native script is
    Han, else ``None``.
    """

    language: str
    items: int
    with_script: int
    dominant: tuple[tuple[str, float], ...]
    romanised: float | None
    han_variants: tuple[tuple[str, int], ...] | None


@dataclass(frozen=True)
class CmiSummary:
    """The Code-Mixing Index over a release: ``profiled`` items have one, ``not_profiled`` do
    not; ``mean``, ``median`` and ``mixed_share`` (share with CMI > 0) are over the profiled
    items (``None`` when none is); ``bins``: (``CMI_BINS`` name, items) in bin order."""

    profiled: int
    not_profiled: int
    mean: float | None
    median: float | None
    mixed_share: float | None
    bins: tuple[tuple[str, int], ...]


def has_text_profile(row: ReleaseRow) -> bool:
    """Whether the row carries any of its text's profile (scripts, identified language, CMI)."""
    return bool(row.scripts) or row.dominant_script is not None or row.text_language is not None or row.cmi is not None


def language_scripts(rows: Sequence[ReleaseRow]) -> list[LanguageScripts]:
    """Script facts per item language (``unknown`` for rows without one), sorted by language."""
    by_language: dict[str, list[ReleaseRow]] = {}
    for r in rows:
        by_language.setdefault(r.language or "unknown", []).append(r)
    out = []
    for language, group in sorted(by_language.items()):
        dominant = Counter(r.dominant_script for r in group if r.dominant_script is not None)
        with_script = sum(dominant.values())
        native = native_script(None if language == "unknown" else language)
        romanised = dominant["Latin"] / with_script if with_script and native not in (None, "Latin") else None
        variants = Counter(r.han_variant for r in group)
        out.append(LanguageScripts(
            language=language,
            items=len(group),
            with_script=with_script,
            dominant=tuple((name, n / with_script) for name, n in sorted(dominant.items(), key=lambda kv: (-kv[1], kv[0]))),
            romanised=romanised,
            han_variants=tuple((v, variants[v]) for v in HAN_VARIANTS) if native == "Han" else None,
        ))
    return out


def cmi_summary(rows: Sequence[ReleaseRow]) -> CmiSummary:
    """The CMI distribution of ``rows``; a row whose ``cmi`` is ``None`` counts as not profiled."""
    values = [r.cmi for r in rows if r.cmi is not None]
    bins = Counter(next(name for name, upper in CMI_BINS if v <= upper) for v in values)
    return CmiSummary(
        profiled=len(values),
        not_profiled=len(rows) - len(values),
        mean=statistics.fmean(values) if values else None,
        median=statistics.median(values) if values else None,
        mixed_share=sum(v > 0 for v in values) / len(values) if values else None,
        bins=tuple((name, bins[name]) for name, _ in CMI_BINS),
    )


def _percent(share: float | None) -> str | None:
    return None if share is None else f"{share:.1%}"


def language_section(rows: Sequence[ReleaseRow]) -> list[str]:
    """The card's *Languages, scripts and code-mixing* section, as markdown lines.

    Without any text profile in ``rows`` it is a single sentence (``NO_PROFILE_NOTE``).
    """
    out = ["## Languages, scripts and code-mixing", ""]
    if not any(has_text_profile(r) for r in rows):
        return [*out, NO_PROFILE_NOTE, ""]
    summaries = language_scripts(rows)
    with_han = any(s.han_variants is not None for s in summaries)
    header = ["language", "items", "with a script", "dominant script", "romanised"] + (["Han variant"] if with_han else [])
    table = []
    for s in summaries:
        line: list[Any] = [
            s.language, s.items, s.with_script,
            ", ".join(f"{name} {share:.1%}" for name, share in s.dominant) or None,
            _percent(s.romanised),
        ]
        if with_han:
            line.append(", ".join(f"{v} {n}" for v, n in s.han_variants) if s.han_variants is not None else None)
        table.append(line)
    out += [
        PROFILE_COLUMNS_NOTE,
        "",
        SCRIPTS_TABLE_NOTE,
        "",
        _table(header, table),
        "",
    ]
    cmi = cmi_summary(rows)
    if not cmi.profiled:
        return [*out, "No item has a Code-Mixing Index (CMI): the texts were not profiled for code-mixing.", ""]
    not_profiled = f", {cmi.not_profiled} not profiled" if cmi.not_profiled else ""
    out += [
        (
            f"Code-mixing, by the Code-Mixing Index of each text (CMI; Das & Gambäck, 2014; 0 for text in one "
            f"language, up to 100), over {cmi.profiled} profiled items{not_profiled}: mean {cmi.mean:.2f}, "
            f"median {cmi.median:.2f}; {cmi.mixed_share:.1%} have CMI > 0."
        ),
        "",
        _table(
            ["CMI", "items", "share"],
            [(name, n, _percent(n / cmi.profiled)) for name, n in cmi.bins]
            + ([("not profiled", cmi.not_profiled, None)] if cmi.not_profiled else []),
        ),
        "",
    ]
    return out


def item_kinds_section(rows: Sequence[ReleaseRow]) -> list[str]:
    """The card's *Items* section: items per kind, and what images, chat turns and near-duplicate
    groups carry (markdown lines)."""
    counts = Counter(r.kind for r in rows)
    out = ["## Items", "", _table(["kind", "items"], [(ITEM_KIND_NAMES[k], counts[k]) for k in ITEM_KINDS if counts[k]]), ""]
    if counts["image"]:
        out += [OCR_NOTE, ""]
    if counts["chat_turn"]:
        out += [CHAT_NOTE.format(n=sum(len(r.attachment_paths) for r in rows)), ""]
    grouped = [r for r in rows if r.duplicate_group is not None]
    if grouped:
        n = len({r.duplicate_group for r in grouped})
        out += [
            f"{len(grouped)} items belong to {n} near-duplicate group{'s' if n != 1 else ''} (`duplicate_group`); "
            "the members of a group are always in the same split.",
            "",
        ]
    return out


def field_columns_text(f: LabelField, rows: Sequence[ReleaseRow]) -> str:
    """What ``f``'s columns hold (``FIELD_COLUMNS``), and for free text how many values are medoids."""
    text = FIELD_COLUMNS[f.kind].format(c=f.column, first=f.labels[0] if f.labels else "", top=f.max_intensity)
    if f.kind is ValueKind.FREE_TEXT:
        adjudicated = sum(1 for r in rows if (g := r.labels.get(f.name)) is not None and g.value is not None)
        medoids = sum(1 for r in rows if released_value(r, f) is not None) - adjudicated
        text += f" {adjudicated} values are adjudicated, {medoids} medoids."
    return f"**{f.name}** ({f.kind.value}) — {text}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(v: Any) -> str:
        if v is None:
            return "—"
        if isinstance(v, float):
            return f"{v:.3f}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def card_body(
    spec: ReleaseSpec, rows: Sequence[ReleaseRow], assignment: SplitAssignment, context: CardContext
) -> str:
    """The markdown body, every number computed from the rows, the splits and the QA records."""
    name = spec.display_name
    n_audio = sum(r.audio_path is not None for r in rows)
    n_video = sum(r.video_path is not None for r in rows)
    n_images = sum(r.image_path is not None for r in rows)
    codes, mixed = card_languages(rows, spec.languages)
    lang_counts = Counter(r.language or "unknown" for r in rows)
    out: list[str] = [f"# {name}", ""]
    out += [
        f"Release **{spec.version}** of the `{spec.project}` corpus: {len(rows)} items "
        f"({n_audio} with audio clips, {n_video} with video clips, {n_images} with images) in "
        + ", ".join(f"{LANGUAGE_NAMES[c][0] if c in LANGUAGE_NAMES else c} (`{c}`)" for c in codes)
        + ".",
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("<this repository or folder>", "{spec.config_name}")',
        "```",
        "",
        "## Collection process",
        "",
        collection_text(spec, rows, context),
        "",
        "Items per language:",
        "",
        _table(["language", "items"], sorted(lang_counts.items())),
        "",
    ]
    if mixed:
        out += [f"Code-mixed language tags present: {', '.join(f'`{m}`' for m in mixed)} (the text mixes scripts or languages within an utterance).", ""]
    out += item_kinds_section(rows)
    out += language_section(rows)
    out += ["## Sources and licences", "", f"The release is distributed under `{spec.licence}`. Items per source licence:", ""]
    by_licence: dict[str, set[int]] = {}
    items_by_licence: Counter[str] = Counter()
    for r in rows:
        by_licence.setdefault(r.licence, set()).add(r.source_id)
        items_by_licence[r.licence] += 1
    out += [_table(["licence", "sources", "items"], [(lic, len(by_licence[lic]), items_by_licence[lic]) for lic in sorted(by_licence)]), ""]
    if context.sources:
        out += ["Sources (provenance columns `source_id`, `source_url`, `source_author` name each row's origin):", ""]
        out += [_table(["source_id", "title", "author", "licence", "url"], [(s.source_id, s.title, s.author, s.licence, s.url) for s in sorted(context.sources, key=lambda s: s.source_id)]), ""]
    out += ["## Annotation", "", f"Scheme: **{scheme_label(context)}**.", ""]
    guidelines = guidelines_text(context)
    if guidelines:
        out += [guidelines, ""]
    out += [_table(["field", "column", "kind", "labels or scale"],
                   [(f.name, f.column, f.kind.value, f.scale) for f in spec.fields]), ""]
    out += [
        f"Annotators: {context.n_annotators} (pseudonymous)"
        + (f", of whom {context.n_simulated_annotators} simulated" if context.n_simulated_annotators else "")
        + ". Each row keeps every raw judgement in `<field>_judgements` (`[{annotator, value, simulated}]`, the value "
        "typed as the field's column), the aggregated value in `<field>` with QA's confidence in `<field>_confidence`, "
        "the soft label in `<field>_distribution` and item-level agreement (0–1, over annotator pairs) in `<field>_agreement`:",
        "",
        *[f"- {field_columns_text(f, rows)}" for f in spec.fields],
        "",
        "## Agreement and quality gate",
        "",
    ]
    if context.agreement:
        out += [_table(
            ["field", "metric", "value", "95% CI", "items", "annotators", "verdict"],
            [
                (a.field, a.metric, a.value,
                 f"[{a.ci_low:.3f}, {a.ci_high:.3f}]" if a.ci_low is not None and a.ci_high is not None else None,
                 a.n_items, a.n_annotators, getattr(a.verdict, "value", a.verdict))
                for a in context.agreement
            ],
        ), ""]
    else:
        out += ["No QA run was recorded for this release.", ""]
    out += ["## Label distributions", ""]
    for f in spec.fields:
        keys, dist = value_counts(f, rows, assignment.split_of)
        table = [(key, *(dist[s][key] for s in SPLITS), sum(dist[s][key] for s in SPLITS)) for key in keys]
        out += [f"**{f.name}**", "", _table(["label" if f.labels else "items", *SPLITS, "total"], table), ""]
    st = assignment.statistics
    out += [
        "## Splits",
        "",
        "No source, speaker, dialogue (conversation) or near-duplicate group appears in more than one split; "
        "splits are stratified by "
        f"label and language as far as those groups allow (seed {spec.seed}).",
        "",
        _table(["split", "items", "groups", "target"], [(s, st.items[s], st.groups[s], f"{st.target_fractions[s]:.0%}") for s in SPLITS]),
        "",
    ]
    if any(r.speaker is not None for r in rows):
        out += [SPEAKER_ID_NOTE, ""]
    if assignment.unbalanced:
        out += ["What could not be balanced:", ""] + [f"- {u}" for u in assignment.unbalanced] + [""]
    else:
        out += ["All labels and languages are within 10 points of the target fractions.", ""]
    limitations = card_limitations(rows, context)
    out += ["## Known limitations", ""] + ([f"- {x}" for x in limitations] or ["None recorded."]) + [""]
    if context.model_versions:
        out += ["## Models used", "", _table(["stage", "model"], sorted(context.model_versions.items())), ""]
    return "\n".join(out)


def render_card(
    spec: ReleaseSpec,
    rows: Sequence[ReleaseRow],
    assignment: SplitAssignment,
    written: dict[str, SplitFiles],
    context: CardContext,
) -> str:
    """The whole README.md text: YAML header then body."""
    from huggingface_hub import DatasetCard, DatasetCardData

    meta = card_metadata(spec, rows, written)
    data = DatasetCardData(**meta)
    text = f"---\n{data.to_yaml()}\n---\n\n{card_body(spec, rows, assignment, context)}"
    validate_card(text)
    return str(DatasetCard(text))


def validate_card(text: str, folder: Path | None = None) -> list[str]:
    """Check a card as the Hub would: YAML parses, required keys, licence, ISO languages,
    size category, and (given the release ``folder``) that every config glob matches shards.

    Returns the header's feature names; raises ``ValidationError`` listing every problem.
    """
    from huggingface_hub import DatasetCard

    try:
        card = DatasetCard(text)
    except Exception as exc:  # noqa: BLE001 — the Hub client raises several kinds for bad YAML
        raise ValidationError(f"the dataset card header does not parse: {exc}") from None
    meta = card.data.to_dict()
    problems: list[str] = []
    for key in ("configs", "dataset_info", "language", "license", "task_categories", "size_categories", "pretty_name"):
        if not meta.get(key):
            problems.append(f"missing {key!r}")
    if meta.get("license") and meta["license"] not in HUB_LICENSES:
        problems.append(f"licence {meta['license']!r} is not a Hub licence id")
    for code in meta.get("language") or []:
        if not _ISO.match(str(code)):
            problems.append(f"language {code!r} is not an ISO 639 code")
    valid_sizes = {name for _, name in SIZE_CATEGORIES} | {"n>10M", "n>1T"}
    for size in meta.get("size_categories") or []:
        if size not in valid_sizes:
            problems.append(f"size category {size!r} is not one of {sorted(valid_sizes)}")
    infos = meta.get("dataset_info") or {}
    infos = infos if isinstance(infos, list) else [infos]
    names: list[str] = []
    for info in infos:
        names = [f["name"] for f in info.get("features", [])]
    if folder is not None:
        for config in meta.get("configs") or []:
            for df in config.get("data_files", []):
                if not list(Path(folder).glob(df["path"])):
                    problems.append(f"config {config.get('config_name')!r} split {df['split']!r}: no file matches {df['path']!r}")
    if problems:
        raise ValidationError("dataset card is invalid: " + "; ".join(problems))
    return names
