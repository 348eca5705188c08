"""SwarmTrainerCallback with a real transformers.Trainer on a tiny GPT-2 (CPU, no download)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from swarmstore import SwarmDatabaseManager

transformers = pytest.importorskip("transformers")

SWARM, MODEL = "swarm", "tiny-gpt2"
EPOCHS = 2


class _Tokens(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, rows: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 64, (rows, 12), generator=generator)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def _model() -> Any:
    config = transformers.GPT2Config(
        vocab_size=64, n_positions=16, n_embd=16, n_layer=1, n_head=2, tie_word_embeddings=True
    )
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(config)


def _train(db: SwarmDatabaseManager, out: Path) -> tuple[Any, Any]:
    from swarmstore.integrations import SwarmTrainerCallback

    callback = SwarmTrainerCallback(db, SWARM, MODEL, retention={"keepLast": 5})
    args = transformers.TrainingArguments(
        output_dir=str(out),
        num_train_epochs=EPOCHS,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        logging_steps=2,
        eval_strategy="epoch",
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
        dataloader_num_workers=0,
    )
    trainer = transformers.Trainer(
        model=_model(),
        args=args,
        train_dataset=_Tokens(16, 1),
        eval_dataset=_Tokens(8, 2),
        callbacks=[callback],
    )
    trainer.train()
    return trainer, callback


def test_trainer_run_ends_with_versions_history_and_a_resumable_checkpoint(
    db: SwarmDatabaseManager, tmp_path: Path
) -> None:
    trainer, callback = _train(db, tmp_path / "out")
    experiment_id = callback.integration.experiment_id
    assert experiment_id is not None

    # versions: one per epoch (the HF epoch counter) and the final model
    steps_per_epoch = trainer.state.max_steps // EPOCHS
    versions = [v.version for v in db.list_model_versions(SWARM, MODEL)]
    assert versions == [
        f"e0000-s{steps_per_epoch:08d}",
        f"e0001-s{2 * steps_per_epoch:08d}",
        f"e0001-s{2 * steps_per_epoch:08d}-final",
    ]

    # the experiment's points are exactly what the trainer logged
    logged = {
        (key, entry["step"], float(value))
        for entry in trainer.state.log_history
        for key, value in entry.items()
        if key not in ("epoch", "step") and isinstance(value, int | float)
    }
    history = db.get_metric_history(SWARM, experiment_id)
    stored = {(p.key, p.step, p.value) for p in history}
    assert stored == logged and len(history) == len(logged)

    record = db.get_training_experiment(SWARM, experiment_id)
    rows = record.metrics.training_history
    assert [row.epoch for row in rows] == [0, 1]
    evals = [e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e]
    assert [row.validation_loss for row in rows] == evals
    train_losses = [e for e in trainer.state.log_history if "loss" in e]
    assert rows[-1].training_loss == train_losses[-1]["loss"]
    assert record.status == "completed" and record.checkpoints == versions
    assert record.hyperparameters.learning_rate == 1e-3

    # resumable: weights (tied embeddings included), optimizer and scheduler load back
    state = db.resume(SWARM, MODEL, f"e0001-s{2 * steps_per_epoch:08d}")
    fresh = _model()
    fresh.load_state_dict(state.weights)
    trained = trainer.model.state_dict()
    assert all(torch.equal(fresh.state_dict()[k], trained[k]) for k in trained)
    assert fresh.lm_head.weight.data_ptr() == fresh.transformer.wte.weight.data_ptr()
    trainer.optimizer.load_state_dict(state.optimizer_state)
    trainer.lr_scheduler.load_state_dict(state.scheduler_state)
    assert state.step == trainer.state.global_step and state.epoch == EPOCHS - 1
    assert math.isfinite(state.metrics["eval_loss"])
