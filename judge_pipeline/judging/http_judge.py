"""The LLM gold judge over HTTP: any OpenAI-compatible endpoint (``vllm serve openai/gpt-oss-120b``, ...).

Three judges share one `HTTPJudgeConfig` and one client, and all go through
`judging.cached.judge_through_store` like every other judge (content-keyed, cached). They offer
``judge_stream``: verdicts in completion order, so the store commits each as it arrives (every ``batch_size``
results or ``commit_seconds``), with up to ``concurrency`` requests in flight per endpoint and the requests
spread over every endpoint of ``base_urls`` (`backends.openai_compat.OpenAICompatClient`):

- `HTTPPointwiseJudge` (kind "pointwise", items ``(prompt, response)``): the judge reasons, ends with
  "Score: N" (0-9, `parse_score`); its trace goes to ``Verdict.reasoning``. When the server returns
  top logprobs, the expected score Σ x·p(x) is read at the score token (see `expected_from_logprobs`).
- `HTTPPairwiseJudge` (kind "pairwise", items ``(prompt, response_a, response_b)``): ends with
  "Output (a)" / "Output (b)" (`parse_label`: label 1 / 2).
- `HTTPRubricWriter` (kind "rubric", items ``(prompt, "")``: the response slot is the empty string):
  an instruction-specific checklist, stored as ``raw_output``; ``invalid_reason`` is set only when the
  server returned no text. Note that `JudgingStats.invalid` counts every rubric (it has no score or
  label); `write_rubrics` reports the real count.

Identity: the fingerprint is ``content_key(model, reasoning_effort, template version, template text's
sha256)``; every request setting that changes the answer is in ``decoding`` (temperature, max_tokens,
top_logprobs for the pointwise judge, the seed when one is set, the retry attempt when > 0); both are in
every store key. The endpoint URL, concurrency, timeouts, retries and above all the API key are not: the
key is read from the environment by the client at request time and appears in no fingerprint, store row
or message. A judge reads its template once, when built, and renders from that copy.

Serving settings (none of them in a key): ``base_url`` or ``base_urls`` (several servers of the same model),
``concurrency`` (requests in flight per endpoint), ``timeout_s``, ``max_retries``, ``backoff_s``. `HTTPJudgeConfig.from_env`
reads them for a role from ``JUDGE_PIPELINE_<ROLE>_URLS`` (comma-separated base URLs), ``_BASE_URL``, ``_MODEL``,
``_EFFORT``, ``_CONCURRENCY``, ``_TIMEOUT_S``, ``_MAX_RETRIES`` (ROLE: GOLD by default, EXTERNAL, ...); and three
decoding settings, in every key: ``_MAX_TOKENS`` (the new-token limit), ``_EXTRA_BODY`` (a JSON object of more
request fields: the server's constrained decoding, e.g. llama-cpp's ``grammar`` in the paper smoke test) and
``_TOP_LOGPROBS`` (1-20, or ``0``/``none``: no logprobs, so no expected score; llama-cpp-python computes them in
Python, which tripled a 135M verdict's time on 2 cores: 3.4 s against 1.15 s).

A prompt over the server's context (a 400 saying so): the responses are clipped -- their start kept, the cut
marked with `TRUNCATION_MARKER` like the local judges' `clip_to_context` -- by as many tokens as the server said
were too many (estimated in characters), and the request sent again, up to `MAX_CLIPS` times; the key stays the
item's (unclipped) key. Still over after that: `NotJudged` (not stored). Clips are counted in ``client.stats.clipped``.

Transport failures are never verdicts. A request that still fails after the client's retries with a
transient error (timeout, connection, 5xx, an empty or unreadable 200 body) comes back as `NotJudged`:
`judge_through_store` stores nothing for it, counts it (``JudgingStats.failed``) and a re-run asks again.
Other request errors (a wrong key, model or URL) raise `ChatRequestError` at once. An answer that does not
parse is the judge's answer: stored, with its ``invalid_reason``.

Retries of invalid verdicts (`judging.cached.judge_with_retries`, the gold labels): attempt k of a judge is
`_HTTPJudge.for_attempt` (k): ``max_tokens`` x ``retry_token_growth``**k and seed (``seed`` or 0) + k, with
``attempt: k`` in its decoding (attempt 0 is the judge itself: its keys are unchanged).

`effort_ablation` collects verdicts per reasoning effort; `agreeing_with_high` is the paper's filter
(keep the examples whose lower-effort verdict equals the high-effort one).
"""

