"""A small client for any OpenAI-compatible ``/v1/chat/completions`` endpoint.

Works with ``vllm serve``, hosted APIs and llama-cpp-python's server. Plain ``requests``, no SDK:

- concurrency: `OpenAICompatClient.chat_many` runs requests on a thread pool (``concurrency`` workers),
  results in input order;
- retries: 429, 5xx, connection errors, timeouts, and 200 answers with an unreadable or empty body (no JSON,
  no choices, or a completion with no text, no reasoning and no tokens) are retried ``max_retries`` times
  with exponential back-off and jitter (a server's ``Retry-After`` is honoured, capped); other 4xx fail at once;
- errors: `ChatRequestError` names the endpoint URL, the model, the attempts and the last cause; its
  ``transient`` is True for the retried kinds above (the server may answer later: a caller must not record
  it as the model's answer) and False for the others (a wrong key, model or request: fix and re-run);
- the API key is read from the environment variable named by ``api_key_env`` at each request and
  only ever put in the ``Authorization`` header. It is never stored on the client, and every error
  message is passed through `redact` (the key and any ``user:password@`` in the URL become ``***``).

A result carries the text, the reasoning trace when the server returns one separately
(``message.reasoning_content`` for vLLM/DeepSeek-style parsers, ``message.reasoning`` for others),
token usage, latency, the finish reason, and per-token logprobs with their top alternatives.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})  #: retried; any other 5xx is too
MAX_BACKOFF_S = 60.0
_BODY_SNIPPET = 300


class ChatRequestError(RuntimeError):
    """A chat-completion request failed (after its retries). The message names URL and model, never the key."""

    def __init__(self, message: str, *, url: str, model: str, status: int | None = None, attempts: int = 1,
                 transient: bool = False):
        super().__init__(message)
        self.url = url
        self.model = model
        self.status = status
        self.attempts = attempts
        self.transient = transient  #: a transport failure (timeout, connection, 5xx, empty answer) after retries


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


def parse_chat_response(body: dict[str, Any], latency_ms: float, attempts: int = 1) -> ChatResult:
    """A `ChatResult` from a ``/chat/completions`` JSON body (first choice)."""
    choices = body.get("choices") or []
    if not choices:
        raise ValueError(f"response has no choices: {str(body)[:_BODY_SNIPPET]}")
    choice = choices[0]
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


class OpenAICompatClient:
    """Client for one model behind one OpenAI-compatible endpoint.

    Parameters
    ----------
    base_url: the API root, e.g. ``http://127.0.0.1:8000/v1`` (``/v1`` is added to a bare host).
    model: the ``model`` field of every request (what the server serves, e.g. ``openai/gpt-oss-120b``).
    api_key_env: name of the environment variable holding the API key; unset or empty -> no
        ``Authorization`` header (local servers need none). The key itself is never stored here.
    timeout_s: per-attempt timeout (connect and read), seconds.
    max_retries: retries after the first attempt for 429, 5xx, connection errors and timeouts.
    backoff_s: first back-off; doubles per retry (with jitter), capped at 60 s.
    concurrency: worker threads of `chat_many`.
    """

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 600.0,
                 max_retries: int = 5, backoff_s: float = 1.0, concurrency: int = 8):
        if concurrency < 1 or max_retries < 0 or timeout_s <= 0:
            raise ValueError("concurrency >= 1, max_retries >= 0 and timeout_s > 0 are required")
        self.base_url = normalise_base_url(base_url)
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.concurrency = concurrency
        self._local = threading.local()

    def __repr__(self) -> str:
        return (f"OpenAICompatClient(base_url={redact(self.base_url)!r}, model={self.model!r}, "
                f"api_key_env={self.api_key_env!r})")

    # ------------------------------------------------------------------ plumbing
    @property
    def chat_url(self) -> str:
        return self.base_url + "/chat/completions"

    def _key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None if self.api_key_env else None

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = self._key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _error(self, what: str, *, status: int | None = None, attempts: int = 1, transient: bool = False
               ) -> ChatRequestError:
        url = redact(self.chat_url)
        msg = redact(f"POST {url} (model {self.model!r}) {what}", self._key())
        return ChatRequestError(msg, url=url, model=self.model, status=status, attempts=attempts, transient=transient)

    def _sleep_before_retry(self, attempt: int, retry_after: str | None) -> None:
        delay = min(MAX_BACKOFF_S, self.backoff_s * (2 ** attempt)) * (0.5 + random.random() / 2)
        if retry_after:
            try:
                delay = max(delay, min(MAX_BACKOFF_S, float(retry_after)))
            except ValueError:
                pass
        time.sleep(delay)

    # ------------------------------------------------------------------ requests
    def chat(self, messages: Sequence[dict[str, str]], *, temperature: float | None = 0.0, max_tokens: int | None = None,
             reasoning_effort: str | None = None, logprobs: bool = False, top_logprobs: int | None = None,
             extra: dict[str, Any] | None = None) -> ChatResult:
        """One chat completion. ``reasoning_effort`` is sent only when not None; ``top_logprobs`` implies logprobs."""
        payload: dict[str, Any] = {"model": self.model, "messages": list(messages)}
        if temperature is not None:
            payload["temperature"] = temperature
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if reasoning_effort is not None:
            payload["reasoning_effort"] = reasoning_effort
        if logprobs or top_logprobs:
            payload["logprobs"] = True
            if top_logprobs:
                payload["top_logprobs"] = top_logprobs
        payload.update(extra or {})

        attempts = self.max_retries + 1
        last = "no attempt made"
        last_status = None
        for attempt in range(attempts):
            retry_after = None
            t0 = time.perf_counter()
            try:
                resp = self._session().post(self.chat_url, json=payload, headers=self._headers(),
                                            timeout=(min(self.timeout_s, 30.0), self.timeout_s))
            except requests.Timeout:
                last, last_status = f"timed out after {self.timeout_s:g}s", None
            except requests.ConnectionError as exc:
                last, last_status = f"could not connect ({type(exc).__name__}: {exc})", None
            except requests.RequestException as exc:  # invalid URL and the like: not retried
                raise self._error(f"failed: {type(exc).__name__}: {exc}") from None
            else:
                latency_ms = (time.perf_counter() - t0) * 1000
                last_status = resp.status_code
                if resp.status_code == 200:  # an unreadable or empty answer is retried like a 5xx
                    try:
                        result = parse_chat_response(resp.json(), latency_ms, attempt + 1)
                    except (ValueError, TypeError, AttributeError) as exc:  # not JSON (a JSONDecodeError is a ValueError), no choices
                        last = f"returned an unreadable body: {exc}; body starts {resp.text[:_BODY_SNIPPET]!r}"
                    else:
                        if not result.empty:
                            return result
                        last = (f"returned an empty completion (no text, reasoning or tokens; finish_reason "
                                f"{result.finish_reason!r})")
                else:
                    last = f"HTTP {resp.status_code}: {resp.text[:_BODY_SNIPPET]!r}"
                    if resp.status_code not in RETRY_STATUS and resp.status_code < 500:
                        hint = " (check the API key variable " + self.api_key_env + ")" if resp.status_code in (401, 403) else ""
                        raise self._error(f"failed with {last}{hint}", status=resp.status_code, attempts=attempt + 1) from None
                    retry_after = resp.headers.get("Retry-After")
            if attempt + 1 < attempts:
                self._sleep_before_retry(attempt, retry_after)
        raise self._error(f"failed after {attempts} attempt(s); last error: {last}", status=last_status, attempts=attempts,
                          transient=True)

    def chat_many(self, conversations: Sequence[Sequence[dict[str, str]]], return_exceptions: bool = False,
                  **kwargs: Any) -> list[ChatResult | ChatRequestError]:
        """`chat` for each conversation on ``concurrency`` threads; results in input order.

        The first failure is raised (after the other requests finish), so a caller never gets a partial list;
        with ``return_exceptions`` a request's `ChatRequestError` is returned in its place instead (other
        exceptions are still raised).
        """
        if not conversations:
            return []

        def one(m):
            try:
                return self.chat(m, **kwargs)
            except ChatRequestError as exc:
                if return_exceptions:
                    return exc
                raise

        if self.concurrency == 1 or len(conversations) == 1:
            return [one(m) for m in conversations]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(conversations))) as pool:
            futures = [pool.submit(one, m) for m in conversations]
            return [f.result() for f in futures]

    def list_models(self) -> list[str]:
        """The model ids ``GET /models`` reports (a cheap health check)."""
        url = self.base_url + "/models"
        try:
            resp = self._session().get(url, headers=self._headers(), timeout=min(self.timeout_s, 30.0))
            resp.raise_for_status()
            return [m.get("id", "") for m in resp.json().get("data", [])]
        except (requests.RequestException, ValueError) as exc:
            msg = redact(f"GET {redact(url)} failed: {type(exc).__name__}: {exc}", self._key())
            raise ChatRequestError(msg, url=redact(url), model=self.model) from None
