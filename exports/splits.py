"""Leak-free train/validation/test splits: no source, speaker, dialogue or near-duplicate
group in two splits.

Items that share a source, a speaker key, a dialogue (a chat conversation) or a near-duplicate
group form one group (connected components
of that sharing graph); whole groups are assigned, largest first, each to the split whose
counts per stratum (label of the first field × language) stay closest to the target
fractions. The order among equal-sized groups comes from the seed, so the same rows and
seed give the same assignment. What the group structure does not allow to balance is
reported, not hidden.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from backend.domain import ValidationError, ValueKind
from exports.hf import released_value
from exports.records import SPLITS, LabelField, ReleaseRow

UNLABELLED = "(none)"


@dataclass(frozen=True)
class SplitStatistics:
    """Counts per split: items, groups, and items per label / language / stratum."""

    items: dict[str, int]
    groups: dict[str, int]
    labels: dict[str, dict[str, int]]
    languages: dict[str, dict[str, int]]
    target_fractions: dict[str, float]


@dataclass(frozen=True)
class SplitAssignment:
    """Split name per item id, the statistics, and what could not be balanced (sentences)."""

    split_of: dict[int, str]
    statistics: SplitStatistics
    unbalanced: tuple[str, ...]

    def items_in(self, split: str) -> list[int]:
        return sorted(i for i, s in self.split_of.items() if s == split)


class _Groups:
    """Union-find over item indices joined by shared group keys."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def leakage_groups(rows: Sequence[ReleaseRow]) -> list[list[int]]:
    """Item indices grouped so that no two groups share a source, speaker key, dialogue or
    near-duplicate group (``ReleaseRow.group_keys``)."""
    groups = _Groups(len(rows))
    first_with: dict[str, int] = {}
    for i, row in enumerate(rows):
        for key in row.group_keys:
            if key in first_with:
                groups.union(first_with[key], i)
            else:
                first_with[key] = i
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(rows)):
        members[groups.find(i)].append(i)
    return [members[root] for root in sorted(members)]


def _stratum_label(row: ReleaseRow, field_name: str | None) -> str:
    """The stratum of a row's value: a label; the labels of a set (or those with an intensity
    above 0) joined by ``+``; any other value as text; ``UNLABELLED`` without one."""
    if field_name is None:
        return UNLABELLED
    label = row.labels.get(field_name)
    value = label.value if label is not None else None
    if value is None:
        return UNLABELLED
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        value = [name for name, level in value.items() if level]
    if isinstance(value, (list, tuple)):
        return "+".join(value) or UNLABELLED
    return str(value)


