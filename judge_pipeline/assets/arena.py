"""Arena-Hard-V2-style evaluation of every policy checkpoint (issue 15), partitioned like the policy runs.

- `arena_questions`: the study's subset of Arena-Hard v2.0 (`ArenaConfig`) with each question's official baseline
  answer (o3-mini for hard prompts, gemini-2.0-flash for creative writing), from the vendored, hash-checked files;
- `arena_answers`: each checkpoint's greedy answers, through the store's generations (a re-run generates nothing),
  from the checkpoint in this process or its server (`PolicyTrainConfig.serving`, as `checkpoint_scores`); the
  initial policy (step 0) is one model shared by every seed;
- `arena_judgments`: each (checkpoint, question) battle judged in two games with the positions swapped, through the
  judgment store (`judging/arena_judge.py`: an Arena-Hard prompt judge, or a judge of the study); unparseable verdicts
  asked again, then recorded as invalid. Also writes the battles in Arena-Hard-Auto's own layout under
  ``runs/<study>/arena_hard`` (`sources/arena_files.py`), so its ``show_result.py`` reads them;
- `arena_scores`: per checkpoint and category, the win rate against the baseline and Bradley-Terry scores without
  and with style control, each with a 95 % bootstrap CI (`metrics/arena_scores.py`).
"""

import os
from pathlib import Path

import polars as pl
from dagster import AllPartitionMapping, AssetDep, AssetExecutionContext, MetadataValue, asset

from judge_pipeline.assets.metadata import md_table
from judge_pipeline.assets.partitions import RUN_PARTITION_META, policy_and_judge, policy_judge_partitions
from judge_pipeline.config import StudyConfig
from judge_pipeline.generation import generate_through_store, policy_backend
from judge_pipeline.judging.arena_judge import (
    ArenaPromptJudge, LocalJudgeServer, StudyPairwiseJudge, StudyPointwiseJudge, arena_http_config, arena_messages,
    battle_games,
)
from judge_pipeline.judging.builders import build_gold_judge, build_training_judge
from judge_pipeline.metrics.arena_scores import Battle, arena_scores as score_battles, battle_outcomes
from judge_pipeline.metrics.arena_style import answer_metadata, style_covariates
from judge_pipeline.resources import StudyResource
from judge_pipeline.sources import arena_files
from judge_pipeline.sources.arena_hard import BASELINES, answer_text, load_baselines, load_questions, select_questions

GROUP = "arena"
ENV_JUDGE = "JUDGE_PIPELINE_ARENA_JUDGE"  #: overrides `ArenaConfig.judge` for a run
LOCAL_MAX_TOKENS = 256  #: the "local" judge's new-token limit (llama-cpp's server runs a 2048-token context)
MODEL_COLUMNS = ["policy", "judge_variant", "seed", "step", "model", "path"]


def arena_root(study: StudyResource) -> Path:
    """Where the Arena-Hard-layout files go (``show_result.py`` runs from here)."""
    return study.root / "runs" / study.config_name / "arena_hard"


def questions_table(cfg: StudyConfig) -> pl.DataFrame:
    """The study's Arena-Hard questions with their baseline's model and answer (cheap: read and hash-checked)."""
    baselines = load_baselines()
    chosen = select_questions(load_questions(), baselines, cfg.arena.per_subcategory, cfg.arena.ascii_prompts_only)
    return pl.DataFrame([{**q, "baseline_model": BASELINES[q["category"]],
                          "baseline_answer": answer_text(baselines[q["category"]][q["uid"]])} for q in chosen])


@asset(group_name=GROUP)
def arena_questions(context: AssetExecutionContext, study: StudyResource) -> pl.DataFrame:
    """The evaluated Arena-Hard v2.0 questions (the study's fixed subset) with their official baseline answers."""
    df = questions_table(study.cfg)
    counts = df.group_by("category", "subcategory").len().sort("category", "subcategory")
    context.add_output_metadata({"questions": len(df), "per_subcategory": md_table(counts),
                                 "table": md_table(df.select("uid", "subcategory", "prompt", "baseline_model"))})
    return df