from __future__ import annotations

import abc
import dataclasses
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from judge_pipeline.backends.openai_compat import OpenAICompatClient, in_input_order
from judge_pipeline.backends.openai_wire import ChatRequestError, ChatResult, TokenLogprob, client_limits, role_env
from judge_pipeline.judging.cached import JudgingStats, judge_through_store
from judge_pipeline.judging.parsing import _BARE, _SCORE_LINE, SCORE_MAX, SCORE_MIN, expected_score, parse_label, parse_score
from judge_pipeline.judging.templates import Template, fence_delimiters, load_template, render_pairwise, render_pointwise
from judge_pipeline.judging.verdict import Judge, NotJudged, Verdict
from judge_pipeline.store import JudgmentStore, content_key

EFFORTS = ("low", "medium", "high")
ENV_MODEL = "JUDGE_PIPELINE_GOLD_MODEL"
ENV_BASE_URL = "JUDGE_PIPELINE_GOLD_BASE_URL"
ENV_EFFORT = "JUDGE_PIPELINE_GOLD_EFFORT"
ENV_URLS = "JUDGE_PIPELINE_GOLD_URLS"  #: comma-separated base URLs (the role's servers); wins over _BASE_URL
ENV_CONCURRENCY = "JUDGE_PIPELINE_GOLD_CONCURRENCY"  #: requests in flight per endpoint
ENV_TIMEOUT = "JUDGE_PIPELINE_GOLD_TIMEOUT_S"
ENV_RETRIES = "JUDGE_PIPELINE_GOLD_MAX_RETRIES"

#: appended where a response was cut to fit the judge's context; the same text as the local judges'
#: (`backends.transformers_backend.TRUNCATION_MARKER`, not imported here: that module loads torch)
TRUNCATION_MARKER = "\n[... the rest of this response was cut to fit the judge's context ...]"
MAX_CLIPS = 4  #: clip-and-retry rounds after context-exceeded answers


