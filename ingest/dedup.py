"""Near-duplicate items: the same meme re-posted, re-compressed, resized or cropped; the same text retyped.

An item is a text, an image, or both (a meme with its caption, a chat turn with a sticker).
:func:`fingerprint` reduces each to an :class:`ItemFingerprint`; :func:`group_duplicates`
groups the items whose every part is a near-duplicate. Pure: no database; the only file read
is the image, through Pillow.

**Text.** The text key is ``normalize_text`` (NFC, invisible characters removed, one kind of
space; Han converted to Simplified), then NFKC and case folding (``𝐇𝐞𝐥𝐥𝐨`` and ``HELLO`` are
``hello``), keeping only letters, marks, numbers and emoji (category So): spaces,
punctuation, other symbols, variation selectors, skin-tone modifiers and ZWJ/ZWNJ go. So
whitespace, zero-width, case, punctuation and Traditional/Simplified changes give the same
key, and equal keys are duplicates. Emoji stay because they carry sentiment (``great 🙂`` is
not ``great 🙄``); a text of nothing but punctuation keeps it (``?!`` is not ``!!``).
Beyond equal keys, a MinHash signature (:data:`MINHASH_PERMUTATIONS` permutations of our own,
numpy, fixed seed :data:`MINHASH_SEED`) of the key's character :data:`SHINGLE_SIZE`-grams
estimates the Jaccard similarity of two keys; ``text_similarity`` (default
:data:`TEXT_SIMILARITY`) is the least estimate that makes a near-duplicate.

**Image.** Two 64-bit perceptual hashes (pHash, ``imagehash.phash``) of the first frame,
upright (EXIF orientation) and flattened onto white (a sticker's transparency): of the whole
image and of its centre (:data:`INNER_CROP` off every edge). Two images are near-duplicates
when the least Hamming distance between either hash of one and either hash of the other is
at most ``image_distance`` bits (default :data:`IMAGE_DISTANCE`). The inner hash is what
makes a copy with its borders cropped (or a border added) meet the original: pHash of the
whole image alone moves ~10 bits (up to 32) under a 5 % crop of every edge, as far as
between different images.

The defaults were chosen on a tuning set and checked on a held-out one (both built in
``tests/ingest/test_dedup.py``; its docstring has the numbers): a JPEG re-encode at quality 30,
a 0.5× resize, a 5 % crop of every edge or a 5 % border group with the original, different
images stay ≥ 12 bits apart; texts equal after normalisation group, a one-letter typo groups
in English and Tamil sentences, one-word swaps (loved → hated) in a sentence stay apart. What
is missed: a typo in a short Chinese text (12 characters lose a quarter of their trigrams to
one changed character; equal keys still match), a crop from one side only (10 % off the
bottom: 1 in 4). What is grouped though different: a swapped word in a long text (trigram
overlap measures shared text, not meaning), and image-only memes on one template with
different captions, whose pHashes are near-equal — give those their caption (OCR) as text,
and the whole-item rule below keeps them apart.

**The whole item.** Two items are near-duplicates only when they have the same parts and
every part is a near-duplicate: the same text with a different sticker (MSAIRS pairs them on
purpose) is a different item, so is the same sticker under a different text, and a text with
an image never groups with a text alone. Groups are the connected components of that relation
(union-find): A ≈ B and B ≈ C put A, B and C in one group.

**Cost.** Equal text keys merge first; distinct keys meet through an LSH banding index of
their signatures (bands chosen so that a pair exactly at the threshold is a candidate with
probability ≥ 0.999), so texts are grouped without comparing all pairs. Images are compared
within a group of near-equal texts (or, for image-only items, among all of them) through a
pigeonhole index: hashes at most d bits apart agree on at least one of d + 1 disjoint bit
chunks, and only hashes sharing a chunk are compared (vectorised).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import unicodedata
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from backend.domain import ValidationError
from backend.language import HanTarget, TextInputError, normalize_text

if TYPE_CHECKING:
    from PIL import Image

SHINGLE_SIZE = 3
"""Code points per shingle of a text key (a shorter key is one shingle)."""
MINHASH_PERMUTATIONS = 128
MINHASH_SEED = 20240611
INNER_CROP = 0.05
"""Share of the width (height) cut off the left and right (top and bottom) edges for the inner hash."""
TEXT_SIMILARITY = 0.8
"""Default least estimated Jaccard similarity of two text keys' shingle sets for a near-duplicate."""
IMAGE_DISTANCE = 10
"""Default greatest Hamming distance, in bits of 64, between two images' nearest pHashes for a near-duplicate."""

