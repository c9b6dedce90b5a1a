"""Arena-Hard scores of models against a baseline: win rate, Bradley-Terry, style control, bootstrap CIs.

Outcomes (Arena-Hard-Auto's ``show_result.py``): a battle's two games become scores for the model, game 2 (model as
A) read as it is and game 1 (baseline as A) from the other side, ``A>B`` -> 1, ``A=B`` -> 0.5, ``B>A`` -> 0, a
strong verdict (``>>``) counting ``weight`` times (3). A battle with an invalid game is left out, as Arena-Hard
leaves out a record with a null score (`battle_outcomes` returns None; the caller counts it).

- Win rate: the mean of a model's outcomes.
- Bradley-Terry (`fit_bt`): a logistic regression of each outcome on +1 for the model's column (the baseline's
  coefficient is 0), soft labels, no intercept; the score is sigmoid(beta_model - beta_baseline), the model's
  modelled win probability against the baseline (Arena-Hard's ``to_winrate_probabilities``). Battles are all against
  the baseline, so without covariates a model's BT score is its win rate (a known answer the tests use).
- Style control: the same regression with the standardised style covariates (`metrics.arena_style`) as extra
  columns, shared by every model of the fit; the score leaves them out (a model credited for length or markdown
  alone gets 0.5). Fitted only from `MIN_BATTLES_PER_PARAMETER` battles per coefficient on (else NaN: the
  miniature's 2 questions per subcategory are far too few).
- CIs: percentile bootstrap, resampling *questions* (every battle and game of a question together), refitting each
  time; Arena-Hard resamples single outcome rows and reports the 5-95 % range: we give ``level`` (95 %).

The fit is Newton's method on the penalised log-likelihood (ridge ``1e-4`` on the coefficients: finite estimates
when a model wins or loses everything; at a few hundred outcome rows its pull is negligible).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from judge_pipeline.metrics.arena_style import STYLE_FEATURES, standardise

WEIGHT = 3  #: Arena-Hard's weight of a strong verdict (``>>``)
MIN_BATTLES_PER_PARAMETER = 5  #: style control is fitted only with this many battles per coefficient (models + covariates)
_SCORE = {"A>B": 1.0, "A=B": 0.5, "B>A": 0.0, "A>>B": 1.0, "B>>A": 0.0}


def game_scores(verdict: str, weight: int = WEIGHT) -> list[float]:
    """A game's outcome rows for assistant A (Arena-Hard's ``label_to_score``)."""
    return [_SCORE[verdict]] * (weight if ">>" in verdict else 1)


def battle_outcomes(game1: str | None, game2: str | None, weight: int = WEIGHT) -> list[float] | None:
    """The model's outcome rows of a battle: game 2 (model as A) as is, game 1 (baseline as A) mirrored; None when
    a game has no valid verdict."""
    if game1 is None or game2 is None:
        return None
    return game_scores(game2, weight) + [1.0 - s for s in game_scores(game1, weight)]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def fit_bt(x: np.ndarray, y: np.ndarray, ridge: float = 1e-4, max_iter: int = 100, tol: float = 1e-10) -> np.ndarray:
    """Coefficients of the logistic regression of soft outcomes ``y`` (in [0, 1]) on ``x`` (no intercept), maximising
    sum y log p + (1 - y) log(1 - p) - ridge / 2 * |beta|^2 by Newton's method with step halving."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    beta = np.zeros(x.shape[1])

    def objective(b: np.ndarray) -> float:
        z = x @ b
        return float(np.sum(y * z - np.logaddexp(0.0, z)) - ridge / 2 * b @ b)

    current = objective(beta)
    for _ in range(max_iter):
        p = sigmoid(x @ beta)
        grad = x.T @ (y - p) - ridge * beta
        hess = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-8:
            candidate = objective(beta + t * step)
            if candidate >= current - 1e-12:
                break
            t /= 2
        beta, previous, current = beta + t * step, current, candidate
        if abs(current - previous) < tol and np.max(np.abs(t * step)) < 1e-8:
            break
    return beta


@dataclass
class Battle:
    """One model's battle on one question against the baseline: its outcome rows and its style covariates."""

    model: str
    question: str  #: the bootstrap unit
    outcomes: list[float]
    style: np.ndarray | None = None  #: unscaled covariates (`arena_style.style_covariates` row); None: no style


