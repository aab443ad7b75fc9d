"""The annotation loop: Label Studio instances, annotators, batches out, judgements back.

Independence of judgements is structural: every annotator has a Label Studio instance of
their own (nothing inside one Community instance keeps users apart), mmcurate imports each
annotator's share there and collects from all of them. Ids repeat across instances, so every
Label Studio object is keyed by (instance, id). Sync is a webhook (``ingest_webhook``) plus a
reconciling ``pull`` that repairs whatever a missed webhook left out; both apply one idempotent
upsert (``_upsert_event`` / ``_delete_event``, prebuilt Core statements since the receiver runs
it per event), and every change lands in ``annotation_history``.

Instance secrets (SECRET_KEY, admin password, the annotator's API token) live in a 0600 JSON
file under ``<data_dir>/labelstudio``; the ``labelstudio_instances`` table mirrors the rest.
"""

from __future__ import annotations

import random
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from annotation_configs import instances as ls
from annotation_configs.install import LABEL_STUDIO_VERSION, LabelStudioInstall, ensure_installed
from annotation_configs.labelstudio import LabelStudioClient, LsAnnotation
from annotation_configs.normalise import result_from_values, values_from_result
from annotation_configs.registry import Scheme, SchemeRegistry, shipped_registry
from annotation_configs.simulate import answers as simulated_answers
from annotation_configs.simulate import lead_time_s as simulated_lead_time
from annotation_configs.xml import ContextLine, MediaKind, label_config, task_data
from backend.db.models import (
    Annotation,
    AnnotationBatch,
    AnnotationHistory,
    Annotator,
    Item,
    Project,
    Task,
    Utterance,
)
from backend.db.models import LabelStudioInstance as InstanceRow
from backend.domain import ConflictError, ItemKind, NotFoundError, ServiceUnavailableError, ValidationError, ValueKind
from backend.repositories import projects as project_repo
from backend.services.projects import validate_languages
from backend.services.secrets import webhook_secret
from backend.settings import Settings

Progress = Callable[[str, int, int], None]
ADJUDICATION_INSTANCE = "adjudication"
WEBHOOK_PATH = "/webhooks/labelstudio"
SECRET_HEADER = "X-Mmcurate-Secret"
INSTANCE_HEADER = "X-Mmcurate-Instance"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# -- where Label Studio lives ----------------------------------------------------------------


@dataclass(frozen=True)
class LabelStudioHome:
    """Folders of the local Label Studio setup: venv, template, instances, secrets, media root."""

    venv: Path
    template_dir: Path
    instances_dir: Path
    state_file: Path
    media_root: Path
    shared_url: str | None = None
    shared_token: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "LabelStudioHome":
        venv = settings.labelstudio_venv_dir
        return cls(
            venv=venv,
            template_dir=venv.parent / f"labelstudio-template-{LABEL_STUDIO_VERSION}",
            instances_dir=settings.labelstudio_dir / "instances",
            state_file=settings.labelstudio_dir / "instances.json",
            media_root=settings.data_dir,
            shared_url=settings.labelstudio_url,
            shared_token=settings.labelstudio_token,
        )

    @property
    def shared(self) -> bool:
        """Shared mode: one Label Studio the deployment runs (and enforces roles in) itself."""
        return self.shared_url is not None

    def install(self) -> LabelStudioInstall:
        return ensure_installed(self.venv)

    def state(self) -> ls.InstanceState:
        return ls.InstanceState(self.state_file)

    def save(self, instance: ls.LabelStudioInstance) -> None:
        self.state().put(instance)


def _home(settings: Settings, home: LabelStudioHome | None) -> LabelStudioHome:
    return home or LabelStudioHome.from_settings(settings)


def _mirror(session: Session, instance: ls.LabelStudioInstance, annotator_id: int | None = None) -> InstanceRow:
    """Write ``instance``'s public fields into the labelstudio_instances table."""
    row = session.scalar(select(InstanceRow).where(InstanceRow.name == instance.name))
    if row is None:
        row = InstanceRow(name=instance.name, role=instance.role, url=instance.url)
        session.add(row)
    row.role = instance.role
    row.url = instance.url
    row.port = instance.port if instance.managed else None
    row.pid = instance.pid
    row.data_dir = str(instance.data_dir) if instance.managed else None
    row.admin_email = instance.admin_email
    row.admin_token = instance.admin_token
    running = ls.is_running(instance) if instance.managed else True
    row.status = "running" if running else "stopped"
    if running and row.started_at is None:
        row.started_at = utcnow()
    if not running:
        row.started_at = None
    if annotator_id is not None:
        row.annotator_id = annotator_id
    session.flush()
    return row


def _client(instance: ls.LabelStudioInstance, *, timeout_s: float = 120.0) -> LabelStudioClient:
    return LabelStudioClient(instance.url, instance.admin_token, timeout_s=timeout_s)


# -- labelstudio start | stop | status ------------------------------------------------------


@dataclass(frozen=True)
class InstanceStatus:
    name: str
    role: str
    annotator: str | None
    url: str
    pid: int | None
    running: bool


def _status(instance: ls.LabelStudioInstance) -> InstanceStatus:
    running = ls.is_running(instance) if instance.managed else ls.health(instance.url)
    return InstanceStatus(instance.name, instance.role, instance.annotator, instance.url, instance.pid, running)


