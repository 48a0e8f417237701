"""Splits fed to Keras through tf.data: streamed examples come out in batches, every one once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autodl.data import feed, load_dataset
from autodl.spec.sections import DataSpec
from tests.helpers import digits_folder


def test_streamed_splits_feed_keras_through_tf_data(tmp_path: Path) -> None:
    root = digits_folder(tmp_path / "digits", per_class=30)
    spec = DataSpec(source=str(root), color_mode="grayscale", stream=True)
    data = load_dataset(spec, tmp_path, seed=0)
    assert data.streamed and data.input_shape == (8, 8, 1)
    assert data.sizes() == {"train": 210, "train_dev": 30, "dev": 30, "test": 30}
    assert list(data.train.x) == sorted(data.train.x)
    batches = list(feed.fit_inputs(data.train, 64, seed=1)["x"].as_numpy_iterator())
    assert [len(b[1]) for b in batches] == [64, 64, 64, 18]
    assert batches[0][0].shape == (64, 8, 8, 1) and batches[0][0].dtype == np.float32
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == sorted(data.train.y)
    first = next(iter(feed.predict_inputs(data.splits["dev"], 8)["x"]))
    np.testing.assert_array_equal(first.numpy(), data.splits["dev"].examples(slice(0, 8)))
    np.testing.assert_array_equal(data.splits["dev"].examples(3), first.numpy()[3])
