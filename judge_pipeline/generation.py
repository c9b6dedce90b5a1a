"""Generation through the store: a policy's answers are computed once per (model, decoding, prompt, sample).

Re-evaluating a checkpoint whose weights did not change makes no model call: its answers are read
back from the store's `generations` table, keyed by the checkpoint's weight hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from judge_pipeline.backends.served_model import ServedModel, served_client
from judge_pipeline.backends.transformers_backend import TransformersBackend
from judge_pipeline.store import JudgmentStore, content_key
from judge_pipeline.store.keys import canonical_json, checkpoint_hash


@dataclass
class GenerationStats:
    requested: int = 0
    computed: int = 0  #: completions generated now (model calls)
    reused: int = 0


class LazyBackend:
    """A TransformersBackend loaded at its first `generate`: a loop of store-backed calls on one model (a
    best-of-n pool, sample by sample) loads it at most once, and not at all when the store has every answer."""

    def __init__(self, checkpoint: str, device: str = "cpu"):
        self.checkpoint, self.device, self._backend = checkpoint, device, None

    def generate(self, *args, **kwargs):
        if self._backend is None:
            self._backend = TransformersBackend(self.checkpoint, device=self.device)
        return self._backend.generate(*args, **kwargs)


def policy_backend(serving: str, checkpoint: str, device: str = "cpu") -> LazyBackend | ServedModel:
    """What generates a policy checkpoint's answers: the checkpoint in this process (loaded at first use), or with
    ``serving="http"`` the server(s) of that folder (``JUDGE_PIPELINE_POLICY_URLS``; the request's model name is the
    folder's path, what ``vllm serve <folder>`` answers to, so each checkpoint is asked of its own server)."""
    if serving == "http":
        return ServedModel(checkpoint, served_client("policy", checkpoint, model_from_env=False))
    return LazyBackend(checkpoint, device)


def generate_through_store(
    checkpoint: str,
    prompts: Sequence[str],
    store: JudgmentStore,
    max_new_tokens: int,
    temperature: float = 0.0,
    sample_index: int = 0,
    run_id: str | None = None,
    batch_size: int = 8,
    device: str = "cpu",
    backend: TransformersBackend | LazyBackend | ServedModel | None = None,
    progress: bool = True,
) -> tuple[list[dict], GenerationStats]:
    """One completion per prompt (user message), from the store where present. Returns generation rows.
    A served backend's answers are keyed apart from local ones (``decoding`` says ``served``)."""
    fingerprint = checkpoint_hash(checkpoint)
    decoding = {"max_new_tokens": max_new_tokens, "temperature": temperature}
    if isinstance(backend, ServedModel):
        decoding["served"] = "completions"
    keys = [content_key(model=fingerprint, decoding=decoding, prompt=p, sample=sample_index) for p in prompts]
    by_key = dict(zip(keys, prompts))
    missing = store.missing_generations(list(by_key))
    stats = GenerationStats(requested=len(prompts), reused=len(by_key) - len(missing))
    if missing:
        backend = backend or TransformersBackend(checkpoint, device=device)
        bar = tqdm(total=len(missing), desc=f"generating with {checkpoint.rsplit('/', 2)[-1]}", disable=not progress)
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            outs = backend.generate([[{"role": "user", "content": by_key[k]}] for k in batch], max_new_tokens,
                                    temperature=temperature, seed=sample_index, batch_size=batch_size)
            store.put_generations([
                {"key": k, "model": str(checkpoint), "model_fingerprint": fingerprint, "decoding": canonical_json(decoding),
                 "prompt": by_key[k], "sample_index": sample_index, "completion": o.text, "finished": o.finished,
                 "completion_tokens": o.completion_tokens, "latency_ms": o.latency_ms, "run_id": run_id}
                for k, o in zip(batch, outs)
            ])
            stats.computed += len(batch)
            bar.update(len(batch))
        bar.close()
    stored = store.fetch_generations(keys)
    return [stored[k] for k in keys], stats