@dataclass(frozen=True)
class HTTPJudgeConfig:
    """How to reach the gold judge and how it decodes. Defaults: the paper's gold judge (gpt-oss-120b,
    effort high, temperature 0, up to 8192 new tokens) on a local ``vllm serve``.

    `from_env` reads ``JUDGE_PIPELINE_GOLD_MODEL``, ``_BASE_URL``, ``_URLS`` (comma-separated), ``_EFFORT``
    (low | medium | high | none), ``_MAX_TOKENS``, ``_EXTRA_BODY`` (JSON), ``_CONCURRENCY``, ``_TIMEOUT_S`` and ``_MAX_RETRIES`` (``GOLD``:
    the role).
    """

    model: str = "openai/gpt-oss-120b"  #: the ``model`` field sent to the server (what it serves); in the fingerprint
    base_url: str = "http://127.0.0.1:8000/v1"  #: API root; not in the fingerprint (same model, same verdicts)
    api_key_env: str = "OPENAI_API_KEY"  #: NAME of the env var holding the key (unset: no auth header); never the key
    reasoning_effort: str | None = "high"  #: "low" | "medium" | "high" | None (field not sent); in the fingerprint
    temperature: float = 0.0  #: sampling temperature; in ``decoding``
    max_tokens: int = 8192  #: new-token limit (reasoning included on most servers); in ``decoding``
    concurrency: int = 8  #: requests in flight per endpoint, at most (all judges sharing the client together)
    timeout_s: float = 600.0  #: per-request timeout, seconds
    max_retries: int = 5  #: retries on 429 / 5xx / connection errors / timeouts, with exponential back-off
    base_urls: tuple[str, ...] = ()  #: several servers of the model (requests spread, fewest in flight); () -> base_url
    backoff_s: float = 1.0  #: first back-off of a retried request (doubles per retry, jittered, capped at 60 s)
    pointwise_template: str = "gold_pointwise_v1"  #: template version of `HTTPPointwiseJudge`; in its fingerprint
    pairwise_template: str = "gold_pairwise_v1"  #: template version of `HTTPPairwiseJudge`
    rubric_template: str = "gold_rubric_v1"  #: template version of `HTTPRubricWriter`
    top_logprobs: int | None = 20  #: alternatives per token for the expected score (pointwise); None: no logprobs
    seed: int | None = None  #: the request's ``seed`` (sampling servers honour it); None: not sent. In ``decoding``
    extra_body: dict | None = None  #: more fields of every request, as the server defines them (vLLM's
    #: ``structured_outputs``, llama-cpp's ``grammar``: constrained decoding for a weak judge); in ``decoding``
    retry_token_growth: float = 2.0  #: retry attempt k of an invalid verdict asks for max_tokens x growth**k tokens
    role: str = "gold"  #: the judges' role in the store ("gold" | "external")
    name_prefix: str = "gold"  #: judge names are "<prefix>:<model>@<effort>" (+ "/pairwise", "/rubric")

    def __post_init__(self) -> None:
        if isinstance(self.base_urls, str):
            object.__setattr__(self, "base_urls", tuple(u.strip() for u in self.base_urls.split(",") if u.strip()))
        else:
            object.__setattr__(self, "base_urls", tuple(self.base_urls))
        if self.reasoning_effort not in (*EFFORTS, None):
            raise ValueError(f"reasoning_effort must be one of {EFFORTS} or None, got {self.reasoning_effort!r}")
        if self.concurrency < 1 or self.max_retries < 0 or self.timeout_s <= 0 or self.max_tokens < 1:
            raise ValueError("concurrency >= 1, max_retries >= 0, timeout_s > 0 and max_tokens >= 1 are required")
        if self.top_logprobs is not None and not 1 <= self.top_logprobs <= 20:
            raise ValueError(f"top_logprobs must be in 1..20 or None, got {self.top_logprobs}")
        if self.retry_token_growth < 1:
            raise ValueError(f"retry_token_growth must be >= 1, got {self.retry_token_growth}")
        if self.extra_body is not None and not isinstance(self.extra_body, dict):
            raise ValueError(f"extra_body must be a JSON object, got {type(self.extra_body).__name__}")

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The base URLs requests go to: ``base_urls``, else ``base_url``."""
        return self.base_urls or (self.base_url,)

    @classmethod
    def from_env(cls, **overrides) -> "HTTPJudgeConfig":
        """Defaults, then the ``JUDGE_PIPELINE_<ROLE>_*`` variables that are set (ROLE: ``overrides["role"]``,
        default GOLD; see the module docstring), then ``overrides``."""
        prefix = f"JUDGE_PIPELINE_{str(overrides.get('role', cls.role)).upper()}_"
        env = role_env(prefix)
        values: dict = {}
        for var, name in (("MODEL", "model"), ("BASE_URL", "base_url"), ("URLS", "base_urls")):
            if var in env:
                values[name] = env[var]
        if "EFFORT" in env:
            effort = env["EFFORT"].lower()
            values["reasoning_effort"] = None if effort in ("none", "") else effort
        if "MAX_TOKENS" in env:  # decoding, not a client limit: it is in every verdict's key
            try:
                values["max_tokens"] = int(env["MAX_TOKENS"])
            except ValueError:
                raise ValueError(f"{prefix}MAX_TOKENS must be an integer, got {env['MAX_TOKENS']!r}") from None
        if "TOP_LOGPROBS" in env:
            raw = env["TOP_LOGPROBS"].strip().lower()
            try:
                values["top_logprobs"] = None if raw in ("", "0", "none") else int(raw)
            except ValueError:
                raise ValueError(f"{prefix}TOP_LOGPROBS must be an integer or none, got {env['TOP_LOGPROBS']!r}") from None
        if "EXTRA_BODY" in env:
            try:
                values["extra_body"] = json.loads(env["EXTRA_BODY"])
            except json.JSONDecodeError:
                raise ValueError(f"{prefix}EXTRA_BODY must be a JSON object") from None
        values.update(client_limits(prefix, env))
        values.update(overrides)
        return cls(**values)

    def with_effort(self, effort: str | None) -> "HTTPJudgeConfig":
        return dataclasses.replace(self, reasoning_effort=effort)

    def client(self) -> OpenAICompatClient:
        return OpenAICompatClient(list(self.endpoints), self.model, api_key_env=self.api_key_env,
                                  timeout_s=self.timeout_s, max_retries=self.max_retries, backoff_s=self.backoff_s,
                                  concurrency=self.concurrency)


def clip_item(item: Sequence[str], err: ChatRequestError, rendered_chars: int) -> tuple[str, ...] | None:
    """``item`` with its responses shortened after a context-exceeded answer, or None when nothing is left to cut.

    The number of characters to cut: the tokens the server said were too many x the prompt's characters per
    token (from its own count of message tokens), + 5 % (another round follows if that was not enough); without
    numbers, half of what can be cut. The longest
    response is cut first (its start kept, `TRUNCATION_MARKER` appended), like the local judges do. An item whose
    responses are all empty (a rubric's ``(prompt, "")``) has its prompt cut instead.
    """
    fields = list(item)
    slots = [i for i in range(1, len(fields)) if fields[i]] or [0]

    def body(i: int) -> str:
        return fields[i][:-len(TRUNCATION_MARKER)] if fields[i].endswith(TRUNCATION_MARKER) else fields[i]

    room = sum(len(body(i)) for i in slots)
    if room == 0:
        return None
    if err.over_tokens is not None:
        per_token = rendered_chars / max(1, err.prompt_tokens or (err.requested_tokens or 1))
        cut = int(err.over_tokens * per_token * 1.05) + 16
    else:
        cut = room // 2 + 1
    while cut > 0:
        i = max(slots, key=lambda k: len(body(k)))
        text = body(i)
        if not text:
            break
        take = min(len(text), cut + (0 if fields[i].endswith(TRUNCATION_MARKER) else len(TRUNCATION_MARKER)))
        fields[i] = text[:len(text) - take] + TRUNCATION_MARKER
        cut -= take
    return tuple(fields)


# ---------------------------------------------------------------------- expected score from logprobs
_DIGITS = frozenset(str(x) for x in range(SCORE_MIN, SCORE_MAX + 1))


def score_span(text: str) -> tuple[int, int] | None:
    """Character span in ``text`` of the number `parse_score` reads: the whole text if it is a bare
    number, else the last "Score: N". None when there is none."""
    stripped = text.strip()
    offset = len(text) - len(text.lstrip())
    m = _BARE.match(stripped)
    if m:
        return offset + m.start(1), offset + m.end(1)
    matches = list(_SCORE_LINE.finditer(stripped))
    return (offset + matches[-1].start(1), offset + matches[-1].end(1)) if matches else None


def score_token_index(tokens: Sequence[TokenLogprob]) -> int | None:
    """Index of the token holding the first character of the score number in the generated tokens."""
    span = score_span("".join(t.token for t in tokens))
    if span is None:
        return None
    pos = 0
    for i, t in enumerate(tokens):
        if pos <= span[0] < pos + len(t.token):
            return i
        pos += len(t.token)
    return None  # pragma: no cover


def expected_from_logprobs(tokens: Sequence[TokenLogprob] | None, score: int | None
                           ) -> tuple[float | None, list[float] | None, float | None]:
    """(expected score, p(0..9) renormalised, mass outside the ten digits) at the score token.

    The score token is the one holding the number `parse_score` took (found in the concatenated token
    texts). Its top alternatives are restricted to the digit tokens "0".."9" (a leading or trailing space
    is ignored, so "7" and " 7" both count for 7), the chosen token included if it is not among them.
    Returns (None, None, None) when there are no logprobs, no parsed score, the tokens disagree with
    the text about the score, or the score token is not a single digit.
    """
    if not tokens or score is None:
        return None, None, None
    i = score_token_index(tokens)
    if i is None or tokens[i].token.strip() != str(score):
        return None, None, None
    probs = [0.0] * (SCORE_MAX - SCORE_MIN + 1)
    alternatives = dict(tokens[i].top)
    alternatives.setdefault(tokens[i].token, tokens[i].logprob)
    for tok, lp in alternatives.items():
        d = tok.strip()
        if d in _DIGITS and lp > -math.inf:  # not str.isdigit: "²" is a digit to Python, not a score
            probs[int(d) - SCORE_MIN] += math.exp(lp)
    exp, outside = expected_score(probs)
    if exp is None:
        return None, None, outside
    total = sum(probs)
    return exp, [p / total for p in probs], outside


# ---------------------------------------------------------------------- judges
def _trace(result: ChatResult, bare_verdict: bool) -> str | None:
    """The reasoning trace: the server's separate trace, else the text itself unless it is a bare verdict."""
    if result.reasoning:
        return result.reasoning
    return None if bare_verdict or not result.text.strip() else result.text.strip()


def _cut_note(reason: str | None, result: ChatResult) -> str | None:
    if reason is not None and result.finish_reason == "length":
        return f"{reason} (output cut at max_tokens)"
    return reason


class _HTTPJudge(abc.ABC):
    """Shared identity and request plumbing of the HTTP judges; each judge says how an item becomes messages and how
    an answer becomes a verdict."""

    kind = ""
    suffix = ""
    checkpoint_hash = ""  #: served models expose no weight hash; the model name stands for them

    def __init__(self, cfg: HTTPJudgeConfig, client: OpenAICompatClient | None = None, template_version: str = "",
                 attempt: int = 0):
        self.cfg = cfg
        self.client = client or cfg.client()
        self.template_version = template_version
        self.template: Template = load_template(template_version)  # the text hashed is the text rendered
        self.attempt = attempt
        self.model = cfg.model
        self.role = cfg.role
        self.name = f"{cfg.name_prefix}:{cfg.model}@{cfg.reasoning_effort or 'default'}{self.suffix}"
        self.fingerprint = content_key(model=cfg.model, reasoning_effort=cfg.reasoning_effort, template=template_version,
                                       template_sha256=self.template.sha256)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, template={self.template_version!r})"

    @property
    def decoding(self) -> dict:
        """Every request setting that changes the answer (optional ones only when set, so keys stay stable)."""
        d = {"mode": "chat", "temperature": self.cfg.temperature, "max_tokens": self.cfg.max_tokens}
        if self.cfg.seed is not None:
            d["seed"] = self.cfg.seed
        if self.cfg.extra_body:
            d["extra_body"] = self.cfg.extra_body
        if self.attempt:
            d["attempt"] = self.attempt
        return d

    def for_attempt(self, attempt: int) -> "_HTTPJudge":
        """This judge for retry ``attempt`` of an invalid verdict: a larger token budget (max_tokens x
        retry_token_growth**attempt; most invalid gold verdicts are traces cut by the limit) and another seed
        (seed or 0, + attempt: a sampling server answers afresh), same client, same name and fingerprint."""
        if attempt == 0:
            return self
        cfg = dataclasses.replace(self.cfg, max_tokens=int(round(self.cfg.max_tokens * self.cfg.retry_token_growth ** attempt)),
                                  seed=(self.cfg.seed or 0) + attempt)
        return type(self)(cfg, self.client, attempt=attempt)

    request_top_logprobs: int | None = None  #: top logprobs asked for (the pointwise judge: cfg.top_logprobs)

    @abc.abstractmethod
    def messages(self, item: Sequence[str]) -> list[dict[str, str]]:
        """The chat messages sent for ``item``."""

    @abc.abstractmethod
    def verdict(self, result: ChatResult) -> Verdict:
        """The verdict of the server's answer."""

    async def _aresult(self, item: tuple[str, ...]) -> ChatResult | NotJudged:
        """The server's answer to one item, on the client's loop. A prompt over the context is clipped
        (`clip_item`) and sent again; a transient failure (after the client's retries) or a prompt still over
        the context becomes `NotJudged`; any other request error is raised."""
        extra = {**(self.cfg.extra_body or {}), **({"seed": self.cfg.seed} if self.cfg.seed is not None else {})} or None
        for clip in range(MAX_CLIPS + 1):
            messages = self.messages(item)
            try:
                return await self.client.achat(messages, temperature=self.cfg.temperature, max_tokens=self.cfg.max_tokens,
                                               reasoning_effort=self.cfg.reasoning_effort,
                                               top_logprobs=self.request_top_logprobs, extra=extra)
            except ChatRequestError as exc:
                if exc.context_exceeded:
                    clipped = clip_item(item, exc, sum(len(m.get("content") or "") for m in messages))
                    if clipped is not None and clip < MAX_CLIPS:
                        item = clipped
                        self.client.stats.clipped += 1
                        continue
                    return NotJudged(f"{exc} (still over the context after {clip} clip(s) of the responses)")
                if exc.transient:
                    return NotJudged(str(exc))
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def judge_stream(self, items: Sequence[Sequence[str]], heartbeat_s: float | None = None
                     ) -> Iterator[tuple[int, Verdict | NotJudged] | None]:
        """``(index, Verdict or NotJudged)`` for ``items`` in completion order, up to the client's capacity in
        flight (with ``heartbeat_s``: None after that long without one). A request error that is no transport
        failure (a wrong key, model or URL) is raised at once; what is still in flight is then cancelled."""
        items = [tuple(it) for it in items]
        for got in self.client.run_stream(len(items), lambda i: self._aresult(items[i]), heartbeat_s, raise_errors=True):
            if got is None:
                yield None
            else:
                i, r = got
                yield i, (r if isinstance(r, NotJudged) else self.verdict(r))

    def judge(self, items: Sequence[Sequence[str]]) -> list[Verdict | NotJudged]:
        """Verdicts in item order (all of ``items`` in flight together, up to the client's capacity)."""
        return in_input_order(self.judge_stream(items), len(items))

    @staticmethod
    def _usage(result: ChatResult) -> dict:
        return {"prompt_tokens": result.prompt_tokens, "output_tokens": result.completion_tokens,
                "latency_ms": result.latency_ms}