def _design(battles: Sequence[Battle], models: list[str], style: bool) -> tuple[np.ndarray, np.ndarray, int]:
    rows = [(b, s) for b in battles for s in b.outcomes]
    x = np.zeros((len(rows), len(models)))
    col = {m: i for i, m in enumerate(models)}
    for r, (b, _) in enumerate(rows):
        x[r, col[b.model]] = 1.0
    kept = 0
    if style and rows:
        z, keep = standardise(np.array([b.style for b, _ in rows]))
        x, kept = np.hstack([x, z]), int(keep.sum())
    return x, np.array([s for _, s in rows]), kept


def bt_fit(battles: Sequence[Battle], models: list[str], style: bool = False) -> tuple[dict[str, float], np.ndarray]:
    """{model: BT score (win probability against the baseline)} and the style coefficients (empty without style).
    With style control and fewer than `MIN_BATTLES_PER_PARAMETER` battles per estimated coefficient, nothing is
    estimated (NaN): a handful of battles separates perfectly on four covariates and the score would be an artefact."""
    x, y, kept = _design(battles, models, style)
    present = {b.model for b in battles}
    if len(y) == 0 or (style and len(battles) < MIN_BATTLES_PER_PARAMETER * (len(present) + kept)):
        return {m: float("nan") for m in models}, np.full(kept, np.nan)
    beta = fit_bt(x, y)
    scores = {m: float(sigmoid(beta[i])) if m in present else float("nan") for i, m in enumerate(models)}
    return scores, beta[len(models):len(models) + kept]


def win_rates(battles: Sequence[Battle], models: list[str]) -> dict[str, float]:
    """{model: mean of its outcome rows} (NaN for a model without a battle)."""
    out = {}
    for m in models:
        rows = [s for b in battles if b.model == m for s in b.outcomes]
        out[m] = float(np.mean(rows)) if rows else float("nan")
    return out


@dataclass
class ArenaScore:
    model: str
    battles: int
    win_rate: float
    win_rate_low: float
    win_rate_high: float
    bt: float
    bt_low: float
    bt_high: float
    bt_style: float
    bt_style_low: float
    bt_style_high: float


def arena_scores(battles: Sequence[Battle], resamples: int = 1000, level: float = 0.95, seed: int = 0
                 ) -> tuple[list[ArenaScore], dict[str, float]]:
    """Per model: battles, win rate, BT and style-controlled BT, each with its bootstrap CI (questions resampled);
    and the style coefficients of the full fit ({feature: coefficient}, features that vary only)."""
    models = sorted({b.model for b in battles})
    questions = sorted({b.question for b in battles})
    by_q: dict[str, list[Battle]] = {q: [] for q in questions}
    for b in battles:
        by_q[b.question].append(b)
    style_ok = all(b.style is not None for b in battles)

    def stats(sample: Sequence[Battle]) -> np.ndarray:
        wr = win_rates(sample, models)
        bt, _ = bt_fit(sample, models)
        bs, _ = bt_fit(sample, models, style=True) if style_ok else ({m: float("nan") for m in models}, None)
        return np.array([[wr[m], bt[m], bs[m]] for m in models])

    est = stats(battles)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples if questions else 0):
        pick = rng.integers(0, len(questions), len(questions))
        draws.append(stats([b for i in pick for b in by_q[questions[i]]]))
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    if draws:
        stack = np.stack(draws)
        with warnings.catch_warnings():  # a model absent from every resample: NaN, not a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanquantile(stack, lo_q, axis=0), np.nanquantile(stack, hi_q, axis=0)
    else:
        lo = hi = np.full_like(est, np.nan)
    out = [ArenaScore(m, sum(b.model == m for b in battles),
                      *(float(v) for j in range(3) for v in (est[i, j], lo[i, j], hi[i, j]))) for i, m in enumerate(models)]
    coefs: dict[str, float] = {}
    if style_ok and battles:
        _, keep = standardise(np.array([b.style for b in battles for _ in b.outcomes]))
        _, beta = bt_fit(battles, models, style=True)
        if np.all(np.isfinite(beta)):
            coefs = dict(zip([f for f, k in zip(STYLE_FEATURES, keep) if k], beta.tolist()))
    return out, coefs
