"""A checkpoint folder served over HTTP (``vllm serve <folder>``): the local half is its tokenizer, the rest is a request.

Trained judges and policies are plain Hugging Face folders, so vLLM (or any OpenAI-compatible server of the same
weights: llama-cpp-python's server on a GGUF in the tests) serves them as they are. `ServedModel` is what a judge or
a policy needs of such a model when it is served:

- ``tokenizer`` and `render`: the folder's own tokenizer and chat template, loaded locally (no weights), so a
  prompt is rendered -- and clipped to the judge's context -- exactly as the local path does
  (`backends.transformers_backend`);
- `agenerate` / `generate`: the rendered text sent to ``POST /completions`` through the one asynchronous client
  (`backends.openai_compat.OpenAICompatClient`: bounded requests in flight per endpoint, several endpoints, back-off,
  the API key only in a header). Raw-prompt completions, not chat: the server's template cannot change what the
  model reads.

The server is started by whoever runs the study (`vllm serve`, docs/scale.md "Serving the judges"); nothing here starts one.
Where the requests go comes from `served_client` (environment variables of the role), never from a store key.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from judge_pipeline.backends.openai_compat import OpenAICompatClient, in_input_order
from judge_pipeline.backends.openai_wire import ChatRequestError, ChatResult, client_limits, role_env
from judge_pipeline.backends.transformers_backend import CHAT_TEMPLATE_KWARGS, Completion, Messages

#: alternatives per generated token asked for (vLLM's default ``--max-logprobs`` is 20)
TOP_LOGPROBS = 20


def served_env_prefix(role: str) -> str:
    """``JUDGE_PIPELINE_<ROLE>_``: ROLE upper-cased, every non-alphanumeric character made ``_``."""
    return "JUDGE_PIPELINE_" + "".join(c if c.isalnum() else "_" for c in role.upper()) + "_"


def served_client(role: str, checkpoint: str | Path, model_from_env: bool = True) -> OpenAICompatClient:
    """The client for the server(s) of ``checkpoint`` under ``role`` (e.g. ``judge_nonreasoning``, ``policy``).

    Read from ``JUDGE_PIPELINE_<ROLE>_URLS`` (comma-separated base URLs; required), ``_MODEL`` (the served model
    name; default: the checkpoint folder's path, which is what ``vllm serve <folder>`` answers to),
    ``_CONCURRENCY`` (requests in flight per endpoint, default 8), ``_TIMEOUT_S`` (600), ``_MAX_RETRIES`` (5) and
    ``_API_KEY_ENV`` (the NAME of the variable holding the key; default OPENAI_API_KEY). ``model_from_env=False``:
    always the folder's path (a role with many checkpoints, the policy's: one name would send every checkpoint's
    requests to one model)."""
    prefix = served_env_prefix(role)
    env = role_env(prefix)
    if "URLS" not in env:
        raise ValueError(f"{role} is configured to be served over HTTP, but {prefix}URLS is not set: start the server "
                         f"(vllm serve {checkpoint}) and set {prefix}URLS=http://host:8000/v1 (comma-separate several)")
    numbers = client_limits(prefix, env)
    model = (env.get("MODEL") if model_from_env else None) or str(checkpoint)
    return OpenAICompatClient(env["URLS"], model,
                              api_key_env=env.get("API_KEY_ENV", "OPENAI_API_KEY"), **numbers)


def sampling_fields(temperature: float, top_p: float = 1.0, top_k: int = 0) -> tuple[float, dict]:
    """A decoding's request temperature and extra fields: greedy when ``temperature`` <= 0, else sampled with
    top-p / top-k."""
    if temperature <= 0:
        return 0.0, {}
    extra = {"top_p": top_p} if top_p < 1.0 else {}
    if top_k:
        extra["top_k"] = top_k
    return temperature, extra


class ServedModel:
    """The tokenizer of ``checkpoint`` plus the client of its server(s)."""

    def __init__(self, checkpoint: str | Path, client: OpenAICompatClient, tokenizer=None):
        self.path = str(checkpoint)
        self.client = client
        self._tokenizer = tokenizer

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.path)
        return self._tokenizer

    def render(self, messages: Messages, add_generation_prompt: bool = True) -> str:
        """The chat template applied as the local backend applies it."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                                  **CHAT_TEMPLATE_KWARGS)

    async def acomplete(self, text: str, max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
                        top_k: int = 0, top_logprobs: int | None = None) -> ChatResult:
        """One completion of the rendered ``text``; raises `ChatRequestError` (``transient``: ask again later)."""
        temperature, extra = sampling_fields(temperature, top_p, top_k)
        return await self.client.acomplete(text, max_tokens=max_new_tokens, top_logprobs=top_logprobs,
                                           temperature=temperature, extra=extra or None)

    def generate(self, prompts: Sequence[Messages], max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
                 top_k: int = 0, seed: int = 0, batch_size: int = 16) -> list[Completion]:
        """`TransformersBackend.generate`'s contract over HTTP: all prompts in flight together (up to the client's
        capacity), completions in input order. ``batch_size`` and ``seed`` are the local path's; the server samples
        with its own generator. A request that finally fails raises (a policy's answers are all or nothing)."""
        texts = [self.render(m) for m in prompts]
        results = in_input_order(self.client.run_stream(
            len(texts), lambda i: self.acomplete(texts[i], max_new_tokens, temperature, top_p, top_k), raise_errors=True),
            len(texts))
        return [completion_of(r) for r in results]


def completion_of(r: ChatResult) -> Completion:
    """A `Completion` (the local backend's record) from a server's answer."""
    text = r.text.strip()
    return Completion(text=text, finished=r.finish_reason != "length", prompt_tokens=r.prompt_tokens or 0,
                      completion_tokens=r.completion_tokens or 0, latency_ms=r.latency_ms)


__all__ = ["ServedModel", "served_client", "served_env_prefix", "completion_of", "sampling_fields", "TOP_LOGPROBS",
           "ChatRequestError"]
