"""Checkers for IFEval-style verifiable instructions, used by the rule-based gold judge.

Each checker takes the response and the instruction's kwargs and returns (followed, note). The ids
and kwargs follow IFEval (Zhou et al. 2023, Apache-2.0). Re-implemented here without NLTK (whose
tokenizer data cannot be downloaded here), with simple regex sentence/word splitting; the
``language:response_language`` check is approximated by ASCII share for English only and reported
as unsupported otherwise. Unsupported instructions are reported, never counted as passed or failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

Check = Callable[[str, dict], tuple[bool | None, str]]  #: None = cannot be checked here


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9']+", text)


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def paragraphs(text: str, sep: str = r"\n\s*\n") -> list[str]:
    return [p for p in re.split(sep, text.strip()) if p.strip()]


def _compare(n: int, relation: str, target: int) -> bool:
    return n < target if relation == "less than" else n >= target


def _count(kind: str, n: int, relation: str, target: int) -> tuple[bool, str]:
    ok = _compare(n, relation, target)
    return ok, f"{n} {kind} ({relation} {target} required)"


def no_comma(r, kw):
    n = r.count(",")
    return n == 0, "no commas" if n == 0 else f"{n} comma(s)"


def number_words(r, kw):
    return _count("words", len(words(r)), kw.get("relation", "at least"), int(kw.get("num_words", 0)))


def number_sentences(r, kw):
    return _count("sentences", len(sentences(r)), kw.get("relation", "at least"), int(kw.get("num_sentences", 0)))


def number_paragraphs(r, kw):
    n = len(paragraphs(r, r"\s*\*\*\*\s*"))
    target = int(kw.get("num_paragraphs", 0))
    return n == target, f"{n} paragraphs separated by *** ({target} required)"


def nth_paragraph_first_word(r, kw):
    paras = paragraphs(r)
    target, nth, first = int(kw.get("num_paragraphs", 0)), int(kw.get("nth_paragraph", 1)), str(kw.get("first_word", "")).lower()
    if len(paras) != target or nth > len(paras):
        return False, f"{len(paras)} paragraphs ({target} required)"
    w = words(paras[nth - 1])
    ok = bool(w) and w[0].lower() == first
    return ok, f"paragraph {nth} starts with {w[0] if w else 'nothing'!r} ({first!r} required)"


def forbidden_words(r, kw):
    bad = [w for w in kw.get("forbidden_words") or [] if re.search(rf"\b{re.escape(w)}\b", r, re.I)]
    return not bad, "none of the forbidden words" if not bad else f"uses forbidden {bad}"


def keyword_existence(r, kw):
    missing = [w for w in kw.get("keywords") or [] if not re.search(rf"\b{re.escape(w)}\b", r, re.I)]
    return not missing, "all keywords present" if not missing else f"missing keywords {missing}"


def keyword_frequency(r, kw):
    word = kw.get("keyword", "")
    n = len(re.findall(rf"\b{re.escape(word)}\b", r, re.I))
    return _count(f"uses of {word!r}", n, kw.get("relation", "at least"), int(kw.get("frequency", 0)))


def letter_frequency(r, kw):
    letter = str(kw.get("letter", "")).lower()
    n = r.lower().count(letter)
    return _count(f"letter {letter!r}", n, kw.get("let_relation", "at least"), int(kw.get("let_frequency", 0)))


def lowercase(r, kw):
    return r == r.lower(), "all lowercase" if r == r.lower() else "has uppercase letters"


def uppercase(r, kw):
    return r == r.upper(), "all capitals" if r == r.upper() else "has lowercase letters"


def capital_word_frequency(r, kw):
    n = len([w for w in words(r) if w.isupper() and len(w) > 1])
    return _count("all-capital words", n, kw.get("capital_relation", "at least"), int(kw.get("capital_frequency", 0)))


def highlighted_sections(r, kw):
    n = len(re.findall(r"\*[^\n\*]+\*", r))
    return _count("highlighted sections", n, "at least", int(kw.get("num_highlights", 0)))


def multiple_sections(r, kw):
    splitter = str(kw.get("section_spliter", "Section")).strip()
    n = len(re.findall(rf"\b{re.escape(splitter)}\s+\d+", r, re.I))
    return _count(f"'{splitter} N' sections", n, "at least", int(kw.get("num_sections", 0)))


def bullet_lists(r, kw):
    n = len(re.findall(r"^\s*[\*\-]\s", r, re.M))
    target = int(kw.get("num_bullets", 0))
    return n == target, f"{n} bullet points ({target} required)"


def title(r, kw):
    ok = bool(re.search(r"<<[^\n]+>>", r))
    return ok, "has a <<title>>" if ok else "no <<title>>"


def json_format(r, kw):
    text = re.sub(r"^```(?:json)?|```$", "", r.strip(), flags=re.I | re.M).strip()
    try:
        json.loads(text)
        return True, "valid JSON"
    except ValueError:
        return False, "not valid JSON"


def constrained_response(r, kw):
    options = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
    ok = any(o in r for o in options)
    return ok, "uses a required answer phrase" if ok else "none of the required answer phrases"


def placeholders(r, kw):
    n = len(re.findall(r"\[[^\]]+\]", r))
    return _count("[placeholders]", n, "at least", int(kw.get("num_placeholders", 0)))


def postscript(r, kw):
    marker = str(kw.get("postscript_marker", "P.S."))
    ok = bool(re.search(rf"^\s*{re.escape(marker)}", r, re.M | re.I))
    return ok, f"has a {marker} postscript" if ok else f"no {marker} postscript"


def end_checker(r, kw):
    phrase = str(kw.get("end_phrase", "")).strip()
    ok = r.strip().lower().endswith(phrase.lower())
    return ok, f"ends with {phrase!r}" if ok else f"does not end with {phrase!r}"


def quotation(r, kw):
    s = r.strip()
    ok = len(s) > 1 and s[0] == '"' and s[-1] == '"'
    return ok, "wrapped in double quotes" if ok else "not wrapped in double quotes"


def repeat_prompt(r, kw):
    req = str(kw.get("prompt_to_repeat", "")).strip().lower()
    ok = r.strip().lower().startswith(req)
    return ok, "repeats the request first" if ok else "does not start by repeating the request"


def two_responses(r, kw):
    parts = [p.strip() for p in r.split("******")]
    ok = len(parts) == 2 and all(parts) and parts[0] != parts[1]
    return ok, "two different responses separated by ******" if ok else "not two responses separated by ******"


def response_language(r, kw):
    lang = kw.get("language", "en")
    if lang != "en":
        return None, f"not checkable (language {lang})"
    letters = [c for c in r if c.isalpha()]
    share = sum(c.isascii() for c in letters) / max(1, len(letters))
    return share > 0.9, f"{share:.0%} latin letters"


CHECKS: dict[str, Check] = {
    "punctuation:no_comma": no_comma,
    "length_constraints:number_words": number_words,
    "length_constraints:number_sentences": number_sentences,
    "length_constraints:number_paragraphs": number_paragraphs,
    "length_constraints:nth_paragraph_first_word": nth_paragraph_first_word,
    "keywords:forbidden_words": forbidden_words,
    "keywords:existence": keyword_existence,
    "keywords:frequency": keyword_frequency,
    "keywords:letter_frequency": letter_frequency,
    "change_case:english_lowercase": lowercase,
    "change_case:english_capital": uppercase,
    "change_case:capital_word_frequency": capital_word_frequency,
    "detectable_format:number_highlighted_sections": highlighted_sections,
    "detectable_format:multiple_sections": multiple_sections,
    "detectable_format:number_bullet_lists": bullet_lists,
    "detectable_format:title": title,
    "detectable_format:json_format": json_format,
    "detectable_format:constrained_response": constrained_response,
    "detectable_content:number_placeholders": placeholders,
    "detectable_content:postscript": postscript,
    "startend:end_checker": end_checker,
    "startend:quotation": quotation,
    "combination:repeat_prompt": repeat_prompt,
    "combination:two_responses": two_responses,
    "language:response_language": response_language,
}


def check_instruction(instruction_id: str, response: str, kwargs: dict | None) -> tuple[bool | None, str]:
    """(followed, note); followed is None when the instruction cannot be checked here."""
    fn = CHECKS.get(instruction_id)
    if fn is None:
        return None, "not checkable"
    return fn(response, {k: v for k, v in (kwargs or {}).items() if v is not None})
