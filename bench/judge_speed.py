"""Verdicts per second of a pointwise judge: naive transformers vs the pipeline's scoring paths, same inputs.

    .venv/bin/python -W ignore bench/judge_speed.py            # 48 LLMBar (Natural) items, base SmolLM2 as judge

Every path reads P("0".."9") at the position after the same rendered judge prompts, in batches of 8:
- naive transformers: batches in item order, left padding, logits at every position;
- pipeline, original: `next_token_distribution(fast=False)` (the same work as naive);
- pipeline, sorted only: length-sorted batches, logits at every position;
- pipeline, fast: length-sorted batches and the last position's logits only (the shared-prefix cache off);
- pipeline, fast + shared prefix: as fast, and the token prefix each batch's prompts share (the template's
  instructions) run once, its KV cache kept across calls, only the rest of each prompt run (the default);
- judge, end to end: `PointwiseLLMJudge.judge` (fit to context, chat template, fast scoring, parsing).
Each path runs ``--repeats`` times, interleaved, and the best time is kept (the machine may be shared). The
largest difference of a raw score-token probability from the naive one is shown for each path. The prefix cache
is filled by the warm-up call, as it is after a GRPO run's first reward call (steady state); the prefix tokens
it ran are printed below the table.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--checkpoint", default=None, help="judge weights (default: the base SmolLM2 folder)")
    ap.add_argument("--template", default="pointwise_v1")
    args = ap.parse_args()

    import torch

    from judge_pipeline.backends.hf_models import materialize_base_model
    from judge_pipeline.config import SMOLLM2
    from judge_pipeline.judging.pointwise_judge import PointwiseLLMJudge
    from judge_pipeline.sources.llmbar import load_llmbar, sample_pairs

    path = args.checkpoint or str(materialize_base_model(SMOLLM2))
    rows = sample_pairs(load_llmbar(subset="natural"), args.items // 2 + 1, seed=0)
    items = [(r["prompt"], r[k]) for r in rows for k in ("response_a", "response_b")][: args.items]
    judge = PointwiseLLMJudge(path, name="speed", template_version=args.template, batch_size=args.batch_size)
    backend = judge._backend()
    model, tok, ids = backend.model, backend.tokenizer, judge._score_ids
    texts = [judge.prompt_text(p, r) for p, r in items]
    n_tokens = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]

    @torch.inference_mode()
    def naive():
        out = []
        tok.padding_side = tok.truncation_side = "left"  # the pipeline keeps a too-long prompt's end, as here
        for s in range(0, len(texts), args.batch_size):
            enc = tok(texts[s : s + args.batch_size], return_tensors="pt", padding=True, add_special_tokens=False,
                      truncation=True, max_length=judge.max_length)
            probs = torch.softmax(model(**enc).logits[:, -1, :].float(), -1)
            out += probs[:, ids].tolist()
        return out

    def pipeline(fast: bool, last_only: bool = True, prefix: bool = False):
        def run():
            backend._logits_to_keep = None if last_only else False
            backend.prefix_caching = prefix
            try:
                return [d.probs for d in backend.next_token_distribution(texts, ids, args.batch_size, judge.max_length,
                                                                         fast=fast)]
            finally:
                backend._logits_to_keep = None
                backend.prefix_caching = True
        return run

    def end_to_end():
        return [v.score_probs for v in judge.judge(items)]

    paths = {
        "naive transformers (item order, all logits)": naive,
        "pipeline, original (fast=False)": pipeline(False),
        "pipeline, length-sorted only": pipeline(True, last_only=False),
        "pipeline, fast (sorted + logits_to_keep=1)": pipeline(True),
        "pipeline, fast + shared prefix": pipeline(True, prefix=True),
        "judge.judge end to end (fast)": end_to_end,
    }
    best = {k: float("inf") for k in paths}
    results = {}
    pipeline(True, prefix=True)()  # warm-up (and the prefix cache filled)
    warm_tokens = backend.prefix_cache.tokens_run
    for _ in range(args.repeats):
        for name, fn in paths.items():
            t0 = time.perf_counter()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    ref = results["naive transformers (item order, all logits)"]
    base = best["naive transformers (item order, all logits)"]
    print(f"\n## Judge scoring speed: {len(items)} LLMBar items, {sum(n_tokens) / len(n_tokens):.0f} judge-prompt tokens "
          f"on average (min {min(n_tokens)}, max {max(n_tokens)}), batches of {args.batch_size}, "
          f"torch threads {torch.get_num_threads()}, best of {args.repeats}\n")
    print("| path | s | verdicts/s | vs naive | max abs diff of raw probs vs naive |\n|---|---:|---:|---:|---:|")
    for name in paths:
        if name.startswith("judge.judge"):
            diff = "(renormalised; not compared)"
        else:
            diff = f"{max(abs(a - b) for x, y in zip(ref, results[name]) for a, b in zip(x, y)):.1e}"
        print(f"| {name} | {best[name]:.2f} | {len(items) / best[name]:.2f} | {base / best[name]:.2f}x | {diff} |")
    cache = backend.prefix_cache
    print(f"\nshared prefix: cached prefixes of {sorted(len(k) for k in cache.entries)} tokens; {warm_tokens} prefix "
          f"tokens run by the warm-up, {cache.tokens_run - warm_tokens} after it ({2 * args.repeats} calls use the cache)")


if __name__ == "__main__":
    main()
