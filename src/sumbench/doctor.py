"""``sumbench doctor --model NAME``: checks that catch the user's past failures before a long run.

Each check is a function returning a :class:`Check`; the command prints them as a table and exits 1 if any
failed. The gradient-accumulation check trains one optimizer step three ways (same examples, dropout off)
and compares the gradient norms, so it catches, for any model, a loss that is not scaled for gradient accumulation
(stock transformers 5 with BART: the gradient grows with the accumulation steps).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sumbench.config.model import ModelSpec

GA_TOLERANCE = 1e-2  # relative grad-norm difference allowed between bs x ga splits (fp32 reduction order)
TRUNCATION_WARN = 0.05
DOCTOR_EXAMPLES = 64


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | warn | fail
    detail: str


def exact_grad_norm(model) -> float:
    """The 2-norm of ``model``'s gradients, accumulated in float64. torch's own (``clip_grad_norm_``, what the plain
    Trainer logs) accumulates an fp32 tensor's squares in fp32: on a CPU a large embedding's gradient then comes out
    up to ~1e-4 relative low (tiny BART: 2.511639 for 2.511889), which alone would fail a 1e-5 comparison. DeepSpeed's
    ZeRO stages accumulate in float64, as this does."""
    import math

    import torch

    with torch.no_grad():
        return math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in model.parameters() if p.grad is not None))


def first_step(spec: ModelSpec, model_factory, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int,
               grad_accum: int, deepspeed=None) -> tuple[float, float | None]:
    """(loss, pre-clip grad norm) of the first optimizer step on ``pairs``, dropout off (under ``deepspeed``, a
    DeepSpeedSetting, when given).

    Without DeepSpeed the norm is :func:`exact_grad_norm` of the gradients just before the optimizer step (clipping
    off: the first step's gradients do not depend on it). Under DeepSpeed the gradients live in its partitions: the
    norm is the one its engine computed (None where it computes none: stage 0)."""
    import dataclasses

    import torch
    from transformers import TrainerCallback

    from sumbench.training.features import Featurizer
    from sumbench.training.measure import TrainMeasurement
    from sumbench.training.models import set_dropout
    from sumbench.training.trainer import make_trainer

    class Exact(TrainerCallback):
        norm: float | None = None

        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
            if self.norm is None:
                self.norm = exact_grad_norm(model)

    plain = deepspeed is None or not deepspeed.enabled
    if plain:
        spec = dataclasses.replace(spec, training=dataclasses.replace(spec.training, max_grad_norm=0.0))
    torch.manual_seed(spec.training.seed)
    model = model_factory()
    set_dropout(model, 0.0)
    feat = Featurizer.for_spec(tokenizer, spec)
    features = [feat.train_example(d, s) for d, s in pairs]
    m, exact = TrainMeasurement(), Exact()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(model, tokenizer, spec, features, batch_size=batch_size, grad_accum=grad_accum,
                               max_steps=1, out=Path(tmp), measurement=m, deepspeed=deepspeed)
        trainer.add_callback(exact)
        trainer.train()
    return m.rows[0].loss, exact.norm if plain else m.rows[0].grad_norm


def ga_equivalence(spec: ModelSpec, model_factory, tokenizer, pairs, effective_batch: int = 8):
    """One optimizer step as bs E/ga1, E/2 x 2 and E/4 x 4 on the same examples, dropout off: the pre-clip
    gradient norms must agree within GA_TOLERANCE (a :class:`sumbench.records.GaCheck`)."""
    from sumbench.records import GaCheck, split_label

    splits = [(effective_batch // ga, ga) for ga in (1, 2, 4) if effective_batch % ga == 0]
    norms = {split: first_step(spec, model_factory, tokenizer, pairs, *split)[1] for split in splits}
    base = norms[splits[0]]
    worst = max(norms, key=lambda k: abs(norms[k] / base - 1))
    ratio = norms[worst] / base
    detail = ", ".join(f"bs{b}/ga{g} {n:.4g}" for (b, g), n in norms.items())
    labelled = {split_label(b, g): n for (b, g), n in norms.items()}
    if abs(ratio - 1) <= GA_TOLERANCE:
        return GaCheck(status="pass", effective_batch=effective_batch, grad_norms=labelled, tolerance=GA_TOLERANCE,
                       detail=f"same gradient for every split of batch {effective_batch}: {detail}")
    return GaCheck(status="fail", effective_batch=effective_batch, grad_norms=labelled, tolerance=GA_TOLERANCE,
                   detail=f"bs{worst[0]}/ga{worst[1]} gives x{ratio:.2f} the gradient norm of bs{splits[0][0]}/ga1 "
                          f"({detail}); loss scaling under gradient accumulation is wrong "
                          f"(training.loss_normalization={spec.training.loss_normalization})")


def check_grad_accum(spec: ModelSpec, model_factory, tokenizer, pairs, effective_batch: int = 8) -> Check:
    result = ga_equivalence(spec, model_factory, tokenizer, pairs, effective_batch)
    return Check("gradient accumulation", result.status, result.detail)


def check_pad_token(tokenizer) -> Check:
    if tokenizer.pad_token_id is None:
        return Check("pad token", "fail", "the tokenizer has no pad token")
    if tokenizer.pad_token_id != tokenizer.eos_token_id:
        return Check("pad token", "pass", f"pad {tokenizer.pad_token!r} is distinct from EOS {tokenizer.eos_token!r}")
    return Check("pad token", "warn", "pad = EOS; handled: padded label positions are -100 and every summary ends in "
                                      "an explicit EOS label, so EOS is still learned")


def check_padding_side(tokenizer) -> Check:
    side = tokenizer.padding_side
    return Check("padding side", "pass" if side == "right" else "fail",
                 f"training pads on the {side}" + ("; generation pads causal prompts on the left" if side == "right" else
                                                   " (labels would be misaligned with a right-shifted loss)"))


def check_chat_template(spec: ModelSpec, tokenizer) -> Check:
    from sumbench.errors import ConfigError
    from sumbench.training.features import uses_chat_template

    if spec.kind != "causal":
        return Check("chat template", "pass", "not needed (seq2seq)")
    try:
        used = uses_chat_template(tokenizer, spec.prompt_format)
    except ConfigError as exc:
        return Check("chat template", "fail", str(exc))
    if used:
        return Check("chat template", "pass", "present; prompts use it")
    if getattr(tokenizer, "chat_template", None):
        return Check("chat template", "pass", "present, but prompt_format: plain uses the YAML's `prompt` template")
    return Check("chat template", "warn", "none; the YAML's plain `prompt` template is used")


def check_truncation(spec: ModelSpec, tokenizer, pairs) -> Check:
    from sumbench.training.features import Featurizer

    feat = Featurizer.for_spec(tokenizer, spec)
    for d, s in pairs:
        feat.train_example(d, s)
    t = feat.truncation
    worst = max(t.source_rate, t.target_rate)
    status = "pass" if worst <= TRUNCATION_WARN else "warn"
    return Check("truncation", status, f"{t.source_rate:.1%} of dialogues cut at lengths.source={spec.lengths.source}, "
                                       f"{t.target_rate:.1%} of summaries at lengths.target={spec.lengths.target} "
                                       f"({t.examples} examples)")


def check_dtype(spec: ModelSpec, *, cuda_available: bool, bf16_supported: bool) -> Check:
    from sumbench.errors import ConfigError
    from sumbench.training.device import resolve_precision

    device = "cuda" if cuda_available else "cpu"
    try:
        precision = resolve_precision(spec, cuda_available=cuda_available, bf16_supported=bf16_supported)
    except ConfigError as exc:
        return Check("dtype", "fail", str(exc).split(": ", 1)[-1])
    name = str(precision.compute).removeprefix("torch.")
    if name == "bfloat16" and not cuda_available:
        return Check("dtype", "warn", "bfloat16 on cpu works but is slow; float32 is faster here")
    return Check("dtype", "pass", f"dtype {spec.dtype} -> {name} compute on {device}")


def check_device(spec: ModelSpec, facts=None) -> Check:
    from sumbench.errors import ConfigError
    from sumbench.training.device import cuda_facts, require_cuda

    facts = facts or cuda_facts()
    try:
        require_cuda(spec, facts)
    except ConfigError as exc:
        return Check("device", "fail", str(exc))
    wanted = f"{spec.resources.gpus} GPU(s) asked for" if spec.resources.gpus else "resources.gpus 0 (runs anywhere)"
    return Check("device", "pass", f"{wanted}; trains on {'cuda' if facts.available else 'cpu'}; torch CUDA build "
                                   f"{facts.torch_cuda or 'none'}, NVIDIA driver {facts.driver or 'none'}")


def check_tokenizer_round_trip(spec: ModelSpec, tokenizer, where: str) -> Check:
    from sumbench.training.tokenizer import ROUND_TRIP_PROBE, round_trip_problem

    problem = round_trip_problem(tokenizer, spec, where)
    if problem:
        return Check("korean round trip", "fail", problem)
    return Check("korean round trip", "pass", f"{ROUND_TRIP_PROBE!r} encodes and decodes back intact "
                                              f"({type(tokenizer).__name__})")


def check_generation(spec: ModelSpec, tokenizer) -> Check:
    """Warn about decoding settings that stop a summary from copying the speaker tags it must name."""
    from sumbench.training.tokenizer import SPEAKER_TAGS

    g = spec.generation
    longest = max(len(tokenizer(tag, add_special_tokens=False)["input_ids"]) for tag in SPEAKER_TAGS)
    problems = []
    if g.no_repeat_ngram_size and g.no_repeat_ngram_size <= longest:
        problems.append(f"no_repeat_ngram_size {g.no_repeat_ngram_size} forbids naming a speaker twice "
                        f"(a tag is {longest} tokens here)")
    if g.repetition_penalty != 1.0:
        problems.append(f"repetition_penalty {g.repetition_penalty} penalizes every token already in the "
                        f"{'prompt and ' if spec.kind == 'causal' else ''}summary, the speaker tags and names it "
                        f"must copy included")
    if problems:
        return Check("generation", "warn", "; ".join(problems) + " (1.0 and 0 turn them off)")
    return Check("generation", "pass", f"beam {g.num_beams}; nothing blocks or penalizes repeating a speaker tag "
                                       f"({longest} token{'s' if longest > 1 else ''} at most here)")


def run_doctor(spec: ModelSpec, data_csv: str | None = None,
               splits: Sequence[tuple[int, int]] = ((8, 1),)) -> list[Check]:
    """All checks for one model, on ``data_csv`` (default: a synthetic corpus). A model that cannot run on this
    device gets the device check only: nothing else can load. ``splits``: the (batch size, grad accumulation) pairs
    a DeepSpeed setting's batch sizes must agree with."""
    from sumbench.training.deepspeed_profile import doctor_checks

    from sumbench.data.corpus import load_csv
    from sumbench.data.synth import synthesize
    from sumbench.training.device import cuda_state
    from sumbench.training.models import cannot_load
    from sumbench.training.tokenizer import load_tokenizer

    device = check_device(spec)
    if device.status == "fail":
        return [device]
    if not spec.is_tiny:  # a tokenizer that loses Korean is shown as a check, before loading any weights
        try:
            tokenizer = load_tokenizer(spec.pretrained, spec, check=False)
        except (OSError, ValueError) as exc:
            raise cannot_load(spec, spec.pretrained, exc) from exc
        korean = check_tokenizer_round_trip(spec, tokenizer, spec.pretrained)
        if korean.status == "fail":
            return [device, korean]
    examples = load_csv(data_csv)[:DOCTOR_EXAMPLES] if data_csv else synthesize(DOCTOR_EXAMPLES, seed=11)
    pairs = [(e.dialogue, e.summary) for e in examples]
    model_factory, tokenizer = model_source(spec, pairs)
    cuda, bf16 = cuda_state()
    return [
        device,
        check_tokenizer_round_trip(spec, tokenizer, spec.pretrained or "the twin's trained tokenizer"),
        check_grad_accum(spec, model_factory, tokenizer, pairs),
        check_pad_token(tokenizer),
        check_padding_side(tokenizer),
        check_chat_template(spec, tokenizer),
        check_truncation(spec, tokenizer, pairs),
        check_generation(spec, tokenizer),
        check_dtype(spec, cuda_available=cuda, bf16_supported=bf16),
        *doctor_checks(spec, model_factory, tokenizer, pairs, list(splits)),
    ]


def model_source(spec: ModelSpec, pairs):
    """(factory of fresh models, tokenizer): a tiny twin built from config, or the pretrained weights."""
    from sumbench.training.models import apply_finetune, build_tiny, load_for_training
    from sumbench.training.tokenizer import cached_tokenizer, prepare_tokenizer

    if spec.is_tiny:
        tokenizer = prepare_tokenizer(cached_tokenizer([d + "\n" + s for d, s in pairs], spec.tiny.vocab_size), spec)
        return (lambda: apply_finetune(build_tiny(spec, tokenizer), spec)), tokenizer
    loaded = [load_for_training(spec)]  # the first check reuses this copy; later ones load fresh weights
    return (lambda: (loaded.pop() if loaded else load_for_training(spec))[0]), loaded[0][1]


def render(checks: Sequence[Check], model: str) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"sumbench doctor: {model}", f"{'check':<{width}}  status  detail"]
    lines += [f"{c.name:<{width}}  {c.status.upper():<6}  {c.detail}" for c in checks]
    failed = [c.name for c in checks if c.status == "fail"]
    lines.append(f"FAILED: {', '.join(failed)}" if failed else "all checks passed")
    return "\n".join(lines)
