"""Materialise the whole study, stage by stage, into the persistent Dagster instance; print a summary.

    python -m judge_pipeline.demo            # the config named by $JUDGE_PIPELINE_CONFIG (default miniature)

Runs go into $DAGSTER_HOME (the repo root, via `make demo`), so `dagster dev` shows every
materialisation afterwards. Partitioned stages run once per partition, in dependency order.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import polars as pl

from judge_pipeline.config import DATA_DIR, load_config
from judge_pipeline.jobs import default_instance, run_study
from judge_pipeline.judging.report import comparison_tables


def _by_judge(table: pl.DataFrame) -> list[str]:
    """One block per judge, one "column: value" line per non-empty cell (tables this wide do not fit a terminal)."""
    out = []
    for row in table.iter_rows(named=True):
        out.append(f"  {row.pop('judge')}")
        out += [f"    {k:42s} {v}" for k, v in row.items() if v]
    return out


def summary(data_dir: str | None = None) -> str:
    """A short text summary of the results, read back from the warehouse."""
    import duckdb

    cfg = load_config()
    root = data_dir or str(DATA_DIR)
    con = duckdb.connect(os.path.join(root, "warehouse.duckdb"), read_only=True)
    try:
        report = con.execute(f"SELECT * FROM {cfg.name}.judge_comparison").pl()
        over = con.execute(f"SELECT policy, judge_variant, step, round(proxy_mean, 2), round(proxy_low, 2), "
                           f"round(proxy_high, 2), round(gold_mean, 2), round(gold_low, 2), round(gold_high, 2), "
                           f"round(d, 3), round(gold_change_mean, 2), round(gold_change_low, 2), round(gold_change_high, 2) FROM {cfg.name}.overoptimization ORDER BY policy, judge_variant, step").fetchall()
        step_times = con.execute(f"SELECT policy, judge_variant, avg(seconds_per_step) FROM {cfg.name}.policy_checkpoints "
                                 f"GROUP BY ALL ORDER BY ALL").fetchall()
        fits = con.execute(f"SELECT * FROM {cfg.name}.overoptimization_fits ORDER BY policy, judge_variant, form").pl()
        patterns = con.execute(f"SELECT * FROM {cfg.name}.hacking_patterns ORDER BY policy, judge_variant, step").pl()
        pages = con.execute(f"SELECT page FROM {cfg.name}.run_summaries ORDER BY page").fetchall()
        arena = con.execute(f"SELECT policy, judge_variant, step, category, battles, invalid_battles, win_rate, win_rate_low, "
                            f"win_rate_high, bt_style FROM {cfg.name}.arena_scores ORDER BY ALL").fetchall()
        transfer = con.execute(f"SELECT row, judge_name, n, judge_change, gold_change, inflation, inflation_low, "
                               f"inflation_high FROM {cfg.name}.transfer_matrix ORDER BY row_kind DESC, row, judge_name").fetchall()
    finally:
        con.close()
    main, canary = comparison_tables(report)
    lines = ["Judges (alpha vs gold on judge-test; pair accuracy vs gold / humans; 95% CI):"]
    lines += _by_judge(main)
    lines.append("Canaries (win rate against the best real response; mean score for pointwise judges):")
    lines += _by_judge(canary)
    seeds = f", {len(cfg.policy.seeds)} seeds" if len(cfg.policy.seeds) > 1 else ""
    lines.append(f"Proxy (training judge) vs gold, mean score on {cfg.eval.scored_prompts_label}{seeds} [95% CI]:")
    lines += [f"  {p} x {j} step {s:4d}: proxy {pm} [{plo}, {phi}]  gold {gm} [{lo}, {hi}]  d {d}"
              f"  gold change since step 0 (paired) {gc} [{gcl}, {gch}]"
              for p, j, s, pm, plo, phi, gm, lo, hi, d, gc, gcl, gch in over]
    lines.append("GRPO wall time per step: " + ", ".join(f"{p} x {j} {t:.1f} s" for p, j, t in step_times))
    lines.append("Gao fits (gold gain vs d = sqrt(KL)) and landmarks:")
    for r in fits.iter_rows(named=True):
        fit = ("no fit: " + r["note"]) if r["alpha"] is None else (
            f"alpha {r['alpha']:.3f} beta {r['beta']:.3f} R2 {r['r2']:.2f} d* {_num(r['d_peak'])}"
            + (f" ({r['note']})" if r["note"] else ""))
        lines.append(f"  {r['policy']} x {r['judge_variant']} {r['form']:9s}: {fit}")
        if r["form"] == "rl":
            lines.append(f"      gold peak at step {r['peak_step']} ({r['peak_gold']:.2f}), final gold {r['final_gold']:.2f}, "
                         f"regret {r['regret']:.2f}, divergence step {r['divergence_step']}, "
                         f"final drop significant: {r['gold_drop_significant']}")
    last = patterns.group_by("policy", "judge_variant").agg(pl.all().sort_by("step").last())
    lines.append("Hacking patterns in the last checkpoint's answers (share):")
    for r in last.sort("policy", "judge_variant").iter_rows(named=True):
        hits = {k: v for k, v in r.items() if isinstance(v, float) and k != "gap" and v > 0}
        lines.append(f"  {r['policy']} x {r['judge_variant']} step {r['step']}: "
                     + (", ".join(f"{k} {v:.2f}" for k, v in hits.items()) or "none"))
    lines.append("Arena-Hard v2.0 subset, per checkpoint and category: win rate against the official baseline "
                 "[95% CI], Bradley-Terry with style control (0 = the baseline):")
    lines += [f"  {p} x {j} step {s:4d} {c:16s} battles {b} (invalid {i}): win rate {_num(w, 2)} "
              f"[{_num(lo, 2)}, {_num(hi, 2)}]  BT style-controlled {_num(bt, 2)}"
              for p, j, s, c, b, i, w, lo, hi, bt in arena]
    lines.append("Deception transfer (step 0 -> final checkpoint): each judge's score change beside gold's on the same "
                 "answers, and the inflation (judge change - gold change, 0-1 scale) [95% CI]:")
    lines += [f"  {r:34s} judged by {j:28s} n {n:3d}  judge {jc:+.2f}  gold {gc:+.2f}  inflation {inf:+.2f} "
              f"[{lo:+.2f}, {hi:+.2f}]" for r, j, n, jc, gc, inf, lo, hi in transfer]
    lines.append("One page per run: " + ", ".join(p for (p,) in pages))
    return "\n".join(lines)


def _num(v, digits: int = 3) -> str:
    return "none" if v is None else f"{v:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", action="append", help="run only this stage (repeatable)")
    args = parser.parse_args(argv)
    cfg = load_config()
    print(f"judge_pipeline: materialising the {cfg.name!r} study into {DATA_DIR}")
    instance = default_instance()
    t0 = time.perf_counter()
    timings = run_study(instance, stages=args.stage).timings
    total = time.perf_counter() - t0
    print("\n" + summary())
    print("\nStage timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()) + f"; total {total:.0f}s")
    print(f"""
Results:
  UI:            make ui   (dagster dev on http://127.0.0.1:3000; every materialisation, with plots)
  Judgments:     {DATA_DIR / 'judgments'}   e.g. duckdb -readonly {DATA_DIR / 'judgments' / 'catalog.duckdb'} "SELECT * FROM judge_vs_gold LIMIT 5"
  Asset tables:  {DATA_DIR / 'warehouse.duckdb'} (schema {cfg.name})
  Plots:         {DATA_DIR / 'runs' / cfg.name / 'plots'}
  W&B (offline): {DATA_DIR / 'wandb'}   upload later with: wandb sync {DATA_DIR / 'wandb'}/wandb/offline-run-*""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
