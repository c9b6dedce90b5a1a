"""Arena-Hard-Auto's style features of an answer, and the per-battle covariates its style control fits.

`markdown_counts` is Arena-Hard-Auto's ``utils/add_markdown_info.py`` (its regular expressions, on the answer with
the insides of ``` fences removed as it removes them); `answer_metadata` is the ``metadata`` field of its
model-answer files (``token_len`` + the counts). `style_covariates` is ``show_result.py``'s feature construction
for a battle of a model against the baseline:

- length: (len_model - len_baseline) / (len_model + len_baseline), in tokens;
- headers, lists, bold: each a density count / (tokens + 1), then (d_model - d_baseline) / (d_model + d_baseline + 1);

and `standardise` scales every column to mean 0, standard deviation 1 over the battles (columns that do not vary are
dropped: they cannot be estimated). Token counts are whatever counter the caller uses for both sides (Arena-Hard uses
the gpt-4o tokenizer; this project counts with the policy's tokenizer: docs/arena.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

STYLE_FEATURES = ("length", "headers", "lists", "bold")
_FENCE = re.compile("```([^`]*)```")


def markdown_counts(answer: str) -> dict[str, dict[str, int]]:
    """Headers per level, ordered and unordered list items, bold spans: Arena-Hard-Auto's counts."""
    text = answer
    for block in _FENCE.findall(answer):  # as Arena-Hard removes code: the fence's inside, backticks left
        text = text.replace(block, "")
    return {
        "header_count": {f"h{n}": len(re.findall(rf"^#{{{n}}}\s", text, re.MULTILINE)) for n in range(1, 7)},
        "list_count": {"ordered": len(re.findall(r"^\s*\d+\.\s", text, re.MULTILINE)),
                       "unordered": len(re.findall(r"^\s*[-*+]\s", text, re.MULTILINE))},
        "bold_count": {"**": len(re.findall(r"\*\*[^*\n]+\*\*", text)), "__": len(re.findall(r"__[^_\n]+__", text))},
    }


def answer_metadata(answer: str, token_len: int) -> dict:
    """The ``metadata`` of an Arena-Hard model-answer record: ``token_len`` and the markdown counts."""
    return {"token_len": int(token_len), **markdown_counts(answer)}


def style_vector(metadata: dict) -> np.ndarray:
    """(tokens, headers, list items, bold spans) of an answer's metadata (counts summed over their kinds)."""
    return np.array([metadata["token_len"], sum(metadata["header_count"].values()),
                     sum(metadata["list_count"].values()), sum(metadata["bold_count"].values())], dtype=float)


def style_covariates(model: Sequence[dict], baseline: Sequence[dict]) -> np.ndarray:
    """Per battle (rows): Arena-Hard's length and markdown-density differences, model minus baseline (unscaled)."""
    m = np.array([style_vector(x) for x in model]).reshape(len(model), 4)
    b = np.array([style_vector(x) for x in baseline]).reshape(len(baseline), 4)
    out = np.zeros_like(m)
    total = m[:, 0] + b[:, 0]
    out[:, 0] = np.divide(m[:, 0] - b[:, 0], total, out=np.zeros(len(m)), where=total > 0)
    dm, db = m[:, 1:] / (m[:, :1] + 1), b[:, 1:] / (b[:, :1] + 1)
    out[:, 1:] = (dm - db) / (dm + db + 1)
    return out


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns scaled to mean 0 and (sample) standard deviation 1, and which columns were kept (those that vary)."""
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return x[:, :0], np.zeros(x.shape[1], dtype=bool)
    sd = x.std(axis=0, ddof=1)
    keep = sd > 1e-12
    return (x[:, keep] - x[:, keep].mean(axis=0)) / sd[keep], keep
