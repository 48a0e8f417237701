"""A KerasTuner-style hypermodel, used unchanged by search_spaces/digits_custom.yaml.

It tunes the network in ``build`` and the training in ``fit``, as KerasTuner's guide does; the
dropout rate is a conditional parameter, searched (and logged) only in trials that use dropout.
"""

import keras
import keras_tuner


class DigitsHyperModel(keras_tuner.HyperModel):
    """A small dense network on 8x8 digits whose width, depth, dropout, learning rate, batch size
    and shuffling are searched."""

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 16), keras.layers.Flatten()])
        for i in range(hp.Int("layers", 1, 2)):
            model.add(keras.layers.Dense(hp.Int(f"units_{i}", 32, 128, step=32), activation="relu"))
        dropout = hp.Boolean("dropout")
        with hp.conditional_scope("dropout", [True]):
            rate = hp.Float("dropout_rate", 0.1, 0.5, step=0.1, default=0.2)
        if dropout:
            model.add(keras.layers.Dropout(rate=rate))
        model.add(keras.layers.Dense(10, activation="softmax"))
        model.compile(
            optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return model.fit(
            *args,
            batch_size=hp.Choice("batch_size", [16, 32, 64], default=32),
            shuffle=hp.Boolean("shuffle", default=True),
            **kwargs,
        )
