"""CUDA's mixed-precision route, taken on purpose on this CPU: LoRA, QLoRA and full fine-tuning of the llama, qwen3 and
gpt_neox twins under bf16 and fp16.

On a GPU, accelerate (inside the Trainer) autocasts only inside the model's ``forward`` and converts its outputs to
fp32, and transformers 5's ``compute_loss`` runs outside autocast: whatever is applied to the outputs (the bypassed
head of the summary-only loss) meets fp32 tensors next to bf16/fp16 weights. A bf16 Trainer on a CPU takes that route
by itself. An fp16 one does not (accelerate keeps fp16 autocast and loss scaling for accelerators), so the
``gpu_precision`` fixture gives the CPU's Accelerator what a GPU's gets (native autocast and a GradScaler) and
resolves precision as on a GPU (fp16: a pre-Ampere one); the wrapping itself is accelerate's own.

Tolerance: the summary-only loss equals the full-logits loss within LOSS_RTOL (relative). Both paths run the head's
matmul in the compute dtype under the same autocast and the cross-entropy in fp32; only the matmul's shape differs
(summary positions vs. every position). Measured on the twins (3 warm-up steps): at most 1.4e-7, an ulp or two of the
fp32 loss; the head run in fp32 outside autocast instead (as before the fix, full fine-tuning in bf16): 2.6e-5.
"""

from __future__ import annotations

import math
import traceback
import warnings
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from sumbench.config.model import load_model
from sumbench.training import device
from sumbench.training.features import Featurizer
from sumbench.training.measure import TrainMeasurement
from sumbench.training.models import load_for_training
from sumbench.training.trainer import head_weight, make_trainer

pytest.importorskip("bitsandbytes")

