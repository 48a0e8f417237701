"""Which hardware each trial runs on: GPUs per worker, CPU threads, mixed precision, XLA.

Worker processes are told their GPU and thread count through the environment before TensorFlow
starts (``CUDA_VISIBLE_DEVICES``, ``AUTODL_THREADS``); this module reads no TensorFlow until a
process applies its settings.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from autodl.runtime.log import logger
from autodl.spec.sections import RuntimeSpec

THREADS_ENV = "AUTODL_THREADS"


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA device ids, without importing TensorFlow.

    ``CUDA_VISIBLE_DEVICES`` wins when set; otherwise ``nvidia-smi -L`` lists them; no driver
    means no GPU.
    """
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        return [d.strip() for d in given.split(",") if d.strip() and d.strip() != "-1"]
    return [str(i) for i in range(len(listed_gpus()))]


def listed_gpus() -> list[str]:
    """The lines ``nvidia-smi -L`` prints for the machine's GPUs (none without a driver)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in listed.stdout.splitlines() if line.startswith("GPU ")]


def worker_env(index: int, workers: int, runtime: RuntimeSpec, gpus: list[str]) -> dict[str, str]:
    """Environment for worker ``index`` of ``workers``: one GPU each (round robin when there are
    more workers than GPUs), and the CPU cores shared so workers do not oversubscribe them."""
    env = dict(os.environ)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[index % len(gpus)]
    env[THREADS_ENV] = str(threads_per_worker(workers, runtime))
    return env


def threads_per_worker(workers: int, runtime: RuntimeSpec) -> int:
    """``runtime.threads``, or the CPU cores divided among ``workers`` (at least one each)."""
    return runtime.threads or max(1, (os.cpu_count() or 1) // workers)


def apply(runtime: RuntimeSpec) -> bool:
    """Configure this process's TensorFlow from the spec and the environment; return whether a GPU
    is in use.

    Call once, before the first model is built. Memory growth is on for every GPU (set in
    ``backend``). Mixed precision needs a GPU: on a CPU the trials run in float32, with a notice.
    """
    from autodl.runtime.backend import load_keras

    keras = load_keras()
    import tensorflow as tf

    threads = runtime.threads or _env_threads()
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
        except RuntimeError:  # TensorFlow already started in this process: keep its pools
            logger.debug("TensorFlow is already running; its thread pools stay as they are")
    gpus = tf.config.list_physical_devices("GPU")
    if runtime.mixed_precision:
        if gpus:
            keras.mixed_precision.set_global_policy("mixed_float16")
        else:
            logger.warning("runtime.mixed_precision needs a GPU and none is visible: training in float32")
    logger.info(
        "device: %s%s%s", f"{len(gpus)} GPU" if gpus else "CPU",
        f", {threads} threads" if threads else "",
        ", mixed precision" if runtime.mixed_precision and gpus else "",
    )
    return bool(gpus)


def _env_threads() -> int | None:
    value = os.environ.get(THREADS_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else None