def start_instances(
    session: Session, settings: Settings, *, home: LabelStudioHome | None = None, on_progress: Progress | None = None
) -> list[InstanceStatus]:
    """Install Label Studio and its template when missing, then (re)start every instance that is down."""
    home = _home(settings, home)
    install = None
    if not home.shared:
        install = home.install()
        ls.ensure_template(install, home.template_dir, home.media_root, on_progress=on_progress)
    records = list(home.state().load().values())
    out = []
    for done, instance in enumerate(records, start=1):
        if instance.managed and not ls.is_running(instance):
            instance = ls.start(install or home.install(), instance)
            home.save(instance)
        _mirror(session, instance)
        out.append(_status(instance))
        if on_progress:
            on_progress("start instances", done, len(records))
    return out


def stop_instances(session: Session, settings: Settings, *, home: LabelStudioHome | None = None) -> list[InstanceStatus]:
    """Stop every local instance (shared servers are left alone)."""
    home = _home(settings, home)
    out = []
    for instance in home.state().load().values():
        if instance.managed:
            instance = ls.stop(instance)
            home.save(instance)
        _mirror(session, instance)
        out.append(_status(instance))
    return out


def instance_statuses(settings: Settings, *, home: LabelStudioHome | None = None) -> list[InstanceStatus]:
    """Each instance, whose it is, and whether it answers."""
    return [_status(i) for i in _home(settings, home).state().load().values()]


def _new_instance(
    home: LabelStudioHome, name: str, role: str, annotator: str | None
) -> ls.LabelStudioInstance:
    if home.shared:
        return ls.LabelStudioInstance(
            name=name, role="shared", port=0, data_dir=home.instances_dir / name, media_root=home.media_root,
            secret_key="", admin_email="", admin_password="", admin_token=home.shared_token or "",
            annotator=annotator, external_url=home.shared_url,
        )
    install = home.install()
    template = ls.ensure_template(install, home.template_dir, home.media_root)
    data_dir = home.instances_dir / name
    if data_dir.exists() and name not in home.state().load():
        import shutil

        shutil.rmtree(data_dir)  # left by a run that failed before recording it
    taken = [i.port for i in home.state().load().values()]
    return ls.create_instance(
        install, template, data_dir, home.media_root, name=name, role=role, annotator=annotator, avoid_ports=taken
    )


# -- annotators -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnotatorLogin:
    """What a new annotator needs, shown once: their own Label Studio and their login."""

    pseudonym: str
    email: str
    password: str
    url: str
    languages: tuple[str, ...]
    simulated: bool


def add_annotator(
    session: Session,
    settings: Settings,
    email: str,
    languages: Sequence[str] = (),
    *,
    simulated: bool = False,
    password: str | None = None,
    home: LabelStudioHome | None = None,
) -> AnnotatorLogin:
    """A pseudonymous annotator with their own Label Studio instance and a user there who can log in."""
    home = _home(settings, home)
    email = email.strip()
    if "@" not in email or " " in email:
        raise ValidationError(f"{email!r} is not an email address; give one like ravi@example.org")
    langs = validate_languages(list(languages))
    if session.scalar(select(Annotator).where(Annotator.email == email)) is not None:
        raise ConflictError(f"an annotator with email {email!r} exists; see `mmcurate annotators list`")
    count = session.scalar(select(func.count()).select_from(Annotator)) or 0
    pseudonym = f"ann-{count + 1:03d}"
    while session.scalar(select(Annotator).where(Annotator.pseudonym == pseudonym)) is not None:
        count += 1
        pseudonym = f"ann-{count + 1:03d}"
    annotator = Annotator(pseudonym=pseudonym, email=email, languages=list(langs), simulated=simulated)
    session.add(annotator)
    session.flush()
    instance = _new_instance(home, pseudonym, "annotator", pseudonym)
    home.save(instance)
    secret = password or secrets.token_urlsafe(12)
    login = _client(instance).create_login(email, secret)
    instance = replace(instance, user_email=email, user_id=login.user_id, user_token=login.token)
    home.save(instance)
    _mirror(session, instance, annotator_id=annotator.id)
    return AnnotatorLogin(pseudonym, email, secret, instance.url, langs, simulated)


def list_annotators(session: Session, settings: Settings, *, home: LabelStudioHome | None = None) -> list[dict[str, Any]]:
    """Every annotator with their instance URL (never their password)."""
    records = _home(settings, home).state().load()
    out = []
    for annotator in session.scalars(select(Annotator).order_by(Annotator.id)):
        instance = records.get(annotator.pseudonym)
        out.append({
            "id": annotator.id, "pseudonym": annotator.pseudonym, "email": annotator.email,
            "languages": list(annotator.languages or []), "simulated": annotator.simulated,
            "active": annotator.active, "url": instance.url if instance else None,
        })
    return out


# -- push -----------------------------------------------------------------------------------


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


