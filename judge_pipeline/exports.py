"""A study's results as files other tools read: Every Eval Ever records, and the overoptimization table.

``python -m judge_pipeline.exports [--study NAME] [--data DIR] [--out DIR]`` (``make export``) writes under
``data/exports/<study>/``:

- ``overoptimization.csv`` and ``.parquet``: the `overoptimization` asset table (proxy and gold per step, CIs, KL);
- ``every_eval_ever/data/<collection>/<developer>/<model>/<uuid>.json`` + ``<uuid>_samples.jsonl``: Every Eval Ever
  (``every-eval-ever==0.3.0``) aggregate files and their instance-level records, in its datastore layout
  (collection ``judge_pipeline-<study>``, developer ``judge_pipeline``; the UUIDs are derived from the study, model and
  evaluation, so a re-export overwrites the same files):

  - **every verdict**: per current judge of the study (the model evaluated is the judge), one instance record per
    stored verdict (`store` query ``study_verdicts``: every decoding and retry attempt): ``input.raw`` the prompt,
    ``output.raw`` the judge's text, the judged response(s) in ``metadata``, ``evaluation.score`` the parsed value
    (score 0-9, label 1 / 2 / 0 for a tie, a reward model's scalar; -1 when invalid, the reason in ``error``),
    ``is_correct`` whether it parsed (a verdict has no ground truth of its own; the schema requires the boolean). The
    aggregate: the share of valid verdicts.
  - **every score** of a policy checkpoint (the model evaluated is the checkpoint): its mean score by each judge that
    scored it (`checkpoint_scores`, 95 % bootstrap CI over prompts; instance records: the verdicts, the checkpoint's
    answer as ``output.raw``, ``is_correct`` = score >= 5 on the 0-9 scale), and its Arena-Hard scores per category
    (`arena_scores`: win rate, Bradley-Terry, Bradley-Terry with style control, each with its CI; instance records:
    the games, the baseline's answer as ``input.reference``, score = the checkpoint's outcome, ``is_correct`` = it
    won the game).

Reads the judgment store (views only) and the Dagster warehouse (read-only); tables a study has not materialised are
left out. No Dagster here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from judge_pipeline.config import DATA_DIR, load_config
from judge_pipeline.metrics.arena_scores import game_scores
from judge_pipeline.metrics.bootstrap import bootstrap_ci
from judge_pipeline.sources import arena_files
from judge_pipeline.sources.arena_hard import BASELINES, BENCH_NAME
from judge_pipeline.store import JudgmentStore
from judge_pipeline.store.keys import text_hash
from judge_pipeline.store.tables import QUERIES

SCHEMA_VERSION = "0.3.0"  #: Every Eval Ever's schema version written
DEVELOPER = "judge_pipeline"
LIBRARY = {"name": "judge_pipeline", "version": "0.1.0"}
SELF_DEPLOYED = {"deployment_type": "self_deployed", "model_availability": "unknown"}


# ---------------------------------------------------------------------- reading
def warehouse_table(data_dir: Path, study: str, table: str) -> pl.DataFrame | None:
    """An asset table of the warehouse, or None when it (or the warehouse) does not exist."""
    path = data_dir / "warehouse.duckdb"
    if not path.is_file():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(QUERIES["warehouse_table"].format(schema=study, table=table)).pl()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()


# ---------------------------------------------------------------------- Every Eval Ever records
def uuid4_like(*parts: str) -> str:
    """A UUID of version 4's form derived from ``parts`` (EEE names files by UUID4; ours are reproducible)."""
    h = list(hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32])
    h[12], h[16] = "4", "89ab"[int(h[16], 16) % 4]
    s = "".join(h)
    return f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}"


def model_info(name: str, **details: str) -> dict:
    return {"name": name, "id": f"{DEVELOPER}/{arena_files.safe_name(name)}", "developer": DEVELOPER,
            "additional_details": {**SELF_DEPLOYED, **details}}


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def result(result_id: str, name: str, score: float, *, low=None, high=None, level: float = 0.95, n: int | None = None,
           lo_bound: float = 0.0, hi_bound: float = 1.0, description: str = "", dataset: str = "judge_pipeline",
           details: dict | None = None) -> dict:
    """One ``evaluation_results`` entry: a continuous score with its bounds and, where known, its bootstrap CI."""
    out = {"evaluation_result_id": result_id, "evaluation_name": name,
           "source_data": {"dataset_name": dataset, "source_type": "other"},
           "metric_config": {"evaluation_description": description, "metric_id": result_id, "lower_is_better": False,
                             "score_type": "continuous", "min_score": lo_bound, "max_score": hi_bound},
           "score_details": {"score": score}}
    uncertainty: dict = {}
    if _num(low) is not None and _num(high) is not None:
        uncertainty["confidence_interval"] = {"lower": float(low), "upper": float(high), "confidence_level": level,
                                              "method": "percentile bootstrap"}
    if n is not None:
        uncertainty["num_samples"] = int(n)
    if uncertainty:
        out["score_details"]["uncertainty"] = uncertainty
    if details:
        out["score_details"]["details"] = {k: str(v) for k, v in details.items()}
    return out


