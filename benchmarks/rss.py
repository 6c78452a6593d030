"""Peak resident memory of this process over one measurement (Linux), for the benchmarks.

`ru_maxrss` only grows over a process's life, so it cannot tell two measurements made
in one process apart. Writing ``5`` to ``/proc/self/clear_refs`` resets the kernel's
high-water mark (``VmHWM`` in ``/proc/self/status``, Linux >= 4.0); where that is not
allowed, the lifetime peak is reported instead and `PeakRss.reset` says so.
"""

from __future__ import annotations

import resource
from pathlib import Path

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _status_mb(field: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024   # kB
    except OSError:
        pass
    return None


class PeakRss:
    """Measure the peak RSS between `reset` and `peak_mb`.

    Example::

        rss = PeakRss()
        rss.reset()
        ...                      # the measurement
        print(rss.peak_mb())     # MB, the process's peak RSS during it
    """

    def __init__(self) -> None:
        self.resettable = True

    def reset(self) -> bool:
        """Start a measurement; False when only the lifetime peak is available."""
        try:
            _CLEAR_REFS.write_text("5")
        except OSError:
            self.resettable = False
        return self.resettable

    def peak_mb(self) -> float:
        """Peak RSS (MB) since the last `reset` (the lifetime peak if it could not reset)."""
        peak = _status_mb("VmHWM") if self.resettable else None
        return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """The RSS of this process now (MB; 0 where /proc is missing)."""
    return _status_mb("VmRSS") or 0.0