#: the partitioned assets read the questions themselves (`questions_table`), so a run partition needs nothing but its
#: policy checkpoints: `evaluation_job` (nightly, and on a new checkpoint) materialises them beside checkpoint_scores
QUESTIONS = AssetDep("arena_questions")


def _tokenizer_count(path: str):
    from transformers import AutoTokenizer  # loaded only here: the tokenizer, not the model

    tok = AutoTokenizer.from_pretrained(path)
    return lambda text: len(tok.encode(text, add_special_tokens=False))


@asset(group_name=GROUP, partitions_def=policy_judge_partitions, metadata=RUN_PARTITION_META, deps=[QUESTIONS])
def arena_answers(context: AssetExecutionContext, study: StudyResource, policy_checkpoints: pl.DataFrame) -> pl.DataFrame:
    """Each checkpoint's answer to each Arena-Hard question (greedy, through the store), with the answer's and the
    baseline's token counts (both with the policy's tokenizer: the style features compare them)."""
    cfg = study.cfg
    policy, reward = policy_and_judge(context)
    store, run_id = study.store(), context.run.run_id
    qtable = questions_table(cfg)
    runs = policy_checkpoints.filter((pl.col("policy") == policy) & (pl.col("judge_variant") == reward)).sort("seed", "step")
    models = {}
    for seed, step, path in runs.select("seed", "step", "path").iter_rows():
        models.setdefault(arena_files.checkpoint_model(policy, reward, seed, step), (seed, step, path))
    prompts = qtable["prompt"].to_list()
    count = _tokenizer_count(runs.filter(pl.col("step") == 0)["path"][0])
    baseline_tokens = [count(a) for a in qtable["baseline_answer"].to_list()]
    frames, computed = [], 0
    for name, (seed, step, path) in models.items():
        gens, stats = generate_through_store(path, prompts, store, cfg.arena.max_new_tokens, run_id=run_id,
                                             device=cfg.device, batch_size=cfg.eval.generation_batch_size,
                                             backend=policy_backend(cfg.policy.serving, path, cfg.device), progress=False)
        computed += stats.computed
        answers = [g["completion"] for g in gens]
        frames.append(pl.DataFrame({
            "policy": policy, "judge_variant": reward, "seed": None if step == 0 else seed, "step": step, "model": name,
            "path": path, "uid": qtable["uid"], "category": qtable["category"], "answer": answers,
            "finished": [g["finished"] for g in gens], "answer_tokens": [count(a) for a in answers],
            "baseline_tokens": baseline_tokens, "generation_key": [g["key"] for g in gens],
        }, schema_overrides={"seed": pl.Int64, "step": pl.Int64}))
    df = pl.concat(frames)
    context.add_output_metadata({"models": len(models), "answers": len(df), "computed_now": computed,
                                 "model_calls_generations": computed,
                                 "mean_answer_tokens": round(float(df["answer_tokens"].mean()), 1)})
    return df


def build_game_judge(cfg: StudyConfig, study: StudyResource, server: LocalJudgeServer):
    """The study's Arena judge (`ArenaConfig.judge`, or $JUDGE_PIPELINE_ARENA_JUDGE)."""
    arena = cfg.arena
    which = os.environ.get(ENV_JUDGE, "").strip() or arena.judge
    if which == "http":
        return ArenaPromptJudge(arena_http_config(arena.judge_model, arena.judge_max_tokens))
    if which == "local":
        from judge_pipeline.backends.local_server import MODEL_ALIAS

        return ArenaPromptJudge(arena_http_config(MODEL_ALIAS, min(arena.judge_max_tokens, LOCAL_MAX_TOKENS),
                                                  concurrency=1), server=server)
    if which == "gold":
        judge = build_gold_judge(cfg)
    elif which in cfg.judge_variants:
        judge = build_training_judge(cfg, which, study.judge_dir(which))
    else:
        raise ValueError(f"Arena judge {which!r} is none of http, local, gold or a judge variant {cfg.judge_variants}")
    if judge.kind == "pairwise":
        return StudyPairwiseJudge(judge)
    return StudyPointwiseJudge(judge, tie_margin=arena.tie_margin, strong_margin=arena.strong_margin)