def _select_items(session: Session, project: Project, options: PushOptions, rng: random.Random) -> tuple[list[Item], list[Item]]:
    query = select(Item).where(Item.project_id == project.id, Item.filter_status == "kept")
    if options.language:
        query = query.where(Item.language == options.language)
    if options.source_id is not None:
        query = query.where(Item.source_id == options.source_id)
    if options.speaker:
        query = query.join(Utterance, Utterance.item_id == Item.id).where(Utterance.speaker_label == options.speaker)
    rows = list(session.scalars(query.order_by(Item.id)))
    regular = [i for i in rows if not i.is_gold]
    gold = [i for i in rows if i.is_gold]
    if options.size is not None and options.size < len(regular):
        regular = _stratified_sample(regular, options.size, rng)
    n_gold = min(len(gold), round(options.gold_rate * len(regular) / (1 - options.gold_rate)))
    gold = sorted(rng.sample(gold, n_gold), key=lambda i: i.id) if n_gold else []
    if not regular and not gold:
        raise NotFoundError(
            f"project {project.name!r} has no kept items matching language={options.language} "
            f"source={options.source_id} speaker={options.speaker}; run `mmcurate process` or widen the selection"
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


def _media(settings: Settings, item: Item, utterance: Utterance | None) -> tuple[MediaKind, str]:
    kind = ItemKind(item.kind)
    if kind in (ItemKind.CHAT_TURN, ItemKind.TEXT):
        if not item.text:
            raise ValidationError(f"item {item.id} ({item.kind}) has no text to show")
        return MediaKind.TEXT, item.text
    video = utterance.clip_video_path if utterance else None
    path = video or (utterance.clip_audio_path if utterance else None) or item.media_path
    if not path:
        raise ValidationError(f"item {item.id} ({item.kind}) has no media file; run `mmcurate process` first")
    media = MediaKind.VIDEO if video else MediaKind.for_item(kind)
    return media, _local_files_url(settings, Path(path))


def _local_files_url(settings: Settings, path: Path) -> str:
    from urllib.parse import quote

    absolute = path if path.is_absolute() else settings.data_dir / path
    try:
        relative = absolute.resolve().relative_to(settings.data_dir)
    except ValueError:
        raise ValidationError(
            f"media file {str(absolute)!r} is outside the data dir {settings.data_dir}; Label Studio serves only "
            "files under it (to logged-in users). Move it there or re-run `mmcurate process`"
        ) from None
    if len(relative.parts) < 2:
        raise ValidationError(f"media file {str(absolute)!r} must sit in a folder under the data dir, not at its top")
    return f"/data/local-files/?d={quote(relative.as_posix())}"


def _storage_folder(settings: Settings, url: str) -> str | None:
    from urllib.parse import unquote

    if not url.startswith("/data/local-files/?d="):
        return None
    relative = unquote(url.split("?d=", 1)[1])
    return str(settings.data_dir / relative.split("/", 1)[0])


def _context(session: Session, item: Item, utterance: Utterance | None, cache: dict[str, list[Item]]) -> list[ContextLine]:
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
            select(Item).where(Item.project_id == item.project_id, Item.dialogue_id == item.dialogue_id)
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
    home = _home(settings, home)
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
    regular, gold = _select_items(session, project, options, rng)
    selection = {k: v for k, v in (("size", options.size), ("language", options.language),
                                   ("source_id", options.source_id), ("speaker", options.speaker),
                                   ("annotators", list(options.annotators)), ("seed", options.seed)) if v}
    batch = session.scalar(select(AnnotationBatch).where(
        AnnotationBatch.project_id == project.id, AnnotationBatch.scheme == scheme.name,
        AnnotationBatch.overlap_k == options.k, AnnotationBatch.gold_rate == options.gold_rate,
    ).order_by(AnnotationBatch.id.desc()))
    if batch is None or batch.selection != selection:
        batch = AnnotationBatch(project_id=project.id, scheme=scheme.name, overlap_k=options.k,
                                gold_rate=options.gold_rate, selection=selection)
        session.add(batch)
        session.flush()

    # who already has which item in this scheme (any batch)
    existing: dict[int, set[int]] = defaultdict(set)
    for item_id, annotator_id in session.execute(
        select(Task.item_id, Task.annotator_id).join(AnnotationBatch, AnnotationBatch.id == Task.batch_id)
        .where(AnnotationBatch.project_id == project.id, AnnotationBatch.scheme == scheme.name,
               Task.kind == "annotation")
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
    secret = webhook_secret(settings)
    for annotator_id, items in plan.items():
        annotator = by_id[annotator_id]
        instance = records[annotator.pseudonym]
        row = _mirror(session, instance, annotator_id=annotator.id)
        client = _client(instance)
        by_media: dict[MediaKind, list[dict[str, Any]]] = defaultdict(list)
        for item in items:
            utterance = item.utterance
            media, content = _media(settings, item, utterance)
            data = task_data(
                media, content, item_id=item.id,
                speaker=utterance.speaker_label if utterance else None,
                transcript=(item.text or "") if media is not MediaKind.TEXT else "",
                context=_context(session, item, utterance, context_cache),
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
            ls_project = client.ensure_project(
                title, label_config(scheme, media, options.display_language or _display_language(project)),
                instructions=scheme.instruction(options.display_language), maximum_annotations=1,
            )
            for folder in sorted({f for t in tasks if (f := _storage_folder(settings, t["data"][media.value]))}):
                client.ensure_local_storage(ls_project, folder)
            if settings.public_url:
                client.ensure_webhook(
                    settings.public_url.rstrip("/") + WEBHOOK_PATH, ls_project,
                    {SECRET_HEADER: secret, INSTANCE_HEADER: instance.name},
                )
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
    return PushResult(batch.id, len(regular), len(gold), created, recovered, tasks_existing, per_annotator)


def _display_language(project: Project) -> str | None:
    languages = [lang for lang in (project.languages or []) if lang in ("ta", "ml", "bn", "zh")]
    return languages[0] if len(languages) == 1 else None


def _asr_prediction(scheme: Scheme, item: Item, utterance: Utterance | None, media: MediaKind) -> dict[str, Any] | None:
    values = {f.name: item.text for f in scheme.fields
              if f.kind is ValueKind.FREE_TEXT and f.predictor == "asr" and item.text}
    if not values:
        return None
    model = (utterance.asr_model if utterance else None) or "asr"
    score = utterance.asr_confidence if utterance and utterance.asr_confidence is not None else None
    prediction: dict[str, Any] = {"result": result_from_values(scheme, values, media.value), "model_version": model}
    if score is not None:
        prediction["score"] = score
    return prediction


# -- sync: one upsert for webhook and pull --------------------------------------------------


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _schemes_by_batch(session: Session, registry: SchemeRegistry, batch_ids: Iterable[int]) -> dict[int, Scheme]:
    out = {}
    for batch in session.scalars(select(AnnotationBatch).where(AnnotationBatch.id.in_(set(batch_ids)))):
        out[batch.id] = registry[batch.scheme]
    return out


def pull(
    session: Session,
    settings: Settings,
    project: str,
    *,
    home: LabelStudioHome | None = None,
    registry: SchemeRegistry | None = None,
    on_progress: Progress | None = None,
) -> SyncResult:
    """Reconcile mmcurate with every Label Studio project of ``project``: create, update, delete to match."""
    home = _home(settings, home)
    registry = registry or shipped_registry()
    project_row = project_repo.get(session, project)
    records = home.state().load()
    rows = {r.id: r for r in session.scalars(select(InstanceRow))}
    tasks = list(session.scalars(
        select(Task).join(AnnotationBatch, AnnotationBatch.id == Task.batch_id)
        .where(AnnotationBatch.project_id == project_row.id)))
    schemes = _schemes_by_batch(session, registry, {t.batch_id for t in tasks})
    by_target: dict[tuple[int, int], dict[int, Task]] = defaultdict(dict)
    for task in tasks:
        by_target[(task.instance_id, task.ls_project_id)][task.ls_task_id] = task
    result = SyncResult()
    for done, ((instance_id, ls_project), project_tasks) in enumerate(sorted(by_target.items()), start=1):
        row = rows[instance_id]
        instance = records.get(row.name)
        if instance is None:
            raise NotFoundError(f"instance {row.name!r} has no record in {home.state_file}; was the data dir moved?")
        scheme_name = {task.id: schemes[task.batch_id] for task in project_tasks.values()}
        stored_ids = set(session.scalars(
            select(Annotation.ls_annotation_id)
            .where(Annotation.instance_id == instance_id, Annotation.task_id.in_(scheme_name), Annotation.deleted_at.is_(None))))
        session.flush()
        connection = session.connection()
        seen: set[int] = set()
        for ls_annotation in _client(instance).annotations(ls_project):
            task = project_tasks.get(ls_annotation.task_id)
            if task is None:
                result.count("skipped")
                continue
            seen.add(ls_annotation.id)
            scheme = scheme_name[task.id]
            target = TaskTarget(task.id, task.item_id, task.annotator_id, task.instance_id,
                                task.kind == "adjudication", scheme.name)
            try:
                result.count(_upsert_event(connection, target, ls_annotation, scheme))
            except ValidationError as exc:
                result.count("skipped")
                result.errors.append(f"{row.name} annotation {ls_annotation.id}: {exc}")
        for ls_id in sorted(stored_ids - seen):
            if _delete_event(connection, instance_id, ls_id) == "deleted":
                result.count("deleted")
        if on_progress:
            on_progress("pull", done, len(by_target))
    _finish_adjudications(session)
    return result


@dataclass(frozen=True)
class TaskTarget:
    """What an annotation of one task needs from its task row and batch (these never change once written)."""

    id: int
    item_id: int
    annotator_id: int | None
    instance_id: int
    is_adjudication: bool
    scheme: str


@dataclass
class WebhookLookups:
    """Instance ids by name and tasks by (instance id, Label Studio task id) that the receiver already found.

    Only rows that exist are remembered (a task pushed later is still found). A row deleted after it
    was remembered makes the next insert fail its foreign key; the receiver then calls ``clear`` and
    stores the event again, so a stale entry costs a retry, never a wrong row.
    """

    instance_ids: dict[str, int] = field(default_factory=dict)
    tasks: dict[tuple[int, int], TaskTarget] = field(default_factory=dict)

    def clear(self) -> None:
        self.instance_ids.clear()
        self.tasks.clear()


@dataclass(frozen=True)
class _WebhookStatements:
    """The receiver's statements, built once per dialect: executing a prebuilt statement skips building and hashing it."""

    instance_id: Any
    task_target: Any
    annotation: Any
    insert_new_annotation: Any
    update_annotation: Any
    insert_history: Any


@lru_cache(maxsize=4)
def _webhook_statements(dialect: str) -> _WebhookStatements:
    """``insert_new_annotation`` inserts unless (instance, Label Studio id) is stored, returning the new id or
    no row, so a new annotation (the common event) costs no SELECT first; SQLite and PostgreSQL only."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as insert_or_ignore
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as insert_or_ignore
    else:
        raise ValidationError(f"the webhook receiver supports SQLite and PostgreSQL, not {dialect!r}")
    annotations, history = Annotation.__table__, AnnotationHistory.__table__
    tasks, batches, instances = Task.__table__, AnnotationBatch.__table__, InstanceRow.__table__
    return _WebhookStatements(
        instance_id=select(instances.c.id).where(instances.c.name == bindparam("name")),
        task_target=select(tasks.c.id, tasks.c.item_id, tasks.c.annotator_id, tasks.c.kind, batches.c.scheme)
        .join(batches, batches.c.id == tasks.c.batch_id)
        .where(tasks.c.instance_id == bindparam("instance_id"), tasks.c.ls_task_id == bindparam("ls_task_id")),
        annotation=select(annotations.c.id, annotations.c["values"], annotations.c.raw_result, annotations.c.deleted_at)
        .where(annotations.c.instance_id == bindparam("instance_id"),
               annotations.c.ls_annotation_id == bindparam("ls_annotation_id")),
        insert_new_annotation=insert_or_ignore(annotations)
        .on_conflict_do_nothing(index_elements=[annotations.c.instance_id, annotations.c.ls_annotation_id])
        .returning(annotations.c.id),
        update_annotation=update(annotations).where(annotations.c.id == bindparam("annotation_id")),  # SET: the keys given
        insert_history=insert(history),
    )


def _statements(connection: Connection) -> _WebhookStatements:
    return _webhook_statements(connection.dialect.name)


def _instance_id(connection: Connection, name: str, lookups: WebhookLookups) -> int:
    found = lookups.instance_ids.get(name)
    if found is None:
        found = connection.execute(_statements(connection).instance_id, {"name": name}).scalar()
        if found is None:
            raise ValidationError(f"webhook names instance {name!r}, which mmcurate does not know")
        lookups.instance_ids[name] = found
    return found


def _task_target(connection: Connection, instance_id: int, ls_task_id: int, lookups: WebhookLookups) -> TaskTarget | None:
    key = (instance_id, ls_task_id)
    found = lookups.tasks.get(key)
    if found is None:
        row = connection.execute(_statements(connection).task_target,
                                 {"instance_id": instance_id, "ls_task_id": ls_task_id}).first()
        if row is None:
            return None
        found = TaskTarget(row.id, row.item_id, row.annotator_id, instance_id, row.kind == "adjudication", row.scheme)
        lookups.tasks[key] = found
    return found


def prefetch_tasks(session: Session, events: Sequence[tuple[str, Any]], lookups: WebhookLookups) -> None:
    """Look up the tasks that ``events`` (instance name, payload) annotate with one SELECT per instance.

    For a receiver storing a burst of events in one transaction: each ``ingest_webhook`` then finds its
    task in ``lookups``. Events that are malformed or name an unknown instance are passed over here;
    ``ingest_webhook`` refuses them with its usual message.
    """
    wanted: dict[str, set[int]] = defaultdict(set)
    for name, payload in events:
        if not isinstance(payload, dict):
            continue
        raw = payload.get("annotations") if payload.get("action") == "ANNOTATIONS_CREATED" else [payload.get("annotation")]
        for entry in raw if isinstance(raw, list) else ():
            task = entry.get("task") if isinstance(entry, dict) else None
            if isinstance(task, int) and not isinstance(task, bool):
                wanted[name].add(task)
    connection = session.connection()
    for name, ls_task_ids in wanted.items():
        try:
            instance_id = _instance_id(connection, name, lookups)
        except ValidationError:
            continue
        missing = [t for t in ls_task_ids if (instance_id, t) not in lookups.tasks]
        if not missing:
            continue
        tasks, batches = Task.__table__, AnnotationBatch.__table__
        rows = connection.execute(
            select(tasks.c.id, tasks.c.item_id, tasks.c.annotator_id, tasks.c.kind, tasks.c.ls_task_id, batches.c.scheme)
            .join(batches, batches.c.id == tasks.c.batch_id)
            .where(tasks.c.instance_id == instance_id, tasks.c.ls_task_id.in_(bindparam("ids", expanding=True))),
            {"ids": missing})
        for row in rows:
            lookups.tasks[(instance_id, row.ls_task_id)] = TaskTarget(
                row.id, row.item_id, row.annotator_id, instance_id, row.kind == "adjudication", row.scheme)


def _stored(connection: Connection, instance_id: int, ls_annotation_id: int) -> Row[Any] | None:
    return connection.execute(_statements(connection).annotation,
                              {"instance_id": instance_id, "ls_annotation_id": ls_annotation_id}).first()


def _write_history(connection: Connection, annotation_id: int, action: str, values: Any, raw_result: Any,
                   recorded_at: datetime) -> None:
    connection.execute(_statements(connection).insert_history, {
        "annotation_id": annotation_id, "action": action, "values": values, "raw_result": raw_result,
        "recorded_at": recorded_at})


def _upsert_event(connection: Connection, task: TaskTarget, ls_annotation: LsAnnotation, scheme: Scheme) -> str:
    """Store one Label Studio annotation (from a webhook or a pull) in Core statements: a new one is one
    INSERT plus its 'created' history row; a known one is updated (plus an 'updated' or 'restored' history
    row) only when its result changed or it had been deleted; cancelled ones are skipped."""
    if ls_annotation.was_cancelled:
        return "skipped"
    values = values_from_result(scheme, ls_annotation.result)
    now = utcnow()
    statements = _statements(connection)
    annotation_id = connection.execute(statements.insert_new_annotation, {
        "task_id": task.id, "item_id": task.item_id, "annotator_id": task.annotator_id,
        "instance_id": task.instance_id, "ls_annotation_id": ls_annotation.id, "scheme": scheme.name,
        "values": values, "raw_result": ls_annotation.result, "lead_time_s": ls_annotation.lead_time_s,
        "is_adjudication": task.is_adjudication, "origin": "labelstudio",
        "created_at": _parse_time(ls_annotation.created_at) or now,
        "updated_at": _parse_time(ls_annotation.updated_at) or now,
    }).scalar()
    if annotation_id is not None:
        _write_history(connection, annotation_id, "created", values, ls_annotation.result, now)
        return "created"
    existing = _stored(connection, task.instance_id, ls_annotation.id)
    if existing is None:  # deleted between the two statements by another writer: store it on the retry
        raise ServiceUnavailableError(f"annotation {ls_annotation.id} of instance {task.instance_id} vanished while stored")
    if existing.raw_result == ls_annotation.result and existing.deleted_at is None:
        return "unchanged"
    action = "restored" if existing.deleted_at is not None else "updated"
    connection.execute(statements.update_annotation, {
        "annotation_id": existing.id, "values": values, "raw_result": ls_annotation.result,
        "lead_time_s": ls_annotation.lead_time_s, "updated_at": _parse_time(ls_annotation.updated_at) or now,
        "deleted_at": None})
    _write_history(connection, existing.id, action, values, ls_annotation.result, now)
    return "updated"


def _delete_event(connection: Connection, instance_id: int, ls_annotation_id: int) -> str:
    existing = _stored(connection, instance_id, ls_annotation_id)
    if existing is None:
        return "skipped"
    if existing.deleted_at is not None:
        return "unchanged"
    now = utcnow()
    connection.execute(_statements(connection).update_annotation, {"annotation_id": existing.id, "deleted_at": now})
    _write_history(connection, existing.id, "deleted", existing.values, existing.raw_result, now)
    return "deleted"


def ingest_webhook(
    session: Session,
    instance_name: str,
    payload: Any,
    *,
    registry: SchemeRegistry | None = None,
    lookups: WebhookLookups | None = None,
) -> SyncResult:
    """Apply one Label Studio webhook (ANNOTATION_CREATED / UPDATED, ANNOTATIONS_CREATED / DELETED).

    The same upsert as ``pull`` (``_upsert_event`` / ``_delete_event``): created / updated or
    restored / deleted, each with a history row; unchanged and cancelled annotations write nothing. ``lookups``
    lets a long-lived caller (the receiver) keep instance and task rows between events. Nothing
    is committed here.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("action"), str):
        raise ValidationError("webhook body must be a JSON object with an 'action'")
    lookups = lookups if lookups is not None else WebhookLookups()
    session.flush()
    connection = session.connection()
    instance_id = _instance_id(connection, instance_name, lookups)
    action = payload["action"]
    result = SyncResult()
    adjudicated = False
    if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"):
        raw = payload.get("annotations") if action == "ANNOTATIONS_CREATED" else [payload.get("annotation")]
        if not isinstance(raw, list) or not all(isinstance(a, dict) and "id" in a and "task" in a for a in raw):
            raise ValidationError(f"{action} webhook has no annotation with 'id' and 'task'")
        registry = registry or shipped_registry()
        for entry in raw:
            try:
                ls_annotation = LsAnnotation.from_json(entry, int((payload.get("project") or {}).get("id") or 0))
            except (TypeError, ValueError, KeyError) as exc:
                raise ValidationError(f"{action} webhook carries a malformed annotation: {exc}") from None
            task = _task_target(connection, instance_id, ls_annotation.task_id, lookups)
            if task is None:
                result.count("skipped")
                continue
            result.count(_upsert_event(connection, task, ls_annotation, registry[task.scheme]))
            adjudicated = adjudicated or task.is_adjudication
    elif action == "ANNOTATIONS_DELETED":
        raw = payload.get("annotations")
        if not isinstance(raw, list) or not all(isinstance(a, dict) and "id" in a for a in raw):
            raise ValidationError("ANNOTATIONS_DELETED webhook has no list of annotations with 'id'")
        for entry in raw:
            try:
                ls_annotation_id = int(entry["id"])
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"ANNOTATIONS_DELETED webhook carries a malformed id: {exc}") from None
            result.count(_delete_event(connection, instance_id, ls_annotation_id))
    else:
        result.count("skipped")
    if adjudicated:
        _finish_adjudications(session)
    return result


# -- simulated annotators -------------------------------------------------------------------


@dataclass(frozen=True)
class SimulateOptions:
    project: str
    scheme: str
    accuracies: tuple[float, ...]
    k: int | None = None
    size: int | None = None
    language: str | None = None
    seed: int = 0
    median_seconds_per_field: float = 6.0


@dataclass(frozen=True)
class SimulateResult:
    annotators: tuple[str, ...]
    push: PushResult
    submitted: int
    already_done: int


def simulate(
    session: Session,
    settings: Settings,
    options: SimulateOptions,
    *,
    home: LabelStudioHome | None = None,
    registry: SchemeRegistry | None = None,
    on_progress: Progress | None = None,
) -> SimulateResult:
    """N simulated annotators (real Label Studio users, marked simulated) label a batch through Label Studio's API.

    Each answers ``items.reference`` (the transcript field: the item text) with its accuracy, a
    plausible slip otherwise, with log-normal lead times. Re-runs reuse the annotators and skip
    tasks they already answered.
    """
    if not options.accuracies:
        raise ValidationError("give one accuracy per simulated annotator, e.g. --accuracy 0.9,0.8,0.4")
    for accuracy in options.accuracies:
        if not 0.0 <= accuracy <= 1.0:
            raise ValidationError(f"accuracy {accuracy!r} must be between 0 and 1")
    home = _home(settings, home)
    registry = registry or shipped_registry()
    scheme = registry[options.scheme]
    project = project_repo.get(session, options.project)
    simulated = list(session.scalars(select(Annotator).where(Annotator.simulated.is_(True)).order_by(Annotator.id)))
    while len(simulated) < len(options.accuracies):
        n = len(simulated) + 1
        login = add_annotator(session, settings, f"simulated-{n:02d}@example.org", project.languages or [],
                              simulated=True, home=home)
        simulated.append(session.scalar(select(Annotator).where(Annotator.pseudonym == login.pseudonym)))  # type: ignore[arg-type]
    chosen = simulated[: len(options.accuracies)]
    pushed = push(session, settings, PushOptions(
        project=project.name, scheme=scheme.name, k=options.k or len(chosen), size=options.size,
        language=options.language, annotators=tuple(a.pseudonym for a in chosen), seed=options.seed,
    ), home=home, registry=registry, on_progress=on_progress)
    records = home.state().load()
    submitted = already = 0
    for index, (annotator, accuracy) in enumerate(zip(chosen, options.accuracies)):
        rng = random.Random(f"{options.seed}:{annotator.pseudonym}")
        instance = records[annotator.pseudonym]
        if not instance.user_token:
            raise NotFoundError(f"simulated annotator {annotator.pseudonym} has no API token on record")
        admin = _client(instance)
        user = admin.as_user(instance.user_token)
        tasks = list(session.scalars(select(Task).join(AnnotationBatch, AnnotationBatch.id == Task.batch_id).where(
            Task.annotator_id == annotator.id, Task.kind == "annotation",
            AnnotationBatch.project_id == project.id, AnnotationBatch.scheme == scheme.name).order_by(Task.id)))
        answered: set[int] = set()
        for ls_project in sorted({t.ls_project_id for t in tasks}):
            answered |= {a.task_id for a in admin.annotations(ls_project)}
        for done, task in enumerate(tasks, start=1):
            if task.ls_task_id in answered:
                already += 1
                continue
            item = session.get(Item, task.item_id)
            fallback = {f.name: item.text for f in scheme.fields if f.kind is ValueKind.FREE_TEXT and item and item.text}
            values = simulated_answers(scheme, dict(item.reference or {}) if item else {}, accuracy, rng, fallback)
            values = {k: v for k, v in values.items() if v != "" or scheme.field(k).kind is not ValueKind.FREE_TEXT}
            media = _media(settings, item, item.utterance)[0] if item else MediaKind.AUDIO
            user.create_annotation(task.ls_task_id, result_from_values(scheme, values, media.value),
                                   lead_time_s=simulated_lead_time(scheme, rng, options.median_seconds_per_field))
            submitted += 1
            if on_progress:
                on_progress(f"simulate {annotator.pseudonym}", done, len(tasks))
    return SimulateResult(tuple(a.pseudonym for a in chosen), pushed, submitted, already)


# -- adjudication ---------------------------------------------------------------------------


def _finish_adjudications(session: Session) -> None:
    """Copy adjudicated values from adjudication annotations onto the adjudication records."""
    from backend.db.models import Adjudication

    rows = session.execute(
        select(Adjudication, Annotation).join(Annotation, (Annotation.item_id == Adjudication.item_id)
                                              & Annotation.is_adjudication.is_(True)
                                              & Annotation.deleted_at.is_(None))
        .where(Adjudication.status == "sent")
        .execution_options(populate_existing=True)  # the webhook writes annotations with Core statements
    ).all()
    for adjudication, annotation in rows:
        if adjudication.field in (annotation.values or {}):
            adjudication.value = {"value": annotation.values[adjudication.field]}
            adjudication.adjudicator_id = annotation.annotator_id
            adjudication.status = "done"
    session.flush()


@dataclass(frozen=True)
class AdjudicationPush:
    sent: int
    url: str
    login: AnnotatorLogin | None


def push_adjudications(
    session: Session,
    settings: Settings,
    project: str,
    *,
    adjudicator_email: str = "adjudicator@example.org",
    home: LabelStudioHome | None = None,
    registry: SchemeRegistry | None = None,
) -> AdjudicationPush:
    """Open adjudications of ``project`` become review tasks in the adjudication instance, showing all k answers."""
    from backend.db.models import Adjudication, QARun

    home = _home(settings, home)
    registry = registry or shipped_registry()
    project_row = project_repo.get(session, project)
    open_rows = list(session.scalars(
        select(Adjudication).join(QARun, QARun.id == Adjudication.qa_run_id)
        .where(QARun.project_id == project_row.id, Adjudication.status == "open").order_by(Adjudication.id)))
    records = home.state().load()
    login = None
    adjudicator = session.scalar(select(Annotator).where(Annotator.email == adjudicator_email))
    if ADJUDICATION_INSTANCE not in records:
        if adjudicator is None:
            adjudicator = Annotator(pseudonym="adjudicator", email=adjudicator_email, languages=[], simulated=False)
            session.add(adjudicator)
            session.flush()
        instance = _new_instance(home, ADJUDICATION_INSTANCE, "adjudication", adjudicator.pseudonym)
        password = secrets.token_urlsafe(12)
        made = _client(instance).create_login(adjudicator_email, password)
        instance = replace(instance, user_email=adjudicator_email, user_id=made.user_id, user_token=made.token)
        home.save(instance)
        login = AnnotatorLogin(adjudicator.pseudonym, adjudicator_email, password, instance.url, (), False)
        records[ADJUDICATION_INSTANCE] = instance
    instance = records[ADJUDICATION_INSTANCE]
    if adjudicator is None:
        raise NotFoundError(f"no adjudicator with email {adjudicator_email!r}")
    row = _mirror(session, instance, annotator_id=adjudicator.id)
    client = _client(instance)
    sent = 0
    by_scheme: dict[tuple[str, MediaKind], list[tuple[Adjudication, dict[str, Any]]]] = defaultdict(list)
    for adjudication in open_rows:
        answers_ = list(session.scalars(select(Annotation).join(Annotator, Annotator.id == Annotation.annotator_id).where(
            Annotation.item_id == adjudication.item_id, Annotation.deleted_at.is_(None),
            Annotation.is_adjudication.is_(False))))
        schemes = [a.scheme for a in answers_ if adjudication.field in (a.values or {})]
        if not schemes:
            continue
        item = session.get(Item, adjudication.item_id)
        media, content = _media(settings, item, item.utterance)  # type: ignore[arg-type]
        lines = [ContextLine(session.get(Annotator, a.annotator_id).pseudonym,  # type: ignore[union-attr]
                             str(a.values[adjudication.field])) for a in answers_ if adjudication.field in (a.values or {})]
        data = task_data(media, content, item_id=item.id,  # type: ignore[union-attr]
                         speaker=item.utterance.speaker_label if item.utterance else None,  # type: ignore[union-attr]
                         transcript=item.text or "", context=lines,  # type: ignore[union-attr]
                         meta={"adjudication_id": adjudication.id, "field": adjudication.field,
                               "reason": adjudication.reason or ""})
        by_scheme[(schemes[0], media)].append((adjudication, data))
    for (scheme_name, media), entries in by_scheme.items():
        scheme = registry[scheme_name]
        fields = {a.field for a, _ in entries}
        review = Scheme(name=scheme.name, title=f"Adjudication: {scheme.title} (answers shown above)",
                        fields=tuple(f for f in scheme.fields if f.name in fields), instructions=scheme.instructions)
        ls_project = client.ensure_project(f"{project_row.name} / adjudication / {scheme.name} / {media.value}",
                                           label_config(review, media, _display_language(project_row)))
        for folder in sorted({f for _, d in entries if (f := _storage_folder(settings, d[media.value]))}):
            client.ensure_local_storage(ls_project, folder)
        batch = AnnotationBatch(project_id=project_row.id, scheme=scheme.name, overlap_k=1, gold_rate=0.0,
                                selection={"adjudication": True})
        session.add(batch)
        session.flush()
        ids = client.import_tasks(ls_project, [{"data": d} for _, d in entries])
        for (adjudication, data), ls_task_id in zip(entries, ids):
            session.add(Task(batch_id=batch.id, item_id=data["item_id"], annotator_id=adjudicator.id,
                             instance_id=row.id, ls_project_id=ls_project, ls_task_id=ls_task_id, kind="adjudication"))
            adjudication.status = "sent"
            sent += 1
    session.flush()
    return AdjudicationPush(sent, instance.url, login)


# -- listing --------------------------------------------------------------------------------


def list_annotations(session: Session, project: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
    """Every judgement of ``project``, normalised, oldest first."""
    project_row = project_repo.get(session, project)
    query = (select(Annotation, Annotator, InstanceRow)
             .join(Item, Item.id == Annotation.item_id)
             .join(Annotator, Annotator.id == Annotation.annotator_id)
             .outerjoin(InstanceRow, InstanceRow.id == Annotation.instance_id)
             .where(Item.project_id == project_row.id).order_by(Annotation.id))
    if not include_deleted:
        query = query.where(Annotation.deleted_at.is_(None))
    out = []
    for annotation, annotator, instance in session.execute(query):
        out.append({
            "id": annotation.id, "item_id": annotation.item_id, "annotator": annotator.pseudonym,
            "simulated": annotator.simulated, "scheme": annotation.scheme, "values": annotation.values,
            "lead_time_s": annotation.lead_time_s, "is_adjudication": annotation.is_adjudication,
            "instance": instance.name if instance else None, "ls_annotation_id": annotation.ls_annotation_id,
            "created_at": annotation.created_at, "updated_at": annotation.updated_at,
            "deleted_at": annotation.deleted_at,
        })
    return out


def annotation_history(session: Session, annotation_id: int) -> list[dict[str, Any]]:
    """Every version of one annotation, oldest first."""
    if session.get(Annotation, annotation_id) is None:
        raise NotFoundError(f"no annotation with id {annotation_id}")
    return [{"action": h.action, "values": h.values, "recorded_at": h.recorded_at}
            for h in session.scalars(select(AnnotationHistory).where(AnnotationHistory.annotation_id == annotation_id)
                                     .order_by(AnnotationHistory.id))]
