"""A Bradley–Terry reward model (sequence classifier with one output) as a judge: the classic baseline.

It reads the chat (user prompt, assistant response) and returns one unbounded scalar, kept in
``Verdict.reward``. It has no score scale, no label and no invalid outputs; the report compares it
with gold by pairwise accuracy (which response of a pair it rewards more).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from judge_pipeline.backends.transformers_backend import CHAT_TEMPLATE_KWARGS
from judge_pipeline.judging.verdict import Verdict
from judge_pipeline.store.keys import identify_model_judge


@dataclass
class RewardModelJudge:
    checkpoint: str | Path
    name: str
    role: str = "training"
    device: str = "cpu"
    batch_size: int = 8
    max_length: int = 1024
    template_version: str = "chat"  #: the model reads the plain chat, no judge template
    kind: str = "reward_model"
    _model: object = field(default=None, repr=False)
    _tokenizer: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        identify_model_judge(self, None)  # no judge template: the chat template is in the checkpoint's hash

    @property
    def decoding(self) -> dict:
        return {"mode": "scalar", "max_length": self.max_length}

    def _load(self):
        if self._model is None:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.checkpoint)
            self._model = AutoModelForSequenceClassification.from_pretrained(self.checkpoint).to(self.device).eval()
        return self._model, self._tokenizer

    def texts(self, items: list[tuple[str, str]]) -> list[str]:
        _, tok = self._load()
        return [tok.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                                        tokenize=False, **CHAT_TEMPLATE_KWARGS) for p, r in items]

    @torch.inference_mode()
    def judge(self, items: list[tuple[str, str]]) -> list[Verdict]:
        model, tok = self._load()
        texts = self.texts(items)
        out: list[Verdict] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            enc = tok(batch, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length,
                      add_special_tokens=False).to(self.device)
            t0 = time.perf_counter()
            rewards = model(**enc).logits[:, 0].float().tolist()
            dt = (time.perf_counter() - t0) * 1000 / len(batch)
            for i, r in enumerate(rewards):
                out.append(Verdict(raw_output=f"{r:.6f}", reward=float(r), prompt_tokens=int(enc["attention_mask"][i].sum()),
                                   output_tokens=0, latency_ms=dt, device_ms=dt))
        return out
