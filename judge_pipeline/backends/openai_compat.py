"""One asynchronous client for any OpenAI-compatible endpoint: ``/v1/chat/completions`` and ``/v1/completions``.

Works with ``vllm serve``, hosted APIs and llama-cpp-python's server. Every model call of the pipeline that goes
over HTTP goes through `OpenAICompatClient`, whose requests all run on one asyncio event loop (a daemon thread
owned by the client) with ``httpx2.AsyncClient`` (``httpx`` under its new name; it is what the ``openai`` SDK
itself is built on and is installed with it; ``httpx`` is used where an older ``openai`` brought that instead).
Why not ``openai.AsyncOpenAI``: it hides the raw body (``reasoning_content``/``reasoning`` are extra fields),
retries on its own schedule and spreads nothing over endpoints; the pipeline needs all three in its own hands.

- endpoints: one or more base URLs serving the same model (a comma-separated string or a sequence); each has
  at most ``concurrency`` requests in flight; a request goes to the endpoint with the fewest in flight (ties:
  the one sent fewest), avoiding for a while one that just failed;
- raw-prompt completions (`complete` / `acomplete`: a chat template the caller applied, logprobs in the legacy
  layout) for the trained judges and policies served from their checkpoint folders (`backends.served_model`);
- sync and async faces of the same core: `chat` (one request, blocking), `achat` (a coroutine on the client's
  loop), `chat_many` (results in input order), `chat_stream` / `run_stream` (results in *completion* order as
  they arrive: what `judging.cached.judge_through_store` commits as they come);
- retries: 429, 5xx, connection errors, timeouts, and 200 answers with an unreadable or empty body (no JSON,
  no choices, or a completion with no text, no reasoning and no tokens) are retried ``max_retries`` times
  with exponential back-off and jitter (a server's ``Retry-After`` is honoured, capped); other 4xx fail at once;
- context exceeded: a 400 whose message says the prompt is over the model's context is raised at once with
  ``context_exceeded`` set and the numbers the server gave (`ChatRequestError.context_limit` ...): the judge
  clips the responses and asks again (`judging.http_judge`);
- errors: `ChatRequestError` names the endpoint URL, the model, the attempts and the last cause; its
  ``transient`` is True for the retried kinds above (the server may answer later: a caller must not record
  it as the model's answer) and False for the others (a wrong key, model or request: fix and re-run);
- counters: `ClientStats` (``client.stats``): attempts, retries, final failures, clipped prompts, the most
  requests seen in flight at once and per endpoint;
- the API key is read from the environment variable named by ``api_key_env`` at each request and
  only ever put in the ``Authorization`` header. It is never stored on the client, and every error
  message is passed through `redact` (the key and any ``user:password@`` in the URL become ``***``).

The wire format (answers parsed, errors, redaction, per-role settings) is `backends.openai_wire`.

A result carries the text, the reasoning trace when the server returns one separately
(``message.reasoning_content`` for vLLM/DeepSeek-style parsers, ``message.reasoning`` for others),
token usage, latency, the finish reason, and per-token logprobs with their top alternatives.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import socket
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

try:  # the openai SDK's HTTP library: httpx2 with openai >= 3, httpx before
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

from judge_pipeline.backends.openai_wire import (BODY_SNIPPET, CONTEXT_RE, MAX_BACKOFF_S, RETRY_STATUS,
                                                 ChatRequestError, ChatResult, context_numbers, normalise_base_url,
                                                 parse_chat_response, parse_completion_response, redact)


@dataclass
class ClientStats:
    """What a client did (all its calls together). Updated on the client's loop; read anywhere."""

    attempts: int = 0  #: HTTP requests sent (every attempt)
    retries: int = 0  #: attempts beyond a request's first
    failed: int = 0  #: requests that finally failed (transient: returned as failures; others raised)
    clipped: int = 0  #: prompts clipped and sent again after a context-exceeded answer (counted by the judges)
    in_flight: int = 0  #: requests in flight now
    max_in_flight: int = 0  #: the most requests in flight at once
    per_endpoint: dict[str, int] = field(default_factory=dict)  #: attempts per endpoint URL


