"""A background loop shared by the fake's stand-ins for cluster controllers (kubelet, Gloo's reporter)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self


class ControllerLoop:
    """Runs `reconcile()` every `interval` seconds on a daemon thread until stopped."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=type(self).__name__)

    def reconcile(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.reconcile()
            except Exception:  # a write lost a race with the plugin's: the next round sees the new state
                continue

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
