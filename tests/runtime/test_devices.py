"""Placing workers on GPUs and CPU threads, and the CPU fallback of the GPU-only options."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from autodl.runtime import devices
from autodl.spec.sections import RuntimeSpec


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 5")
    assert devices.visible_gpus() == ["2", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert devices.visible_gpus() == []


def test_no_driver_means_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(devices.shutil, "which", lambda name: None)
    assert devices.visible_gpus() == []


def test_each_worker_gets_one_gpu_round_robin() -> None:
    pinned = [devices.worker_env(i, 3, RuntimeSpec(), ["0", "1"])["CUDA_VISIBLE_DEVICES"]
              for i in range(3)]
    assert pinned == ["0", "1", "0"]


def test_cpu_workers_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices.os, "cpu_count", lambda: 16)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    env = devices.worker_env(0, 4, RuntimeSpec(), [])
    assert env[devices.THREADS_ENV] == "4" and "CUDA_VISIBLE_DEVICES" not in env
    assert devices.worker_env(0, 32, RuntimeSpec(), [])[devices.THREADS_ENV] == "1"
    assert devices.worker_env(0, 4, RuntimeSpec(threads=3), [])[devices.THREADS_ENV] == "3"


def test_mixed_precision_falls_back_to_float32_on_a_cpu() -> None:
    """In a fresh process (TensorFlow's thread pools are set once per process)."""
    code = (
        "from autodl.runtime import devices\n"
        "from autodl.runtime.log import configure\n"
        "from autodl.spec.sections import RuntimeSpec\n"
        "configure()\n"
        "gpu = devices.apply(RuntimeSpec(mixed_precision=True, threads=1))\n"
        "import keras, tensorflow as tf\n"
        "print(gpu, keras.mixed_precision.global_policy().name,\n"
        "      tf.config.threading.get_intra_op_parallelism_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "float32", "1"]
    assert "runtime.mixed_precision needs a GPU and none is visible: training in float32" in out.stderr
    assert "device: CPU, 1 threads" in out.stderr