class HTTPPointwiseJudge(_HTTPJudge):
    """Pointwise gold judge: items ``(prompt, response)`` -> score 0..9 (+ expected score from logprobs)."""

    kind = "pointwise"

    def __init__(self, cfg: HTTPJudgeConfig, client: OpenAICompatClient | None = None, attempt: int = 0):
        super().__init__(cfg, client, cfg.pointwise_template, attempt)

    @property
    def decoding(self) -> dict:
        return {**super().decoding, "top_logprobs": self.cfg.top_logprobs}

    @property
    def request_top_logprobs(self) -> int | None:
        return self.cfg.top_logprobs

    def verdict(self, result: ChatResult) -> Verdict:
        score, reason = parse_score(result.text)
        exp, probs, outside = expected_from_logprobs(result.logprobs, score)
        return Verdict(raw_output=result.text, reasoning=_trace(result, bool(_BARE.match(result.text.strip()))),
                       score=None if score is None else float(score), invalid_reason=_cut_note(reason, result),
                       expected_score=exp, score_probs=probs, mass_outside=outside, **self._usage(result))

    def messages(self, item: Sequence[str]) -> list[dict[str, str]]:
        prompt, response = item
        return render_pointwise(self.template, prompt, response)



class HTTPPairwiseJudge(_HTTPJudge):
    """Pairwise gold judge: items ``(prompt, response_a, response_b)`` -> label 1 (a better) or 2 (b better)."""

    kind = "pairwise"
    suffix = "/pairwise"

    def __init__(self, cfg: HTTPJudgeConfig, client: OpenAICompatClient | None = None, attempt: int = 0):
        super().__init__(cfg, client, cfg.pairwise_template, attempt)

    def verdict(self, result: ChatResult) -> Verdict:
        label, reason = parse_label(result.text)
        bare = len(result.text.strip().splitlines()) <= 1 and len(result.text.strip()) <= 12
        return Verdict(raw_output=result.text, reasoning=_trace(result, bare), label=label,
                       invalid_reason=_cut_note(reason, result), **self._usage(result))

    def messages(self, item: Sequence[str]) -> list[dict[str, str]]:
        prompt, response_a, response_b = item
        return render_pairwise(self.template, prompt, response_a, response_b)



