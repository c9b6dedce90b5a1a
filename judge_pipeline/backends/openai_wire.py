"""The wire format of OpenAI-compatible endpoints: answers parsed into `ChatResult` / `TokenLogprob`, the errors a
request ends in (`ChatRequestError`, with what a context-exceeded answer says about the limit), secrets redacted
from messages, and the per-role environment settings (URLs, limits) of a client. `openai_compat.OpenAICompatClient`
sends the requests; everything here is plain functions and dataclasses over bodies and strings.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})  #: retried; any other 5xx is too
MAX_BACKOFF_S = 60.0
BODY_SNIPPET = 300
#: a 4xx body saying the prompt does not fit (vLLM, llama-cpp-python, OpenAI, TGI wordings)
CONTEXT_RE = re.compile(r"context[_ ]length|context window|maximum context|max_model_len|maximum model length|"
                         r"prompt is too long|input is too long|too many (?:input )?tokens", re.I)
_CONTEXT_NUMBERS = re.compile(r"maximum context length is (\d+) tokens.*?requested (\d+) tokens"
                              r"(?: \((\d+) in the messages, (\d+) in the completion\))?", re.I | re.S)
_LLAMA_NUMBERS = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")


class ChatRequestError(RuntimeError):
    """A chat-completion request failed (after its retries). The message names URL and model, never the key."""

    def __init__(self, message: str, *, url: str, model: str, status: int | None = None, attempts: int = 1,
                 transient: bool = False, context_exceeded: bool = False, context_limit: int | None = None,
                 requested_tokens: int | None = None, prompt_tokens: int | None = None):
        super().__init__(message)
        self.url = url
        self.model = model
        self.status = status
        self.attempts = attempts
        self.transient = transient  #: a transport failure (timeout, connection, 5xx, empty answer) after retries
        self.context_exceeded = context_exceeded  #: the server said the prompt (+ max_tokens) is over its context
        self.context_limit = context_limit  #: the model's context in tokens, when the server said
        self.requested_tokens = requested_tokens  #: prompt + completion tokens asked for, when the server said
        self.prompt_tokens = prompt_tokens  #: tokens in the messages, when the server said

    @property
    def over_tokens(self) -> int | None:
        """How many tokens too many the request was, when the server gave the numbers."""
        if self.context_limit is not None and self.requested_tokens is not None:
            return max(1, self.requested_tokens - self.context_limit)
        return None


def context_numbers(text: str) -> tuple[int | None, int | None, int | None]:
    """(context limit, tokens requested, tokens in the messages) from a context-exceeded message; None where absent."""
    m = _CONTEXT_NUMBERS.search(text)
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3)) if m.group(3) else None
    m = _LLAMA_NUMBERS.search(text)
    if m:
        return int(m.group(2)), int(m.group(1)), int(m.group(1))
    return None, None, None


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token: its text, log-probability and the top alternatives at its position."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()  #: (token text, logprob), most likely first


@dataclass
class ChatResult:
    """What one chat completion returned."""

    text: str  #: ``message.content`` ("" when the server returned none)
    reasoning: str | None  #: the separate reasoning trace, if the server returned one
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float  #: wall time of the successful attempt
    finish_reason: str | None  #: "stop", "length" (cut at max_tokens), ...
    model: str | None  #: the model name the server reports
    logprobs: list[TokenLogprob] | None = field(default=None, repr=False)  #: per content token, when asked
    attempts: int = 1  #: 1 + retries used

    @property
    def empty(self) -> bool:
        """The server answered 200 but produced nothing: no text, no reasoning, no completion tokens, and not
        cut by the token limit. A transport glitch (a proxy or a crashed worker), not the model's answer."""
        return (not self.text.strip() and not (self.reasoning or "").strip() and not self.completion_tokens
                and self.finish_reason != "length")


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every non-empty secret, and any ``user:password@`` of a URL, replaced by ``***``."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return re.sub(r"(?<=://)[^/@\s]+@", "***@", text)


def role_env(prefix: str) -> dict[str, str]:
    """The set, non-empty variables named ``<prefix><NAME>``, by NAME (values stripped)."""
    return {k[len(prefix):]: v.strip() for k, v in os.environ.items() if k.startswith(prefix) and v.strip()}


def client_limits(prefix: str, env: dict[str, str]) -> dict[str, float | int]:
    """A client's limits from a role's variables (`role_env`): ``CONCURRENCY``, ``TIMEOUT_S``, ``MAX_RETRIES``; a
    value that is no number is an error naming the variable."""
    limits: dict[str, float | int] = {}
    for var, name, typ in (("CONCURRENCY", "concurrency", int), ("TIMEOUT_S", "timeout_s", float),
                           ("MAX_RETRIES", "max_retries", int)):
        if var in env:
            try:
                limits[name] = typ(env[var])
            except ValueError:
                raise ValueError(f"{prefix}{var} must be a number, got {env[var]!r}") from None
    return limits


def normalise_base_url(base_url: str) -> str:
    """``http://host:8000`` -> ``http://host:8000/v1``; a URL with a path is kept as given (no trailing /)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, got {redact(base_url)!r}")
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _parse_logprobs(choice: dict[str, Any]) -> list[TokenLogprob] | None:
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    out = []
    for entry in content:
        top = tuple((t.get("token", ""), float(t["logprob"])) for t in entry.get("top_logprobs") or ()
                    if t.get("logprob") is not None)
        out.append(TokenLogprob(entry.get("token", ""), float(entry.get("logprob", float("-inf"))), top))
    return out


def _parse_completion_logprobs(choice: dict[str, Any]) -> list[TokenLogprob] | None:
    """The legacy ``/completions`` logprobs layout (``tokens``, ``token_logprobs``, ``top_logprobs`` as dicts)."""
    lp = choice.get("logprobs") or {}
    tokens = lp.get("tokens")
    if not tokens:
        return None
    chosen = lp.get("token_logprobs") or [None] * len(tokens)
    tops = lp.get("top_logprobs") or [None] * len(tokens)
    out = []
    for tok, chosen_lp, top in zip(tokens, chosen, tops):
        alts = sorted(((t, float(v)) for t, v in (top or {}).items() if v is not None), key=lambda kv: -kv[1])
        out.append(TokenLogprob(tok, float(chosen_lp) if chosen_lp is not None else float("-inf"), tuple(alts)))
    return out


def _first_choice(body: dict[str, Any]) -> dict[str, Any]:
    """The first of a response body's ``choices``; a body without any is an error quoting its start."""
    choices = body.get("choices") or []
    if not choices:
        raise ValueError(f"response has no choices: {str(body)[:BODY_SNIPPET]}")
    return choices[0]


def parse_completion_response(body: dict[str, Any], latency_ms: float, attempts: int = 1) -> ChatResult:
    """A `ChatResult` from a ``/completions`` JSON body (first choice): ``text`` is the completion, no reasoning."""
    choice = _first_choice(body)
    usage = body.get("usage") or {}
    return ChatResult(text=choice.get("text") or "", reasoning=None, prompt_tokens=usage.get("prompt_tokens"),
                      completion_tokens=usage.get("completion_tokens"), latency_ms=latency_ms,
                      finish_reason=choice.get("finish_reason"), model=body.get("model"),
                      logprobs=_parse_completion_logprobs(choice), attempts=attempts)


def parse_chat_response(body: dict[str, Any], latency_ms: float, attempts: int = 1) -> ChatResult:
    """A `ChatResult` from a ``/chat/completions`` JSON body (first choice)."""
    choice = _first_choice(body)
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning") or None
    usage = body.get("usage") or {}
    return ChatResult(
        text=message.get("content") or "",
        reasoning=reasoning,
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        latency_ms=latency_ms,
        finish_reason=choice.get("finish_reason"),
        model=body.get("model"),
        logprobs=_parse_logprobs(choice),
        attempts=attempts,
    )
