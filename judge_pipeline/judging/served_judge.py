"""A trained pointwise judge served over HTTP: its checkpoint folder behind ``vllm serve`` (README "Serving the judges").

`ServedPointwiseJudge` is `PointwiseLLMJudge` with its forward passes replaced by requests to the server, through
the one asynchronous client (`backends.served_model.ServedModel`):

- the same judge prompt: rendered with the folder's own tokenizer and chat template, the response clipped to
  ``max_length`` tokens and marked exactly as the local judge does (the methods are inherited), then sent as raw
  text to ``/completions``;
- non-reasoning: one token, greedy, with the top `TOP_LOGPROBS` alternatives at that position; p(0..9) are the
  probabilities of the tokens "0".."9" among them -- the local path's tokens; a digit outside the top alternatives
  counts 0 and its mass is in ``mass_outside`` -- then renormalised: ``expected_score`` as the local judge reads it;
- reasoning: the trace generated (greedy, or sampled as the judge's decoding says) with top alternatives at each
  token; the score is read at the digit after the trace's "Score:" (`http_judge.expected_from_logprobs`): one
  request, where the local path generates and then re-reads the prompt plus the trace;
- ``judge_stream``: verdicts in completion order, committed to the store as they arrive (`judge_through_store`);
  a request that finally fails with a transient error is `NotJudged` (counted, never stored, asked again on the
  next run); any other request error raises.

Identity: the judge's fingerprint is the local judge's (the checkpoint's content hash, the template, the rubric);
``decoding`` adds ``served: completions`` and the top-alternatives count, so served verdicts -- numerically close to
the local ones, not equal: the server's kernels and, for a GGUF, its quantisation differ -- are stored under keys of
their own and never mixed with local ones. The URL, concurrency, timeouts and the API key are in no key.

The agreement of the two paths on the same weights is measured by ``test_served_judge.py`` (llama-cpp-python's
server on the shipped SmolLM2 GGUF against transformers on the checkpoint converted from that GGUF).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from judge_pipeline.backends.openai_compat import ChatRequestError, ChatResult, OpenAICompatClient
from judge_pipeline.backends.served_model import TOP_LOGPROBS, ServedModel
from judge_pipeline.judging.http_judge import expected_from_logprobs
from judge_pipeline.judging.parsing import SCORE_MAX, SCORE_MIN, expected_score, parse_score, score_prefix
from judge_pipeline.judging.pointwise_judge import PointwiseLLMJudge, distribution_verdict
from judge_pipeline.judging.verdict import NotJudged, Verdict


def first_token_probs(result: ChatResult) -> list[float]:
    """p of "0".."9" at the first generated token, from its top alternatives (0 for a digit not among them)."""
    top = dict(result.logprobs[0].top) if result.logprobs else {}
    if result.logprobs:
        top.setdefault(result.logprobs[0].token, result.logprobs[0].logprob)
    return [math.exp(top[str(d)]) if str(d) in top and top[str(d)] > -math.inf else 0.0
            for d in range(SCORE_MIN, SCORE_MAX + 1)]


@dataclass
class ServedPointwiseJudge(PointwiseLLMJudge):
    """`PointwiseLLMJudge` of ``checkpoint`` whose model answers from the server(s) behind ``client``."""

    client: OpenAICompatClient | None = field(default=None, repr=False)  #: the server(s) of this checkpoint
    top_logprobs: int = TOP_LOGPROBS  #: alternatives asked for per generated token

    def __post_init__(self) -> None:
        if self.client is None:
            raise ValueError(f"served judge {self.name!r} needs a client (backends.served_model.served_client)")
        super().__post_init__()

    @property
    def decoding(self) -> dict:
        return {**super().decoding, "served": "completions", "top_logprobs": self.top_logprobs}

    def _backend(self) -> ServedModel:
        if self.backend is None:
            self.backend = ServedModel(self.checkpoint, self.client)
        return self.backend

    def _verdict(self, r: ChatResult) -> Verdict:
        usage = dict(prompt_tokens=r.prompt_tokens, output_tokens=r.completion_tokens, latency_ms=r.latency_ms)
        if not self.reasoning:
            raw = r.logprobs[0].token if r.logprobs else r.text
            score, reason = parse_score(raw)
            return Verdict(raw_output=raw, score=score, invalid_reason=reason,
                           **distribution_verdict(raw, first_token_probs(r)), **usage)
        text = r.text.strip()
        score, reason = parse_score(text)
        prefix = score_prefix(text) if score is not None else None
        trace = prefix.rsplit("Score", 1)[0].strip() if prefix else text
        v = Verdict(raw_output=text, reasoning=trace, score=score, invalid_reason=reason, **usage)
        if prefix is not None:
            exp, probs, outside = expected_from_logprobs(r.logprobs, score)
            if exp is None:  # no alternatives at the score token: the distribution is the parsed score alone
                exp, outside = expected_score([1.0 if d == score else 0.0 for d in range(SCORE_MIN, SCORE_MAX + 1)])
            v.expected_score, v.score_probs, v.mass_outside = exp, probs, outside
        return v

    async def _averdict(self, text: str) -> Verdict | NotJudged:
        backend = self._backend()
        try:
            if self.reasoning:
                r = await backend.acomplete(text, self.max_new_tokens, self.temperature, self.top_p, self.top_k,
                                            top_logprobs=self.top_logprobs)
            else:
                r = await backend.acomplete(text, 1, top_logprobs=self.top_logprobs)
        except ChatRequestError as exc:
            if exc.transient:
                return NotJudged(str(exc))
            if exc.context_exceeded:
                raise ChatRequestError(f"{exc} -- the judge clips its prompts to {self.max_length} tokens: serve "
                                       f"{self.checkpoint} with a context of at least {self.max_length} + "
                                       f"{self.max_new_tokens if self.reasoning else 1} tokens (vllm serve "
                                       f"--max-model-len)", url=exc.url, model=exc.model, status=exc.status) from None
            raise
        return self._verdict(r)

    def judge_stream(self, items: Sequence[tuple[str, str]], heartbeat_s: float | None = None
                     ) -> Iterator[tuple[int, Verdict | NotJudged] | None]:
        """``(index, Verdict or NotJudged)`` in completion order (with ``heartbeat_s``: None after that long without
        one). Prompts are rendered (and clipped) first, in this thread; then all are in flight up to the client's
        capacity."""
        texts = [self.prompt_text(p, r) for p, r in items]
        for got in self.client.run_stream(len(texts), lambda i: self._averdict(texts[i]), heartbeat_s):
            if got is None:
                yield None
                continue
            i, v = got
            if isinstance(v, BaseException):
                raise v
            yield i, v

    def judge(self, items: list[tuple[str, str]]) -> list[Verdict | NotJudged]:
        out: list = [None] * len(items)
        for i, v in self.judge_stream(items):
            out[i] = v
        return out
