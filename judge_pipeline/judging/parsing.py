"""Verdict parsing: judge text in, a score (or label) or a reason out. Never a silent default.

Every unparseable output maps to ``(None, reason)``; the store keeps the raw text and the reason.
"""

from __future__ import annotations

import re

SCORE_MIN, SCORE_MAX = 0, 9
_NUMBER = r"[-+]?\d+(?:[.,]\d+)?"
_SCORE_LINE = re.compile(rf"score\s*(?:of the output)?\s*(?:is|:|=)?\s*\**\s*({_NUMBER})", re.I)
_BARE = re.compile(rf"^[^\w+\-]*({_NUMBER})\W*$")


def _last_verdict(text: str, bare: re.Pattern, anywhere: re.Pattern) -> str | None:
    """The verdict token: the whole text if it is just a verdict, else the last verdict phrase in it."""
    m = bare.match(text)
    if m:
        return m.group(1)
    matches = anywhere.findall(text)
    return matches[-1] if matches else None


def parse_score(raw: str | None) -> tuple[int | None, str | None]:
    """Parse an integer score 0..9 from a judge's output.

    Accepted: a bare number ("7", " 7.", "**7**"), or the last "Score: N" in a longer text (reasoning
    judges end their trace with it). Returns (score, None) or (None, reason).
    """
    if raw is None or not raw.strip():
        return None, "empty output"
    found = _last_verdict(raw.strip(), _BARE, _SCORE_LINE)
    if found is None:
        return None, "no score found"
    if re.search(r"[.,]\d", found):
        return None, f"score {found!r} is not an integer"
    value = int(found)
    if not SCORE_MIN <= value <= SCORE_MAX:
        return None, f"score {value} outside {SCORE_MIN}..{SCORE_MAX}"
    return value, None


def score_prefix(text: str) -> str | None:
    """``text`` up to (not including) the digit of its last "Score: N": where a reasoning judge's score
    distribution is read. None when the text has no "Score" phrase (a bare-number text has nothing before it)."""
    matches = list(_SCORE_LINE.finditer(text))
    if not matches:
        return None
    return text[: matches[-1].start(1)]


def expected_score(probs: list[float]) -> tuple[float | None, float]:
    """Σ x·p(x) over x in 0..9 with p renormalised over the ten score tokens; and the mass outside them.

    ``probs`` are the raw probabilities of the tokens "0".."9" at the score position.
    Returns (None, mass_outside) when the ten tokens carry no probability at all.
    """
    if len(probs) != SCORE_MAX - SCORE_MIN + 1:
        raise ValueError(f"expected {SCORE_MAX - SCORE_MIN + 1} probabilities, got {len(probs)}")
    total = float(sum(probs))
    outside = max(0.0, 1.0 - total)
    if total <= 0.0:
        return None, outside
    return sum((SCORE_MIN + i) * p for i, p in enumerate(probs)) / total, outside


_LABEL = re.compile(r"output\s*\(?\s*([ab12])\s*\)?(?![\w])", re.I)
_BARE_LABEL = re.compile(r"^\W*\(?([ab12])\)?\W*$", re.I)


def parse_label(raw: str | None) -> tuple[int | None, str | None]:
    """Parse a pairwise verdict: 1 (Output (a) is better) or 2 (Output (b)).

    Accepted: "Output (a)", "Output (b).", "output b", a bare "(a)" / "b" / "1" / "2", or the last
    "Output (x)" of a longer text (reasoning judges end with their choice). A text that says both or
    neither is better is invalid. Returns (label, None) or (None, reason).
    """
    if raw is None or not raw.strip():
        return None, "empty output"
    text = raw.strip()
    if re.search(r"\b(both|neither)\b", text, re.I) and not _LABEL.search(text.splitlines()[-1]):
        return None, "says both or neither"
    found = _last_verdict(text, _BARE_LABEL, _LABEL)
    if found is None:
        return None, "no label found"
    return (1 if found.lower() in ("a", "1") else 2), None


_FINAL_LABEL = re.compile(r"^\W*output\s*\(?\s*([ab12])\s*\)?\W*$", re.I)


def parse_final_label(raw: str | None) -> tuple[int | None, str | None]:
    """A reasoning pairwise judge's verdict: its last non-empty line must be just the label ("Output (a)").

    Stricter than `parse_label`, because a reasoning trace names both outputs ("Output (b): ...") and a
    trace cut by the token limit would otherwise read as a verdict for whichever output it mentioned last.
    """
    if raw is None or not raw.strip():
        return None, "empty output"
    last = [line for line in raw.strip().splitlines() if line.strip()][-1]
    m = _FINAL_LABEL.match(last.strip())
    if not m:
        return None, "no final label line"
    return (1 if m.group(1).lower() in ("a", "1") else 2), None


#: Arena-Hard-Auto's five verdicts (its judge prompt asks for exactly these) -> label; the strength (>> vs >)
#: is not kept in the label (the raw text keeps it; `parse_arena_hard_verdict` returns it). A=B is a tie
#: (``metrics.pairwise.TIE`` = 0).
ARENA_HARD_LABELS = {"A>>B": 1, "A>B": 1, "A=B": 0, "B>A": 2, "B>>A": 2}
_ARENA_HARD = re.compile(r"\[\[([AB<>=]+)\]\]")
_ARENA_HARD_SINGLE = re.compile(r"\[([AB<>=]+)\]")


def parse_arena_hard_verdict(raw: str | None, single_brackets: bool = False) -> tuple[str | None, str | None]:
    """An Arena-Hard-Auto judgment's verdict, one of the five of `ARENA_HARD_LABELS` ("A>>B", ...), or (None, reason).

    The text is upper-cased and the last ``[[...]]`` counts, as Arena-Hard v2 reads it (a judgment quotes the
    choices before it gives its own); with ``single_brackets`` and no ``[[...]]``, the last ``[...]`` (Arena-Hard
    v2's second pattern). A verdict outside the five the prompt asks for ("[[A<B]]") is invalid.
    """
    if raw is None or not raw.strip():
        return None, "empty output"
    text = raw.upper()
    found = _ARENA_HARD.findall(text) or (_ARENA_HARD_SINGLE.findall(text) if single_brackets else [])
    if not found:
        return None, "no [[verdict]] found"
    if found[-1] not in ARENA_HARD_LABELS:
        return None, f"unknown verdict [[{found[-1]}]]"
    return found[-1], None


def parse_arena_hard_label(raw: str | None) -> tuple[int | None, str | None]:
    """An Arena-Hard-Auto judgment as a label: `parse_arena_hard_verdict` (double brackets only) -> 1 (A better),
    2 (B better) or 0 (tie, ``[[A=B]]``), or (None, reason)."""
    verdict, reason = parse_arena_hard_verdict(raw)
    return (None, reason) if verdict is None else (ARENA_HARD_LABELS[verdict], None)