ARCHS = ("tiny-llama", "tiny-qwen3", "tiny-gptneox")
FINETUNES = {"lora": ["finetune=lora"], "qlora": ["finetune=lora", "quantization.load_in_4bit=true"],
             "full": ["finetune=full"]}
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
SMALL = ["lengths.source=96", "lengths.target=24", "generation.num_beams=1", "generation.max_new_tokens=4"]
LOSS_RTOL = 1e-5


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A small synthetic corpus and the three causal twins and BART's, saved untrained (the route, not learning, is
    tested)."""
    from sumbench.data.synth import write_corpus
    from sumbench.training.warmstart import warmstart

    root = tmp_path_factory.mktemp("cuda_route")
    write_corpus(root / "src", n=24, seed=7, dev_n=4)
    for name in (*ARCHS, "tiny-bart"):
        warmstart(load_model(name, overrides=["tiny.warmstart_corpus_size=40"]), root / "src/train.csv",
                  root / "base" / name, steps=0)
    return root


@pytest.fixture
def gpu_precision(monkeypatch):
    """Precision resolved as on a GPU, and the CPU Accelerator given fp16 autocast and loss scaling as on a GPU."""
    from accelerate import Accelerator

    resolve = device.resolve_precision
    monkeypatch.setattr(device, "resolve_precision", lambda spec, *, cuda_available, bf16_supported: resolve(
        spec, cuda_available=True, bf16_supported=spec.dtype != "float16"))
    init = Accelerator.__init__

    def gpu_like_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if self.state.mixed_precision == "fp16" and not self.native_amp:  # what accelerate sets up on CUDA
            self.native_amp, self.scaler = True, torch.amp.GradScaler("cpu")

    monkeypatch.setattr(Accelerator, "__init__", gpu_like_init)


def spec_of(ws: Path, name: str, finetune: str, dtype: str, *extra: str):
    return load_model(name, overrides=[f"pretrained={ws / 'base' / name}", f"dtype={dtype}", *FINETUNES[finetune],
                                       *SMALL, *extra])


def features_of(ws: Path, tokenizer, spec) -> list[dict]:
    from sumbench.data.corpus import load_csv

    feat = Featurizer.for_spec(tokenizer, spec)
    return [feat.train_example(e.dialogue, e.summary) for e in load_csv(ws / "src/train.csv")[:12]]


def trains_without_host_reads(trainer, masks_per_forward: int = 2) -> None:
    """Two measured optimizer steps of 2 x 1 samples, each under a :class:`HostReadGuard` (see :func:`guarded_steps`);
    transformers reads each attention mask it builds (up to ``masks_per_forward``) on the host."""
    guard = guarded_steps()
    trainer.add_callback(guard)
    try:
        trainer.train()
        assert not guard.active
    finally:
        guard.close()  # a step that raised never reached its optimizer update
    assert 0 < guard.reads.transformers_reads <= 2 * 2 * masks_per_forward  # steps x micro-batches x masks
    rows = trainer.measurement.rows
    assert len(rows) == 2 and all(math.isfinite(r.loss) for r in rows)
    assert [r.samples for r in rows] == [2, 2] and all(r.loss_tokens > 0 for r in rows)  # the collator's counts
    # fp16 loss scaling may skip a step whose scaled gradients overflowed (inf norm), as on a GPU; a step it kept
    # reached the trainable weights
    assert any(r.grad_norm is not None and 0 < r.grad_norm < math.inf for r in rows)


# ------------------------------------------------------------------------------------------------- the route
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("finetune", list(FINETUNES))
@pytest.mark.parametrize("name", ARCHS)
def test_cudas_route_trains_evaluates_and_generates_on_summary_logits(ws, gpu_precision, tmp_path, name, finetune,
                                                                      dtype):
    from sumbench.evaluation.generate import generate

    spec = spec_of(ws, name, finetune, dtype)
    model, tokenizer = load_for_training(spec)
    features = features_of(ws, tokenizer, spec)
    trainer = make_trainer(model, tokenizer, spec, features[:4], batch_size=1, grad_accum=2, max_steps=2,
                           out=tmp_path / "summary", measurement=TrainMeasurement(), eval_features=features[8:11])
    # LoRA keeps the frozen head in the compute dtype (the case that broke); QLoRA's k-bit preparation and full
    # fine-tuning's master weights keep it fp32
    assert head_weight(trainer.head_site.head).dtype == (DTYPES[dtype] if finetune == "lora" else torch.float32)
    trains_without_host_reads(trainer)
    assert trainer.loss_path.logits == "summary", trainer.loss_path
    assert trainer.accelerator.native_amp and "_original_forward" in model.__dict__  # accelerate wrapped the forward
    with torch.no_grad():
        assert model(input_ids=torch.tensor([features[0]["input_ids"][:8]])).logits.dtype == torch.float32

    summary_loss = trainer.evaluate()["eval_loss"]
    full_spec = spec_of(ws, name, finetune, dtype, "training.logits=full")
    full = make_trainer(model, tokenizer, full_spec, features[:4], batch_size=1, grad_accum=2, max_steps=2,
                        out=tmp_path / "full", eval_features=features[8:11])
    assert full.loss_path.logits == "full"
    assert summary_loss == pytest.approx(full.evaluate()["eval_loss"], rel=LOSS_RTOL)

    feat = Featurizer.for_spec(tokenizer, spec)
    out = generate(model, tokenizer, spec, feat, ["#Person1#: 안녕하세요\n#Person2#: 네"])
    assert len(out.summaries) == 1 and isinstance(out.summaries[0], str) and out.new_tokens > 0


@pytest.mark.parametrize("finetune, dtype", [("lora", "float16"), ("qlora", "bfloat16")])
def test_a_profile_reusing_one_model_takes_summary_logits_in_every_split(ws, gpu_precision, finetune, dtype):
    """The profile loads a model once and trains every split on it; each split's Trainer meets a model the previous
    one prepared (its forward wrapped by accelerate). QLoRA's fp32 head trains either way: there a later split that
    silently fell back to full logits (the head check comparing autocast with fp32) is what this catches."""
    from sumbench.config.grid import ProfileBudget
    from sumbench.training.lease import DeviceLease
    from sumbench.training.profile import _profile_split

    spec = spec_of(ws, "tiny-llama", finetune, dtype)
    model, tokenizer = load_for_training(spec)
    features = features_of(ws, tokenizer, spec)
    snapshot = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    lease = DeviceLease.acquire(0)
    budget = ProfileBudget(warmup_steps=0, timed_steps=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = [_profile_split(spec, model, tokenizer, features, snapshot, lease, budget, bs, ga)
                  for bs, ga in ((2, 1), (1, 2), (2, 1))]
    assert [(s.label, s.status) for s in splits] == [("bs2_ga1", "ok"), ("bs1_ga2", "ok"), ("bs2_ga1", "ok")], \
        [s.message for s in splits]
    assert not [str(w.message) for w in caught if "summary is not possible" in str(w.message)]
    assert [s.loss_path for s in splits] == ["summary"] * 3
    assert all("plain linear map" in s.loss_path_reason for s in splits)


# --------------------------------------------------------------------------------- no host read in a timed step
SYNCING_OPS = {"aten._local_scalar_dense.default": "a scalar read (.item(), int(), float(), bool())",
               "aten.nonzero.default": "nonzero (its size depends on the data)",
               "aten.masked_select.default": "masked_select (its size depends on the data)",
               "aten.is_nonzero.default": "a truth test", "aten.equal.default": "torch.equal"}
TRANSFORMERS_MASKS = "transformers/masking_utils.py"


class HostReadGuard(TorchDispatchMode):
    """Fails on every operation that makes the host wait for a device's data: what CUDA's sync-debug mode flags,
    caught on a CPU by the operation itself (a scalar read, a data-dependent size, a boolean gather, .tolist()).

    One exception, counted in ``transformers_reads``: transformers 5 builds each attention mask by reading the padding
    mask (a causal LM without one: the position ids) on the host, to decide whether SDPA may take ``is_causal`` or no
    mask instead of a materialized one. sumbench cannot avoid it without changing the attention kernel it measures.
    """

    def __init__(self):
        super().__init__()
        self.transformers_reads = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        booleans = name.startswith(("aten.index.", "aten.index_put")) and len(args) > 1 and any(
            isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in args[1] if i is not None)
        if name in SYNCING_OPS or booleans:
            if any(frame.filename.endswith(TRANSFORMERS_MASKS) for frame in traceback.extract_stack()):
                self.transformers_reads += 1
            else:
                raise AssertionError(f"host read of device data in a timed step: "
                                     f"{SYNCING_OPS.get(name, 'a boolean gather')} ({name})")
        return func(*args, **(kwargs or {}))


def guarded_steps():
    """A TrainerCallback under which every optimizer step, from its first micro-batch to its optimizer update, runs
    inside a HostReadGuard. The update itself is left out: AdamW reads its step counter (a host tensor on a GPU too)
    and fp16's GradScaler checks for overflow there, once per step by design."""
    from transformers import TrainerCallback

    guard, tolist = HostReadGuard(), torch.Tensor.tolist

    def no_tolist(self):
        raise AssertionError("host read of device data in a timed step: .tolist()")

    class Guard(TrainerCallback):
        active = False
        reads = guard

        def _enter(self):
            guard.__enter__()
            torch.Tensor.tolist = no_tolist
            self.active = True

        def _exit(self):
            if self.active:
                torch.Tensor.tolist = tolist
                guard.__exit__(None, None, None)
                self.active = False

        def on_step_begin(self, args, state, control, **kwargs):
            self._enter()

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            self._exit()

        def on_optimizer_step(self, args, state, control, **kwargs):
            self._enter()

        def on_step_end(self, args, state, control, **kwargs):
            self._exit()

        close = _exit

    return Guard()


