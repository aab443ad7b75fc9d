"""Batches out: which items go to which annotators (k per item), as tasks in each annotator's own instance."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio import LabelStudioClient
from annotation_configs.labelstudio.results import result_from_values
from annotation_configs.registry import Scheme, SchemeRegistry, shipped_registry
from annotation_configs.xml import ContextLine, MediaKind, label_config, language_badge, task_data
from backend.db.models import (
    AnnotationBatch,
    Annotator,
    Item,
    LabelStudioInstanceRow,
    Project,
    Source,
    Task,
    UtteranceRow,
)
from backend.domain import (
    FilterStatus,
    NotFoundError,
    Progress,
    SourceStatus,
    TaskKind,
    ValidationError,
)
from backend.language import transliteration_view
from backend.repositories import projects as project_repo
from backend.services.annotation.home import (
    INSTANCE_HEADER,
    SECRET_HEADER,
    WEBHOOK_PATH,
    LabelStudioHome,
    admin_client,
    mirror_instance,
    resolve_home,
)
from backend.services.annotation.lifecycle import in_use
from backend.services.annotation.serving import storage_folders, task_content
from backend.services.secrets import instance_webhook_secret
from backend.settings import Settings


@dataclass(frozen=True)
class PushOptions:
    """Which items go out, to how many annotators each, in which scheme."""

    project: str
    scheme: str
    k: int = 3
    size: int | None = None
    language: str | None = None
    source_id: int | None = None
    speaker: str | None = None
    gold_rate: float = 0.0
    annotators: tuple[str, ...] = ()
    display_language: str | None = None
    seed: int = 0
    kind: str | None = None


@dataclass(frozen=True)
class PushResult:
    batch_id: int
    items: int
    gold_items: int
    tasks_created: int
    tasks_recovered: int
    tasks_existing: int
    per_annotator: dict[str, int] = field(default_factory=dict)


def _check_push(options: PushOptions, registry: SchemeRegistry) -> Scheme:
    scheme = registry[options.scheme]
    if options.k < 1:
        raise ValidationError(f"--k {options.k} must be at least 1 (annotators per item)")
    if options.size is not None and options.size < 1:
        raise ValidationError(f"--size {options.size} must be at least 1")
    if not 0.0 <= options.gold_rate < 1.0:
        raise ValidationError(f"--gold-rate {options.gold_rate} must be in [0, 1)")
    return scheme


def _select_items(session: Session, project: Project, options: PushOptions, rng: random.Random,
                  scheme: Scheme) -> tuple[list[Item], list[Item]]:
    # never alone: a sticker/photo attached to a chat turn (shown with it), a near-duplicate (its representative is)
    query = (select(Item).join(Source, Source.id == Item.source_id)
             .where(Item.project_id == project.id, Item.filter_status == FilterStatus.KEPT, Item.superseded_at.is_(None),
                    Item.parent_id.is_(None), Item.duplicate_of_id.is_(None),
                    Source.taken_down_at.is_(None), Source.status != SourceStatus.TAKEN_DOWN))
    if scheme.item_kinds:
        query = query.where(Item.kind.in_([kind.value for kind in scheme.item_kinds]))
    if options.kind:
        query = query.where(Item.kind == options.kind)
    if options.language:
        query = query.where(Item.language == options.language)
    if options.source_id is not None:
        query = query.where(Item.source_id == options.source_id)
    if options.speaker:
        query = query.join(UtteranceRow, UtteranceRow.item_id == Item.id).where(UtteranceRow.speaker_label == options.speaker)
    rows = list(session.scalars(query.order_by(Item.id)))
    regular = [i for i in rows if not i.is_gold]
    gold = [i for i in rows if i.is_gold]
    if options.size is not None and options.size < len(regular):
        regular = _stratified_sample(regular, options.size, rng)
    n_gold = min(len(gold), round(options.gold_rate * len(regular) / (1 - options.gold_rate)))
    gold = sorted(rng.sample(gold, n_gold), key=lambda i: i.id) if n_gold else []
    if not regular and not gold:
        kinds = ", ".join(kind.value for kind in scheme.item_kinds) or "any"
        raise NotFoundError(
            f"project {project.name!r} has no kept items matching language={options.language} "
            f"source={options.source_id} speaker={options.speaker} kind={options.kind} for scheme {scheme.name!r} "
            f"(item kinds: {kinds}); ingest or process items, or widen the selection"
        )
    return regular, gold


def _stratified_sample(items: list[Item], size: int, rng: random.Random) -> list[Item]:
    """``size`` items drawn proportionally from each (language, source) stratum (largest remainder)."""
    strata: dict[tuple[str | None, int], list[Item]] = defaultdict(list)
    for item in items:
        strata[(item.language, item.source_id)].append(item)
    quotas = {key: size * len(group) / len(items) for key, group in strata.items()}
    counts = {key: int(q) for key, q in quotas.items()}
    for key in sorted(quotas, key=lambda k: quotas[k] - counts[k], reverse=True)[: size - sum(counts.values())]:
        counts[key] += 1
    chosen = [item for key, group in strata.items() for item in rng.sample(group, counts[key])]
    return sorted(chosen, key=lambda i: i.id)


def _eligible(session: Session, options: PushOptions, records: dict[str, ls.LabelStudioInstance]) -> list[Annotator]:
    query = select(Annotator).where(Annotator.active.is_(True)).order_by(Annotator.id)
    annotators = [a for a in session.scalars(query) if a.pseudonym in records]
    if options.annotators:
        wanted = set(options.annotators)
        unknown = wanted - {a.pseudonym for a in annotators}
        if unknown:
            raise NotFoundError(f"annotator(s) {', '.join(sorted(unknown))} unknown or without an instance; "
                                "see `mmcurate annotators list`")
        annotators = [a for a in annotators if a.pseudonym in wanted]
    return annotators


def _speaks(annotator: Annotator, language: str | None) -> bool:
    return not annotator.languages or language is None or language in annotator.languages


def ensure_webhooks(settings: Settings, instance: ls.LabelStudioInstance, client: LabelStudioClient,
                    ls_projects: set[int]) -> None:
    """The webhook of each of ``ls_projects`` in ``instance`` as mmcurate made it (repaired if a user changed it).

    Each instance's webhooks carry a secret of its own (``instance_webhook_secret``): it names
    the sender, and opens nothing but a re-read of that instance's own tasks.
    """
    if not settings.public_url:
        return
    headers = {SECRET_HEADER: instance_webhook_secret(settings, instance.name), INSTANCE_HEADER: instance.name}
    for ls_project in sorted(ls_projects):
        client.ensure_webhook(settings.public_url.rstrip("/") + WEBHOOK_PATH, ls_project, headers)


def _context(session: Session, item: Item, utterance: UtteranceRow | None, cache: dict[str, list[Item]]) -> list[ContextLine]:
    raw = list(utterance.context or []) if utterance else []
    if raw:
        lines = []
        for entry in raw[-3:]:
            if isinstance(entry, dict):
                lines.append(ContextLine(str(entry.get("speaker") or ""), str(entry.get("text") or "")))
            else:
                lines.append(ContextLine("", str(entry)))
        return lines
    if item.dialogue_id is None or item.turn_index is None:
        return []
    key = f"{item.project_id}:{item.dialogue_id}"
    if key not in cache:
        cache[key] = list(session.scalars(
            select(Item).where(Item.project_id == item.project_id, Item.dialogue_id == item.dialogue_id,
                               Item.superseded_at.is_(None))
            .order_by(Item.turn_index)))
    before = [i for i in cache[key] if i.turn_index is not None and i.turn_index < item.turn_index][-3:]
    out = []
    for prev in before:
        speaker = prev.utterance.speaker_label if prev.utterance else None
        out.append(ContextLine(speaker or "", prev.text or ""))
    return out


def _project_title(project: Project, scheme: Scheme, media: MediaKind) -> str:
    return f"{project.name} / {scheme.name} / {media.value}"


def push(
    session: Session,
    settings: Settings,
    options: PushOptions,
    *,
    home: LabelStudioHome | None = None,
    registry: SchemeRegistry | None = None,
    on_progress: Progress | None = None,
) -> PushResult:
    """Send a batch to Label Studio: each item to k annotators (gold items to all), each in their own instance.

    Idempotent: an (item, annotator, scheme) that already has a task gets none, and tasks a
    crashed run imported but did not record are found in Label Studio and recorded instead of
    imported again.
    """
    home = resolve_home(settings, home)
    registry = registry or shipped_registry()
    scheme = _check_push(options, registry)
    project = project_repo.get(session, options.project)
    rng = random.Random(options.seed)
    records = home.state().load()
    annotators = _eligible(session, options, records)
    if len(annotators) < options.k:
        raise ValidationError(
            f"--k {options.k} needs {options.k} annotators, but {len(annotators)} are available; "
            "add some with `mmcurate annotators add EMAIL --languages ta`"
        )
    regular, gold = _select_items(session, project, options, rng, scheme)
    selection = {k: v for k, v in (("size", options.size), ("language", options.language),
                                   ("source_id", options.source_id), ("speaker", options.speaker), ("kind", options.kind),
                                   ("annotators", list(options.annotators)), ("seed", options.seed)) if v}
    batch = next((b for b in session.scalars(select(AnnotationBatch).where(  # a re-run of the same push reuses its batch
        AnnotationBatch.project_id == project.id, AnnotationBatch.scheme == scheme.name,
        AnnotationBatch.overlap_k == options.k, AnnotationBatch.gold_rate == options.gold_rate,
    ).order_by(AnnotationBatch.id.desc())) if b.selection == selection), None)
    if batch is None:
        batch = AnnotationBatch(project_id=project.id, scheme=scheme.name, overlap_k=options.k,
                                gold_rate=options.gold_rate, selection=selection)
        session.add(batch)
        session.flush()

    # who already has which item in this scheme (any batch)
    existing: dict[int, set[int]] = defaultdict(set)
    for item_id, annotator_id in session.execute(
        select(Task.item_id, Task.annotator_id).join(AnnotationBatch, AnnotationBatch.id == Task.batch_id)
        .where(AnnotationBatch.project_id == project.id, AnnotationBatch.scheme == scheme.name,
               Task.kind == TaskKind.ANNOTATION)
    ):
        existing[item_id].add(annotator_id)
    load: dict[int, int] = defaultdict(int)
    for holders in existing.values():
        for a in holders:
            load[a] += 1
    order = {a.id: rng.random() for a in annotators}
    plan: dict[int, list[Item]] = defaultdict(list)
    tasks_existing = 0
    for item in regular + gold:
        speakers = [a for a in annotators if _speaks(a, item.language)]
        have = existing[item.id] & {a.id for a in speakers}
        tasks_existing += len(have)
        need = len(speakers) if item.is_gold else options.k
        if item.is_gold is False and len(speakers) < options.k:
            raise ValidationError(
                f"item {item.id} is in {item.language!r}, which only {len(speakers)} of the annotators speak; "
                f"--k {options.k} needs more (add annotators with --languages {item.language})"
            )
        for annotator in sorted((a for a in speakers if a.id not in have), key=lambda a: (load[a.id], order[a.id]))[: max(0, need - len(have))]:
            plan[annotator.id].append(item)
            load[annotator.id] += 1

    created = recovered = 0
    per_annotator: dict[str, int] = {}
    by_id = {a.id: a for a in annotators}
    context_cache: dict[str, list[Item]] = {}
    total = sum(len(v) for v in plan.values())
    for annotator_id, items in plan.items():
        annotator = by_id[annotator_id]
        instance = records[annotator.pseudonym]
        # started for the push when down (an instance that still serves the whole data dir is refused there),
        # stopped again after
        with in_use(home, instance) as instance:
            row = mirror_instance(session, instance, annotator_id=annotator.id)
            client = admin_client(instance)
            by_media: dict[MediaKind, list[dict[str, Any]]] = defaultdict(list)
            for item in items:
                utterance = item.utterance
                media, content = task_content(settings.data_dir, instance, item, session)
                shown_text = item.text_normalized or item.text or ""
                data = task_data(
                    media, content, item_id=item.id,
                    speaker=(utterance.speaker_label if utterance else None) or item.author,
                    transcript=shown_text if media in (MediaKind.AUDIO, MediaKind.VIDEO) else "",
                    context=_context(session, item, utterance, context_cache) if media is not MediaKind.DIALOGUE else (),
                    language_badge=language_badge(item.language, (item.text_profile or {}).get("scripts")),
                    transliteration=transliteration_view(shown_text, item.language) or "",
                    ocr_text=item.ocr_text or "",
                    meta={"mmcurate_batch": batch.id, "language": item.language or ""},
                )
                task: dict[str, Any] = {"data": data}
                prediction = _asr_prediction(scheme, item, utterance, media)
                if prediction:
                    task["predictions"] = [prediction]
                by_media[media].append(task)
            for media, tasks in by_media.items():
                title = _project_title(project, scheme, media)
                if instance.external_url:
                    title = f"{title} / {annotator.pseudonym}"
                shown_in = options.display_language or display_language(project) or annotator_language(annotator)
                ls_project = client.ensure_project(
                    title, label_config(scheme, media, shown_in),
                    instructions=scheme.instruction(shown_in), maximum_annotations=1,
                )
                for folder in sorted(set().union(*(storage_folders(settings.data_dir, instance, t["data"][media.value])
                                                   for t in tasks))):
                    client.ensure_local_storage(ls_project, folder)
                # reconcile: tasks already in Label Studio (a crashed run) are recorded, not imported again
                known = {t.ls_task_id for t in session.scalars(select(Task).where(Task.instance_id == row.id))}
                in_ls: dict[int, int] = {}
                for ls_task in client.export_tasks(ls_project, all_tasks=True):
                    item_id = (ls_task.get("data") or {}).get("item_id")
                    if isinstance(item_id, int):
                        in_ls[item_id] = int(ls_task["id"])
                to_import = []
                for task in tasks:
                    item_id = task["data"]["item_id"]
                    if item_id in in_ls:
                        if in_ls[item_id] not in known:
                            session.add(Task(batch_id=batch.id, item_id=item_id, annotator_id=annotator.id,
                                             instance_id=row.id, ls_project_id=ls_project, ls_task_id=in_ls[item_id]))
                            recovered += 1
                    else:
                        to_import.append(task)
                ids = client.import_tasks(ls_project, to_import)
                for task, ls_task_id in zip(to_import, ids):
                    session.add(Task(batch_id=batch.id, item_id=task["data"]["item_id"], annotator_id=annotator.id,
                                     instance_id=row.id, ls_project_id=ls_project, ls_task_id=ls_task_id))
                created += len(ids)
                session.flush()
                if on_progress:
                    on_progress("push tasks", created + recovered, total)
        per_annotator[annotator.pseudonym] = len(items)
    # every webhook of these instances as mmcurate made it, repaired if changed: on those that got tasks now or
    # are up (a stopped instance sends nothing; it is repaired by the next push that gives it tasks)
    for annotator in annotators:
        instance = records[annotator.pseudonym]
        if annotator.id not in plan and instance.managed and not ls.is_running(instance):
            continue
        projects = set(session.scalars(select(Task.ls_project_id).join(LabelStudioInstanceRow, LabelStudioInstanceRow.id == Task.instance_id)
                                       .where(LabelStudioInstanceRow.name == instance.name)))
        if projects:
            with in_use(home, instance) as running:
                ensure_webhooks(settings, running, admin_client(running), projects)
    return PushResult(batch.id, len(regular), len(gold), created, recovered, tasks_existing, per_annotator)


def display_language(project: Project) -> str | None:
    """The language label names are shown in beside English: the project's, when it has exactly one."""
    languages = [lang for lang in (project.languages or []) if lang in ("ta", "ml", "bn", "zh")]
    return languages[0] if len(languages) == 1 else None


def annotator_language(annotator: Annotator) -> str | None:
    """Otherwise the annotator's own: the first of their languages the schemes name labels in."""
    return next((lang for lang in (annotator.languages or []) if lang in ("ta", "ml", "bn", "zh")), None)


def _asr_prediction(scheme: Scheme, item: Item, utterance: UtteranceRow | None, media: MediaKind) -> dict[str, Any] | None:
    """The machine's text as an editable pre-annotation: the ASR transcript (``predictor: asr``) or the OCR
    text of an image (``predictor: ocr``), with the model and its confidence."""
    text = item.text_normalized or item.text
    values = scheme.predicted_texts({"asr": text, "ocr": item.ocr_text})
    if not values:
        return None
    ocr = item.ocr or {}
    if utterance is None and ocr:
        model, score = str(ocr.get("engine") or "ocr"), ocr.get("mean_confidence")
    else:
        model = (utterance.asr_model if utterance else None) or "asr"
        score = utterance.asr_confidence if utterance and utterance.asr_confidence is not None else None
    prediction: dict[str, Any] = {"result": result_from_values(scheme, values, media.value), "model_version": model}
    if score is not None:
        prediction["score"] = score
    return prediction
