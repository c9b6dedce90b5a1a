"""The store's views on a small hand-built store: one study's current judges only, agreement statistics checked
against independent computations, position flips, checkpoint rankings, and every README example query."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import krippendorff
import numpy as np
import pytest

from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.sampling import sample_verdicts
from judge_pipeline.judging.verdict import Verdict
from judge_pipeline.store import JudgmentStore, content_key

README = Path(__file__).resolve().parents[1] / "README.md"
QUERIES = README.parent / "docs" / "queries.md"
RESPONSES = [f"answer {'x' * i}" for i in range(12)]
ITEMS = [(f"prompt {i % 4}", r) for i, r in enumerate(RESPONSES)]


@dataclass
class RuleJudge:
    """A pointwise or pairwise judge whose verdict is a function of the item."""

    name: str
    rule: object
    role: str = "training"
    kind: str = "pointwise"
    version: str = "v1"
    template_version: str = "t"
    model: str = "m"
    checkpoint_hash: str = ""

    @property
    def fingerprint(self) -> str:
        return content_key(name=self.name, version=self.version)

    @property
    def decoding(self) -> dict:
        return {}

    def judge(self, items):
        out = []
        for it in items:
            value = self.rule(*it)
            if self.kind == "pairwise":
                out.append(Verdict(raw_output=f"Output ({'a' if value == 1 else 'b'})", label=value,
                                   prompt_tokens=10, output_tokens=2, latency_ms=5.0))
            else:
                out.append(Verdict(raw_output=f"Score: {value}", score=float(value), prompt_tokens=10,
                                   output_tokens=3, latency_ms=20.0))
        return out


def gold_rule(p, r):
    return len(r) % 10


def judge_rule(p, r):
    return (len(r) + 3) % 10 if len(r) % 3 else len(r) % 10


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("views") / "store"
    mini, other = JudgmentStore(root, study="miniature"), JudgmentStore(root, study="other")
    judge_through_store(RuleJudge("gold:rules", gold_rule, role="gold"), ITEMS, mini, progress=False)
    judge_through_store(RuleJudge("nonreasoning", lambda p, r: 9, version="v1"), ITEMS, mini, progress=False)
    time.sleep(0.01)
    judge_through_store(RuleJudge("nonreasoning", judge_rule, version="v2"), ITEMS, mini, progress=False)  # retrained
    judge_through_store(RuleJudge("gpt-4.1", lambda p, r: 8, role="external"), ITEMS[:6], mini, progress=False)
    # a pairwise judge that always prefers the first position: every swapped pair flips
    pairs = [(p, a, b) for (p, a), (_, b) in zip(ITEMS[::2], ITEMS[1::2])]
    judge_through_store(RuleJudge("pairwise", lambda p, a, b: 1, kind="pairwise"),
                        pairs + [(p, b, a) for p, a, b in pairs], mini, progress=False)
    # another study, sharing the store, with its own judge of the same name
    judge_through_store(RuleJudge("gold:rules", gold_rule, role="gold"), ITEMS, other, progress=False)
    judge_through_store(RuleJudge("nonreasoning", lambda p, r: 0, version="v9"), ITEMS, other, progress=False)
    # a policy run: the training judge's checkpoint means rise while gold's fall
    for step, (nr, gold) in enumerate([(2, 7), (5, 5), (9, 1)]):
        items = [(f"prompt {step}", "y" * (10 * step + k)) for k in range(3)]
        _, nr_keys, _ = judge_through_store(RuleJudge("nonreasoning", lambda p, r, v=nr: v, version="v2"), items, mini,
                                            progress=False)
        _, gold_keys, _ = judge_through_store(RuleJudge("gold:rules", lambda p, r, v=gold: v, role="gold"), items, mini,
                                              progress=False)
        mini.record_uses([{"key": k, "context": "checkpoint_scores", "partition_key": "policy=p|judge=nonreasoning|seed=0",
                           "step": step * 10, "item_id": str(i)} for keys in (nr_keys, gold_keys) for i, k in enumerate(keys)])
        # the transfer matrix's answers: gold's verdicts on them (transfer.py records these)
        mini.record_uses([{"key": k, "context": "transfer_matrix", "partition_key": "policy=p|judge=nonreasoning|seed=0",
                           "step": step * 10, "item_id": str(i)} for i, k in enumerate(gold_keys)])
    # three sampled traces of a judge on two items (judging/sampling.py): its self-consistency
    sample_verdicts(RuleJudge("nonreasoning", judge_rule, version="v2"), ITEMS[:2], mini, {"temperature": 0.7}, 3)
    return mini


def test_current_judges_are_the_last_registered_and_history_keeps_the_rest(store):
    cur = store.query("SELECT judge_name, role FROM current_judges WHERE study = 'miniature' ORDER BY 1").rows()
    assert cur == [("gold:rules", "gold"), ("gpt-4.1", "external"), ("nonreasoning", "training"), ("pairwise", "training")]
    hist = store.query("SELECT count(*) AS n FROM judge_history WHERE study = 'miniature' AND judge_name = 'nonreasoning'")
    assert hist["n"][0] == 2


def test_judge_vs_gold_uses_the_current_fingerprint_of_the_study_only(store):
    df = store.query("SELECT * FROM judge_vs_gold WHERE study = 'miniature' AND judge_name = 'nonreasoning' "
                     "AND prompt LIKE 'prompt %' AND response LIKE 'answer%' ORDER BY response")
    assert len(df) == len(ITEMS)  # neither v1 (all 9) nor the other study's v9 (all 0)
    expected = sorted((r, judge_rule(p, r), gold_rule(p, r)) for p, r in ITEMS)
    assert sorted(zip(df["response"], df["judge_score"], df["gold_score"])) == [(r, float(j), float(g)) for r, j, g in expected]
    other = store.query("SELECT DISTINCT judge_score FROM judge_vs_gold WHERE study = 'other'")
    assert other.rows() == [(0.0,)]


def test_agreement_matches_krippendorff_and_a_hand_computed_kappa(store):
    row = store.query("SELECT * FROM judge_agreement WHERE study = 'miniature' AND judge_a = 'gold:rules' "
                      "AND judge_b = 'nonreasoning'").row(0, named=True)
    pairs = store.query("SELECT gold_score, judge_score FROM judge_vs_gold WHERE study = 'miniature' "
                        "AND judge_name = 'nonreasoning'")
    x, y = pairs["gold_score"].to_numpy(), pairs["judge_score"].to_numpy()
    assert row["n"] == len(x)
    alpha = krippendorff.alpha(reliability_data=np.vstack([x, y]), level_of_measurement="interval")
    assert row["krippendorff_alpha"] == pytest.approx(alpha, abs=1e-9)
    cats = sorted(set(x) | set(y))
    po = np.mean(x == y)
    pe = sum(np.mean(x == c) * np.mean(y == c) for c in cats)
    assert row["cohen_kappa"] == pytest.approx((po - pe) / (1 - pe), abs=1e-9)


def test_position_flips_of_a_judge_that_always_picks_the_first_answer(store):
    row = store.query("SELECT * FROM position_flips WHERE study = 'miniature'").row(0, named=True)
    assert row["judge_name"] == "pairwise" and row["swapped_pairs"] == 6 and row["flip_rate"] == 1.0


def test_checkpoint_tau_sees_the_judge_rank_checkpoints_against_gold(store):
    means = store.query("SELECT step, judge_name, mean_score FROM checkpoint_judge_means WHERE study = 'miniature' "
                        "ORDER BY step, judge_name").rows()
    assert means == [(0, "gold:rules", 7.0), (0, "nonreasoning", 2.0), (10, "gold:rules", 5.0), (10, "nonreasoning", 5.0),
                     (20, "gold:rules", 1.0), (20, "nonreasoning", 9.0)]
    tau = store.query("SELECT checkpoints, kendall_tau FROM checkpoint_rank_tau WHERE study = 'miniature'").rows()
    assert tau == [(3, -1.0)]
    assert store.query("SELECT count(*) AS n FROM checkpoint_judge_means WHERE study = 'other'")["n"][0] == 0


def test_fooled_and_costs(store):
    fooled = store.query("SELECT judge_name, judge_score, gold_score FROM fooled WHERE study = 'miniature'").rows()
    assert fooled and all(j >= 6 and g <= 3 for _, j, g in fooled)
    assert {n for n, _, _ in fooled} <= {"nonreasoning", "gpt-4.1"}
    costs = {r["judge_name"]: r for r in store.query("SELECT * FROM judge_costs WHERE study = 'miniature'").iter_rows(named=True)}
    assert costs["gpt-4.1"]["verdicts"] == 6 and costs["gpt-4.1"]["total_tokens"] == 6 * 13
    assert costs["gpt-4.1"]["total_seconds"] == pytest.approx(6 * 0.02)


def readme_queries() -> list[str]:
    """The SQL examples of the README's store section and of docs/queries.md (every view's example)."""
    text = README.read_text()
    section = text[text.index("## The judgment store"):]
    section = section[: section.index("\n## ", 5)]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    assert blocks, "the README's store section has no SQL examples"
    blocks += re.findall(r"```sql\n(.*?)```", QUERIES.read_text(), flags=re.S)
    return [q.strip() for b in blocks for q in b.split(";") if q.strip()]


def test_every_readme_example_query_runs_and_returns_rows(store):
    views = set(store.query("SELECT view_name FROM duckdb_views() WHERE NOT internal")["view_name"])
    documented = set()
    for q in readme_queries():
        body = "\n".join(line for line in q.splitlines() if not line.startswith("--")).strip()
        if not body:
            continue
        df = store.query(body)
        assert len(df) > 0, body
        documented |= {v for v in views if re.search(rf"\bFROM {v}\b", body)}
    tables = {"judgments", "generations", "kl_estimates", "judges", "judgment_uses", "study_judges"}
    assert views - tables - documented == set(), "views without an example in docs/queries.md"