FINGERPRINT_METHOD = (f"text: nfkc-casefold-hans key, minhash {MINHASH_PERMUTATIONS}x{SHINGLE_SIZE}-grams "
                      f"seed {MINHASH_SEED}; image: phash64 whole + inner {1 - 2 * INNER_CROP:.0%}")
"""What produced a fingerprint; :func:`group_duplicates` refuses fingerprints of another method."""

_PRIME = (1 << 31) - 1  # hash values and a, b stay below it, so a·x + b < 2^63 fits in uint64
_VARIATION_SELECTORS = frozenset(chr(c) for c in (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)))
_ROW_BLOCK = 512  # rows compared at once inside one bucket (bounds memory on a huge bucket)

ItemKey = Hashable
ImageInput = Union[str, "os.PathLike[str]", bytes, "Image.Image"]


class ImageInputError(ValidationError):
    """An image that cannot be read (missing, corrupt, truncated, not an image)."""


@dataclass(frozen=True)
class ItemFingerprint:
    """What :func:`group_duplicates` compares of one item. ``text_key`` and ``minhash``
    (:data:`MINHASH_PERMUTATIONS` values below 2^31 − 1) are ``None`` for an item without text;
    ``image_phash`` (whole image) and ``image_phash_inner`` (its centre), 16 hex digits each,
    are ``None`` for an item without an image."""

    key: ItemKey
    text_key: str | None
    minhash: tuple[int, ...] | None
    image_phash: str | None
    image_phash_inner: str | None = None
    method: str = FINGERPRINT_METHOD


@dataclass(frozen=True)
class DuplicateGroup:
    """Two or more near-duplicate items, in input order; the ``representative`` is ``members[0]``."""

    representative: ItemKey
    members: tuple[ItemKey, ...]


def fingerprint(key: ItemKey, text: str | None = None, image: ImageInput | None = None) -> ItemFingerprint:
    """The fingerprint of item ``key`` from its text (a str), its image (a path, the file's bytes
    or a Pillow image), or both. A :class:`~backend.domain.ValidationError` naming the item for
    an item with neither, a text with nothing visible or invalid Unicode, and an image Pillow
    cannot read (:class:`ImageInputError`).

    >>> fp = fingerprint("post-1", text="Nice  one!!")
    >>> fp.text_key, len(fp.minhash), fp.image_phash
    ('niceone', 128, None)
    """
    if text is None and image is None:
        raise ValidationError(f"item {key!r} has neither text nor image; give it at least one")
    key_text = signature = phash = inner = None
    if text is not None:
        try:
            key_text = text_key(text)
        except TextInputError as exc:
            raise TextInputError(f"text of item {key!r}: {exc}") from exc
        if not key_text:
            raise ValidationError(f"text of item {key!r} is empty after normalisation ({text[:40]!r}); "
                                  "pass text=None for an item without text")
        signature = minhash(key_text)
    if image is not None:
        phash, inner = image_phashes(image, key=key)
    return ItemFingerprint(key, key_text, signature, phash, inner)


def text_key(text: str) -> str:
    """The comparison form of ``text`` (rules in the module docstring); "" when nothing visible is left.

    >>> text_key("  Hello,\\u200b   WORLD!! ")
    'helloworld'
    >>> text_key("這是 測試。") == text_key("这是测试")
    True
    """
    normalized = normalize_text(text, han_target=HanTarget.SIMPLIFIED)
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", normalized).casefold())
    kept = "".join(char for char in folded if _kept_in_key(char))
    if kept:
        return kept
    return "".join(char for char in folded if not char.isspace() and char not in _VARIATION_SELECTORS
                   and unicodedata.category(char) != "Cf")


def _kept_in_key(char: str) -> bool:
    category = unicodedata.category(char)
    return (category[0] in "LMN" or category == "So") and char not in _VARIATION_SELECTORS


