"""Resource use of a training run: CPU and wall time, peak RSS, GPU time and memory.

Cheap to sample (no thread): CPU time and peak RSS come from the kernel's
per-process counters, GPU figures from torch's allocator when torch has
initialised CUDA. Written to the experiment's ``resourceUsage``.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

import torch

from swarmstore.training.state import cuda_initialized


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ResourceMonitor:
    def __init__(self) -> None:
        self._wall0 = time.monotonic()
        self._cpu0 = _cpu_seconds()
        self.storage_bytes = 0
        self.checkpoint_seconds = 0.0
        self.stall_seconds = 0.0
        self.save_wait_seconds = 0.0
        self.checkpoints = 0
        self._gpu = torch.cuda.is_available() and cuda_initialized()
        if self._gpu:
            torch.cuda.reset_peak_memory_stats()

    def add_save(self, stored_bytes: int, seconds: float) -> None:
        self.storage_bytes += max(0, int(stored_bytes))
        self.checkpoint_seconds += seconds
        self.checkpoints += 1

    def add_stall(self, seconds: float, waiting: float = 0.0) -> None:
        """A callback's stall; ``waiting`` of it was spent on an earlier background save."""
        self.stall_seconds += seconds
        self.save_wait_seconds += waiting

    def usage(self) -> dict[str, Any]:
        """The ``resourceUsage`` mapping (bytes, hours; extra keys in seconds)."""
        wall = time.monotonic() - self._wall0
        cpu = max(0.0, _cpu_seconds() - self._cpu0)
        out: dict[str, Any] = {
            "cpuHours": cpu / 3600.0,
            "memoryPeak": float(_peak_rss_bytes()),
            "storageUsed": float(self.storage_bytes),
            "wallSeconds": wall,
            "cpuSeconds": cpu,
            "checkpoints": self.checkpoints,
            "checkpointWriteSeconds": self.checkpoint_seconds,
            "loopStallSeconds": self.stall_seconds,
            "saveWaitSeconds": self.save_wait_seconds,
        }
        gpu = torch.cuda.is_available() and cuda_initialized()
        if gpu:
            devices = torch.cuda.device_count()
            out["gpuHours"] = wall * devices / 3600.0
            out["gpuMemoryPeak"] = float(
                max(torch.cuda.max_memory_allocated(d) for d in range(devices))
            )
        return out
