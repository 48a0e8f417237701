"""The deployable formats of a model: how to save each one and load it back as a predictor.

``FORMATS`` is the registry of ``Format`` entries; ``get(name)`` looks one up and its error lists the valid
names. Keras and TensorFlow SavedModel carry the whole model, text vectorization included, and
take raw inputs. TFLite and ONNX runtimes cannot run string ops: for a text model they hold the
numeric part (token ids in), and the export ships the vocabulary and rules beside them
(``text_vectorization.json`` and ``preprocess_text.py``, see ``autodl.textprep``).
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autodl.errors import AutodlError
from autodl.export import textprep
from autodl.runtime.backend import load_keras, quiet_stderr
from autodl.spec.names import EXPORT_FORMATS
from autodl.spec.registry import Registry

Predict = Callable[[np.ndarray], np.ndarray]
"""Model inputs (raw, or token ids for a numeric part) -> model outputs."""

BATCH = 256
ONNX_OPSET = 17
INPUT_NAME = "inputs"
OUTPUT_NAME = "output"


class ExportError(AutodlError):
    """A model cannot be saved in, or loaded from, a requested format."""


@dataclass(frozen=True)
class ExportModel:
    """A model ready to save: the whole model (raw inputs), its numeric part (token ids in for
    text, the whole model otherwise), and the text vectorization record for text models."""

    model: Any
    numeric: Any
    vectorizer: dict[str, Any] | None = None


@dataclass(frozen=True)
class Format:
    """One deployable format: the file or folder it writes, whether it takes raw strings for a
    text model, how to load it outside autodl, and its saver and loader."""

    name: str
    path: str
    raw_text: bool
    how_to_load: str
    save: Callable[[ExportModel, Path], None]
    load: Callable[[Path], Predict]


def prepare(model: Any) -> ExportModel:
    """Split a text model at its ``TextVectorization`` layer; numeric models are used whole."""
    keras = load_keras()
    if len(model.inputs) != 1 or model.inputs[0].dtype != "string":
        return ExportModel(model, model)
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.TextVectorization)]
    if len(layers) != 1:
        raise ExportError(
            f"The model takes strings but has {len(layers)} TextVectorization layers; TFLite and "
            "ONNX exports need exactly one, right after the input. Export keras or saved_model "
            "only (--formats keras,saved_model)."
        )
    layer = layers[0]
    config = layer.get_config()
    problem = textprep.unsupported(config)
    if problem:
        raise ExportError(
            f"The model's TextVectorization cannot be reproduced outside TensorFlow: {problem}. "
            "Export keras or saved_model only (--formats keras,saved_model)."
        )
    numeric = keras.Model(layer.output, model.output, name=f"{model.name}_numeric")
    keys = ("standardize", "split", "ngrams", "output_mode", "output_sequence_length", "max_tokens")
    record = {"config": {k: config.get(k) for k in keys}, "vocabulary": layer.get_vocabulary()}
    return ExportModel(model, numeric, record)


def _batches(predict: Predict) -> Predict:
    """Run ``predict`` over ``BATCH``-sized slices and stack the outputs."""

    def run(x: np.ndarray) -> np.ndarray:
        return np.concatenate([predict(x[i:i + BATCH]) for i in range(0, len(x), BATCH)])

    return run


def _save_keras(export: ExportModel, path: Path) -> None:
    export.model.save(path)


def _load_keras(path: Path) -> Predict:
    model = load_keras().saving.load_model(path)
    return lambda x: np.asarray(model.predict(x, batch_size=BATCH, verbose=0))


def _serving_archive(model: Any, batch: int | None) -> Any:
    """A Keras ExportArchive whose ``serve`` endpoint (TF Serving's ``serving_default``) runs the
    model in inference mode, stated rather than left to the call context: a nested backbone's
    BatchNorm and the head's dropout must not see a training call."""
    keras = load_keras()
    import tensorflow as tf

    spec = model.inputs[0]
    signature = [tf.TensorSpec((batch, *spec.shape[1:]), spec.dtype, name=INPUT_NAME)]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", lambda x: model(x, training=False), input_signature=signature)
    return archive


def _save_saved_model(export: ExportModel, path: Path) -> None:
    with quiet_stderr():
        _serving_archive(export.model, None).write_out(str(path), verbose=False)


def _load_saved_model(path: Path) -> Predict:
    load_keras()
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # the closure keeps it, and so its variables, alive
    return _batches(lambda x: loaded.serve(tf.constant(x)).numpy())


def _tflite_bytes(model: Any, batch: int | None) -> bytes:
    """Convert through a SavedModel (how Keras itself converts) with TFLite's built-in ops only,
    so any LiteRT runtime runs it without the Flex delegate."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as folder:
        _serving_archive(model, batch).write_out(folder, verbose=False)
        return tf.lite.TFLiteConverter.from_saved_model(folder).convert()


def _recurrent(model: Any) -> bool:
    """Whether ``model`` holds a recurrent layer (directly or in a Bidirectional wrapper)."""
    keras = load_keras()
    kinds = (keras.layers.RNN, keras.layers.Bidirectional)
    return any(
        isinstance(layer, kinds) or (hasattr(layer, "layers") and _recurrent(layer))
        for layer in model.layers
    )


def _save_tflite(export: ExportModel, path: Path) -> None:
    """A dynamic batch where the ops allow it. Recurrent layers' loops convert to built-in ops
    only with a fixed batch of 1, which the loader then feeds one example at a time; any other
    model that fails with a dynamic batch gets that fixed batch too."""
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    batches: tuple[int | None, ...] = (1,) if _recurrent(export.numeric) else (None, 1)
    problem: Exception | None = None
    with quiet_stderr():
        for batch in batches:
            try:
                path.write_bytes(_tflite_bytes(export.numeric, batch))
                return
            except Exception as exc:  # TFLite's ConverterError is not public
                problem = exc
    last = str(problem).strip().splitlines()[-1] if str(problem).strip() else type(problem).__name__
    raise ExportError(
        f"TFLite cannot convert this model with its built-in ops ({last[:300]}). Leave tflite "
        "out of --formats / export.formats."
    ) from problem


def _load_tflite(path: Path) -> Predict:
    load_keras()
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's notice about ai_edge_litert
        interpreter = tf.lite.Interpreter(model_path=str(path))
    source = interpreter.get_input_details()[0]
    fixed = int(source["shape_signature"][0]) != -1

    def invoke(x: np.ndarray) -> np.ndarray:
        x = x.astype(source["dtype"])
        if fixed:
            return np.concatenate([invoke_batch(x[i:i + 1]) for i in range(len(x))])
        interpreter.resize_tensor_input(source["index"], x.shape)
        return invoke_batch(x)

    def invoke_batch(x: np.ndarray) -> np.ndarray:
        with quiet_stderr():  # LiteRT announces its CPU delegate on stderr
            interpreter.allocate_tensors()
        interpreter.set_tensor(source["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()

    return _batches(invoke)


def _save_onnx(export: ExportModel, path: Path) -> None:
    """tf2onnx on the frozen graph.

    ``model.export(format="onnx")`` would leave the Normalization statistics (constants captured
    by the traced function) as extra graph inputs; freezing first makes them constants.
    """
    load_keras()
    import tensorflow as tf

    try:
        import onnxruntime  # noqa: F401  # checked here so the export is known to be loadable
        import tf2onnx
        from tf2onnx import tf_loader
    except ImportError as exc:
        raise ExportError(
            f"ONNX export needs tf2onnx and onnxruntime ({exc.name} is missing): "
            "pip install tf2onnx onnxruntime (autodl's own dependencies)."
        ) from None
    # tf2onnx 1.17 still uses NumPy 1 names; Keras's own ONNX export applies the same patch.
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the patch probes np.object, which NumPy 2 warns about
        patch_tf2onnx()
    for name in ("tf2onnx", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    model = export.numeric
    spec = model.inputs[0]
    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec(spec.shape, spec.dtype, name=INPUT_NAME))
    inputs = [concrete.inputs[0].name]
    outputs = [t.name for t in concrete.outputs]
    with quiet_stderr(), tf.device("/cpu:0"):
        graph = tf_loader.from_function(concrete, inputs, outputs)
        tf2onnx.convert.from_graph_def(
            graph, input_names=inputs, output_names=outputs, opset=ONNX_OPSET,
            output_path=str(path), tensors_to_rename={inputs[0]: INPUT_NAME, outputs[0]: OUTPUT_NAME},
        )


def _load_onnx(path: Path) -> Predict:
    try:
        import onnxruntime
    except ImportError:
        raise ExportError("Loading ONNX needs onnxruntime: pip install onnxruntime.") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    source = session.get_inputs()[0]
    dtype = "int64" if source.type == "tensor(int64)" else "float32"
    return _batches(lambda x: session.run(None, {source.name: x.astype(dtype)})[0])


FORMATS: Registry[Format] = Registry("export format", "format", [
    Format(
        "keras", "model.keras", True,
        'keras.saving.load_model("model.keras").predict(x)', _save_keras, _load_keras,
    ),
    Format(
        "saved_model", "saved_model", True,
        'm = tf.saved_model.load("saved_model"); m.serve(tf.constant(x)); TF Serving: '
        "--model_base_path=<folder holding saved_model as version 1>, signature serving_default",
        _save_saved_model, _load_saved_model,
    ),
    Format(
        "tflite", "model.tflite", False,
        'tf.lite.Interpreter("model.tflite") or ai_edge_litert.interpreter.Interpreter',
        _save_tflite, _load_tflite,
    ),
    Format(
        "onnx", "model.onnx", False,
        'onnxruntime.InferenceSession("model.onnx").run(None, {"inputs": x})[0]',
        _save_onnx, _load_onnx,
    ),
], error=ExportError, note=" (or all)", expected=EXPORT_FORMATS.names)


def get(name: str) -> Format:
    """The format called ``name``; the error lists the valid names."""
    return FORMATS.get(name)


def parse(names: Iterable[str]) -> list[str]:
    """Format names from a list or comma-separated strings, ``all`` expanded, duplicates and
    blanks dropped, in the order given; each name checked."""
    chosen: list[str] = []
    for item in names:
        for name in (n.strip() for n in item.split(",")):
            expanded = list(FORMATS.names) if name == "all" else [get(name).name] if name else []
            chosen += [n for n in expanded if n not in chosen]
    return chosen


def loader(name: str, folder: Path, encode: Callable[[np.ndarray], np.ndarray] | None) -> Predict:
    """A predictor of raw inputs for format ``name`` saved in ``folder``.

    ``encode`` turns raw strings into token ids for formats that hold a text model's numeric part.
    """
    fmt = get(name)
    path = folder / fmt.path
    if not path.exists():
        raise ExportError(f"{folder} has no {name} model ({path.name} is missing).")
    predict = fmt.load(path)
    if encode is None or fmt.raw_text:
        return predict
    return lambda x: predict(encode(x))
