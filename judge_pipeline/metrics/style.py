"""Style- and length-controlled scores: separate what a judge pays for substance from what it pays for style.

Arena-Hard-Auto and AlpacaEval-LC control for style with covariates in their rating model. Here, on a
policy run's per-sample scores, we regress the score on style features (pooled over every checkpoint
of the run), then remove the part explained by the *change* in style since the initial policy:

    controlled_i = score_i - sum_k b_k (f_ik - mean_k(step 0))

so a policy that only got longer or bolder keeps its initial controlled score. Features: log(1 +
words), markdown headers, list items, bold spans (counts per response). With no style variation in a
run, the coefficients are 0 and the controlled score equals the score.
"""

from __future__ import annotations

import re

import numpy as np

FEATURES = ("log_words", "headers", "list_items", "bold")

_HEADER = re.compile(r"^\s{0,3}#{1,6}\s", re.M)
_LIST = re.compile(r"^\s*([-*+•]|\d+[.)])\s+", re.M)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")


def style_features(text: str) -> dict[str, float]:
    """The style covariates of one response."""
    return {
        "log_words": float(np.log1p(len(text.split()))),
        "headers": float(len(_HEADER.findall(text))),
        "list_items": float(len(_LIST.findall(text))),
        "bold": float(len(_BOLD.findall(text))),
    }


def style_coefficients(features: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """OLS coefficients of score on the features (with an intercept, which is dropped); constant
    features get 0 (they cannot explain anything), and so does the whole fit with fewer than 3 rows."""
    features = np.asarray(features, dtype=float)
    scores = np.asarray(scores, dtype=float)
    coefs = np.zeros(features.shape[1])
    varying = features.std(axis=0) > 0
    if len(scores) < 3 or not varying.any():
        return coefs
    X = np.column_stack([np.ones(len(scores)), features[:, varying]])
    beta, *_ = np.linalg.lstsq(X, scores, rcond=None)
    coefs[varying] = beta[1:]
    return coefs


def style_controlled(texts: list[str], scores, is_reference) -> tuple[np.ndarray, dict[str, float]]:
    """Controlled scores for every row (NaN scores stay NaN and are left out of the fit) and the coefficients.

    ``is_reference`` marks the rows of the initial policy (step 0), whose mean style is the baseline.
    """
    scores = np.asarray(scores, dtype=float)
    ref = np.asarray(is_reference, dtype=bool)
    if not ref.any():
        raise ValueError("style control needs reference rows (the initial policy's outputs)")
    F = np.array([[style_features(t)[k] for k in FEATURES] for t in texts]).reshape(len(texts), len(FEATURES))
    ok = np.isfinite(scores)
    coefs = style_coefficients(F[ok], scores[ok])
    baseline = F[ref].mean(axis=0)
    return scores - (F - baseline) @ coefs, dict(zip(FEATURES, coefs.tolist()))
