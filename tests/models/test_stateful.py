"""A model of the store, driven by Hypothesis through random sequences of
saves (full and delta), deletes, gc, export/import and reopens.

After every step: every live version restores bit-exactly, every deleted one
is gone, ``check()`` is clean, and the bytes in the blob store never grew
without a new version. A short run is in the default suite; a longer one runs
when ``SWARMSTORE_LONG_TESTS=1`` is set (it takes minutes).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from swarmstore import ModelVersionInfo, SwarmDatabaseManager
from swarmstore.errors import NotFoundError
from tests.conftest import bits_equal

Key = tuple[str, str]  # (model id, version)
MODELS = ["m0", "m1"]


def _weights(seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(48, 96, generator=gen), "b": torch.randn(48, generator=gen)}


class StoreModel(RuleBasedStateMachine):
    versions = Bundle("versions")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="swarmstore-stateful-"))
        self.root = self.dir / "store"
        self.db = SwarmDatabaseManager.open(self.root, durability="normal")
        self.live: dict[Key, dict[str, torch.Tensor]] = {}
        self.deleted: set[Key] = set()
        self.counter = 0
        self.blob_bytes = 0
        self.grew_by_new_version = False

    def teardown(self) -> None:
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _save(self, model: str, weights: dict[str, torch.Tensor], parent: str | None) -> Key:
        self.counter += 1
        version = f"v{self.counter}"
        record = {"id": model, "version": version, "weights": weights, "parentVersion": parent}
        self.db.store_neural_model("s", record)
        key = (model, version)
        self.live[key] = {k: v.clone() for k, v in weights.items()}
        self.grew_by_new_version = True
        return key

    # -- rules ---------------------------------------------------------------------

    @rule(target=versions, model=st.sampled_from(MODELS), seed=st.integers(0, 2**16))
    def store_full(self, model: str, seed: int) -> Key:
        return self._save(model, _weights(seed), None)

    @rule(target=versions, base=versions, seed=st.integers(0, 2**16))
    def store_delta(self, base: Key, seed: int) -> Key | object:
        if base not in self.live:
            return multiple()
        gen = torch.Generator().manual_seed(seed)
        weights = {
            k: v + 1e-3 * torch.randn(v.shape, generator=gen) for k, v in self.live[base].items()
        }
        return self._save(base[0], weights, base[1])

    @rule(key=consumes(versions))
    def delete(self, key: Key) -> None:
        if key not in self.live:
            return
        self.db.delete_model_version("s", *key)
        del self.live[key]
        self.deleted.add(key)

    @rule()
    def gc(self) -> None:
        self.db.gc(grace_seconds=0)

    @rule()
    def reopen(self) -> None:
        self.db.close()
        self.db = SwarmDatabaseManager.open(self.root, durability="normal")

    @rule(target=versions, source=versions)
    def export_and_import(self, source: Key) -> Key | object:
        if source not in self.live:
            return multiple()
        path = self.dir / "export.safetensors"
        self.db.export_safetensors("s", *source, path)
        self.counter += 1
        version = f"v{self.counter}"
        self.db.import_safetensors("s", path, {"id": source[0], "version": version})
        key = (source[0], version)
        self.live[key] = self.live[source]
        self.grew_by_new_version = True
        return key

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def live_versions_restore_bit_exactly(self) -> None:
        for (model, version), weights in self.live.items():
            restored = self.db.get_neural_model("s", model, version).weights
            assert isinstance(restored, dict)
            assert set(restored) == set(weights)
            for name, tensor in weights.items():
                assert bits_equal(restored[name], tensor), (model, version, name)

    @invariant()
    def deleted_versions_are_gone(self) -> None:
        for model, version in self.deleted:
            with pytest.raises(NotFoundError):
                self.db.get_neural_model("s", model, version)
        listed = {(m, v.version) for m in MODELS for v in self._versions_of(m)}
        assert listed == set(self.live)

    def _versions_of(self, model: str) -> list[ModelVersionInfo]:
        try:
            return list(self.db.list_model_versions("s", model))
        except NotFoundError:
            return []

    @invariant()
    def check_is_clean(self) -> None:
        report = self.db.check()
        assert report.ok, report.problems

    @invariant()
    def blob_bytes_grow_only_with_new_versions(self) -> None:
        total = sum(info.size for info in self.db._blobs.list())
        assert total <= self.blob_bytes or self.grew_by_new_version
        self.blob_bytes = total
        self.grew_by_new_version = False


def _run(max_examples: int, steps: int) -> None:
    run_state_machine_as_test(
        StoreModel,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            derandomize=True,
        ),
    )


def test_random_sequences_of_saves_deletes_gc_and_reopens() -> None:
    _run(max_examples=6, steps=8)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("SWARMSTORE_LONG_TESTS") != "1", reason="set SWARMSTORE_LONG_TESTS=1 to run"
)
@pytest.mark.timeout(900)
def test_random_sequences_long_run() -> None:
    _run(max_examples=15, steps=15)