def render_rubric(template: str | Template, instruction: str) -> list[dict[str, str]]:
    """Chat messages asking for a rubric; the instruction is fenced between unique delimiters."""
    [(open_, close)] = fence_delimiters(instruction, labels=("INSTRUCTION",))
    t = template if isinstance(template, Template) else load_template(template)
    user = t.user.replace("{open}", open_).replace("{close}", close).replace("{instruction}", instruction, 1)
    return ([{"role": "system", "content": t.system}] if t.system else []) + [{"role": "user", "content": user}]


class HTTPRubricWriter(_HTTPJudge):
    """Instruction-specific rubrics: items ``(prompt, "")`` -> ``Verdict.raw_output`` = the checklist text."""

    kind = "rubric"
    suffix = "/rubric"

    def __init__(self, cfg: HTTPJudgeConfig, client: OpenAICompatClient | None = None, attempt: int = 0):
        super().__init__(cfg, client, cfg.rubric_template, attempt)

    def messages(self, item: Sequence[str]) -> list[dict[str, str]]:
        return render_rubric(self.template, item[0])  # item = (prompt, ""): the response slot is unused

    def verdict(self, r: ChatResult) -> Verdict:
        return Verdict(raw_output=r.text.strip(), reasoning=r.reasoning,
                       invalid_reason=None if r.text.strip() else _cut_note("empty output", r), **self._usage(r))


