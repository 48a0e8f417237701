"""Text preprocessing without TensorFlow: the same token ids as TextVectorization, and only the
standard library and NumPy in the shipped preprocessor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autodl.export import textprep
from autodl.runtime.backend import load_keras
from tests.helpers import load_sentences

keras = load_keras()


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"ngrams": 2},
        {"standardize": "lower", "split": "whitespace", "ngrams": (1, 3)},
        {"standardize": None, "split": "character"},
        {"standardize": "strip_punctuation"},
    ],
)
def test_text_encoder_gives_the_ids_textvectorization_gives(settings: dict[str, Any]) -> None:
    texts, _ = load_sentences()
    tricky = ["ÉCOLE Straße ÀB", "tab\there\x0bvtab\x0cff", "nbsp\xa0inside", "  lead and trail  ",
              "", "!!!", "A" * 3 + " b" * 80, "unknownword zzzq"]
    sample = list(texts) + tricky
    layer = keras.layers.TextVectorization(max_tokens=400, output_sequence_length=20, **settings)
    layer.adapt(texts[:1500])
    expected = np.asarray(layer(np.array(sample, dtype=object)))
    encoder = textprep.TextEncoder(layer.get_config(), layer.get_vocabulary())
    got = encoder.encode(sample)
    assert got.dtype == np.int64 and got.shape == (len(sample), 20)
    assert np.array_equal(got, expected)


def test_text_encoder_refuses_what_it_cannot_reproduce() -> None:
    assert textprep.unsupported({"output_mode": "int", "standardize": None, "split": None,
                                 "output_sequence_length": 4}) is None
    assert "only 'int'" in textprep.unsupported({"output_mode": "tf_idf"})
    assert "no fixed length" in textprep.unsupported({"output_mode": "int", "standardize": None,
                                                      "split": None})
    with pytest.raises(ValueError, match="standardize is 'my_module.clean'"):
        textprep.TextEncoder({"standardize": "my_module.clean", "split": None,
                              "output_sequence_length": 4}, ["", "[UNK]"])


def test_shipped_preprocessor_needs_only_the_standard_library_and_numpy() -> None:
    source = Path(textprep.__file__).read_text()
    imports = {line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"__future__", "json", "re", "collections.abc", "pathlib", "typing", "numpy"}