@asset(group_name=GROUP, partitions_def=policy_judge_partitions, metadata=RUN_PARTITION_META,
       deps=[QUESTIONS, AssetDep("judge_checkpoint", partition_mapping=AllPartitionMapping())])
def arena_judgments(context: AssetExecutionContext, study: StudyResource, arena_answers: pl.DataFrame) -> pl.DataFrame:
    """Every battle (checkpoint x question) judged in two games against the baseline (game 1: baseline as A, game 2:
    the checkpoint as A), through the judgment store; also written in Arena-Hard-Auto's layout."""
    cfg = study.cfg
    policy, reward = policy_and_judge(context)
    store, run_id = study.store(), context.run.run_id
    qtable = questions_table(cfg)
    questions = {q["uid"]: q for q in qtable.iter_rows(named=True)}
    rows = list(arena_answers.iter_rows(named=True))
    games = [g for r in rows for g in battle_games(r["category"], questions[r["uid"]]["prompt"], r["answer"],
                                                   questions[r["uid"]]["baseline_answer"])]
    with LocalJudgeServer(arena_root(study) / "local_server.log") as server:
        judge = build_game_judge(cfg, study, server)
        verdicts, stats = judge.judge_games(games, store, attempts=cfg.arena.attempts, run_id=run_id,
                                            batch_size=cfg.eval.judge_batch_size, progress=False)
    out = []
    for i, r in enumerate(rows):
        for g in (0, 1):
            v = verdicts[2 * i + g]
            out.append({**{k: r[k] for k in ("policy", "judge_variant", "seed", "step", "model", "uid", "category")},
                        "judge": judge.name, "game": g + 1, "verdict": v.verdict, "attempt": v.attempt,
                        "invalid_reason": v.invalid_reason, "judgment": v.text, "keys": ",".join(v.keys)})
    store.record_uses([{"key": k, "context": "arena_judgments", "partition_key": f"policy={policy}|judge={reward}",
                        "step": o["step"], "item_id": f"{o['model']}|{o['uid']}|game{o['game']}"}
                       for o in out for k in o["keys"].split(",") if k])
    df = pl.DataFrame(out, schema_overrides={"seed": pl.Int64, "step": pl.Int64, "attempt": pl.Int64,
                                             "verdict": pl.String, "invalid_reason": pl.String})
    files = write_arena_files(study, judge, qtable, arena_answers, rows, games, verdicts)
    counts = df.group_by("verdict").len().sort("verdict", nulls_last=True)
    context.add_output_metadata({
        "judge": judge.name, "games": stats.games, "invalid_games": stats.invalid, "recovered_by_retry": stats.recovered,
        "computed_now": stats.computed, "model_calls_verdicts": stats.computed, "verdicts": md_table(counts),
        "arena_hard_files": MetadataValue.path(str(files)),
    })
    return df


def write_arena_files(study: StudyResource, judge, questions: pl.DataFrame, answers: pl.DataFrame, rows: list[dict],
                      games, verdicts) -> Path:
    """question.jsonl, model_answer/ (the run's checkpoints and the baselines) and model_judgment/<judge>/ of this
    run, in Arena-Hard-Auto's layout; returns the bench folder."""
    root = arena_root(study)
    qrows = list(questions.iter_rows(named=True))
    arena_files.write_questions(root, qrows)
    baselines = load_baselines()
    for category, model in BASELINES.items():
        arena_files.write_model_answers(root, model, [baselines[category][q["uid"]] for q in qrows
                                                      if q["category"] == category])
    prompts = {q["uid"]: q["prompt"] for q in qrows}
    for model in answers["model"].unique(maintain_order=True):
        mine = [r for r in answers.filter(pl.col("model") == model).iter_rows(named=True)]
        arena_files.write_model_answers(root, model, [arena_files.answer_record(
            r["uid"], model, prompts[r["uid"]], r["answer"], r["generation_key"],
            answer_metadata(r["answer"], r["answer_tokens"])) for r in mine])
    records: dict[str, list[dict]] = {}
    is_prompt_judge = isinstance(judge, ArenaPromptJudge)  # else a study judge: the user template carries the texts
    for i, r in enumerate(rows):
        pair = []
        for g in (0, 1):
            game, v = games[2 * i + g], verdicts[2 * i + g]
            messages = arena_messages(game.category, game.question, game.answer_a, game.answer_b)
            pair.append(arena_files.game_record(v.verdict, v.text, messages if is_prompt_judge else messages[-1:]))
        records.setdefault(r["model"], []).append(arena_files.judgment_record(
            r["uid"], r["category"], judge.name, r["model"], BASELINES[r["category"]], pair))
    for model, recs in records.items():
        arena_files.write_judgments(root, judge.name, model, recs)
    return arena_files.bench_dir(root)