def rubric_items(prompts: Sequence[str]) -> list[tuple[str, str]]:
    """The store items of rubrics: ``(prompt, "")``."""
    return [(p, "") for p in prompts]


def write_rubrics(writer: Judge, prompts: Sequence[str], store: JudgmentStore, **kwargs
                  ) -> tuple[list[str | None], JudgingStats]:
    """Rubrics for ``prompts`` (None where the server gave no text), through the store; stats.invalid corrected."""
    verdicts, _, stats = judge_through_store(writer, rubric_items(prompts), store, **kwargs)
    stats.invalid = sum(v.invalid_reason is not None for v in verdicts)
    return [v.raw_output if v.invalid_reason is None else None for v in verdicts], stats


def build_http_gold_judges(cfg: HTTPJudgeConfig, client: OpenAICompatClient | None = None) -> dict[str, Judge]:
    """The gold judges of one configuration, sharing one client: keys "pointwise", "pairwise", "rubric"."""
    client = client or cfg.client()
    return {"pointwise": HTTPPointwiseJudge(cfg, client), "pairwise": HTTPPairwiseJudge(cfg, client),
            "rubric": HTTPRubricWriter(cfg, client)}


# ---------------------------------------------------------------------- effort ablation
def effort_ablation(judge_factory: HTTPJudgeConfig | Callable[[str], Judge], items: Sequence[Sequence[str]],
                    store: JudgmentStore, efforts: Sequence[str] = EFFORTS, **kwargs
                    ) -> dict[str, list[Verdict]]:
    """Verdicts for ``items`` at each reasoning effort, in item order, through the store.

    ``judge_factory``: an `HTTPJudgeConfig` (-> its pointwise judge at each effort) or any callable
    effort -> Judge (e.g. ``lambda e: HTTPPairwiseJudge(cfg.with_effort(e))``). ``kwargs`` go to
    `judge_through_store` (run_id, batch_size, progress, ...). Each effort is its own fingerprint, so
    each is cached on its own and the "high" verdicts are shared with the main gold labels.
    """
    if isinstance(judge_factory, HTTPJudgeConfig):
        cfg = judge_factory
        client = cfg.client()
        def factory(e: str) -> Judge:
            return HTTPPointwiseJudge(cfg.with_effort(e), client)
    else:
        factory = judge_factory
    return {e: judge_through_store(factory(e), items, store, **kwargs)[0] for e in efforts}


