"""Pretrained word vectors: reading GloVe and fastText text files, the lookup of a vocabulary, the
errors, and when the embedding settings apply (no training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autodl import models
from autodl.errors import SpecError
from autodl.models.embeddings import open_vectors, read_vectors
from autodl.search.sampling import preview
from autodl.spec.document import load_spec
from autodl.spec.sections import RnnSpec
from tests.helpers import family_cfg, make_dataset, minimal_spec, write_lines


def test_glove_lines_are_read_with_their_width(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "glove.txt", "good 1 2 3", "bad -1 -2 -3", "good 9 9 9", "new york 4 5 6")
    index, vectors = read_vectors(path, "glove.txt")
    assert index == {"good": 0, "bad": 1, "new york": 2}
    np.testing.assert_array_equal(vectors, [[1, 2, 3], [-1, -2, -3], [4, 5, 6]])


def test_a_fasttext_header_is_skipped(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "wiki.vec", "2 2", "good 0.5 0.25", "bad -0.5 -0.25")
    index, vectors = read_vectors(path, "wiki.vec")
    assert list(index) == ["good", "bad"] and vectors.shape == (2, 2)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (("good 1 2 3", "bad 1 2"), "model.embeddings: line 2 of v.txt has 2 values, but the vectors have 3. "
                                    "Received: model.embeddings='v.txt'"),
        (("good 1 2", "bad one 2"), "model.embeddings: line 2 of v.txt is not 'word v1 ... v2' (numbers "
                                    "after the word). Received: model.embeddings='v.txt'"),
        (("",), "model.embeddings: v.txt holds no word vectors (expected lines of 'word v1 ... vd'). "
                "Received: model.embeddings='v.txt'"),
    ],
    ids=["short line", "not a number", "empty"],
)
def test_a_malformed_file_names_the_line(tmp_path: Path, lines: tuple[str, ...], message: str) -> None:
    write_lines(tmp_path / "v.txt", *lines)
    with pytest.raises(SpecError) as caught:
        open_vectors("v.txt", tmp_path)
    assert str(caught.value) == message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"^model.embeddings: no word-vector file at .*glove.txt; .*"
                                        r"Received: model.embeddings='glove.txt'$"):
        open_vectors("glove.txt", tmp_path)


def test_the_vocabulary_is_looked_up_and_the_rest_is_small_and_random(tmp_path: Path) -> None:
    vectors = open_vectors(str(write_lines(tmp_path / "v.txt", "good 1 2", "bad -1 -2")), tmp_path)
    matrix = vectors.matrix(["", "[UNK]", "good", "plot", "bad"], seed=0)
    assert vectors.dim == 2 and matrix.shape == (5, 2) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[[0, 2, 4]], [[0, 0], [1, 2], [-1, -2]])
    assert 0 < np.abs(matrix[[1, 3]]).max() < 1.0
    assert vectors.coverage == pytest.approx(2 / 3)


def test_the_embedding_starts_from_the_vectors_and_the_coverage_is_kept(tmp_path: Path) -> None:
    write_lines(tmp_path / "v.txt", "good 1 2 3", "movie 4 5 6")
    section = RnnSpec(family="rnn", embeddings="v.txt")
    resources = models.resources_for(section, tmp_path)
    data = make_dataset("text", "binary")
    cfg = family_cfg("rnn", embeddings_trainable=False)
    built = models.build_builtin(cfg, data, None, **resources)
    layer = built.model.get_layer("pretrained_embedding")
    assert layer.output_dim == 3 and not layer.trainable
    vocabulary = next(x for x in built.model.layers if type(x).__name__ == "TextVectorization").get_vocabulary()
    table = layer.get_weights()[0]
    np.testing.assert_array_equal(table[vocabulary.index("good")], [1, 2, 3])
    np.testing.assert_array_equal(table[vocabulary.index("movie")], [4, 5, 6])
    assert 0 < built.facts["embeddings_coverage"] < 1


def test_embeddings_take_text_only() -> None:
    with pytest.raises(SpecError) as caught:
        models.check_fits(RnnSpec(family="rnn", embeddings="v.txt"), make_dataset("sequence", "binary"))
    assert str(caught.value) == (
        "model.embeddings: word vectors initialize the Embedding of text, but tiny is sequence data; "
        "remove model.embeddings. Received: model.embeddings='v.txt'"
    )


@pytest.mark.parametrize("family", ["rnn", "cnn"])
def test_the_width_applies_to_learned_embeddings_and_trainable_to_pretrained(
    family: str, write_spec: object, tmp_path: Path,
) -> None:
    model = {"family": family, "embedding_dim": {"choice": [8, 16]}, "embeddings_trainable": {"bool": True}}
    learned = load_spec(write_spec(minimal_spec(model=model, data={"source": "reviews.csv", "text": "review"})))
    pretrained = load_spec(write_spec(minimal_spec(
        model={**model, "embeddings": "v.txt"}, data={"source": "reviews.csv", "text": "review"}), "p.yaml"))
    learned_names = {name for sample in preview(learned, 4) for name in sample.params}
    pretrained_names = {name for sample in preview(pretrained, 4) for name in sample.params}
    assert "model.embedding_dim" in learned_names and "model.embeddings_trainable" not in learned_names
    assert "model.embeddings_trainable" in pretrained_names and "model.embedding_dim" not in pretrained_names


def test_the_vectors_file_is_read_once_per_search_whatever_the_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autodl.models import embeddings

    write_lines(tmp_path / "v.txt", "good 1 2", "bad -1 -2")
    reads: list[Path] = []
    real = embeddings.read_vectors

    def counted(path: Path, shown: str):  # type: ignore[no-untyped-def]
        reads.append(path)
        return real(path, shown)

    monkeypatch.setattr(embeddings, "read_vectors", counted)
    given: list[object] = []
    monkeypatch.setattr(models, "build_builtin", lambda cfg, data, suggest, **resources: given.append(
        resources["vectors"]))
    build = models.builder(RnnSpec(family="rnn", embeddings="v.txt"), tmp_path)
    for _ in range(3):
        build({"family": "rnn"}, None, None)  # type: ignore[arg-type]
    assert reads == [tmp_path / "v.txt"]
    assert len(given) == 3 and given[0] is given[1] is given[2]