class _Endpoint:
    __slots__ = ("url", "chat_url", "in_flight", "sent", "cool_until")

    def __init__(self, url: str):
        self.url = url
        self.chat_url = url + "/chat/completions"  # ``url + "/completions"`` for raw-prompt completions
        self.in_flight = 0
        self.sent = 0
        self.cool_until = 0.0  #: monotonic time before which others are preferred (it just failed)


def split_urls(base_url: str | Sequence[str]) -> tuple[str, ...]:
    """Base URLs from a comma-separated string or a sequence, normalised (`normalise_base_url`), duplicates dropped."""
    raw = base_url.split(",") if isinstance(base_url, str) else list(base_url)
    urls = tuple(dict.fromkeys(normalise_base_url(u) for u in raw if u and u.strip()))
    if not urls:
        raise ValueError("at least one base URL is required")
    return urls


_DONE = object()


def _stop_loop(loop: asyncio.AbstractEventLoop) -> None:
    if not loop.is_closed():
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:  # pragma: no cover - closed meanwhile
            pass


def in_input_order(stream: Iterator[tuple[int, Any] | None], n: int) -> list[Any]:
    """The ``(index, result)`` pairs of a completion-order stream (`OpenAICompatClient.run_stream`, a judge's
    ``judge_stream``) put back in input order; heartbeats (None) are skipped."""
    out: list[Any] = [None] * n
    for got in stream:
        if got is not None:
            out[got[0]] = got[1]
    return out


