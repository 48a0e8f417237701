"""The family registry: lookup by name, and each family checked against the kind of data."""

from __future__ import annotations

import pytest

from autodl import models
from autodl.errors import SpecError
from autodl.spec.sections import MODEL_SPECS
from tests.helpers import make_dataset

pytestmark = pytest.mark.usefixtures("fresh_keras")


def test_unknown_family_lists_the_valid_names() -> None:
    with pytest.raises(SpecError) as caught:
        models.get("nope")
    assert str(caught.value) == (
        "Unknown model family. Expected one of cnn, rnn, mlp, transfer, custom. Received: model.family='nope'"
    )


@pytest.mark.parametrize(
    ("family", "kind", "message"),
    [
        ("rnn", "image", "model.family rnn takes text or sequence data, but tiny is image data. "
                         "Received: model.family='rnn'"),
        ("rnn", "tabular", "model.family rnn takes text or sequence data, but tiny is tabular "
                           "data. Received: model.family='rnn'"),
        ("cnn", "tabular", "model.family cnn takes image, text or sequence data, but tiny is "
                           "tabular data. Received: model.family='cnn'"),
        ("mlp", "text", "model.family mlp takes tabular, image or sequence data, but tiny is "
                        "text data. Received: model.family='mlp'"),
    ],
    ids=["rnn-image", "rnn-tabular", "cnn-tabular", "mlp-text"],
)
def test_check_fits_rejects_the_wrong_kind_of_data(family: str, kind: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        models.check_fits(MODEL_SPECS[family](family=family), make_dataset(kind, "binary", n=4))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("family", "kind"),
    [("cnn", "image"), ("rnn", "text"), ("mlp", "tabular"), ("mlp", "image")],
)
def test_check_fits_accepts_the_right_kind_of_data(family: str, kind: str) -> None:
    assert models.check_fits(MODEL_SPECS[family](family=family), make_dataset(kind, "binary", n=4)) is None
