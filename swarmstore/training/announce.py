"""Training events: what every event of a run names, announced through the port.

The store commits each event to its log (so other processes replay it) in
one unit of work and fires it on the bus after the commit
(``TrainingPort.announce_training_event``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swarmstore.training.port import TrainingPort


@dataclass(slots=True)
class RunIdentity:
    """Who trains what: shared by the callbacks and the checkpoint writer.

    ``model_id`` and ``experiment_id`` are set by ``on_training_start``.
    """

    swarm_id: str
    agent_id: str
    model_id: str | None = None
    experiment_id: str | None = None

    def announce(self, port: TrainingPort, name: str, **payload: Any) -> None:
        port.announce_training_event(
            name,
            self.swarm_id,
            {
                "agent_id": self.agent_id,
                "model_id": self.model_id,
                "experiment_id": self.experiment_id,
                **payload,
            },
        )
