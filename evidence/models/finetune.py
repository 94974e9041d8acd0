"""Fine-tuning a sentence model on (query, passage) pairs with
sentence-transformers' own training API, on CPU: in-batch negatives
(MultipleNegativesRankingLoss), so each pair teaches the model that its
query is nearer its passage than the other passages of the batch.

The result is a folder holding a sentence-transformers model, made offline
from what the repository holds and never committed or downloaded. torch is
imported only when fine-tuning starts.
"""
from __future__ import annotations

import os
from pathlib import Path

from evidence.errors import EvidenceError
from evidence.models.weights import BUNDLED_NAME, BUNDLED_SHA256, bundled_path, checked_weights


def finetune(pairs: list[tuple[str, str]], out: Path, *, base: str = BUNDLED_NAME, epochs: int = 1,
             lr: float = 2e-5, batch: int = 32, seed: int = 7, progress: bool = True) -> Path:
    """Fine-tune `base` (the bundled model, or a model folder) on the pairs
    and save the model in `out`; returns `out`."""
    pairs = [(q, p) for q, p in pairs if q.strip() and p.strip()]
    if len(pairs) < 2:
        raise EvidenceError(f"fine-tuning needs at least 2 (query, passage) pairs, got {len(pairs)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    try:  # where sentence-transformers 6 keeps them (the old paths warn)
        from sentence_transformers.sentence_transformer import losses
        from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    except ImportError:
        from sentence_transformers import losses
        from sentence_transformers.training_args import BatchSamplers

    if base == BUNDLED_NAME:
        folder = bundled_path()
        checked_weights(folder, BUNDLED_SHA256)
    else:
        folder = Path(base)
    out = Path(out)

    def run() -> None:
        model = SentenceTransformer(str(folder), device="cpu")
        args = SentenceTransformerTrainingArguments(
            output_dir=str(out.parent / f".{out.name}-run"), num_train_epochs=epochs, per_device_train_batch_size=batch,
            learning_rate=lr, warmup_steps=0.1, seed=seed, save_strategy="no", report_to=[], logging_steps=25,
            use_cpu=True, batch_sampler=BatchSamplers.NO_DUPLICATES, disable_tqdm=not progress)
        data = Dataset.from_dict({"anchor": [q for q, _ in pairs], "positive": [p for _, p in pairs]})
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data,
                                             loss=losses.MultipleNegativesRankingLoss(model))
        trainer.train()
        model.save(str(out))

    if progress:
        run()
    else:  # quiet: the weights' loading bar, the trainer's log lines and the model card's bar
        import contextlib  # would break into the build's progress lines

        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            run()
    return out
