"""Tiny real fixtures for QA tests: a project with items in the database and simulated judgements.

Simulated annotators follow a known accuracy: with probability ``accuracy`` they give the true
label, otherwise a uniformly random one (which may be right by chance).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np
from sqlalchemy.orm import Session

from backend.db.models import Item, Project, Source

SENTIMENT = ("negative", "neutral", "positive")


def make_project(session: Session, name: str = "demo", n_items: int = 40, *, gold_every: int = 5) -> tuple[Project, list[int]]:
    """A project with one text source and ``n_items`` text items in ta/ml/bn; every ``gold_every``-th is gold."""
    project = Project(name=name, languages=["ta", "ml", "bn"], schemes=["sentiment3"], allowed_licences=[])
    session.add(project)
    session.flush()
    source = Source(project_id=project.id, kind="text", uri="file:///fixtures/comments.txt", content_hash=f"sha256:{name}")
    session.add(source)
    session.flush()
    rng = np.random.default_rng(7)
    items = []
    for i in range(n_items):
        truth = SENTIMENT[int(rng.integers(3))]
        item = Item(
            project_id=project.id,
            source_id=source.id,
            kind="text",
            text=f"comment {i}",
            language=("ta", "ml", "bn")[i % 3],
            is_gold=gold_every > 0 and i % gold_every == 0,
            reference={"sentiment": truth},
        )
        session.add(item)
        items.append(item)
    session.flush()
    session.commit()
    return project, [item.id for item in items]


def simulated_rows(
    item_ids: Sequence[int],
    truths: Sequence[str],
    accuracies: Sequence[float],
    *,
    labels: Sequence[str] = SENTIMENT,
    seed: int = 0,
    field: str = "sentiment",
) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    rows = []
    for k, accuracy in enumerate(accuracies):
        for n, (item, truth) in enumerate(zip(item_ids, truths)):
            value = truth if rng.random() < accuracy else labels[int(rng.integers(len(labels)))]
            rows.append(
                {
                    "item": item,
                    "annotator": f"ann-{k + 1:03d}",
                    "field": field,
                    "value": value,
                    "lead_time_s": round(float(rng.gamma(3.0, 2.0)), 2),
                    "created_at": f"2026-01-0{1 + n % 9}T10:{n % 60:02d}:00Z",
                }
            )
    return rows


def as_csv(rows: Sequence[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
