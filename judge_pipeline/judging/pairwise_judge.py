"""A trained (or untrained) LLM pairwise judge: which of two responses is better, "Output (a)" or "(b)".

Items are ``(prompt, response_a, response_b)`` in the order shown to the judge; label 1 means the
first is better. The judge writes its answer greedily (non-reasoning judges: just the label, a few
tokens; reasoning judges: an assessment of each output, then the label on its own line), and
`parsing.parse_label` (`parse_final_label` for reasoning judges: the last line must be the label, and
an answer cut by the token limit is invalid) turns it into 1, 2 or an invalid reason. Position bias is measured by the
report, which judges every pair in both orders (`metrics.pairwise.position_consistency`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from judge_pipeline.backends.transformers_backend import TransformersBackend, clip_to_context
from judge_pipeline.judging.parsing import parse_final_label, parse_label
from judge_pipeline.judging.templates import load_template, render_pairwise
from judge_pipeline.judging.verdict import Verdict
from judge_pipeline.store.keys import identify_model_judge


@dataclass
class PairwiseLLMJudge:
    checkpoint: str | Path
    name: str
    template_version: str = "pairwise_v1"
    role: str = "training"
    device: str = "cpu"
    batch_size: int = 8
    reasoning: bool = False
    max_new_tokens: int = 8  #: answer length cap ("Output (a)" is 4 tokens; traces need more)
    max_length: int = 2048  #: judge-prompt tokens; longer responses are cut (marked) to fit, never the instructions
    temperature: float = 0.0  #: answer sampling temperature (0 = greedy, the default everywhere; the reasoning analytics
    #: sample traces to measure self-consistency)
    top_k: int = 0  #: sampling top-k (0 = off)
    top_p: float = 1.0  #: sampling nucleus
    seed: int = 0  #: sampling seed (another seed, another sample)
    backend: TransformersBackend | None = field(default=None, repr=False)
    kind: str = "pairwise"

    def __post_init__(self) -> None:
        self.template = load_template(self.template_version)  # the text hashed is the text rendered
        identify_model_judge(self, self.template.sha256)

    @property
    def decoding(self) -> dict:
        mode = {"mode": "greedy"} if self.temperature <= 0 else {
            "mode": "sampled", "temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p,
            **({"seed": self.seed} if self.seed else {})}
        return {**mode, "max_new_tokens": self.max_new_tokens, "reasoning": self.reasoning,
                "max_length": self.max_length, "overflow": "clip-response"}

    def _backend(self) -> TransformersBackend:
        if self.backend is None:
            self.backend = TransformersBackend(self.checkpoint, device=self.device)
        return self.backend

    def judge(self, items: list[tuple[str, str, str]]) -> list[Verdict]:
        backend = self._backend()
        messages = []
        for p, a, b in items:
            a, b = clip_to_context(backend.tokenizer, lambda r: backend.render(render_pairwise(self.template, p, *r)),
                                   [a, b], self.max_length)
            messages.append(render_pairwise(self.template, p, a, b))
        completions = backend.generate(messages, max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                                       temperature=self.temperature, top_k=self.top_k, top_p=self.top_p, seed=self.seed)
        local = isinstance(backend, TransformersBackend)  # a served model's device time is the server's: unknown
        verdicts = []
        for c in completions:
            label, reason = parse_final_label(c.text) if self.reasoning else parse_label(c.text)
            if self.reasoning and label is not None and not c.finished:
                label, reason = None, "cut by the token limit"
            trace = c.text.rsplit("\n", 1)[0].strip() if self.reasoning and "\n" in c.text else None
            verdicts.append(Verdict(raw_output=c.text, reasoning=trace, label=label, invalid_reason=reason,
                                    prompt_tokens=c.prompt_tokens, output_tokens=c.completion_tokens,
                                    latency_ms=c.latency_ms, device_ms=c.latency_ms if local else None))
        return verdicts
