"""Simplified ↔ Traditional Chinese with OpenCC (``s2t``/``t2s``), one converter per direction.

OpenCC converts phrase by phrase, so a character can turn out differently in context than alone.
The converters are built on first use and cached; building one reads OpenCC's bundled
dictionaries, nothing else. A lone surrogate (invalid Unicode, which OpenCC cannot encode) is
refused with ``TextInputError``, as ``normalize_text`` refuses it.
"""

from __future__ import annotations

import functools

import opencc


@functools.cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def _convert(config: str, text: str) -> str:
    try:
        return _converter(config).convert(text) if text else text
    except UnicodeEncodeError:
        from backend.language.normalize import require_unicode  # here, not above: normalize imports this module

        require_unicode(text)  # raises TextInputError naming the surrogate
        raise


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (OpenCC ``t2s``); other characters unchanged.

    >>> to_simplified("這部電影很好看")
    '这部电影很好看'
    """
    return _convert("t2s", text)


def to_traditional(text: str) -> str:
    """Simplified → Traditional Chinese (OpenCC ``s2t``); other characters unchanged.

    >>> to_traditional("这部电影很好看")
    '這部電影很好看'
    """
    return _convert("s2t", text)