def test_the_guard_catches_the_reads_a_timed_step_must_not_make():
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    hidden = torch.randn(2, 3, 4)
    for read in (lambda: int(mask.sum()), lambda: hidden[mask.bool()], lambda: bool(mask.any()),
                 lambda: mask.nonzero()):
        with pytest.raises(AssertionError, match="host read of device data"), HostReadGuard():
            read()
    with HostReadGuard():  # a gather by positions known on the host is fine
        hidden.reshape(-1, 4).index_select(0, torch.tensor([0, 1, 3]))


def test_seq2seq_on_the_route_reads_nothing_back_either(ws, gpu_precision, tmp_path):
    """BART's loss is on full decoder logits; its token counts (source and target) come from the collator too."""
    spec = load_model("tiny-bart", overrides=[f"pretrained={ws / 'base/tiny-bart'}", "dtype=bfloat16", *SMALL])
    model, tokenizer = load_for_training(spec)
    trainer = make_trainer(model, tokenizer, spec, features_of(ws, tokenizer, spec)[:4], batch_size=1, grad_accum=2,
                           max_steps=2, out=tmp_path, measurement=TrainMeasurement())
    trains_without_host_reads(trainer, masks_per_forward=3)  # the encoder's, the decoder's and cross-attention's
    assert trainer.loss_path.logits == "full" and trainer.loss_path.reason.startswith("seq2seq")
    assert all(r.target_tokens > 0 for r in trainer.measurement.rows)
