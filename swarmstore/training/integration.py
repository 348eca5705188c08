"""The object ``integrate_with_neural_service`` returns: training-loop callbacks.

``NeuralServiceIntegration`` is the callbacks (``training.callbacks``: what
each does and in which order), writing checkpoints through
``training.checkpointing`` into a ``TrainingPort``, plus the controls a loop
needs around them: ``flush``, ``close`` and the context manager.
"""

from __future__ import annotations

from swarmstore.training.callbacks import TrainingCallbacks


class NeuralServiceIntegration(TrainingCallbacks):
    """Callbacks for one agent's training loop; one run at a time.

    Not thread-safe: call it from the training thread. Background saves run
    on its own worker and report back through the next callback.
    """

    # -- control -------------------------------------------------------------

    def flush(self) -> None:
        """Wait for background saves and write buffered metrics; raise a failed save's error."""
        try:
            self._saver.flush()
        finally:
            if self._run is not None and self._phase == "running":
                self._run.flush()

    def close(self) -> None:
        """Flush and stop the save worker; an unfinished run is finished as 'paused'."""
        if self._closed:
            return
        try:
            self._saver.close()
        finally:
            self._closed = True
            self._checkpoints.clear()
            if self._run is not None and self._phase == "running":
                if self._monitor is not None:
                    self._run.set_resource_usage(self._monitor.usage())
                self._run.finish(status="paused")
                self._phase = "completed"

    @property
    def running(self) -> bool:
        """Between ``on_training_start`` and ``on_training_complete``."""
        return self._phase == "running"

    @property
    def pending_saves(self) -> int:
        return self._saver.in_flight

    def __enter__(self) -> NeuralServiceIntegration:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
