"""Framework adapters over ``integrate_with_neural_service``.

``SwarmCheckpointer`` (plain PyTorch) is always available. The Hugging Face
(``SwarmTrainerCallback``, extra ``hf``) and Lightning (``SwarmLightningCallback``,
extra ``lightning``) adapters import their framework only when first used,
so the core never needs either installed.
"""

from __future__ import annotations

from typing import Any

from swarmstore.integrations.torch import SwarmCheckpointer

__all__ = ["SwarmCheckpointer", "SwarmLightningCallback", "SwarmTrainerCallback"]


def __getattr__(name: str) -> Any:
    if name == "SwarmTrainerCallback":
        from swarmstore.integrations.huggingface import SwarmTrainerCallback

        return SwarmTrainerCallback
    if name == "SwarmLightningCallback":
        from swarmstore.integrations.lightning import SwarmLightningCallback

        return SwarmLightningCallback
    raise AttributeError(f"module 'swarmstore.integrations' has no attribute {name!r}")