SCORE_COLUMNS = ["win_rate", "win_rate_low", "win_rate_high", "bt", "bt_low", "bt_high", "bt_style", "bt_style_low",
                 "bt_style_high"]


def run_battles(answers: pl.DataFrame, judgments: pl.DataFrame, questions: pl.DataFrame, category: str, weight: int
                ) -> tuple[list[Battle], dict[str, int]]:
    """The category's battles with valid games (outcomes + style covariates) and, per model, the battles left out."""
    verdicts = {(r["model"], r["uid"], r["game"]): r["verdict"] for r in judgments.iter_rows(named=True)}
    baseline = {r["uid"]: r["baseline_answer"] for r in questions.iter_rows(named=True)}
    battles, invalid = [], {}
    for a in answers.filter(pl.col("category") == category).iter_rows(named=True):
        outcomes = battle_outcomes(verdicts[(a["model"], a["uid"], 1)], verdicts[(a["model"], a["uid"], 2)], weight)
        if outcomes is None:
            invalid[a["model"]] = invalid.get(a["model"], 0) + 1
            continue
        style = style_covariates([answer_metadata(a["answer"], a["answer_tokens"])],
                                 [answer_metadata(baseline[a["uid"]], a["baseline_tokens"])])[0]
        battles.append(Battle(a["model"], a["uid"], outcomes, style))
    return battles, invalid


@asset(group_name=GROUP, partitions_def=policy_judge_partitions, metadata=RUN_PARTITION_META)
def arena_scores(context: AssetExecutionContext, study: StudyResource, arena_judgments: pl.DataFrame,
                 arena_answers: pl.DataFrame) -> pl.DataFrame:
    """Per checkpoint and category: win rate against the baseline, Bradley-Terry score, and Bradley-Terry with style
    control (answer tokens, headers, lists, bold as covariates), each with a bootstrap CI over questions."""
    cfg = study.cfg
    qtable = questions_table(cfg)
    models = arena_answers.select(*MODEL_COLUMNS[:5]).unique(maintain_order=True)
    rows, coefficients = [], {}
    for category in sorted(arena_answers["category"].unique()):
        battles, invalid = run_battles(arena_answers, arena_judgments, qtable, category, cfg.arena.weight)
        scores, coefficients[category] = score_battles(battles, cfg.eval.bootstrap_resamples, cfg.eval.ci_level)
        scored = {s.model: s for s in scores}
        for m in models.iter_rows(named=True):
            s = scored.get(m["model"])
            rows.append({**m, "category": category, "baseline": BASELINES[category], "battles": s.battles if s else 0,
                         "invalid_battles": invalid.get(m["model"], 0),
                         **{k: getattr(s, k) if s else None for k in SCORE_COLUMNS}})
    df = pl.DataFrame(rows, schema_overrides={"seed": pl.Int64, "step": pl.Int64,
                                              **{k: pl.Float64 for k in SCORE_COLUMNS}})
    context.add_output_metadata({
        "scores": md_table(df.select("category", "model", "battles", "invalid_battles", "win_rate", "win_rate_low",
                                     "win_rate_high", "bt", "bt_style"), max_rows=50),
        "style_coefficients": MetadataValue.json({c: {k: round(v, 4) for k, v in co.items()}
                                                  for c, co in coefficients.items()}),
    })
    return df
