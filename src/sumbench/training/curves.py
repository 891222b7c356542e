"""The learning curve of a quality training: the held-out part's loss every N training samples.

Evaluation runs between optimizer steps and is left out of their timing (the measured Trainer excludes it);
the loss lands in that step's row of ``train_log.jsonl`` (``eval_loss``), beside its samples and step time,
so the report can plot eval loss against samples seen and against training time. No generation: cheap.
"""

from __future__ import annotations


def make_curve_callback(every_samples: int, effective_batch: int):
    """A TrainerCallback that asks the Trainer for an evaluation every ``every_samples`` training samples."""
    from transformers import TrainerCallback

    from sumbench.config.grid import eval_interval_steps

    steps = eval_interval_steps(every_samples, effective_batch)

    class _EvalEvery(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step % steps == 0:
                control.should_evaluate = True
            return control

    return _EvalEvery()
