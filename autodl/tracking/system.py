"""System metrics of each trial run (``tracking.system_metrics``): CPU and memory use, and GPU
utilization and memory when a GPU is present, sampled by MLflow's own system-metrics monitor
while the trial trains and logged as ``system/*`` metrics of the trial's run.

MLflow needs ``psutil`` for CPU and memory and ``nvidia-ml-py`` for NVIDIA GPUs; without them a
search says once what is not logged and how to get it, and goes on.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from autodl.runtime.devices import visible_gpus
from autodl.runtime.log import logger

INTERVAL_S = 2.0
"""Seconds between samples; ``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` overrides it."""
INSTALL = "pip install 'autodl[system-metrics]'"


def missing_packages(gpus: list[str]) -> list[str]:
    """The packages MLflow's monitor needs here that are not installed: ``psutil`` always, and
    ``nvidia-ml-py`` (imported as ``pynvml``) when the machine has GPUs."""
    missing = [] if importlib.util.find_spec("psutil") else ["psutil"]
    if gpus and importlib.util.find_spec("pynvml") is None:
        missing.append("nvidia-ml-py")
    return missing


class SystemMetrics:
    """Starts MLflow's system-metrics monitor on each trial run and stops it when the trial ends,
    publishing the samples taken since the last log so a short trial gets its point too."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        missing = missing_packages(visible_gpus())
        self.enabled = "psutil" not in missing
        if not self.enabled:
            logger.warning("tracking.system_metrics: psutil is not installed, so CPU, memory and GPU "
                           "use are not logged: %s", INSTALL)
        elif missing:
            logger.warning("tracking.system_metrics: nvidia-ml-py is not installed, so GPU utilization "
                           "and memory are not logged (CPU and memory are): %s", INSTALL)
        self._monitors: dict[str, Any] = {}

    def start(self, run_id: str) -> None:
        """Sample the machine for ``run_id`` until ``stop``."""
        if not self.enabled:
            return
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        interval = float(os.environ.get("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL") or INTERVAL_S)
        monitor = SystemMetricsMonitor(run_id, sampling_interval=interval, tracking_uri=self.tracking_uri)
        monitor.start()
        self._monitors[run_id] = monitor

    def stop(self, run_id: str) -> None:
        """Stop sampling for ``run_id`` (before its run is closed) and log what is left."""
        monitor = self._monitors.pop(run_id, None)
        if monitor is None:
            return
        monitor.finish()
        remaining = monitor.aggregate_metrics()
        if remaining:
            monitor.publish_metrics(remaining)
            monitor.mlflow_logger.flush()
