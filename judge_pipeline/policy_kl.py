"""KL(pi || pi_init) of a policy checkpoint to the initial policy, on the policy-test prompts.

Gao et al. plot gold score against d = sqrt(KL). We estimate the sequence-level KL per prompt by
sampling completions y ~ pi (temperature 1: the model's own distribution, through the store as
generations) and summing, over the completion's positions, the *exact* next-token KL of the two
models given the same prefix:

    KL(pi || pi_init)(x) ~= sum_t KL( pi(. | x, y_<t) || pi_init(. | x, y_<t) )

Its expectation over y ~ pi equals the sequence KL, and it has lower variance than the log-ratio of
the sampled tokens alone. Each value is kept in the store's ``kl_estimates`` table, keyed by both
models' checkpoint hashes, the decoding, the prompt and the sample index: re-measuring an unchanged
checkpoint costs nothing, and the initial policy's KL is 0 without a model call. Values are committed every
``commit_every`` completions (default: the batch size), not once per checkpoint: a run that fails or is
killed midway keeps what it measured, and the next one computes only the rest.

The KL is measured even when the GRPO run has no KL penalty (the paper's default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from judge_pipeline.backends.transformers_backend import TransformersBackend
from judge_pipeline.generation import generate_through_store
from judge_pipeline.store import JudgmentStore, content_key
from judge_pipeline.store.keys import canonical_json, checkpoint_hash

#: completions are sampled from the policy at temperature 1 (its distribution, not the rollout temperature)
KL_TEMPERATURE = 1.0


@dataclass
class KLStats:
    requested: int = 0
    computed: int = 0  #: KL values computed now (each: two forward passes)
    generations_computed: int = 0  #: completions sampled now


@torch.inference_mode()
def sequence_kl(policy: TransformersBackend, reference: TransformersBackend, prompt: str, completion: str,
                finished: bool) -> tuple[float, int]:
    """sum_t KL(policy(.|prefix_t) || reference(.|prefix_t)) over the completion's tokens (+ EOS if it finished)."""
    tok = policy.tokenizer
    prefix = tok(policy.render([{"role": "user", "content": prompt}]), add_special_tokens=False)["input_ids"]
    body = tok(completion, add_special_tokens=False)["input_ids"] + ([tok.eos_token_id] if finished else [])
    if not body:
        return 0.0, 0
    ids = torch.tensor([prefix + body], device=policy.device)
    span = slice(len(prefix) - 1, len(prefix) + len(body) - 1)  # logits at t predict token t + 1
    lp = torch.log_softmax(policy.model(input_ids=ids).logits[0, span].float(), dim=-1)
    lq = torch.log_softmax(reference.model(input_ids=ids.to(reference.device)).logits[0, span].float(), dim=-1)
    kl = (lp.exp() * (lp - lq.to(lp.device))).sum(dim=-1)
    return float(kl.sum().clamp_min(0.0)), len(body)


def kl_through_store(
    checkpoint: str, reference: str, prompts: Sequence[str], store: JudgmentStore, max_new_tokens: int,
    samples: int = 1, run_id: str | None = None, device: str = "cpu", batch_size: int = 8, progress: bool = True,
    commit_every: int | None = None,
) -> tuple[list[float], KLStats]:
    """Mean KL estimate per prompt (over ``samples`` completions) of ``checkpoint`` to ``reference``; KL values
    are committed to the store every ``commit_every`` completions (None: ``batch_size``)."""
    commit_every = max(1, commit_every or batch_size)
    pol_fp, ref_fp = checkpoint_hash(checkpoint), checkpoint_hash(reference)
    stats = KLStats(requested=len(prompts) * samples)
    if pol_fp == ref_fp:  # the initial policy itself
        return [0.0] * len(prompts), stats
    decoding = {"max_new_tokens": max_new_tokens, "temperature": KL_TEMPERATURE}
    items = [(p, s) for s in range(samples) for p in prompts]
    keys = [content_key(policy=pol_fp, reference=ref_fp, decoding=decoding, prompt=p, sample=s) for p, s in items]
    missing = set(store.missing_kl(keys))
    if missing:
        policy = TransformersBackend(checkpoint, device=device)
        ref_model = TransformersBackend(reference, device=device)
        rows: list[dict] = []

        def commit() -> None:
            if rows:
                store.put_kl(rows)  # committed: survives a failure or kill later in this checkpoint
                stats.computed += len(rows)
                rows.clear()

        for s in range(samples):
            todo = [p for (p, si), k in zip(items, keys) if si == s and k in missing]
            if not todo:
                continue
            gens, gstats = generate_through_store(checkpoint, todo, store, max_new_tokens, temperature=KL_TEMPERATURE,
                                                  sample_index=s, run_id=run_id, device=device, batch_size=batch_size,
                                                  backend=policy, progress=False)
            stats.generations_computed += gstats.computed
            for p, g in tqdm(list(zip(todo, gens)), desc=f"KL sample {s}", disable=not progress):
                kl, n = sequence_kl(policy, ref_model, p, g["completion"], bool(g["finished"]))
                rows.append({"key": content_key(policy=pol_fp, reference=ref_fp, decoding=decoding, prompt=p, sample=s),
                             "policy_fingerprint": pol_fp, "reference_fingerprint": ref_fp,
                             "decoding": canonical_json(decoding), "prompt": p, "sample_index": s, "kl": kl,
                             "tokens": n, "run_id": run_id})
                if len(rows) >= commit_every:
                    commit()
        commit()
    stored = store.fetch_kl(keys)
    per_prompt: dict[str, list[float]] = {}
    for (p, _), k in zip(items, keys):
        per_prompt.setdefault(p, []).append(float(stored[k]["kl"]))
    return [sum(per_prompt[p]) / len(per_prompt[p]) for p in prompts], stats
