"""Training examples for every judge variant, built from the gold labels of judge-train.

One function per training stage, each taking the same inputs (gold rows and the variant's config):

- `sft_examples`: conversational prompt/completion pairs; the completion is what the judge must
  answer: the score ("7"), the label ("Output (a)"), or for reasoning judges the gold trace followed by
  the verdict ("...\\nScore: 7" / "Output (a): ...\\nOutput (b): ...\\nOutput (a)").
- `grpo_examples`: the judge prompt plus the gold verdict the reward compares with (``gold_score`` or
  ``gold_label``); TRL passes those columns to the reward function.
- `preference_examples`: chosen/rejected chats (explicit prompt) for the Bradley–Terry reward model.

Pairwise judges see every pair in both orders (label swapped), so the data does not teach a
position preference. Pairs whose two gold scores tie have no label and are left out of pairwise and
reward-model training.
"""

from __future__ import annotations

from collections.abc import Callable

from judge_pipeline.backends.transformers_backend import CHAT_TEMPLATE_KWARGS
from judge_pipeline.config import JudgeTrainConfig
from judge_pipeline.judging.gold_rules import condense_trace
from judge_pipeline.judging.templates import render_pairwise, render_pointwise

LABEL_TEXT = {1: "Output (a)", 2: "Output (b)"}


def gold_pairs(rows: list[dict]) -> list[dict]:
    """Long gold rows (one per response: pair_id, position, prompt, response, gold_score, gold_trace, pair_label)
    -> one row per labelled pair: prompt, response_a/b, trace_a/b, score_a/b, label."""
    by_pair: dict[str, dict] = {}
    for r in rows:
        p = by_pair.setdefault(r["pair_id"], {"pair_id": r["pair_id"], "prompt": r["prompt"], "label": r["pair_label"]})
        p[f"response_{r['position']}"] = r["response"]
        p[f"trace_{r['position']}"] = r["gold_trace"]
        p[f"score_{r['position']}"] = r["gold_score"]
    return [p for _, p in sorted(by_pair.items()) if p["label"] is not None and "response_a" in p and "response_b" in p]


def _both_orders(pairs: list[dict]) -> list[dict]:
    """Each pair as shown (a, b) and swapped (b, a), the label following its response."""
    out = []
    for p in pairs:
        out.append(p)
        out.append({**p, "response_a": p["response_b"], "response_b": p["response_a"], "trace_a": p["trace_b"],
                    "trace_b": p["trace_a"], "score_a": p["score_b"], "score_b": p["score_a"], "label": 3 - p["label"]})
    return out


def pointwise_target(r: dict, cfg: JudgeTrainConfig) -> str:
    score = str(int(r["gold_score"]))
    if not cfg.reasoning:
        return score
    trace = r["gold_trace"].rsplit("Score:", 1)[0].strip()
    if cfg.trace == "condensed":
        trace = condense_trace(trace)
    return f"{trace}\nScore: {score}"


def pairwise_target(p: dict, cfg: JudgeTrainConfig) -> str:
    if not cfg.reasoning:
        return LABEL_TEXT[p["label"]]
    def one(trace: str) -> str:
        trace = trace.rsplit("Score:", 1)[0].strip()
        return condense_trace(trace) if cfg.trace == "condensed" else trace
    return f"Output (a): {one(p['trace_a'])}\nOutput (b): {one(p['trace_b'])}\n{LABEL_TEXT[p['label']]}"


def _prompt(cfg: JudgeTrainConfig, r: dict, rubric_fn: Callable[[str], str] | None) -> list[dict]:
    if cfg.kind == "pairwise":
        return render_pairwise(cfg.template, r["prompt"], r["response_a"], r["response_b"])
    if cfg.rubric and rubric_fn is None:
        raise ValueError(f"judge {cfg.variant!r} is a rubric judge but no rubric source was given")
    rubric = rubric_fn(r["prompt"]) if cfg.rubric else None
    return render_pointwise(cfg.template, r["prompt"], r["response"], rubric=rubric)


def sft_examples(rows: list[dict], cfg: JudgeTrainConfig, rubric_fn: Callable[[str], str] | None = None) -> list[dict]:
    """Conversational prompt/completion examples for the SFT stage of ``cfg``'s variant (TRL reads the
    ``chat_template_kwargs`` column, so training renders chats exactly as inference does)."""
    def example(prompt, target):
        return {"prompt": prompt, "completion": [{"role": "assistant", "content": target}],
                "chat_template_kwargs": CHAT_TEMPLATE_KWARGS}
    if cfg.kind == "pairwise":
        return [example(_prompt(cfg, p, None), pairwise_target(p, cfg)) for p in _both_orders(gold_pairs(rows))]
    return [example(_prompt(cfg, r, rubric_fn), pointwise_target(r, cfg)) for r in rows]


def grpo_examples(rows: list[dict], cfg: JudgeTrainConfig, rubric_fn: Callable[[str], str] | None = None) -> list[dict]:
    """Judge prompts with the gold verdict their rollouts are rewarded against."""
    if cfg.kind == "pairwise":
        return [{"prompt": _prompt(cfg, p, None), "gold_label": int(p["label"])} for p in _both_orders(gold_pairs(rows))]
    return [{"prompt": _prompt(cfg, r, rubric_fn), "gold_score": float(r["gold_score"])} for r in rows]


def preference_examples(rows: list[dict]) -> list[dict]:
    """Chosen/rejected chats (explicit prompt) for the Bradley–Terry reward model."""
    out = []
    for p in gold_pairs(rows):
        chosen, rejected = (p["response_a"], p["response_b"]) if p["label"] == 1 else (p["response_b"], p["response_a"])
        out.append({"prompt": [{"role": "user", "content": p["prompt"]}],
                    "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}],
                    "chat_template_kwargs": CHAT_TEMPLATE_KWARGS})
    return out
