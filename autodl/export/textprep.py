"""Turn raw sentences into the token ids a text model's numeric part takes, without TensorFlow.

ONNX Runtime and the TFLite interpreter cannot run Keras's ``TextVectorization`` (string ops), so
an export ships the layer's vocabulary and rules as ``text_vectorization.json`` and this file as
``preprocess_text.py``. It needs only Python and NumPy and gives the ids the layer gives:

    from preprocess_text import TextEncoder
    ids = TextEncoder.from_file("text_vectorization.json").encode(["What a great phone"])

It reproduces Keras's rules exactly: ASCII-only lower-casing (``tf.strings.lower``), the same
punctuation class, splitting on ASCII whitespace only, n-grams joined by a space, unknown tokens
to the OOV id, and truncating or zero-padding to ``output_sequence_length``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

STANDARDIZE = (None, "lower", "strip_punctuation", "lower_and_strip_punctuation")
SPLIT = (None, "whitespace", "character")
PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
ASCII_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def unsupported(config: dict[str, Any]) -> str | None:
    """Why a ``TextVectorization`` config cannot be reproduced here, or ``None`` when it can."""
    if config.get("output_mode", "int") != "int":
        return f"output_mode is {config.get('output_mode')!r}; only 'int' is supported"
    if config.get("standardize") not in STANDARDIZE:
        return f"standardize is {config.get('standardize')!r}, not one of {STANDARDIZE}"
    if config.get("split") not in SPLIT:
        return f"split is {config.get('split')!r}, not one of {SPLIT}"
    if not config.get("output_sequence_length"):
        return "output_sequence_length is not set, so the token sequences have no fixed length"
    return None


class TextEncoder:
    """Keras ``TextVectorization`` (output_mode ``int``) rebuilt from its config and vocabulary."""

    def __init__(self, config: dict[str, Any], vocabulary: Sequence[str]) -> None:
        problem = unsupported(config)
        if problem:
            raise ValueError(f"Cannot reproduce this TextVectorization: {problem}.")
        self.standardize: str | None = config.get("standardize")
        self.split: str | None = config.get("split")
        ngrams = config.get("ngrams")
        self.ngrams: tuple[int, ...] | None = (
            tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else
            tuple(ngrams) if ngrams else None
        )
        self.length = int(config["output_sequence_length"])
        self.vocabulary = list(vocabulary)
        self.oov_id = self.vocabulary.index("[UNK]") if "[UNK]" in self.vocabulary else 1
        self.ids = {token: i for i, token in enumerate(self.vocabulary)}

    @classmethod
    def from_file(cls, path: str | Path) -> TextEncoder:
        """The encoder saved as ``text_vectorization.json`` by an autodl export."""
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(record["config"], record["vocabulary"])

    def tokens(self, text: str) -> list[str]:
        """The tokens (n-grams included) of one text, before lookup."""
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.translate(ASCII_LOWER)
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = PUNCTUATION.sub("", text)
        if self.split == "whitespace":
            parts = [p for p in ASCII_WHITESPACE.split(text) if p]
        elif self.split == "character":
            parts = list(text)
        else:
            parts = [text]
        if self.ngrams is None:
            return parts
        return [
            " ".join(parts[i:i + width])
            for width in self.ngrams
            for i in range(len(parts) - width + 1)
        ]

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        """Token ids of shape ``(n, output_sequence_length)``, int64, zero-padded."""
        rows = [
            [self.ids.get(token, self.oov_id) for token in self.tokens(str(text))][: self.length]
            for text in texts
        ]
        out = np.zeros((len(rows), self.length), dtype="int64")
        for i, row in enumerate(rows):
            out[i, : len(row)] = row
        return out
