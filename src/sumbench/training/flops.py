"""Model FLOPs utilisation (MFU), part of the measurement module: achieved model FLOP/s over the device's peak.

Model FLOPs per token (the PaLM convention: activation recomputation is not counted, attention's
sequence-length terms are left out):

- full fine-tuning: 6 FLOPs per weight that multiplies the token (forward 2, backward 4: input and weight
  gradients); LoRA on a frozen base: 4 (forward 2, input gradients 2; the adapters' own FLOPs are < 1 %).
- causal: body weights x every real token (prompt + summary), LM-head weights x the tokens the head is applied
  to (every token with full logits; only the summary's label positions with summary-only logits).
- seq2seq, per stack: encoder weights x source tokens + decoder weights x target tokens + LM-head weights x
  target tokens. Cross-attention's key/value projections act on the encoder's output once per source token,
  not per target token; they are counted with the decoder here (x target tokens), which overstates them
  when summaries are longer than dialogues and understates them otherwise (< 5 % of a BART decoder's weights).
- Input embeddings are lookups, not multiplications, and are not counted; a tied LM head is counted as a head.

The peak is the device's dense (no sparsity) tensor-core rate for the compute dtype actually used, from the
vendor's datasheet, matched by the exact name ``torch.cuda.get_device_name()`` reports. An unknown device or
dtype has no peak, and then no MFU (never a guess). Under multi-GPU data parallelism the rate counts every
rank's tokens and the peak is the world size x one device's (the record's ``device_peak_flops`` stays one device's).
"""

from __future__ import annotations

from dataclasses import dataclass

TERA = 1e12
# Dense peak TFLOP/s by exact device name: (bf16/fp16 tensor cores with fp32 accumulate, tf32, fp32).
PEAK_TFLOPS: dict[str, tuple[float, float, float]] = {
    "NVIDIA H100 80GB HBM3": (989.4, 494.7, 66.9),  # H100 SXM5
    "NVIDIA H100 PCIe": (756.5, 378.0, 51.2),
    "NVIDIA H100 NVL": (835.0, 417.5, 60.0),
    "NVIDIA H200": (989.4, 494.7, 66.9),  # H200 SXM: the H100 SXM's compute, more memory
    "NVIDIA H200 NVL": (835.0, 417.5, 60.0),
    "NVIDIA A100-SXM4-80GB": (312.0, 156.0, 19.5),
    "NVIDIA A100-SXM4-40GB": (312.0, 156.0, 19.5),
    "NVIDIA A100 80GB PCIe": (312.0, 156.0, 19.5),
    "NVIDIA A100-PCIE-40GB": (312.0, 156.0, 19.5),
    "NVIDIA L40S": (362.05, 183.0, 91.6),
    "NVIDIA L40": (181.05, 90.5, 90.5),
    "NVIDIA L4": (121.0, 60.0, 30.3),
    "NVIDIA A10": (125.0, 62.5, 31.2),
    "NVIDIA GeForce RTX 4090": (165.2, 82.6, 82.6),
    "NVIDIA GeForce RTX 3090": (71.0, 35.6, 35.6),
}
DTYPE_COLUMN = {"bfloat16": 0, "float16": 0, "tfloat32": 1, "float32": 2}
FLOPS_PER_PARAM = {"full": 6, "lora": 4}
FLOPS_FORMULA = {
    "full": "6 x weights x tokens per stack (forward 2, backward 4); recomputation and attention terms not counted",
    "lora": "4 x weights x tokens per stack (frozen base: forward 2, input gradients 2); adapters not counted",
}


@dataclass(frozen=True)
class FlopParameters:
    """Weights that multiply each token, per stack (causal models have no encoder)."""

    encoder: int  # seq2seq encoder, x source tokens (0 for causal)
    decoder: int  # causal body or seq2seq decoder, x every token (causal) / target tokens (seq2seq)
    head: int  # LM head, x the tokens it is applied to


def device_peak_flops(device_name: str | None, compute_dtype: str) -> float | None:
    """Dense peak FLOP/s of ``device_name`` for ``compute_dtype`` (``bfloat16``, ``float16``, ``tfloat32``,
    ``float32``); None for an unknown device or dtype (MFU is then not reported)."""
    row = PEAK_TFLOPS.get(device_name or "")
    column = DTYPE_COLUMN.get(compute_dtype)
    return None if row is None or column is None else row[column] * TERA


def _numel(param) -> int:
    n = param.numel()
    if type(param).__name__ == "Params4bit":  # two 4-bit values per byte of storage
        n *= 2 * getattr(getattr(param, "quant_storage", None), "itemsize", 1)
    return n


def flop_parameters(model, seq2seq: bool) -> FlopParameters:
    """Count the weights per stack of a (possibly peft-wrapped or quantized) transformers model."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = base.get_output_embeddings()
    embeddings = {id(p) for module in base.modules() if type(module).__name__.endswith("Embedding")
                  for p in module.parameters(recurse=False)}
    head_ids = {id(p) for p in head.parameters()} if head is not None else set()
    head_n = sum(_numel(p) for p in head.parameters()) if head is not None else 0

    def count(module, skip=()) -> int:
        return sum(_numel(p) for p in module.parameters() if id(p) not in embeddings and id(p) not in head_ids
                   and id(p) not in skip)

    if seq2seq:
        encoder = count(base.get_encoder())
        decoder = count(base.get_decoder())
        return FlopParameters(encoder=encoder, decoder=decoder, head=head_n)
    return FlopParameters(encoder=0, decoder=count(base), head=head_n)


def model_flops_per_s(params: FlopParameters, finetune: str, *, source_tokens_per_s: float,
                      target_tokens_per_s: float, head_tokens_per_s: float) -> float:
    """Model FLOP/s. causal: ``source`` = every real token (prompt + summary), ``target`` = 0; seq2seq: encoder
    input and decoder labels. ``head`` = the tokens the LM head was applied to."""
    k = FLOPS_PER_PARAM[finetune]
    body = params.encoder * source_tokens_per_s + params.decoder * (target_tokens_per_s if params.encoder else
                                                                      source_tokens_per_s)
    return k * (body + params.head * head_tokens_per_s)


def model_flops_utilization(flops_per_s: float | None, peak_flops: float | None, devices: int = 1) -> float | None:
    """Achieved FLOP/s over the peak of the devices that achieved them: under data parallelism ``flops_per_s``
    counts every rank's tokens, so it is divided by ``devices`` x one device's peak."""
    if not flops_per_s or not peak_flops:
        return None
    return flops_per_s / (peak_flops * max(1, devices))