def instance(evaluation_id: str, model_id: str, name: str, result_id: str, sample_id: str, prompt: str, output: str,
             extracted: str, method: str, score: float, correct: bool, *, reference: list[str] | None = None,
             reasoning: str | None = None, error: str | None = None, metadata: dict | None = None,
             tokens: tuple | None = None, latency_ms: float | None = None) -> dict:
    """One instance-level record (single turn)."""
    rec = {"schema_version": SCHEMA_VERSION, "evaluation_id": evaluation_id, "model_id": model_id,
           "evaluation_name": name, "evaluation_result_id": result_id, "sample_id": sample_id,
           "sample_hash": text_hash(prompt, *(reference or [])), "interaction_type": "single_turn",
           "input": {"raw": prompt, "reference": reference or []},
           "output": {"raw": [output], **({"reasoning_trace": [reasoning]} if reasoning else {})},
           "messages": None,
           "answer_attribution": [{"turn_idx": 0, "source": "output.raw", "extracted_value": extracted,
                                   "extraction_method": method, "is_terminal": True}],
           "evaluation": {"score": float(score), "is_correct": bool(correct)}, "error": error,
           "metadata": {k: str(v) for k, v in (metadata or {}).items() if v is not None}}
    if tokens and all(t is not None for t in tokens):
        rec["token_usage"] = {"input_tokens": int(tokens[0]), "output_tokens": int(tokens[1]),
                              "total_tokens": int(tokens[0]) + int(tokens[1])}
    if _num(latency_ms) is not None and latency_ms >= 0:
        rec["performance"] = {"latency_ms": float(latency_ms)}
    return rec