def minhash(key_text: str) -> tuple[int, ...]:
    """The MinHash signature of the :data:`SHINGLE_SIZE`-grams of ``key_text``: for each of
    :data:`MINHASH_PERMUTATIONS` pairs ``a``, ``b`` drawn from :data:`MINHASH_SEED`, the least
    ``(a·h + b) mod (2^31 − 1)`` over the shingles' BLAKE2b hashes ``h``. The share of positions
    where two signatures agree estimates the Jaccard similarity of the two shingle sets."""
    if len(key_text) <= SHINGLE_SIZE:
        shingles = {key_text}
    else:
        shingles = {key_text[i:i + SHINGLE_SIZE] for i in range(len(key_text) - SHINGLE_SIZE + 1)}
    hashes = np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little") % _PRIME
         for s in shingles),
        dtype=np.uint64, count=len(shingles),
    )
    a, b = _permutations()
    values = (hashes[:, None] * a[None, :] + b[None, :]) % np.uint64(_PRIME)
    return tuple(int(v) for v in values.min(axis=0))


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.Generator(np.random.PCG64(MINHASH_SEED))
    a = rng.integers(1, _PRIME, size=MINHASH_PERMUTATIONS, dtype=np.uint64)
    b = rng.integers(0, _PRIME, size=MINHASH_PERMUTATIONS, dtype=np.uint64)
    return a, b


def image_phashes(image: ImageInput, *, key: ItemKey = None) -> tuple[str, str]:
    """The pHashes (16 hex digits each) of ``image`` — a path, the file's bytes or a Pillow image —
    whole and without :data:`INNER_CROP` of every edge, of its first frame, EXIF-upright,
    transparency flattened onto white. :class:`ImageInputError` naming the item ``key`` and the
    file when Pillow cannot read it."""
    try:
        import imagehash
        from PIL import Image
    except ImportError as exc:
        raise ImportError(f"image fingerprints need Pillow and ImageHash ({exc}); "
                          "install them with: pip install 'ImageHash>=4.3' 'pillow>=10'") from exc

    if isinstance(image, Image.Image):
        source, label = None, f"a {image.mode} Pillow image"
    elif isinstance(image, (bytes, bytearray)):
        source, label = io.BytesIO(bytes(image)), f"{len(image)} bytes"
    elif isinstance(image, (str, os.PathLike)):
        source, label = Path(image), os.fspath(image)
    else:
        raise ImageInputError(f"image of item {key!r} must be a path, bytes or a Pillow image, "
                              f"not {type(image).__name__}")
    try:
        if source is None:
            picture = _upright_on_white(image)
        else:
            with Image.open(source) as opened:
                picture = _upright_on_white(opened)
        width, height = picture.size
        dx, dy = round(width * INNER_CROP), round(height * INNER_CROP)
        inner = picture.crop((dx, dy, width - dx, height - dy)) if width > 2 * dx and height > 2 * dy else picture
        return str(imagehash.phash(picture)), str(imagehash.phash(inner))
    except (OSError, EOFError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError) as exc:
        raise ImageInputError(
            f"image of item {key!r} ({label}) cannot be read: {exc}; replace the file or leave the image out"
        ) from exc


def _upright_on_white(picture: Image.Image) -> Image.Image:
    """The first frame of ``picture``, loaded, EXIF-upright, any transparency composited onto white."""
    from PIL import Image, ImageOps

    picture.load()
    upright = ImageOps.exif_transpose(picture)
    if upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in upright.info:
        rgba = upright.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return upright


def group_duplicates(
    fingerprints: Iterable[ItemFingerprint], *, image_distance: int = IMAGE_DISTANCE,
    text_similarity: float = TEXT_SIMILARITY,
) -> list[DuplicateGroup]:
    """The groups of near-duplicate items among ``fingerprints`` (rules in the module docstring).

    Only groups of two or more are returned: an item in no group has no near-duplicate. Members
    keep the input order and the first is the representative; groups are ordered by their
    representative's position. Which items group together does not depend on the input order
    (shuffled input gives the same member sets); the representatives and orders do.

    ``image_distance``: whole bits, 0–32; ``text_similarity``: in (0, 1]. Keys must be unique
    and every fingerprint made with this module's :data:`FINGERPRINT_METHOD`.
    """
    items = list(fingerprints)
    _validate(items, image_distance, text_similarity)
    links = _UnionFind(len(items))
    shapes: dict[tuple[bool, bool], list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        shapes[(item.text_key is not None, item.image_phash is not None)].append(index)

    for (has_text, has_image), indices in shapes.items():
        blocks = _text_blocks(items, indices, text_similarity) if has_text else [indices]
        for block in blocks:
            if not has_image:
                for other in block[1:]:
                    links.union(block[0], other)
                continue
            for i, j in _near_images([items[index] for index in block], image_distance):
                a, b = block[i], block[j]
                if not has_text or text_jaccard(items[a], items[b]) >= text_similarity:
                    links.union(a, b)

    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(items)):
        members[links.find(index)].append(index)
    groups = sorted((group for group in members.values() if len(group) > 1), key=lambda group: group[0])
    return [DuplicateGroup(items[group[0]].key, tuple(items[index].key for index in group)) for group in groups]


