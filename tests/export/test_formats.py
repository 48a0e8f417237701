"""The format registry, and each format saved, loaded back and matched against Keras on real
samples (digits for a CNN, review sentences for an RNN over TextVectorization)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest

from autodl.data.dataset import Dataset, Split
from autodl.export import bundle, formats, textprep
from autodl.runtime.backend import load_keras
from autodl.spec.sections import ExportFormat
from tests.helpers import family_cfg, load_digit_images, load_sentences

keras = load_keras()


def test_registry_has_exactly_the_formats_the_spec_accepts() -> None:
    assert list(formats.FORMATS.names) == list(get_args(ExportFormat)) == ["keras", "saved_model", "tflite", "onnx"]


def test_unknown_format_lists_the_valid_ones() -> None:
    with pytest.raises(formats.ExportError) as caught:
        formats.get("tflight")
    assert str(caught.value) == (
        "Unknown export format. Expected one of keras, saved_model, tflite, onnx (or all). "
        "Did you mean 'tflite'? Received: format='tflight'"
    )


def test_parse_expands_all_splits_commas_and_drops_repeats() -> None:
    assert formats.parse(["onnx,keras", "keras", " tflite "]) == ["onnx", "keras", "tflite"]
    assert formats.parse(["keras", "all"]) == ["keras", "saved_model", "tflite", "onnx"]
    assert formats.parse([]) == []
    with pytest.raises(formats.ExportError, match="Received: format='pb'"):
        formats.parse(["keras,pb"])


def image_model() -> tuple[Any, np.ndarray]:
    """A small digits CNN (normalization adapted inside), fit one epoch, and real digits."""
    keras.utils.set_random_seed(0)
    x, y = load_digit_images()
    inputs = keras.Input((8, 8, 1), name="inputs")
    norm = keras.layers.Normalization(axis=None)
    norm.adapt(x[:1000])
    h = keras.layers.Conv2D(8, 3, activation="relu")(norm(inputs))
    h = keras.layers.MaxPooling2D()(h)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(h))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[:1000], y[:1000], epochs=1, verbose=0)
    return model, x[1000:1200]


def text_model() -> tuple[Any, np.ndarray]:
    """A bidirectional LSTM over TextVectorization built by autodl's rnn family, and real
    sentences."""
    from autodl.models import rnn

    keras.utils.set_random_seed(0)
    texts, labels = load_sentences()
    split = Split(texts[:2000], labels[:2000])
    data = Dataset("sentences", "text", "binary", {"train": split, "train_dev": split,
                                                    "dev": split, "test": split}, ("0", "1"))
    cfg = family_cfg("rnn", vocab_size=500, sequence_length=16, embedding_dim=8, units=4,
                     bidirectional=True, dense_units=0)
    model = rnn.build(cfg, data)
    return model, texts[2000:2100]


@pytest.mark.parametrize("make", [image_model, text_model], ids=["image", "text"])
def test_every_format_loads_back_and_matches_keras(make: Any, tmp_path: Path) -> None:
    model, sample = make()
    prepared = formats.prepare(model)
    results = bundle.save_formats(prepared, list(formats.FORMATS.names), tmp_path, sample)
    reference = model.predict(sample, verbose=0)
    assert set(results) == set(formats.FORMATS.names)
    for name, info in results.items():
        assert info["max_abs_diff"] < 1e-4, name
        assert info["bytes"] > 0 and info["latency_ms"] > 0
    encode = None
    if prepared.vectorizer is not None:
        assert [info["raw_text"] for info in results.values()] == [True, True, False, False]
        encode = textprep.TextEncoder(prepared.vectorizer["config"], prepared.vectorizer["vocabulary"]).encode
    for name in formats.FORMATS.names:
        outputs = formats.loader(name, tmp_path, encode)(sample)
        assert outputs.shape == reference.shape
        np.testing.assert_allclose(outputs, reference, atol=1e-4, err_msg=name)


def test_text_model_splits_at_its_vectorization() -> None:
    model, sample = text_model()
    prepared = formats.prepare(model)
    assert prepared.numeric.inputs[0].dtype == "int64"
    assert prepared.numeric.inputs[0].shape == (None, 16)
    assert prepared.vectorizer["vocabulary"][:2] == ["", "[UNK]"]
    assert prepared.vectorizer["config"]["output_sequence_length"] == 16
    image, _ = image_model()
    assert formats.prepare(image).numeric is image and formats.prepare(image).vectorizer is None


def test_loader_says_which_format_is_missing(tmp_path: Path) -> None:
    with pytest.raises(formats.ExportError, match=f"{tmp_path} has no onnx model \\(model.onnx is missing\\)"):
        formats.loader("onnx", tmp_path, None)
