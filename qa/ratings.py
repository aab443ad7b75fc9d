"""Judgements as the agreement coefficients read them: the long table coded into an items x categories count
matrix, the result record and the input errors (see ``qa.agreement``)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from backend.domain import ValidationError

if TYPE_CHECKING:
    import pandas as pd


Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["linear", "quadratic"]
Distance = Callable[[Any, Any], float]

LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")
WEIGHTS: tuple[str, ...] = ("linear", "quadratic")
_MAX_CELLS = 60_000_000
_BOOT_CELLS = 4_000_000


class AgreementInputError(ValidationError, ValueError):
    """Ratings that cannot be scored as given: bad columns, unknown value, duplicate judgement."""


class UndefinedAgreementError(AgreementInputError):
    """The coefficient is 0/0 on these ratings (e.g. one category only), so no value exists."""


@dataclass(frozen=True)
class AgreementResult:
    """One coefficient with the counts it was computed from and, when asked, a bootstrap CI.

    ``n_items`` counts items that carry at least one pair of judgements;
    ``ci_low``/``ci_high`` are percentile bounds over ``n_draws`` defined draws.
    """

    metric: str
    value: float
    n_items: int
    n_annotators: int
    n_judgements: int
    categories: tuple[Any, ...] = ()
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None
    n_draws: int | None = None
    seed: int | None = None

    def __float__(self) -> float:
        return self.value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: categories as strings, everything else as is."""
        out = asdict(self)
        out["categories"] = [as_label(c) for c in self.categories]
        return out


@dataclass(frozen=True)
class CodedRatings:
    """Ratings as integer codes.

    ``item``, ``annotator``, ``value`` are (n_judgements,) int arrays indexing
    ``items``, ``annotators`` and ``categories``; ``scores`` gives each category
    its numeric position for interval/ratio/weighted coefficients.
    """

    item: np.ndarray
    annotator: np.ndarray
    value: np.ndarray
    items: np.ndarray
    annotators: np.ndarray
    categories: tuple[Any, ...]
    scores: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    def counts(self) -> np.ndarray:
        """(n_items, n_categories) float matrix: judgements per item and category."""
        cells = self.n_items * self.n_categories
        if cells > _MAX_CELLS:
            raise AgreementInputError(
                f"{self.n_items} items x {self.n_categories} distinct values is too large to score "
                f"({cells} cells); bin continuous values into categories first"
            )
        flat = np.bincount(self.item * self.n_categories + self.value, minlength=cells)
        return flat.reshape(self.n_items, self.n_categories).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# input


def ratings_from_matrix(
    rows: Sequence[Sequence[Any]], annotators: Sequence[Hashable] | None = None
) -> "pd.DataFrame":
    """Long ratings from a reliability matrix (one row per annotator, one column per item).

    ``None`` or NaN cells are missing judgements; items are numbered from 0.
    """
    import pandas as pd

    names = list(annotators) if annotators is not None else [f"r{i + 1}" for i in range(len(rows))]
    if len(names) != len(rows):
        raise AgreementInputError(f"{len(names)} annotator names for {len(rows)} matrix rows; give one per row")
    records = []
    for name, row in zip(names, rows):
        for item, value in enumerate(row):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            records.append((item, name, value))
    return pd.DataFrame.from_records(records, columns=["item", "annotator", "value"])


def as_hashable(value: Any) -> Any:
    if isinstance(value, (list, set, tuple, frozenset, np.ndarray)):
        return frozenset(value)
    if isinstance(value, dict):
        return frozenset(value.items())
    return value