class OpenAICompatClient:
    """Client for one model behind one or more OpenAI-compatible endpoints (same model on each).

    Parameters
    ----------
    base_url: the API root, e.g. ``http://127.0.0.1:8000/v1`` (``/v1`` is added to a bare host); several as a
        comma-separated string or a sequence: requests are spread over them (fewest in flight first).
    model: the ``model`` field of every request (what the server serves, e.g. ``openai/gpt-oss-120b``).
    api_key_env: name of the environment variable holding the API key; unset or empty -> no
        ``Authorization`` header (local servers need none). The key itself is never stored here.
    timeout_s: per-attempt timeout (connect and read), seconds.
    max_retries: retries after the first attempt for 429, 5xx, connection errors and timeouts.
    backoff_s: first back-off; doubles per retry (with jitter), capped at 60 s.
    concurrency: requests in flight per endpoint, at most (all callers of this client together).
    """

    def __init__(self, base_url: str | Sequence[str], model: str, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 600.0, max_retries: int = 5, backoff_s: float = 1.0, concurrency: int = 8):
        if concurrency < 1 or max_retries < 0 or timeout_s <= 0:
            raise ValueError("concurrency >= 1, max_retries >= 0 and timeout_s > 0 are required")
        self.base_urls = split_urls(base_url)
        self.base_url = self.base_urls[0]
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.concurrency = concurrency
        self._init_runtime()

    def _init_runtime(self) -> None:
        self.stats = ClientStats(per_endpoint={u: 0 for u in self.base_urls})
        self._endpoints = [_Endpoint(u) for u in self.base_urls]
        self._local = threading.local()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = None
        self._http = None
        self._freed: asyncio.Event | None = None

    def __getstate__(self) -> dict:  # the loop, its thread and connections stay behind
        keep = ("base_urls", "base_url", "model", "api_key_env", "timeout_s", "max_retries", "backoff_s", "concurrency")
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def __repr__(self) -> str:
        urls = ",".join(redact(u) for u in self.base_urls)
        return f"OpenAICompatClient(base_url={urls!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    @property
    def capacity(self) -> int:
        """Requests in flight at most: ``concurrency`` x endpoints."""
        return self.concurrency * len(self.base_urls)

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

    def _error(self, what: str, *, url: str | None = None, status: int | None = None, attempts: int = 1,
               transient: bool = False, **context: Any) -> ChatRequestError:
        url = redact(url or self.chat_url)
        msg = redact(f"POST {url} (model {self.model!r}) {what}", self._key())
        return ChatRequestError(msg, url=url, model=self.model, status=status, attempts=attempts, transient=transient,
                                **context)

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        delay = min(MAX_BACKOFF_S, self.backoff_s * (2 ** attempt)) * (0.5 + random.random() / 2)
        if retry_after:
            try:
                delay = max(delay, min(MAX_BACKOFF_S, float(retry_after)))
            except ValueError:
                pass
        return delay

    # ------------------------------------------------------------------ the event loop
    def _event_loop(self) -> asyncio.AbstractEventLoop:
        """The client's loop, running in a daemon thread; started on first use (and again in a forked child)."""
        if self._loop is None or self._pid != os.getpid():
            with self._lock:
                if self._loop is None or self._pid != os.getpid():
                    loop = asyncio.new_event_loop()
                    threading.Thread(target=loop.run_forever, daemon=True, name="openai-compat-client").start()
                    self._http, self._freed = None, None
                    self._endpoints = [_Endpoint(u) for u in self.base_urls]
                    self._loop, self._pid = loop, os.getpid()
                    weakref.finalize(self, _stop_loop, loop)
        return self._loop

    def submit(self, coro: Awaitable[Any]):
        """Run a coroutine on the client's loop; a `concurrent.futures.Future` of its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._event_loop())

    def close(self) -> None:
        """Close connections and stop the loop (the client starts a new one if used again)."""
        loop = self._loop
        if loop is None or self._pid != os.getpid():
            return
        if self._http is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._http.aclose(), loop).result(timeout=10)
            except Exception:  # pragma: no cover - best effort
                pass
        _stop_loop(loop)
        self._loop, self._http, self._freed = None, None, None

    def __enter__(self) -> "OpenAICompatClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _http_client(self):
        if self._http is None:  # on the loop thread
            limits = httpx.Limits(max_connections=self.capacity + 4, max_keepalive_connections=self.capacity)
            # TCP_NODELAY: a POST's headers and body go out in two writes; without it Nagle + delayed ACK add ~40 ms
            transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 30.0)),
                                           limits=limits, transport=transport)
        return self._http

    async def _acquire(self) -> _Endpoint:
        """An endpoint with a free slot: fewest in flight, then fewest sent. One that just failed (cooling down)
        is used only while every endpoint is cooling down: a request waits for a slot on a healthy one instead."""
        if self._freed is None:
            self._freed = asyncio.Event()
        while True:
            now = time.monotonic()
            healthy = [e for e in self._endpoints if e.cool_until <= now] or self._endpoints
            free = [e for e in healthy if e.in_flight < self.concurrency]
            if free:
                ep = min(free, key=lambda e: (e.in_flight, e.sent))
                ep.in_flight += 1
                ep.sent += 1
                st = self.stats
                st.attempts += 1
                st.per_endpoint[ep.url] = st.per_endpoint.get(ep.url, 0) + 1
                st.in_flight += 1
                st.max_in_flight = max(st.max_in_flight, st.in_flight)
                return ep
            self._freed.clear()
            try:  # woken by a release, or to look again when a cooling-down endpoint may be back
                await asyncio.wait_for(self._freed.wait(), 0.25)
            except asyncio.TimeoutError:
                pass

    def _release(self, ep: _Endpoint) -> None:
        ep.in_flight -= 1
        self.stats.in_flight -= 1
        if self._freed is not None:
            self._freed.set()

    # ------------------------------------------------------------------ requests
    def _payload(self, messages: Sequence[dict[str, str]], temperature: float | None, max_tokens: int | None,
                 reasoning_effort: str | None, logprobs: bool, top_logprobs: int | None,
                 extra: dict[str, Any] | None) -> dict[str, Any]:
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
        return payload

    async def achat(self, messages: Sequence[dict[str, str]], *, temperature: float | None = 0.0,
                    max_tokens: int | None = None, reasoning_effort: str | None = None, logprobs: bool = False,
                    top_logprobs: int | None = None, extra: dict[str, Any] | None = None) -> ChatResult:
        """One chat completion, as a coroutine on the client's loop (see `submit`); raises `ChatRequestError`."""
        payload = self._payload(messages, temperature, max_tokens, reasoning_effort, logprobs, top_logprobs, extra)
        return await self._arequest("/chat/completions", payload, parse_chat_response)

    async def acomplete(self, prompt: str, *, temperature: float | None = 0.0, max_tokens: int | None = None,
                        top_logprobs: int | None = None, extra: dict[str, Any] | None = None) -> ChatResult:
        """One raw-prompt completion (``POST /completions``): ``prompt`` is sent as it is -- a chat template already
        applied by the caller, so the server's own template (or none) cannot change what the model reads; no special
        tokens are added (``add_special_tokens: false``, a vLLM field other servers ignore). ``top_logprobs``: the
        legacy ``logprobs`` count (top alternatives per generated token; vLLM's default cap is 20)."""
        payload: dict[str, Any] = {"model": self.model, "prompt": prompt, "add_special_tokens": False}
        if temperature is not None:
            payload["temperature"] = temperature
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if top_logprobs:
            payload["logprobs"] = top_logprobs
        payload.update(extra or {})
        return await self._arequest("/completions", payload, parse_completion_response)

    async def _arequest(self, path: str, payload: dict[str, Any],
                        parse: Callable[[dict[str, Any], float, int], ChatResult]) -> ChatResult:
        """POST ``payload`` to ``path`` of an endpoint with free capacity, with the retries, back-off and errors
        described in the module docstring."""
        http = self._http_client()
        attempts = self.max_retries + 1
        last, last_status, url = "no attempt made", None, self.base_url + path
        for attempt in range(attempts):
            retry_after = None
            if attempt:
                self.stats.retries += 1
            ep = await self._acquire()
            url = ep.url + path
            t0 = time.perf_counter()
            try:
                resp = await http.post(url, json=payload, headers=self._headers())
            except httpx.TimeoutException:
                last, last_status, resp = f"timed out after {self.timeout_s:g}s", None, None
            except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError) as exc:  # not retried
                self.stats.failed += 1
                raise self._error(f"failed: {type(exc).__name__}: {exc}", url=url) from None
            except httpx.TransportError as exc:  # refused, reset, closed mid-answer
                last, last_status, resp = f"could not connect ({type(exc).__name__}: {exc})", None, None
            finally:
                self._release(ep)
            if resp is not None:
                latency_ms = (time.perf_counter() - t0) * 1000
                last_status = resp.status_code
                if resp.status_code == 200:  # an unreadable or empty answer is retried like a 5xx
                    try:
                        result = parse(resp.json(), latency_ms, attempt + 1)
                    except (ValueError, TypeError, AttributeError) as exc:  # not JSON, no choices
                        last = f"returned an unreadable body: {exc}; body starts {resp.text[:BODY_SNIPPET]!r}"
                    else:
                        if not result.empty:
                            return result
                        last = (f"returned an empty completion (no text, reasoning or tokens; finish_reason "
                                f"{result.finish_reason!r})")
                else:
                    last = f"HTTP {resp.status_code}: {resp.text[:BODY_SNIPPET]!r}"
                    if resp.status_code not in RETRY_STATUS and resp.status_code < 500:
                        self.stats.failed += 1
                        if resp.status_code in (400, 413, 422) and CONTEXT_RE.search(resp.text):
                            limit, requested, prompt = context_numbers(resp.text)
                            raise self._error(f"failed: the prompt is over the model's context: {last}", url=url,
                                              status=resp.status_code, attempts=attempt + 1, context_exceeded=True,
                                              context_limit=limit, requested_tokens=requested,
                                              prompt_tokens=prompt) from None
                        hint = " (check the API key variable " + self.api_key_env + ")" if resp.status_code in (401, 403) else ""
                        raise self._error(f"failed with {last}{hint}", url=url, status=resp.status_code,
                                          attempts=attempt + 1) from None
                    retry_after = resp.headers.get("Retry-After")
            if attempt + 1 < attempts:
                delay = self._backoff(attempt, retry_after)
                ep.cool_until = time.monotonic() + max(2 * delay, 1.0)  # others first for a while
                await asyncio.sleep(delay)
        self.stats.failed += 1
        raise self._error(f"failed after {attempts} attempt(s); last error: {last}", url=url, status=last_status,
                          attempts=attempts, transient=True)

    def chat(self, messages: Sequence[dict[str, str]], **kwargs: Any) -> ChatResult:
        """One chat completion (blocking). ``reasoning_effort`` is sent only when not None; ``top_logprobs``
        implies logprobs. Keyword arguments as `achat`."""
        fut = self.submit(self.achat(messages, **kwargs))
        try:
            return fut.result()
        except BaseException:
            fut.cancel()
            raise

    def run_stream(self, n: int, make: Callable[[int], Awaitable[Any]], heartbeat_s: float | None = None,
                   raise_errors: bool = False) -> Iterator[tuple[int, Any] | None]:
        """Run ``make(i)`` for i in 0..n-1 on the client's loop; yield ``(i, result)`` in completion order, the
        exception in the result's place where one was raised (``raise_errors``: raised instead, which cancels what
        is still in flight). At most 2 x `capacity` are started ahead (the endpoints' bounds apply inside `achat`).
        With ``heartbeat_s``, yields None after that long without a result (a caller's chance to commit what it
        holds). Closing the iterator early cancels what is left."""
        if n <= 0:
            return
        q: queue.Queue = queue.Queue()
        window = 2 * self.capacity

        async def one(i: int):
            try:
                return i, await make(i)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                return i, exc

        async def drive():
            pending: set = set()
            nxt = 0
            try:
                while nxt < n or pending:
                    while nxt < n and len(pending) < window:
                        pending.add(asyncio.ensure_future(one(nxt)))
                        nxt += 1
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for t in done:
                        q.put(t.result())
            finally:
                for t in pending:
                    t.cancel()
                q.put(_DONE)

        fut = self.submit(drive())
        finished = False
        try:
            while True:
                try:
                    got = q.get(timeout=heartbeat_s)
                except queue.Empty:
                    yield None
                    continue
                if got is _DONE:
                    finished = True
                    break
                if raise_errors and isinstance(got[1], BaseException):
                    raise got[1]
                yield got
            fut.result()
        finally:
            if not finished:
                fut.cancel()

    def chat_stream(self, conversations: Sequence[Sequence[dict[str, str]]], heartbeat_s: float | None = None,
                    **kwargs: Any) -> Iterator[tuple[int, ChatResult | ChatRequestError] | None]:
        """`chat` for each conversation, ``(index, result or ChatRequestError)`` in completion order (see
        `run_stream`); any other exception is raised."""
        for got in self.run_stream(len(conversations), lambda i: self.achat(conversations[i], **kwargs), heartbeat_s):
            if got is not None and isinstance(got[1], BaseException) and not isinstance(got[1], ChatRequestError):
                raise got[1]
            yield got

    def complete(self, prompt: str, **kwargs: Any) -> ChatResult:
        """One raw-prompt completion (blocking); keyword arguments as `acomplete`."""
        fut = self.submit(self.acomplete(prompt, **kwargs))
        try:
            return fut.result()
        except BaseException:
            fut.cancel()
            raise

    def chat_many(self, conversations: Sequence[Sequence[dict[str, str]]], return_exceptions: bool = False,
                  **kwargs: Any) -> list[ChatResult | ChatRequestError]:
        """`chat` for each conversation, all in flight together (up to `capacity`); results in input order.

        The first failure (in input order) is raised once every request is done, so a caller never gets a partial
        list; with ``return_exceptions`` a request's `ChatRequestError` is returned in its place instead (other
        exceptions are still raised).
        """
        out = in_input_order(self.chat_stream(conversations, **kwargs), len(conversations))
        if not return_exceptions:
            for r in out:
                if isinstance(r, ChatRequestError):
                    raise r
        return out

    def list_models(self) -> list[str]:
        """The model ids ``GET /models`` of the first endpoint reports (a cheap health check)."""
        url = self.base_url + "/models"
        try:
            resp = self._session().get(url, headers=self._headers(), timeout=min(self.timeout_s, 30.0))
            resp.raise_for_status()
            return [m.get("id", "") for m in resp.json().get("data", [])]
        except (requests.RequestException, ValueError) as exc:
            msg = redact(f"GET {redact(url)} failed: {type(exc).__name__}: {exc}", self._key())
            raise ChatRequestError(msg, url=redact(url), model=self.model) from None