def write_evaluation(root: Path, collection: str, model: dict, evaluation: str, results: list[dict],
                     records: list[dict], timestamp: str) -> Path:
    """The aggregate file and its samples file, in EEE's datastore layout under ``root``; returns the aggregate."""
    dev, name = model["id"].split("/", 1)
    uid = uuid4_like(collection, model["id"], evaluation)
    folder = Path("data") / collection / dev / name
    evaluation_id = f"{collection}/{model['id']}/{evaluation}"
    for r in records:
        r["evaluation_id"] = evaluation_id
    samples = folder / f"{uid}_samples.jsonl"
    (root / folder).mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in records)
    (root / samples).write_text(text, encoding="utf-8")
    aggregate = {"schema_version": SCHEMA_VERSION, "evaluation_id": evaluation_id, "retrieved_timestamp": timestamp,
                 "source_metadata": {"source_name": "judge_pipeline", "source_type": "evaluation_run",
                                     "source_organization_name": "judge_pipeline", "evaluator_relationship": "first_party",
                                     "additional_details": {"evaluation": evaluation}},
                 "model_info": model, "eval_library": LIBRARY, "evaluation_results": results,
                 "detailed_evaluation_results": {"format": "jsonl", "file_path": samples.as_posix(),
                                                 "hash_algorithm": "sha256", "total_rows": len(records),
                                                 "checksum": hashlib.sha256(text.encode()).hexdigest()}}
    path = root / folder / f"{uid}.json"
    path.write_text(json.dumps(aggregate, indent=1, ensure_ascii=False, allow_nan=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------- the study's evaluations
def _verdict_value(r: dict) -> float | None:
    for k in ("expected_score", "score", "reward", "label"):
        if r[k] is not None:
            return float(r[k])
    return None


def verdict_evaluations(store: JudgmentStore, study: str) -> Iterable[tuple[dict, str, list[dict], list[dict]]]:
    """(judge model info, evaluation name, results, records): every verdict of the study, per current judge."""
    rows = store.query("study_verdicts", study=study)
    for judge, group in rows.group_by("judge_name", maintain_order=True):
        judge = judge[0]
        records, valid = [], 0
        for r in group.iter_rows(named=True):
            value = _verdict_value(r) if r["invalid_reason"] is None else None
            valid += value is not None
            records.append(instance(
                "", "", f"{study}/verdicts/{judge}", "verdicts", r["key"], r["prompt"], r["raw_output"] or "",
                "" if value is None else f"{value:g}", f"judge_pipeline {r['kind']} parser",
                -1.0 if value is None else value, value is not None, reasoning=r["reasoning"], error=r["invalid_reason"],
                metadata={"judge": judge, "role": r["role"], "kind": r["kind"], "fingerprint": r["fingerprint"],
                          "template_version": r["template_version"], "decoding": r["decoding"],
                          "response_a": r["response_a"], "response_b": r["response_b"]},
                tokens=(r["prompt_tokens"], r["output_tokens"]), latency_ms=r["latency_ms"]))
        info = model_info(judge, role=str(group["role"][0]), kind=str(group["kind"][0]))
        for rec in records:
            rec["model_id"] = info["id"]
        results = [result("verdicts", f"{study}/verdicts/{judge}", valid / len(records), n=len(records),
                          description="share of the judge's stored verdicts that parsed (valid)",
                          details={"verdicts": len(records), "invalid": len(records) - valid})]
        yield info, f"verdicts-{judge}", results, records


def _run_of(partition_key: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in partition_key.split("|"))


def checkpoint_evaluations(store: JudgmentStore, study: str, resamples: int, level: float
                           ) -> Iterable[tuple[dict, str, list[dict], list[dict]]]:
    """Per policy checkpoint: its mean score by each judge that scored it, and the verdicts (checkpoint_scores)."""
    rows = store.query("checkpoint_verdicts", study=study)
    by_model: dict[str, list[dict]] = defaultdict(list)
    for r in rows.iter_rows(named=True):
        run = _run_of(r["partition_key"])
        by_model[arena_files.checkpoint_model(run["policy"], run["judge"], int(run.get("seed", 0)), r["step"])].append(r)
    for model, group in by_model.items():
        info = model_info(model)
        records, results = [], []
        seen: set[tuple[str, str]] = set()
        for judge in sorted({r["judge_name"] for r in group}):
            values = []
            for r in (x for x in group if x["judge_name"] == judge):
                if (judge, r["key"]) in seen:  # the initial policy is used by every seed's run
                    continue
                seen.add((judge, r["key"]))
                value = r["value"] if r["invalid_reason"] is None else None
                if value is not None:
                    values.append(value)
                records.append(instance(
                    "", info["id"], f"{study}/checkpoint_scores/{judge}", f"checkpoint_scores/{judge}", r["item_id"],
                    r["prompt"], r["response_a"], "" if value is None else f"{value:g}", f"judge {judge}",
                    -1.0 if value is None else value, value is not None and value >= 5, error=r["invalid_reason"],
                    metadata={"judge": judge, "verdict_key": r["key"], "judge_output": r["raw_output"],
                              "run": r["partition_key"], "step": r["step"]}))
            est, lo, hi = bootstrap_ci(values, np.mean, resamples, level) if values else (float("nan"),) * 3
            if values:
                results.append(result(f"checkpoint_scores/{judge}", f"{study}/checkpoint_scores/{judge}", est, low=lo,
                                      high=hi, level=level, n=len(values), lo_bound=0.0, hi_bound=9.0,
                                      description=f"mean score of the checkpoint's answers by {judge} (0-9)"))
        if results:
            yield info, "checkpoint_scores", results, records


def arena_evaluations(data_dir: Path, study: str, level: float) -> Iterable[tuple[dict, str, list[dict], list[dict]]]:
    """Per policy checkpoint: its Arena-Hard scores per category, and the games (arena_scores, arena_judgments)."""
    scores = warehouse_table(data_dir, study, "arena_scores")
    games = warehouse_table(data_dir, study, "arena_judgments")
    answers = warehouse_table(data_dir, study, "arena_answers")
    if scores is None or games is None or answers is None:
        return
    from judge_pipeline.sources.arena_hard import answer_text, load_baselines, load_questions

    questions = {q["uid"]: q for q in load_questions()}
    baselines = load_baselines()
    answer = {(r["model"], r["uid"]): r["answer"] for r in answers.iter_rows(named=True)}
    for model in scores["model"].unique(maintain_order=True).to_list():
        info = model_info(model)
        results = []
        for s in scores.filter(pl.col("model") == model).unique(["category"], keep="last").iter_rows(named=True):
            if not s["battles"]:
                continue
            for metric, what in (("win_rate", "win rate against the baseline"),
                                 ("bt", "Bradley-Terry win probability against the baseline"),
                                 ("bt_style", "Bradley-Terry win probability, style-controlled")):
                if _num(s[metric]) is None:
                    continue
                results.append(result(f"arena_hard_v2/{s['category']}/{metric}", f"{BENCH_NAME}/{s['category']}",
                                      float(s[metric]), low=s[f"{metric}_low"], high=s[f"{metric}_high"], level=level,
                                      n=int(s["battles"]), dataset=BENCH_NAME,
                                      description=f"{what} ({s['baseline']}), {s['category']}",
                                      details={"invalid_battles": s["invalid_battles"]}))
        records = []
        for g in games.filter(pl.col("model") == model).unique(["uid", "game"], keep="last").iter_rows(named=True):
            q = questions[g["uid"]]
            own = None  # the checkpoint's outcome: game 2 shows it as A, game 1 as B
            if g["verdict"]:
                a_side = float(np.mean(game_scores(g["verdict"])))
                own = a_side if g["game"] == 2 else 1.0 - a_side
            base = answer_text(baselines[q["category"]][g["uid"]])
            records.append(instance(
                "", info["id"], f"{BENCH_NAME}/{q['category']}", f"arena_hard_v2/{q['category']}/win_rate",
                f"{g['uid']}/game{g['game']}", q["prompt"], answer.get((model, g["uid"]), ""), g["verdict"] or "",
                "arena-hard [[verdict]]", -1.0 if own is None else own, own is not None and own > 0.5,
                reference=[base], error=g["invalid_reason"],
                metadata={"judge": g["judge"], "game": g["game"], "baseline": BASELINES[q["category"]],
                          "judgment": g["judgment"], "position": "A" if g["game"] == 2 else "B"}))
        if results and records:
            yield info, "arena_hard_v2", results, records


def export_study(study: str | None = None, data_dir: str | Path | None = None, out: str | Path | None = None) -> dict:
    """Write every export of a study; returns what was written (paths, counts)."""
    cfg = load_config(study)
    data_dir = Path(data_dir or DATA_DIR)
    out = Path(out or data_dir / "exports") / cfg.name
    out.mkdir(parents=True, exist_ok=True)
    written: dict = {"overoptimization": [], "every_eval_ever": [], "instance_records": 0}
    over = warehouse_table(data_dir, cfg.name, "overoptimization")
    if over is not None:
        over.write_csv(out / "overoptimization.csv")
        over.write_parquet(out / "overoptimization.parquet")
        written["overoptimization"] = [str(out / "overoptimization.csv"), str(out / "overoptimization.parquet")]
    root, collection = out / "every_eval_ever", f"judge_pipeline-{cfg.name}"
    timestamp = str(int(time.time()))
    evaluations = []
    store_root = data_dir / "judgments"
    if store_root.exists():
        store = JudgmentStore(store_root, study=cfg.name)
        evaluations += list(verdict_evaluations(store, cfg.name))
        evaluations += list(checkpoint_evaluations(store, cfg.name, cfg.eval.bootstrap_resamples, cfg.eval.ci_level))
    evaluations += list(arena_evaluations(data_dir, cfg.name, cfg.eval.ci_level))
    for info, evaluation, results, records in evaluations:
        written["every_eval_ever"].append(str(write_evaluation(root, collection, info, evaluation, results, records,
                                                               timestamp)))
        written["instance_records"] += len(records)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m judge_pipeline.exports", description=__doc__.split("\n\n")[0])
    ap.add_argument("--study", help="study name (default: $JUDGE_PIPELINE_CONFIG or miniature)")
    ap.add_argument("--data", help="the data folder (default: $JUDGE_PIPELINE_DATA or data/)")
    ap.add_argument("--out", help="where exports go (default: <data>/exports)")
    args = ap.parse_args(argv)
    written = export_study(args.study, args.data, args.out)
    print(f"overoptimization table: {', '.join(written['overoptimization']) or 'not materialised'}")
    print(f"Every Eval Ever: {len(written['every_eval_ever'])} evaluations, {written['instance_records']} instance "
          f"records under {Path(written['every_eval_ever'][0]).parents[4] if written['every_eval_ever'] else '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