def as_label(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(str(v) for v in value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _sorted_values(values: Sequence[Any], need_order: bool) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        if need_order:
            shown = ", ".join(repr(v) for v in list(values)[:5])
            raise AgreementInputError(
                f"values {shown} have no natural order; pass categories=[...] in order"
            ) from None
        return sorted(values, key=repr)


def _factorize(column: "pd.Series") -> tuple[np.ndarray, np.ndarray]:
    """(int64 codes, distinct values); small non-negative integers take a bincount fast path."""
    import pandas as pd

    array = column.to_numpy()
    if array.dtype.kind in "iu" and len(array):
        low, high = int(array.min()), int(array.max())
        if low >= 0 and high < 4 * len(array) + 1024:
            present = np.zeros(high + 1, dtype=bool)
            present[array] = True
            remap = np.cumsum(present) - 1
            return remap[array].astype(np.int64), np.flatnonzero(present)
    codes, uniques = pd.factorize(column)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _duplicated(keys: np.ndarray, n_keys: int) -> np.ndarray:
    """True for every key seen before (keys in 0..n_keys-1)."""
    if n_keys <= 50_000_000:
        seen = np.bincount(keys, minlength=n_keys)
        if seen.max(initial=0) <= 1:
            return np.zeros(len(keys), dtype=bool)
    import pandas as pd

    return pd.Series(keys).duplicated().to_numpy()


def code_ratings(
    ratings: "pd.DataFrame",
    categories: Sequence[Any] | None = None,
    *,
    numeric: bool = False,
    ordered: bool = False,
) -> CodedRatings:
    """Validate a long ratings table and turn it into integer codes.

    ``numeric`` asks for numeric category scores (interval/ratio): declared
    non-numeric categories score by position 1..q; undeclared values must be
    numbers. ``ordered`` asks for an order (ordinal, weighted): undeclared
    values must sort. Lists and sets become frozensets (multi-label values).
    """
    import pandas as pd

    if not isinstance(ratings, pd.DataFrame):
        raise AgreementInputError(
            f"ratings must be a pandas DataFrame with columns item, annotator, value; got {type(ratings).__name__}"
        )
    missing = [c for c in ("item", "annotator", "value") if c not in ratings.columns]
    if missing:
        raise AgreementInputError(
            f"ratings lack column(s) {', '.join(missing)}; have {', '.join(map(str, ratings.columns))}"
        )
    if len(ratings) == 0:
        raise AgreementInputError("ratings are empty; give at least two judgements of one item")
    item_codes, items = _factorize(ratings["item"])
    annotator_codes, annotators = _factorize(ratings["annotator"])
    values = ratings["value"]
    try:
        value_codes, uniques = _factorize(values)
    except TypeError:
        value_codes, uniques = _factorize(values.map(as_hashable))
    for column, codes in (("item", item_codes), ("annotator", annotator_codes), ("value", value_codes)):
        empty = codes < 0  # pandas codes missing values (None, NaN, NaT) as -1
        if empty.any():
            row = ratings.iloc[int(np.argmax(empty))]
            raise AgreementInputError(
                f"{int(empty.sum())} judgement(s) have an empty {column} (first: item={as_label(row['item'])!r}, "
                f"annotator={as_label(row['annotator'])!r}); leave missing judgements out instead"
            )
    dup = _duplicated(item_codes * len(annotators) + annotator_codes, len(items) * len(annotators))
    if dup.any():
        row = ratings.iloc[int(np.argmax(dup))]
        raise AgreementInputError(
            f"annotator {as_label(row['annotator'])!r} judged item {as_label(row['item'])!r} more than once "
            f"({int(dup.sum())} duplicate row(s)); keep one judgement per item and annotator"
        )
    observed = [as_hashable(u) for u in np.asarray(uniques, dtype=object)]

    if categories is not None:
        declared = [as_hashable(c) for c in categories]
        if len(set(declared)) != len(declared):
            raise AgreementInputError(f"categories {list(categories)!r} repeat a value; list each once")
        position = {c: i for i, c in enumerate(declared)}
        unknown = [v for v in observed if v not in position]
        if unknown:
            raise AgreementInputError(
                f"value(s) {', '.join(repr(as_label(v)) for v in unknown[:5])} are not among the categories "
                f"{[as_label(c) for c in declared]!r}; fix the judgements or declare the category"
            )
        mapping = np.array([position[v] for v in observed], dtype=np.int64)
        cats = declared
        if numeric and not all(_is_number(c) for c in cats):
            scores = np.arange(1, len(cats) + 1, dtype=np.float64)
        elif numeric or all(_is_number(c) for c in cats):
            scores = np.array([float(c) for c in cats])
        else:
            scores = np.arange(len(cats), dtype=np.float64)
    else:
        if numeric:
            bad = [v for v in observed if not _is_number(v)]
            if bad:
                raise AgreementInputError(
                    f"value {as_label(bad[0])!r} is not a number; interval and ratio levels need numbers "
                    "(or pass categories=[...] to score labels by position)"
                )
        cats = _sorted_values(observed, need_order=ordered or numeric)
        position = {c: i for i, c in enumerate(cats)}
        mapping = np.array([position[v] for v in observed], dtype=np.int64)
        scores = (
            np.array([float(c) for c in cats])
            if all(_is_number(c) for c in cats)
            else np.arange(len(cats), dtype=np.float64)
        )
    return CodedRatings(
        item=item_codes,
        annotator=annotator_codes,
        value=mapping[value_codes],
        items=np.asarray(items, dtype=object),
        annotators=np.asarray(annotators, dtype=object),
        categories=tuple(cats),
        scores=scores,
    )