def _verdict_value(v: Verdict) -> float | int | None:
    return v.score if v.score is not None else v.label


def agreeing_with_high(verdicts_by_effort: Mapping[str, Sequence[Verdict]], high: str = "high",
                       intersect: bool = False) -> dict[str, list[int]]:
    """The effort-ablation data: per lower effort, the indices of items whose verdict (score, or label
    for pairwise) equals the ``high``-effort verdict. Invalid verdicts never agree.

    ``intersect=True`` keeps, for every lower effort, only the items on which *all* lower efforts agree
    with high (the same examples for every effort).
    """
    if high not in verdicts_by_effort:
        raise KeyError(f"no {high!r} verdicts among efforts {list(verdicts_by_effort)}")
    ref = verdicts_by_effort[high]
    kept: dict[str, list[int]] = {}
    for effort, verdicts in verdicts_by_effort.items():
        if effort == high:
            continue
        if len(verdicts) != len(ref):
            raise ValueError(f"effort {effort!r} has {len(verdicts)} verdicts, {high!r} has {len(ref)}")
        kept[effort] = [i for i, (v, h) in enumerate(zip(verdicts, ref))
                        if _verdict_value(h) is not None and _verdict_value(v) == _verdict_value(h)]
    if intersect and kept:
        common = set.intersection(*(set(ix) for ix in kept.values()))
        kept = {e: [i for i in ix if i in common] for e, ix in kept.items()}
    return kept
