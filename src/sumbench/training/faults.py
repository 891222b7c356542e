"""Fault injection: a test seam that makes one named cell fail, to prove a failed cell is reported, not lost.

    SUMBENCH_FAULT=oom@tiny-bart/bs8_ga2 sumbench train --model tiny-bart --batch-size 8 --grad-accum 2 ...
    # -> exit 0, and metrics.json says status: oom

``oom@MODEL/bsB_gaG`` raises torch's OutOfMemoryError at the cell's first optimizer step; any other kind
before the ``@`` (``error@...``) raises a RuntimeError there. The target is a shell pattern over ``MODEL/bsB_gaG``:
``error@tiny-llama/*`` fails every split and cell of tiny-llama. Unset, nothing is injected.
"""

from __future__ import annotations

import fnmatch
import os

FAULT_ENV = "SUMBENCH_FAULT"


def injected_fault(model: str, batch_size: int, grad_accum: int):
    """A TrainerCallback that raises at the first optimizer step when ``$SUMBENCH_FAULT`` names this cell, else None."""
    spec = os.environ.get(FAULT_ENV, "")
    kind, _, target = spec.partition("@")
    if not spec or not fnmatch.fnmatchcase(f"{model}/bs{batch_size}_ga{grad_accum}", target):
        return None
    import torch
    from transformers import TrainerCallback

    class Fault(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if kind == "oom":
                raise torch.OutOfMemoryError(f"CUDA out of memory (injected by {FAULT_ENV}={spec})")
            raise RuntimeError(f"injected by {FAULT_ENV}={spec}")

    return Fault()
