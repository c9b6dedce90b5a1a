"""What the reasoning analytics' self-consistency samples cost on a CPU (issue 15 item 4).

The miniature's reasoning judge setting (`studies.miniature_judges`: pointwise, reasoning, condensed-trace template,
96 new tokens) on the shipped SmolLM2-135M, sampled as `reasoning_analytics` samples it (`metrics/reasoning.py`:
CONSISTENCY_SAMPLES traces on CONSISTENCY_ITEMS items at FALLBACK_SAMPLING, the miniature's reward being greedy), into a
fresh store; then the same again (all from the store). The untrained base model rarely ends its trace with a score, so
it writes the full 96 tokens: an upper bound of the trained judge's cost.

    OMP_NUM_THREADS=1 .venv/bin/python bench/consistency_cost.py

(one thread: on a 2-core machine shared with other processes, two torch threads spin against each other; measured
2026-12-02 under load: 39 s for the 12 verdicts, 0.1 s on the re-run.)
"""

from __future__ import annotations

import tempfile
import time

from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.config import load_config
from judge_pipeline.judging.builders import build_training_judge
from judge_pipeline.judging.sampling import sample_verdicts
from judge_pipeline.metrics.reasoning import CONSISTENCY_ITEMS, CONSISTENCY_SAMPLES, consistency_sampling
from judge_pipeline.sources.ifeval import load_ifeval
from judge_pipeline.store import JudgmentStore


def main() -> None:
    cfg = load_config("miniature")
    base = materialize_base_model(cfg.models[cfg.judge("reasoning").base_model])
    judge = build_training_judge(cfg, "reasoning", base, name="smollm2-untrained:reasoning")
    items = [(r["prompt"], "Here is my answer: it depends on the details you give.") for r in load_ifeval()[:CONSISTENCY_ITEMS]]
    sampling = consistency_sampling(cfg.policy.judge_temperature, cfg.policy.judge_top_k, cfg.policy.judge_top_p)
    store = JudgmentStore(tempfile.mkdtemp() + "/store")
    for label in ("first run", "re-run"):
        t0 = time.perf_counter()
        samples, computed = sample_verdicts(judge, items, store, sampling, CONSISTENCY_SAMPLES, batch_size=cfg.eval.judge_batch_size)
        seconds = time.perf_counter() - t0
        tokens = sum(v.output_tokens or 0 for s in samples for v in s)
        print(f"{label}: {CONSISTENCY_SAMPLES} samples x {len(items)} items at {sampling}: {computed} verdicts computed, "
              f"{tokens} trace tokens, {seconds:.1f} s wall")


if __name__ == "__main__":
    main()
