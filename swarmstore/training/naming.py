"""How checkpoint versions are named: a ``str.format`` template over the loop's counters."""

from __future__ import annotations

from dataclasses import dataclass

from swarmstore.errors import InvalidRecordError
from swarmstore.ids import validate_id


@dataclass(frozen=True, slots=True)
class VersionNaming:
    """``template`` may use ``{epoch}``, ``{step}``, ``{index}``, ``{experiment}``, ``{model}``.

    A name that is already taken (a resumed run re-reaching an epoch, or a
    freed version whose name stays reserved) gets ``-r2``, ``-r3``, ... so a
    checkpoint is never lost to a naming clash.
    """

    template: str = "e{epoch:04d}-s{step:08d}"

    def name(self, *, epoch: int, step: int, index: int, experiment: str, model: str) -> str:
        try:
            value = self.template.format(
                epoch=epoch, step=step, index=index, experiment=experiment, model=model
            )
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidRecordError(
                f"version_format {self.template!r} cannot be filled: {exc!r}; "
                "use epoch, step, index, experiment, model"
            ) from None
        return validate_id("checkpoint version", value)

    def check(self) -> None:
        """Fail at integration time, not at the first checkpoint."""
        self.name(epoch=0, step=0, index=1, experiment="x", model="m")

    @staticmethod
    def retry(base: str, attempt: int) -> str:
        return base if attempt <= 1 else f"{base}-r{attempt}"
