"""The miniature's Arena-Hard evaluation of its initial policy, without Dagster (what `arena_answers`,
`arena_judgments` and `arena_scores` compute for step 0), in a fresh store:

    .venv/bin/python -W ignore bench/arena_initial.py [study]     # default: miniature

Prints per category the battles, win rate, Bradley-Terry and style-controlled scores with their 95 % CIs, the
verdicts, and the seconds spent answering, judging and scoring.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from transformers import AutoTokenizer

from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.config import load_config
from judge_pipeline.generation import generate_through_store
from judge_pipeline.judging.arena_judge import StudyPointwiseJudge, battle_games
from judge_pipeline.judging.builders import build_gold_judge
from judge_pipeline.metrics.arena_scores import Battle, arena_scores, battle_outcomes
from judge_pipeline.metrics.arena_style import answer_metadata, style_covariates
from judge_pipeline.sources.arena_hard import answer_text, load_baselines, load_questions, select_questions
from judge_pipeline.store import JudgmentStore


def main(study: str = "miniature") -> None:
    cfg = load_config(study)
    store = JudgmentStore(Path(tempfile.mkdtemp()) / "store")
    policy = str(materialize_base_model(cfg.models[cfg.policies[0]]))
    baselines = load_baselines()
    questions = select_questions(load_questions(), baselines, cfg.arena.per_subcategory, cfg.arena.ascii_prompts_only)
    t0 = time.perf_counter()
    gens, gstats = generate_through_store(policy, [q["prompt"] for q in questions], store, cfg.arena.max_new_tokens,
                                          batch_size=cfg.eval.generation_batch_size, progress=False)
    t1 = time.perf_counter()
    judge = StudyPointwiseJudge(build_gold_judge(cfg), cfg.arena.tie_margin, cfg.arena.strong_margin)
    games = [g for q, gen in zip(questions, gens) for g in battle_games(
        q["category"], q["prompt"], gen["completion"], answer_text(baselines[q["category"]][q["uid"]]))]
    verdicts, vstats = judge.judge_games(games, store, attempts=cfg.arena.attempts, progress=False)
    t2 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(policy)
    count = lambda text: len(tok.encode(text, add_special_tokens=False))  # noqa: E731
    for category in ("hard_prompt", "creative_writing"):
        battles = []
        for i, (q, gen) in enumerate(zip(questions, gens)):
            outcomes = battle_outcomes(verdicts[2 * i].verdict, verdicts[2 * i + 1].verdict, cfg.arena.weight)
            if q["category"] != category or outcomes is None:
                continue
            base = answer_text(baselines[category][q["uid"]])
            style = style_covariates([answer_metadata(gen["completion"], count(gen["completion"]))],
                                     [answer_metadata(base, count(base))])[0]
            battles.append(Battle("initial", q["uid"], outcomes, style))
        (s,), coefs = arena_scores(battles, cfg.eval.bootstrap_resamples, cfg.eval.ci_level)
        print(f"{category}: battles {s.battles}, win rate {s.win_rate:.3f} [{s.win_rate_low:.3f}, {s.win_rate_high:.3f}], "
              f"BT {s.bt:.3f} [{s.bt_low:.3f}, {s.bt_high:.3f}], style-controlled BT {s.bt_style:.3f}, coefficients {coefs}")
    print("verdicts (game 1, game 2 per battle):", [v.verdict for v in verdicts])
    print(f"{gstats.computed} answers in {t1 - t0:.1f} s; {vstats.computed} verdicts in {t2 - t1:.2f} s; "
          f"scores in {time.perf_counter() - t2:.1f} s")


if __name__ == "__main__":
    main(*sys.argv[1:])