def _validate(items: Sequence[ItemFingerprint], image_distance: int, text_similarity: float) -> None:
    if isinstance(image_distance, bool) or not isinstance(image_distance, int) or not 0 <= image_distance <= 32:
        raise ValidationError(f"image_distance must be a whole number of bits from 0 to 32, not {image_distance!r}")
    if isinstance(text_similarity, bool) or not isinstance(text_similarity, (int, float)) \
            or not 0 < text_similarity <= 1:
        raise ValidationError(f"text_similarity must be a number in (0, 1], not {text_similarity!r}")
    seen: set[ItemKey] = set()
    for item in items:
        if not isinstance(item, ItemFingerprint):
            raise ValidationError(f"group_duplicates takes ItemFingerprint values, not {type(item).__name__}")
        if item.method != FINGERPRINT_METHOD:
            raise ValidationError(f"fingerprint of item {item.key!r} was made by {item.method!r}, not "
                                  f"{FINGERPRINT_METHOD!r}; fingerprint the item again")
        if item.key in seen:
            raise ValidationError(f"item key {item.key!r} appears twice; keys must be unique")
        seen.add(item.key)
        if item.text_key is None and item.image_phash is None:
            raise ValidationError(f"fingerprint of item {item.key!r} has neither text nor image")
        if (item.text_key is None) != (item.minhash is None) or (
                item.minhash is not None and len(item.minhash) != MINHASH_PERMUTATIONS):
            raise ValidationError(f"fingerprint of item {item.key!r} needs both a text key and a MinHash signature "
                                  f"of {MINHASH_PERMUTATIONS} values, or neither")
        if (item.image_phash is None) != (item.image_phash_inner is None) or any(
                phash is not None and not _is_phash(phash) for phash in (item.image_phash, item.image_phash_inner)):
            raise ValidationError(f"fingerprint of item {item.key!r} needs both image pHashes as 16 hex digits, or "
                                  f"neither, not {item.image_phash!r} and {item.image_phash_inner!r}")


def _is_phash(text: str) -> bool:
    return len(text) == 16 and all(char in "0123456789abcdefABCDEF" for char in text)


def _text_blocks(items: Sequence[ItemFingerprint], indices: Sequence[int], threshold: float) -> list[list[int]]:
    """``indices`` split into the connected components of "text keys equal, or estimated similar
    ≥ ``threshold``", each in input order; distinct keys are compared only within LSH buckets."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for index in indices:
        by_key[items[index].text_key].append(index)
    keys = list(by_key)
    signatures = np.array([items[by_key[k][0]].minhash for k in keys], dtype=np.uint32).reshape(len(keys), -1)
    key_links = _UnionFind(len(keys))
    for left, right in _similar_signatures(signatures, threshold):
        key_links.union(left, right)
    blocks: dict[int, list[int]] = defaultdict(list)
    for position, key in enumerate(keys):
        blocks[key_links.find(position)].extend(by_key[key])
    return [sorted(block) for block in blocks.values()]


def lsh_bands(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) for ``threshold``: the most rows (fewest chance candidates) for which
    two signatures of Jaccard similarity ``threshold`` share a band with probability ≥ 0.999.

    >>> lsh_bands(0.8), lsh_bands(0.5)
    ((32, 4), (64, 2))
    """
    best = (MINHASH_PERMUTATIONS, 1)
    for rows in (2, 4, 8, 16, 32):
        bands = MINHASH_PERMUTATIONS // rows
        if 1 - (1 - threshold**rows) ** bands >= 0.999:
            best = (bands, rows)
    return best


