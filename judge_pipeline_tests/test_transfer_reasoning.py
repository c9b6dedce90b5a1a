"""Issue 15: the deception-transfer matrix, the judge cost ledger and the judge-reasoning analytics, on hand-built
verdicts (rule judges, no model): the Python tables and the store's views against hand computations."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pytest

from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.sampling import consistency_items, sample_verdicts
from judge_pipeline.judging.verdict import Verdict
from judge_pipeline.metrics.reasoning import consistency_sampling, self_consistency_table, trace_length_table
from judge_pipeline.metrics.transfer import judge_order, row_label, transfer_table
from judge_pipeline.store import JudgmentStore, content_key
from judge_pipeline.training.policy_rewards import JudgeReward, PairwiseWinRateReward
from judge_pipeline.transfer import Answer, canary_answers, score_for_transfer


@dataclass
class TableJudge:
    """A judge whose verdict is ``rule(*item)``: a score (pointwise), a label (pairwise) or a scalar (reward model)."""

    name: str
    rule: object
    role: str = "training"
    kind: str = "pointwise"
    template_version: str = "t"
    model: str = "m"
    checkpoint_hash: str = ""
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    batch_size: int = 8
    calls: list = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return content_key(name=self.name, kind=self.kind)

    @property
    def decoding(self) -> dict:
        return {"temperature": self.temperature, "seed": self.seed} if self.temperature else {}

    def judge(self, items):
        out = []
        for it in items:
            self.calls.append(it)  # a sampling rule may read len(calls): each row of a call draws on its own
            v = self.rule(self, *it)
            if isinstance(v, Verdict):
                out.append(v)
            elif self.kind == "pairwise":
                out.append(Verdict(raw_output=str(v), label=v, prompt_tokens=10, output_tokens=2, latency_ms=4.0))
            elif self.kind == "reward_model":
                out.append(Verdict(raw_output=str(v), reward=float(v), prompt_tokens=10, output_tokens=0, latency_ms=2.0,
                                   device_ms=2.0))
            else:
                out.append(Verdict(raw_output=f"Score: {v}", score=float(v), prompt_tokens=10, output_tokens=3,
                                   latency_ms=20.0, device_ms=15.0))
        return out


S0, S1, F0, F1, CANARY, BASE = "aa", "bbbb", "aaaaaa", "bbbbbbbbb", "z" * 20, "BASE-xyz"
GOLD = {S0: 5, S1: 4, F0: 3, F1: 2, CANARY: 0}
PROXY = {S0: 2, S1: 3, F0: 6, F1: 8, CANARY: 9}
RUN = "policy=p|judge=proxy|seed=0"


def gold_rule(j, p, r):
    return GOLD[r]


def proxy_rule(j, p, r):
    return PROXY[r]


def longer_wins(j, p, a, b):
    return 1 if len(a) > len(b) else 2


def reward_rule(j, p, r):
    return len(r) / 2 - 2


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


@pytest.fixture(scope="module")
def transfer_store(tmp_path_factory):
    store = JudgmentStore(tmp_path_factory.mktemp("transfer") / "store", study="s")
    answers = [Answer(RUN, 0, "i0", "P0", S0, S0), Answer(RUN, 0, "i1", "P1", S1, S1),
               Answer(RUN, 40, "i0", "P0", F0, S0), Answer(RUN, 40, "i1", "P1", F1, S1)]
    answers += canary_answers(answers, ["P0"], {"c": CANARY})
    judges = {"gold": JudgeReward(TableJudge("gold", gold_rule, role="gold"), store),
              "proxy": JudgeReward(TableJudge("proxy", proxy_rule), store),
              "pw": PairwiseWinRateReward(TableJudge("pw", longer_wins, kind="pairwise"), store),
              "rm": JudgeReward(TableJudge("rm", reward_rule, kind="reward_model"), store)}
    first = score_for_transfer(judges, answers, store)
    again = score_for_transfer(judges, answers, store)
    # another evaluation's judge (Arena-Hard style): both games of each answer against a fixed baseline, asked
    # elsewhere; it joins the matrix through the store
    arena = TableJudge("arena", lambda j, p, a, b: 1 if len(a) > len(b) else 2, role="arena", kind="pairwise")
    games = [g for a in answers if a.run == RUN for g in ((a.prompt, BASE, a.response), (a.prompt, a.response, BASE))]
    judge_through_store(arena, games, store, progress=False)
    return store, answers, first, again


def test_canary_rows_pair_the_initial_answer_with_the_canary():
    answers = [Answer(RUN, 0, "i0", "P0", S0, S0), Answer(RUN, 40, "i0", "P0", F0, S0), Answer(RUN, 0, "i1", "P1", S1, S1)]
    rows = canary_answers(answers, ["P0", "P9"], {"c": CANARY})
    assert rows == [Answer("canary=c", 0, "i0", "P0", S0, S0), Answer("canary=c", 1, "i0", "P0", CANARY, S0)]
    assert row_label(RUN) == ("run", "proxy (seed 0)") and row_label("canary=c") == ("canary", "c")


def test_a_rerun_judges_nothing(transfer_store):
    _, _, first, again = transfer_store
    assert first["gold"] == 5 and first["proxy"] == 5 and first["rm"] == 5  # S0, S1, F0, F1, the canary
    assert first["pw"] == 8  # a self-comparison per start answer (one key), F0, F1 and the canary in both orders
    assert again == {"gold": 0, "proxy": 0, "pw": 0, "rm": 0}


HAND = {  # (row, judge): (n, judge change, gold change, inflation), computed by hand from the rules above
    (RUN, "gold:"): None,
    (RUN, "proxy"): (2, 4.5, -2.0, (4 / 9 + 2 / 9 + 5 / 9 + 2 / 9) / 2),
    (RUN, "pw"): (2, 0.5, -2.0, 0.5 + 2 / 9),
    (RUN, "rm"): (2, 2.25, -2.0, (sigmoid(1) - sigmoid(-1) + sigmoid(2.5) - sigmoid(0)) / 2 + 2 / 9),
    (RUN, "arena"): (2, 0.5, -2.0, 0.5 + 2 / 9),  # F1 beats the baseline, nothing else does
    ("canary=c", "proxy"): (1, 7.0, -5.0, 7 / 9 + 5 / 9),
    ("canary=c", "pw"): (1, 0.5, -5.0, 0.5 + 5 / 9),
    ("canary=c", "rm"): (1, 9.0, -5.0, sigmoid(8) - sigmoid(-1) + 5 / 9),
}


def test_transfer_matrix_view_matches_a_hand_computation(transfer_store):
    store = transfer_store[0]
    view = {(r["run"], r["judge_name"]): r for r in store.query("SELECT * FROM transfer_matrix WHERE study = 's'")
            .iter_rows(named=True)}
    assert set(view) == {k for k in HAND if k[1] != "gold:"} | {(RUN, "gold"), ("canary=c", "gold")}
    assert (RUN, "arena") in view and ("canary=c", "arena") not in view  # no arena verdict on the canary
    for key, want in HAND.items():
        if want is None:
            continue
        n, change, gold, inflation = want
        got = view[key]
        assert (got["n"], got["judge_change"], got["gold_change"]) == (n, pytest.approx(change), pytest.approx(gold)), key
        assert got["inflation"] == pytest.approx(inflation), key
    assert view[(RUN, "gold")]["inflation"] == pytest.approx(0.0)
    scores = store.query("SELECT judge_name, opponent FROM transfer_scores WHERE study = 's' AND kind = 'pairwise' "
                         "GROUP BY ALL ORDER BY ALL").rows()
    assert scores == [("arena", "baseline"), ("pw", "initial")]


def test_transfer_table_gives_the_view_with_paired_bootstrap_cis(transfer_store):
    store = transfer_store[0]
    table = transfer_table(store.query("study_transfer_scores", study="s"), resamples=200)
    view = store.query("SELECT * FROM transfer_matrix WHERE study = 's'")
    joined = table.join(view, on=["run", "judge_name"], suffix="_view")
    assert len(joined) == len(view) == len(table)
    for col in ("judge_change", "gold_change", "inflation", "judge_start", "judge_final"):
        assert np.allclose(joined[col].to_numpy(), joined[f"{col}_view"].to_numpy()), col
    proxy = table.filter((pl.col("run") == RUN) & (pl.col("judge_name") == "proxy")).row(0, named=True)
    assert proxy["inflation_low"] <= proxy["inflation"] <= proxy["inflation_high"]
    assert proxy["judge_change_low"] == pytest.approx(4.0) and proxy["judge_change_high"] == pytest.approx(5.0)
    assert table["row_kind"].to_list()[0] == "run"
    assert judge_order(table)[:1] == ["gold"] and judge_order(table)[-1] == "arena"


def test_a_transfer_cell_without_gold_is_left_out():
    scores = pl.DataFrame({"run": ["r"] * 4, "endpoint": ["start", "final"] * 2, "step": [0, 5] * 2,
                           "item_id": ["a", "a", "b", "b"], "judge_name": ["j"] * 4, "role": ["training"] * 4,
                           "kind": ["pointwise"] * 4, "value": [1.0, 4.0, 2.0, None], "unit_value": [1 / 9, 4 / 9, 2 / 9, None]})
    assert transfer_table(scores).is_empty()


def test_cost_ledger_attributes_each_verdict_to_its_first_use(transfer_store):
    store = transfer_store[0]
    ledger = store.query("SELECT * FROM judge_cost_ledger WHERE study = 's'")
    costs = store.query("SELECT judge_name, verdicts, total_tokens, total_seconds FROM judge_costs WHERE study = 's'")
    per_judge = ledger.group_by("judge_name").agg(pl.col("verdicts").sum(), pl.col("total_tokens").sum(),
                                                  pl.col("seconds").sum())
    both = costs.join(per_judge, on="judge_name")
    assert len(both) == len(costs) == 5
    assert both["verdicts"].to_list() == both["verdicts_right"].to_list()  # every verdict counted once
    assert both["total_tokens"].to_list() == both["total_tokens_right"].to_list()
    assert np.allclose(both["total_seconds"].to_numpy(), both["seconds"].to_numpy())
    proxy = {(r["partition_key"], r["step"]): r for r in ledger.filter(pl.col("judge_name") == "proxy").iter_rows(named=True)}
    # F0 and F1 were first used at the run's step 40, the canary at its step 1; S0 was used in one put by the run and
    # the canary (the same time: the first by context, partition, step), S1 by the run alone
    assert {k: r["verdicts"] for k, r in proxy.items()} == {("canary=c", 0): 1, (RUN, 0): 1, (RUN, 40): 2,
                                                             ("canary=c", 1): 1}
    assert proxy[(RUN, 40)]["total_tokens"] == 2 * 13 and proxy[(RUN, 40)]["device_seconds"] == pytest.approx(0.03)
    arena = ledger.filter(pl.col("judge_name") == "arena").row(0, named=True)
    assert arena["context"] == "unrecorded" and arena["verdicts"] == 8 and arena["device_seconds"] is None


# ---------------------------------------------------------------------- reasoning analytics

TRACES = {f"r{i}": i for i in range(9)}  #: response -> the reasoning judge's trace length (tokens) on it


def reasoning_rule(j, p, r):
    """Long traces (6+ tokens) hit gold's score, short ones miss it by 3; sampled, item r0 alternates 5, 6, 5, ...
    from one row of r0 to the next (every row draws on its own)."""
    n = TRACES[r]
    score = GOLD_R[r] if n >= 6 else GOLD_R[r] + 3
    if j.temperature and r == "r0":
        score = 5 + sum(c == ("q", "r0") for c in j.calls[:-1]) % 2
    return Verdict(raw_output=f"{'x ' * n}Score: {score}", reasoning="x " * n, score=float(score), output_tokens=n,
                   prompt_tokens=30, latency_ms=100.0 + n, device_ms=90.0 + n)


GOLD_R = {f"r{i}": i % 4 for i in range(9)}


def position_biased(j, p, a, b):
    return 1  # always the first: every swapped pair flips


@pytest.fixture(scope="module")
def reasoning_store(tmp_path_factory):
    store = JudgmentStore(tmp_path_factory.mktemp("reasoning") / "store", study="s")
    items = [("q", r) for r in TRACES]
    judge_through_store(TableJudge("gold", lambda j, p, r: GOLD_R[r], role="gold"), items, store, progress=False)
    judge = TableJudge("thinker", reasoning_rule)
    judge_through_store(judge, items, store, progress=False)
    pairs = [("q", "r1", "r2"), ("q", "r2", "r1"), ("q", "r5", "r6"), ("q", "r6", "r5")]
    judge_through_store(TableJudge("pairs", position_biased, kind="pairwise"), pairs, store, progress=False)
    sampling = consistency_sampling(0.0, 0, 1.0)
    rows = [{"pair_id": "p1", "position": "a", "prompt": "q", "response": "r0"},
            {"pair_id": "p1", "position": "b", "prompt": "q", "response": "r7"}]
    sampled, computed = sample_verdicts(judge, consistency_items("pointwise", rows, 4), store, sampling, 3)
    _, again = sample_verdicts(judge, consistency_items("pointwise", rows, 4), store, sampling, 3)
    return store, sampled, computed, again, sampling


def test_consistency_samples_are_stored_once_and_kept_out_of_per_item_views(reasoning_store):
    store, sampled, computed, again, sampling = reasoning_store
    assert sampling == {"temperature": 0.7, "top_k": 20, "top_p": 0.95}  # the reward is greedy: the paper's sampling
    assert computed == 6 and again == 0
    # the three samples of an item are drawn in one call (the greedy verdict of r0 was the rule's first call)
    assert [[v.score for v in s] for s in sampled] == [[6.0, 3.0], [5.0, 3.0], [6.0, 3.0]]
    # current_verdicts (and judge_vs_gold) still give the greedy verdict of r0 only
    r0 = store.query("SELECT value FROM current_verdicts WHERE study = 's' AND judge_name = 'thinker' "
                     "AND response_a = 'r0'")
    assert r0["value"].to_list() == [3.0]


def test_trace_length_thirds_against_agreement_with_gold(reasoning_store):
    store = reasoning_store[0]
    rows = store.query("study_trace_accuracy", study="s")
    thinker = rows.filter(pl.col("judge_name") == "thinker").sort("output_tokens")
    assert thinker["length_bin"].to_list() == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert thinker["agrees"].to_list() == [0] * 6 + [1] * 3
    table = trace_length_table(rows, resamples=100)
    t = {r["length_bin"]: r for r in table.filter(pl.col("judge_name") == "thinker").iter_rows(named=True)}
    assert (t[1]["mean_trace_tokens"], t[3]["mean_trace_tokens"]) == (1.0, 7.0)
    assert (t[1]["agreement"], t[2]["agreement"], t[3]["agreement"]) == (0.0, 0.0, 1.0)
    assert t[3]["seconds_per_verdict"] == pytest.approx(0.107)
    # the pairwise judge: gold prefers r2 over r1 (2 > 1) and r5 over r6 (1 < 2): "always the first" is right half the time
    pairs = rows.filter(pl.col("judge_name") == "pairs")
    assert len(pairs) == 4 and pairs["agrees"].sum() == 2


def test_self_consistency_and_flips_in_the_view_and_the_table(reasoning_store):
    store = reasoning_store[0]
    items = store.query("study_self_consistency", study="s").sort("response_hash")
    assert sorted(zip(items["samples"], items["all_agree"], items["modal_share"])) == [(3, 0, 2 / 3), (3, 1, 1.0)]
    table = self_consistency_table(items, resamples=100).row(0, named=True)
    assert (table["judge_name"], table["sampled_items"], table["self_consistency"]) == ("thinker", 2, 0.5)
    assert table["modal_share"] == pytest.approx((2 / 3 + 1) / 2)
    summary = {r["judge_name"]: r for r in store.query("study_reasoning_analytics", study="s").iter_rows(named=True)}
    th, pw = summary["thinker"], summary["pairs"]
    assert th["reasoning"] and th["self_consistency"] == 0.5 and th["flip_rate"] is None
    assert th["agreement_shortest_third"] == 0.0 and th["agreement_longest_third"] == 1.0 and th["tokens_agreement_corr"] > 0
    assert th["device_seconds_per_verdict"] == pytest.approx(0.094)
    assert pw["flip_rate"] == 1.0 and pw["swapped_pairs"] == 2 and pw["self_consistency"] is None


# ---------------------------------------------------------------------- the assets, materialised by Dagster (tiny)

def test_transfer_and_reasoning_assets_materialise_on_tiny(tmp_path):
    """transfer_matrix and reasoning_analytics on the tiny study: a store with a run's answers at steps 0 and 2 (as
    checkpoint_scores leaves them), the tiny random model as the trained judge; a second materialisation makes no
    model call."""
    from dagster import AssetKey, IOManager, materialize

    from judge_pipeline.backends.hf_models import materialize_base_model
    from judge_pipeline.config import ModelSpec, load_config
    from judge_pipeline.definitions import all_assets, build_resources
    from judge_pipeline.judging.builders import build_gold_judge
    from judge_pipeline.resources import StudyResource
    from judge_pipeline.sources.ifeval import load_ifeval

    cfg = load_config("tiny")
    study = StudyResource(config_name="tiny", data_dir=str(tmp_path))
    store = study.store()
    prompts = [r["prompt"] for r in load_ifeval()[:2]]
    decoding = '{"max_new_tokens":16,"temperature":0.0}'
    answers = {"h0": ["Sure.", "I think so."], "h2": ["Sure sure sure sure.", "Yes!"]}
    store.put_generations([{"key": content_key(model=h, i=i), "model": h, "model_fingerprint": h, "decoding": decoding, "prompt": p,
                            "sample_index": 0, "completion": a, "finished": True}
                           for h, texts in answers.items() for i, (p, a) in enumerate(zip(prompts, texts))])
    _, keys, _ = judge_through_store(build_gold_judge(cfg), [(p, a) for texts in answers.values()
                                                             for p, a in zip(prompts, texts)], store, progress=False)
    store.record_uses([{"key": k, "context": "checkpoint_scores", "partition_key": "policy=smollm2-135m|judge=nonreasoning|seed=0",
                        "step": s, "item_id": str(i)} for (s, i), k in zip([(0, 0), (0, 1), (2, 0), (2, 1)], keys)])
    tiny = str(materialize_base_model(ModelSpec(name="tiny-random-test", source="tiny-random")))
    frames = {
        "judge_checkpoint": pl.DataFrame({"judge_variant": ["nonreasoning"], "path": [tiny]}),
        "policy_checkpoints": pl.DataFrame({"policy": ["smollm2-135m"] * 2, "judge_variant": ["nonreasoning"] * 2,
                                            "seed": [0, 0], "step": [0, 2], "path": ["p0", "p2"],
                                            "checkpoint_hash": ["h0", "h2"]}),
        "policy_test_prompts": pl.DataFrame({"prompt_id": ["a", "b"], "prompt": prompts}),
        "rl_prompts": pl.DataFrame({"prompt_id": ["c"], "prompt": ["unused"]}),
        "gold_labels": pl.DataFrame({"split": ["judge_test"] * 2, "pair_id": ["p"] * 2, "position": ["a", "b"],
                                     "prompt": [prompts[0]] * 2, "response": answers["h0"][:1] + answers["h2"][:1],
                                     "gold_score": [3, 4], "pair_label": [2, 2]}),
    }

    class Frames(IOManager):
        out: dict = {}

        def handle_output(self, context, obj):
            Frames.out[context.asset_key.path[-1]] = obj

        def load_input(self, context):
            return frames[context.upstream_output.asset_key.path[-1]]

    def run():
        result = materialize(all_assets, selection=[AssetKey("transfer_matrix"), AssetKey("reasoning_analytics")],
                             resources={**build_resources(data_dir=str(tmp_path), wandb_mode="disabled"),
                                        "io_manager": Frames()})
        assert result.success
        return {e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()}

    first = run()
    table = Frames.out["transfer_matrix"]
    assert set(table["judge_name"]) == {build_gold_judge(cfg).name, "nonreasoning"}
    rows = set(table["row"])
    assert "nonreasoning (seed 0)" in rows and {"null_model", "paper_adversarial"} <= rows
    assert first["transfer_matrix"]["computed_now"].value > 0 and "heatmap" in first["transfer_matrix"]
    again = run()
    assert again["transfer_matrix"]["computed_now"].value == 0
    assert again["reasoning_analytics"]["computed_now"].value == 0
    # by now the store has the trained judge's verdicts on answers gold scored (the matrix's)
    summary = Frames.out["reasoning_analytics"].row(0, named=True)
    assert summary["judge_name"] == "nonreasoning" and not summary["reasoning"] and summary["verdicts"] > 0
    assert summary["device_seconds_per_verdict"] > 0


def test_a_finished_evaluation_refreshes_the_transfer_matrix():
    """The nightly schedule and the new-checkpoint sensor start evaluation_job runs; when one succeeds,
    refresh_after_evaluation asks for transfer_job (once per finished run; not while a refresh waits to start)."""
    from dagster import (DagsterEventType, DagsterInstance, DagsterRunStatus, EventRecordsFilter, RunRequest, SkipReason,
                         build_run_status_sensor_context, job, op)

    from judge_pipeline.definitions import defs
    from judge_pipeline.jobs import refresh_after_evaluation, transfer_job

    assert {k.to_user_string() for k in defs.resolve_job_def("transfer_job").asset_layer.executable_asset_keys} == {
        "transfer_matrix", "reasoning_analytics"}
    assert "refresh_after_evaluation" in {s.name for s in defs.sensors}

    @op
    def noop():
        return 1

    @job
    def stand_in():  # any finished run: the sensor's machinery picks evaluation_job / judge_report_job ones
        noop()

    with DagsterInstance.ephemeral() as instance:
        run = stand_in.execute_in_process(instance=instance).dagster_run
        event = instance.get_event_records(EventRecordsFilter(DagsterEventType.RUN_SUCCESS), limit=1)[0].event_log_entry
        ctx = build_run_status_sensor_context("refresh_after_evaluation", dagster_instance=instance, dagster_run=run,
                                              dagster_event=event.dagster_event)
        request = refresh_after_evaluation(ctx)
        assert isinstance(request, RunRequest) and request.run_key == f"refresh-after-{run.run_id}"
        instance.create_run_for_job(defs.resolve_job_def(transfer_job.name), status=DagsterRunStatus.NOT_STARTED)
        assert isinstance(refresh_after_evaluation(ctx), SkipReason)


def test_a_grpo_reward_records_its_verdicts_per_rl_step(tmp_path):
    """Inside a trainer (TRL passes trainer_state) a reward's verdicts are recorded at the trainer's step, so the cost
    ledger prices each RL step; outside one nothing is recorded."""
    from types import SimpleNamespace

    store = JudgmentStore(tmp_path / "store", study="s")
    reward = JudgeReward(TableJudge("proxy", lambda j, p, r: len(r) % 10), store, run_id="dagster-run")
    pair = PairwiseWinRateReward(TableJudge("pw", longer_wins, kind="pairwise"), store, run_id="dagster-run")
    reward(["q", "q"], ["a", "bb"])  # outside a trainer
    for step in (1, 2):
        reward(["q", "q"], [f"a{step}", f"bb{step}"], trainer_state=SimpleNamespace(global_step=step))
        pair(["q", "q"], [f"a{step}", f"bb{step}"], trainer_state=SimpleNamespace(global_step=step))
    ledger = store.query("SELECT judge_name, context, partition_key, step, verdicts FROM judge_cost_ledger "
                         "WHERE study = 's' ORDER BY ALL").rows()
    assert ledger == [("proxy", "policy_reward", "reward=proxy|run=dagster-run", 1, 2),
                      ("proxy", "policy_reward", "reward=proxy|run=dagster-run", 2, 2),
                      ("proxy", "unrecorded", "dagster-run", -1, 2),  # the Dagster run that computed them
                      ("pw", "policy_reward", "reward=pw|run=dagster-run", 1, 2),
                      ("pw", "policy_reward", "reward=pw|run=dagster-run", 2, 2)]
