"""``process --engine ray``: the same walks through the stages, their work computed on a Ray cluster.

This process — the driver — owns the database and the ledger. It opens each source's walk
(``runner.walk_source``), submits the work the walk yields to the cluster
(``ingest.engine.RayEngine``) and sends the result back into the walk when it arrives, so every
stage run is started, recorded and finished here, exactly as in-process, and what a re-run skips
is the same. Up to ``files_in_flight`` walks are open at once (2 × workers by default); the loop
waits (``ray.wait``) for any of their work to finish before opening more, so a large batch never
loads every file. Two sources of the same content (one asset) are never in flight together.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

from backend.db.models import Source
from backend.services.speech.runner import ProcessReport, RunPlan, Walk, fail_source, walk_source
from backend.services.speech.stages import SourceJob
from ingest.engine import ModelChoice, Pending, RayEngine, RayOptions, ray_session
from ingest.whisper_weights import CT2_BASE_DIRNAME, HF_BASE_DIRNAME


def process_on_ray(plan: RunPlan, options: RayOptions) -> ProcessReport:
    """Every source of ``plan`` through the stages, their work on Ray (connected, or started locally, here)."""
    report = ProcessReport()
    with ray_session(options):
        engine = RayEngine(options, model_choice(plan))
        try:
            RayRun(plan, engine, report).run()
        finally:
            engine.close()
    report.processed.sort()
    report.failed.sort()
    return report


def model_choice(plan: RunPlan) -> ModelChoice:
    """What the workers load: the run's models; the bundled Whisper base (joined into the driver's data dir)
    is joined by each worker from its own packages instead, since no disk is shared."""
    config, models_dir = plan.config, plan.settings.models_dir
    bundled = Path(config.asr_model.model) in (models_dir / CT2_BASE_DIRNAME, models_dir / HF_BASE_DIRNAME)
    return ModelChoice(config.asr_model, config.diarizer, config.diarization_model, bundled_asr=bundled)


@dataclass
class OpenWalk:
    """A source whose walk is open: it waits on the work it yielded last."""

    job: SourceJob
    walk: Walk


class RayRun:
    """The driver's loop: open walks up to the engine's limit, wait for any work, send its result back."""

    def __init__(self, plan: RunPlan, engine: RayEngine, report: ProcessReport) -> None:
        self.plan, self.engine, self.report = plan, engine, report
        self.waiting: deque[Source] = deque(plan.sources)
        self.flying: dict[Any, tuple[OpenWalk, Pending]] = {}  # object ref → its walk and work
        self.contents: set[str] = set()  # content hashes of the sources in flight
        self.settled = 0

    def run(self) -> None:
        while self.waiting or self.flying:
            self.open_walks()
            if not self.flying:
                continue
            open_walk, pending = self.flying.pop(self.engine.first_ready(list(self.flying)))
            try:
                result = self.engine.result(pending)
            except Exception as exc:  # noqa: BLE001 - the walk records it on its stage run
                self.advance(open_walk, partial(open_walk.walk.throw, exc))
            else:
                self.advance(open_walk, partial(open_walk.walk.send, result))

    def open_walks(self) -> None:
        """Open the next waiting sources' walks while fewer than ``files_in_flight`` are open, skipping (for
        now) a source whose content is already in flight."""
        deferred: list[Source] = []
        while self.waiting and len(self.flying) < self.engine.files_in_flight:
            source = self.waiting.popleft()
            if source.content_hash and source.content_hash in self.contents:
                deferred.append(source)
                continue
            if source.content_hash:
                self.contents.add(source.content_hash)
            job = self.plan.job(source)
            open_walk = OpenWalk(job, walk_source(job, self.report))
            self.advance(open_walk, partial(next, open_walk.walk))
        self.waiting.extendleft(reversed(deferred))  # their twin is in flight, so the loop comes back to them

    def advance(self, open_walk: OpenWalk, step: Callable[[], Any]) -> None:
        """Run the walk on the driver (records, skips) until it yields work, submitted here, or ends."""
        while True:
            try:
                work = step()
            except StopIteration:
                self.report.processed.append(open_walk.job.source.id)
                return self.settle(open_walk)
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch; the reason is kept
                fail_source(self.plan.session, open_walk.job.source, self.report, exc)
                return self.settle(open_walk)
            try:
                pending = self.engine.submit(work)
            except Exception as exc:  # noqa: BLE001 - reading the source failed: the walk records it
                step = partial(open_walk.walk.throw, exc)
                continue
            self.flying[pending.ref] = (open_walk, pending)
            return None

    def settle(self, open_walk: OpenWalk) -> None:
        self.contents.discard(open_walk.job.source.content_hash)
        self.settled += 1
        if self.plan.on_progress:
            self.plan.on_progress("sources", self.settled, len(self.plan.sources))
