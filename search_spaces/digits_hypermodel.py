"""A KerasTuner-style hypermodel, used unchanged by search_spaces/digits_custom.yaml."""

import keras
import keras_tuner


class DigitsHyperModel(keras_tuner.HyperModel):
    """A small dense network on 8x8 digits whose width, depth and learning rate are searched."""

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 16), keras.layers.Flatten()])
        for i in range(hp.Int("layers", 1, 2)):
            model.add(keras.layers.Dense(hp.Int(f"units_{i}", 32, 128, step=32), activation="relu"))
        if hp.Boolean("dropout"):
            model.add(keras.layers.Dropout(rate=0.25))
        model.add(keras.layers.Dense(10, activation="softmax"))
        model.compile(
            optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model