def assign_splits(
    rows: Sequence[ReleaseRow],
    *,
    seed: int,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    stratify_field: str | None = None,
    tolerance: float = 0.1,
) -> SplitAssignment:
    """Assign every row to train/validation/test without leakage, stratified where possible.

    ``fractions`` are the targets for (train, validation, test); ``tolerance`` is how far a
    split's share of a label or language may drift from its target before it is reported
    in ``unbalanced``. The input order does not matter (rows are taken by item id). An empty
    input gives an empty assignment.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValidationError(f"split fractions {fractions!r} must be three non-negative numbers summing to 1")
    ids = [r.item_id for r in rows]
    if len(set(ids)) != len(ids):
        dup = sorted(i for i, c in Counter(ids).items() if c > 1)[:5]
        raise ValidationError(f"item ids repeat in the release rows: {dup!r}; each item may appear once")
    rows = sorted(rows, key=lambda r: r.item_id)
    target = dict(zip(SPLITS, fractions, strict=True))
    groups = leakage_groups(rows)
    rng = random.Random(seed)
    order = list(range(len(groups)))
    rng.shuffle(order)
    order.sort(key=lambda g: -len(groups[g]))

    def stratum(i: int) -> tuple[str, str]:
        return (_stratum_label(rows[i], stratify_field), rows[i].language or UNLABELLED)

    total_per_stratum = Counter(stratum(i) for i in range(len(rows)))
    n = len(rows)
    counts: dict[str, Counter[tuple[str, str]]] = {s: Counter() for s in SPLITS}
    sizes = {s: 0 for s in SPLITS}
    group_count = {s: 0 for s in SPLITS}
    split_of: dict[int, str] = {}
    active = [s for s in SPLITS if target[s] > 0]
    for g in order:
        members = groups[g]
        g_strata = Counter(stratum(i) for i in members)

        def cost(split: str, members: list[int] = members, g_strata: Counter = g_strata) -> float:
            want_size = target[split] * n
            size_delta = ((sizes[split] + len(members) - want_size) ** 2 - (sizes[split] - want_size) ** 2) / max(n, 1)
            strat_delta = 0.0
            for key, c in g_strata.items():
                want = target[split] * total_per_stratum[key]
                strat_delta += ((counts[split][key] + c - want) ** 2 - (counts[split][key] - want) ** 2) / total_per_stratum[key]
            fill_first = -1e12 if sizes[split] == 0 and len(groups) >= len(active) else 0.0
            return 2.0 * size_delta + strat_delta + fill_first

        best = min(active, key=lambda s: (cost(s), SPLITS.index(s)))
        for i in members:
            split_of[rows[i].item_id] = best
            counts[best][stratum(i)] += 1
        sizes[best] += len(members)
        group_count[best] += 1

    label_counts = {s: _count(rows, split_of, s, lambda r: _stratum_label(r, stratify_field)) for s in SPLITS}
    lang_counts = {s: _count(rows, split_of, s, lambda r: r.language or UNLABELLED) for s in SPLITS}
    stats = SplitStatistics(
        items=dict(sizes),
        groups=dict(group_count),
        labels=label_counts,
        languages=lang_counts,
        target_fractions=target,
    )
    return SplitAssignment(split_of=split_of, statistics=stats, unbalanced=_unbalanced(stats, groups, rows, tolerance))


def _count(rows: Sequence[ReleaseRow], split_of: dict[int, str], split: str, key) -> dict[str, int]:
    c = Counter(key(r) for r in rows if split_of[r.item_id] == split)
    return dict(sorted(c.items()))


def _unbalanced(stats: SplitStatistics, groups: list[list[int]], rows: Sequence[ReleaseRow], tolerance: float) -> tuple[str, ...]:
    notes: list[str] = []
    n = sum(stats.items.values())
    if n == 0:
        return ()
    for split in SPLITS:
        share = stats.items[split] / n
        if abs(share - stats.target_fractions[split]) > tolerance:
            notes.append(
                f"{split} holds {share:.0%} of items (target {stats.target_fractions[split]:.0%}): "
                f"only {len(groups)} leak-free groups, the largest with {max(len(g) for g in groups)} items"
            )
    for what, table in (("label", stats.labels), ("language", stats.languages)):
        values = sorted({v for s in SPLITS for v in table[s]})
        for v in values:
            total = sum(table[s].get(v, 0) for s in SPLITS)
            shares = {s: table[s].get(v, 0) / total for s in SPLITS}
            missing = [s for s in SPLITS if shares[s] == 0 and stats.target_fractions[s] > 0]
            off = [s for s in SPLITS if abs(shares[s] - stats.target_fractions[s]) > tolerance]
            if missing:
                present = [s for s in SPLITS if shares[s] > 0]
                notes.append(f"{what} {v!r} ({total} items) is only in {' and '.join(present)}")
            elif off:
                got = ", ".join(f"{s} {shares[s]:.0%}" for s in SPLITS)
                notes.append(f"{what} {v!r} ({total} items): {got}")
    return tuple(notes)


def value_counts(f: LabelField, rows: Sequence[ReleaseRow], split_of: dict[int, str]) -> tuple[list[str], dict[str, Counter]]:
    """Rows of the card's distribution table of ``f`` and their count per split: items per label
    (nominal, ordinal), items holding each label (multi-label kinds), items with a value
    (interval, free text); ``(none)`` counts items without a value."""
    counts: dict[str, Counter] = {s: Counter() for s in SPLITS}
    for r in rows:
        value = released_value(r, f)
        split = counts[split_of[r.item_id]]
        if value is None:
            split[UNLABELLED] += 1
        elif f.kind in (ValueKind.NOMINAL, ValueKind.ORDINAL):
            split[value] += 1  # type: ignore[index]
        elif f.kind is ValueKind.MULTI_LABEL:
            split.update(value)  # type: ignore[arg-type]
        elif f.kind is ValueKind.MULTI_LABEL_INTENSITY:
            split.update(label for label, level in value.items() if level)  # type: ignore[union-attr]
        else:
            split["with a value"] += 1
    keys = [*f.labels] if f.labels else ["with a value"]
    return [*keys, *([UNLABELLED] if any(c[UNLABELLED] for c in counts.values()) else [])], counts
