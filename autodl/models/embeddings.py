"""Pretrained word vectors (GloVe or fastText text files) for the Embedding of a text model.

The file is read once per search, before the first trial; each trial's vocabulary (the
TextVectorization adapted on train) is then looked up in it. Words not in the file get small
random vectors; the padding index stays zero.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autodl.errors import SpecError
from autodl.runtime.log import logger

RESERVED = ("", "[UNK]")
"""TextVectorization's padding and out-of-vocabulary entries: never looked up in the file."""
OOV_SCALE = 0.1
"""Random vectors of words not in the file: this share of the file's vectors' spread."""


class WordVectors:
    """The vectors of one file; ``coverage`` is the share of the last vocabulary looked up that
    the file holds."""

    def __init__(self, path: Path, index: dict[str, int], vectors: np.ndarray) -> None:
        self.path, self.index, self.vectors = path, index, vectors
        self._told: set[int] = set()
        self.coverage: float | None = None

    @property
    def dim(self) -> int:
        """The vectors' width (the Embedding's ``output_dim``)."""
        return int(self.vectors.shape[1])

    def matrix(self, vocabulary: list[str], seed: int) -> np.ndarray:
        """One row per vocabulary entry (index 0 is padding, zeros): the file's vector of the word,
        else a small random one (as for ``[UNK]``)."""
        index, vectors = self.index, self.vectors
        rng = np.random.default_rng(seed)
        spread = float(vectors.std()) or 1.0
        rows = rng.normal(0.0, OOV_SCALE * spread, (len(vocabulary), vectors.shape[1])).astype("float32")
        words = [(i, index.get(word)) for i, word in enumerate(vocabulary) if word not in RESERVED]
        found = [(i, row) for i, row in words if row is not None]
        for i, row in found:
            rows[i] = vectors[row]
        rows[0] = 0.0
        self.coverage = len(found) / max(1, len(words))
        if len(vocabulary) not in self._told:
            self._told.add(len(vocabulary))
            logger.info("Pretrained word vectors: %d of %d vocabulary words (%.1f%%) found in %s",
                        len(found), len(words), 100 * self.coverage, self.path.name)
        return rows


def read_vectors(path: Path, spec_value: str) -> tuple[dict[str, int], np.ndarray]:
    """A GloVe or fastText text file as (word -> row, matrix): ``word v1 ... vd`` per line, with
    or without fastText's ``count dim`` header. The first vector of a word repeated is kept."""
    index: dict[str, int] = {}
    rows: list[np.ndarray] = []
    dim: int | None = None
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                parts = line.rstrip("\n\r ").split(" ")
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    dim = int(parts[1])
                    continue
                if len(parts) < 2 or not parts[0]:
                    continue
                if dim is None:
                    dim = len(parts) - 1
                if len(parts) < dim + 1:
                    raise SpecError(f"model.embeddings: line {number} of {path.name} has "
                                    f"{len(parts) - 1} values, but the vectors have {dim}. "
                                    f"Received: model.embeddings={spec_value!r}")
                word = " ".join(parts[:-dim])
                if word in index:
                    continue
                try:
                    rows.append(np.asarray(parts[-dim:], dtype="float32"))
                except ValueError:
                    raise SpecError(f"model.embeddings: line {number} of {path.name} is not "
                                    f"'word v1 ... v{dim}' (numbers after the word). "
                                    f"Received: model.embeddings={spec_value!r}") from None
                index[word] = len(rows) - 1
    except OSError as error:
        raise SpecError(f"model.embeddings: cannot read {path}: {error.strerror or error}. "
                        f"Received: model.embeddings={spec_value!r}") from None
    if not rows:
        raise SpecError(f"model.embeddings: {path.name} holds no word vectors (expected lines of "
                        f"'word v1 ... vd'). Received: model.embeddings={spec_value!r}")
    return index, np.stack(rows)


def open_vectors(spec_value: str, base_dir: Path) -> WordVectors:
    """The vectors ``model.embeddings`` names, relative to the spec's folder, read now: a missing
    or malformed file is an error before any training."""
    path = Path(spec_value)
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise SpecError(f"model.embeddings: no word-vector file at {path}; give a GloVe or fastText "
                        f"text file (word v1 ... vd per line) relative to the spec file. "
                        f"Received: model.embeddings={spec_value!r}")
    return WordVectors(path, *read_vectors(path, spec_value))