def _similar_signatures(signatures: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    """Row pairs (i < j) of ``signatures`` (n × MINHASH_PERMUTATIONS) agreeing in at least
    ``threshold`` of their positions, among the rows that share an LSH band."""
    n_bands, rows = lsh_bands(threshold)
    needed = threshold * MINHASH_PERMUTATIONS  # exact: a power-of-two multiple, as text_jaccard divides
    pairs: set[tuple[int, int]] = set()
    for band in range(n_bands):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        chunk = np.ascontiguousarray(signatures[:, band * rows:(band + 1) * rows])
        for row in range(len(signatures)):
            buckets[chunk[row].tobytes()].append(row)
        for bucket in buckets.values():
            if len(bucket) > 1:
                members = np.array(bucket)
                for offset in range(0, len(members), _ROW_BLOCK):
                    block = members[offset:offset + _ROW_BLOCK]
                    agree = (signatures[block][:, None, :] == signatures[members][None, :, :]).sum(axis=2)
                    for r, c in zip(*np.nonzero(agree >= needed)):
                        if block[r] < members[c]:
                            pairs.add((int(block[r]), int(members[c])))
    return pairs


def text_jaccard(a: ItemFingerprint, b: ItemFingerprint) -> float:
    """The estimated Jaccard similarity of two items' text shingles (share of equal MinHash
    positions): 1.0 for equal text keys; a ValidationError when either item has no text."""
    if a.minhash is None or b.minhash is None:
        raise ValidationError(f"items {a.key!r} and {b.key!r} need a text each to compare texts")
    if a.text_key == b.text_key:
        return 1.0
    return sum(x == y for x, y in zip(a.minhash, b.minhash)) / MINHASH_PERMUTATIONS


def image_hamming(a: ItemFingerprint, b: ItemFingerprint) -> int:
    """Bits between two items' images: the least Hamming distance between either pHash (whole,
    inner) of one and either of the other; a ValidationError when either item has no image."""
    if a.image_phash is None or b.image_phash is None:
        raise ValidationError(f"items {a.key!r} and {b.key!r} need an image each to compare images")
    return min(
        (int(x, 16) ^ int(y, 16)).bit_count()
        for x in (a.image_phash, a.image_phash_inner) for y in (b.image_phash, b.image_phash_inner)
    )


def _near_images(block: Sequence[ItemFingerprint], distance: int) -> set[tuple[int, int]]:
    """Position pairs (i < j) in ``block`` whose images are near-duplicates: some hash of one
    within ``distance`` bits of some hash of the other (whole or inner, four combinations)."""
    if len(block) < 2:
        return set()
    hashes = np.array([int(h, 16) for item in block for h in (item.image_phash, item.image_phash_inner)],
                      dtype=np.uint64)
    pairs: set[tuple[int, int]] = set()
    for i, j in _close_hashes(hashes, distance):
        owner_i, owner_j = i // 2, j // 2
        if owner_i != owner_j:
            pairs.add((min(owner_i, owner_j), max(owner_i, owner_j)))
    return pairs


def _close_hashes(hashes: np.ndarray, distance: int) -> set[tuple[int, int]]:
    """Index pairs (i < j) of 64-bit ``hashes`` at most ``distance`` bits apart. Two such hashes agree
    on at least one of ``distance + 1`` disjoint bit chunks (pigeonhole), so only hashes sharing a
    chunk value are compared."""
    pairs: set[tuple[int, int]] = set()
    n_chunks = distance + 1
    edges = [round(64 * c / n_chunks) for c in range(n_chunks + 1)]
    for low, high in zip(edges, edges[1:]):
        values = hashes & np.uint64(((1 << (high - low)) - 1) << low)
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        for start, end in zip(starts, np.r_[starts[1:], len(order)]):
            if end - start < 2:
                continue
            bucket = order[start:end]
            for offset in range(0, len(bucket), _ROW_BLOCK):
                rows = bucket[offset:offset + _ROW_BLOCK]
                near = np.bitwise_count(hashes[rows][:, None] ^ hashes[bucket][None, :]) <= distance
                for r, c in zip(*np.nonzero(near)):
                    if rows[r] < bucket[c]:
                        pairs.add((int(rows[r]), int(bucket[c])))
    return pairs


class _UnionFind:
    """Disjoint sets over 0..size-1; the root of a set is its smallest member."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, node: int) -> int:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)
