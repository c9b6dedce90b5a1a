"""External judges: verdicts a user already has (a file), brought into the store, the report and the views.

An :class:`ExternalJudge` is a `Judge` whose ``judge(items)`` computes nothing: it looks each item up in
verdict files and parses the verdict text with the project's own parsers (`parsing.py`), so an external
judge's verdicts are read exactly as a trained judge's would be, and an unparseable one is a verdict with
``invalid_reason`` (stored, counted against the judge), never a skipped item.

File layouts (JSONL, one record a line; several files may hold the same judge):

- **Generic**: ``prompt``, ``response_a``, and ``response_b`` for a pairwise verdict (absent or null:
  a pointwise one); the verdict text in ``verdict``, ``output`` or ``judgment`` (the first present; a
  JSON number is read as its text, ``7`` -> "7"; null is an empty output, hence invalid); optional
  ``judge`` (the judge's name; default: the file's stem). Pointwise texts are parsed by `parse_score`
  (0..9: "7", "Score: 7"), pairwise ones by `parse_label` ("Output (a)", "a", "1", "[[A]]").
- **Arena-Hard-Auto judgment files** (``model_judgment/<judge>/<model>.jsonl``): records with ``judge``
  and ``games``, each game a judgment of one order of (baseline, model): v0.1 games hold ``user_prompt``
  (the filled judge template) and ``judgment`` (text); v2 games hold ``prompt`` (chat messages) and
  ``judgment: {"answer": ...}``. The question and both answers are read back out of Arena-Hard's template
  (``<|User Prompt|>`` ... ``<|The End of Assistant B's Answer|>``); the verdict by
  `parse_arena_hard_label` (``[[A>>B]]``/``[[A>B]]`` -> 1, ``[[B>A]]``/``[[B>>A]]`` -> 2, ``[[A=B]]`` -> a
  tie, label 0). Not supported (an error naming the line): multi-turn questions, image prompts, a game
  that is null (its judge call failed: re-run it or drop the record), and answers that themselves contain
  the template's markers (the split would be ambiguous).

Decisions:

- Identity: ``name`` = ``"external:<judge>"``, ``role`` = ``"external"``, ``model`` = ``<judge>``,
  ``template_version`` = ``"external-file-v1"``, ``checkpoint_hash`` = hash of the contents of the files
  that hold the judge, ``fingerprint`` = that + the judge's name + the parser settings and the source of
  `parsing.py` (a parser fix re-reads every external verdict). Editing a file
  (even adding lines) makes a new fingerprint: its verdicts are stored afresh (no model call, so it costs
  nothing) and never mixed with the old file's.
- Items are matched by exact text (prompt and responses, in order): the store keys verdicts by exact
  text, and a normalised match could attach a verdict to a text the judge never saw.
- One item, one verdict: a second record of the same item with the same text is ignored; with a different
  text it is an error naming both lines (the store keeps one verdict per item and judge).
- A judge is pointwise or pairwise and read by one parser: records of one judge that mix layouts are an
  error naming the line.
- ``latency_ms`` of a stored external verdict is the lookup time (the file has no timing); tokens are null.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from judge_pipeline.judging.cached import JudgingStats, judge_through_store
from judge_pipeline.judging import parsing
from judge_pipeline.judging.parsing import (ARENA_HARD_LABELS, SCORE_MAX, SCORE_MIN, parse_arena_hard_label, parse_label,
                                            parse_score)
from judge_pipeline.judging.verdict import Verdict
from judge_pipeline.sources.jsonl import check_text, read_jsonl
from judge_pipeline.store import JudgmentStore
from judge_pipeline.store.keys import content_key, file_hash

ROLE = "external"
NAME_PREFIX = "external:"
TEMPLATE_VERSION = "external-file-v1"
VERDICT_FIELDS = ("verdict", "output", "judgment")

#: parser name -> (judge kind, settings that go into the fingerprint)
PARSERS: dict[str, tuple[str, dict]] = {
    "score": ("pointwise", {"parser": "parse_score", "range": [SCORE_MIN, SCORE_MAX]}),
    "label": ("pairwise", {"parser": "parse_label"}),
    "arena_hard": ("pairwise", {"parser": "parse_arena_hard_label", "labels": ARENA_HARD_LABELS}),
}


#: the parsers' source: a change to how verdict texts are read gives new fingerprints (nothing stale is reused)
PARSER_CODE = file_hash(parsing.__file__)


class ExternalVerdictError(ValueError):
    """An external verdict file that cannot be used, or an item it has no verdict for; the message names the
    file and line (or the item)."""


@dataclass(frozen=True)
class ExternalRecord:
    judge: str  #: the judge's name as the file gives it
    parser: str  #: a key of PARSERS
    item: tuple[str, ...]  #: (prompt, response) or (prompt, response_a, response_b)
    text: str  #: the verdict text
    where: str  #: "file:line" (Arena-Hard: "file:line game N")
    path: str


def parse_verdict(text: str, parser: str) -> Verdict:
    """A verdict text read by ``parser`` (a key of PARSERS): score or label, or the reason it has neither."""
    if parser == "score":
        score, reason = parse_score(text)
        return Verdict(raw_output=text, score=score, invalid_reason=reason)
    label, reason = (parse_arena_hard_label if parser == "arena_hard" else parse_label)(text)
    return Verdict(raw_output=text, label=label, invalid_reason=reason)


# ------------------------------------------------------------------ file layouts

_AH_MARKERS = ("<|User Prompt|>", "<|The Start of Assistant A's Answer|>", "<|The End of Assistant A's Answer|>",
               "<|The Start of Assistant B's Answer|>", "<|The End of Assistant B's Answer|>")
_AH_TEMPLATE = re.compile(
    r"\A<\|User Prompt\|>\n(.*)\n\n<\|The Start of Assistant A's Answer\|>\n(.*)\n<\|The End of Assistant A's Answer\|>"
    r"\n\n<\|The Start of Assistant B's Answer\|>\n(.*)\n<\|The End of Assistant B's Answer\|>\Z", re.S)


def split_arena_hard_prompt(user_prompt: str) -> tuple[str, str, str] | None:
    """(question, answer A, answer B) out of Arena-Hard's filled judge template; None if ``user_prompt`` does
    not follow it or a marker occurs more than once (an answer quoting the template: ambiguous)."""
    if any(user_prompt.count(m) != 1 for m in _AH_MARKERS):
        return None
    m = _AH_TEMPLATE.match(user_prompt)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def _verdict_text(value: object, where: str, field_name: str) -> str:
    if value is None:
        return ""  # the judge produced nothing: parsed as "empty output", an invalid verdict
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ExternalVerdictError(f"{where}: field {field_name!r} must be the verdict text, got {type(value).__name__}")
    return check_text(str(value), field_name, where, ExternalVerdictError)


def _judge_name(record: dict, where: str, default: str) -> str:
    name = record.get("judge")
    if name is None:
        return default
    name = check_text(name, "judge", where, ExternalVerdictError).strip()
    if not name:
        raise ExternalVerdictError(f"{where}: field 'judge' is empty")
    return name


def _generic_record(record: dict, where: str, path: Path) -> ExternalRecord:
    missing = [f for f in ("prompt", "response_a") if record.get(f) is None]
    verdict_field = next((f for f in VERDICT_FIELDS if f in record), None)
    if verdict_field is None:
        missing.append("verdict (or output / judgment)")
    if missing:
        raise ExternalVerdictError(f"{where}: missing field(s) {', '.join(missing)} "
                                   "(required: prompt, response_a, a verdict; response_b for a pairwise verdict)")
    texts = [check_text(record[f], f, where, ExternalVerdictError) for f in ("prompt", "response_a")]
    parser = "score"
    if record.get("response_b") is not None:
        texts.append(check_text(record["response_b"], "response_b", where, ExternalVerdictError))
        parser = "label"
    return ExternalRecord(_judge_name(record, where, path.stem), parser, tuple(texts),
                          _verdict_text(record[verdict_field], where, verdict_field), where, str(path))


def _arena_hard_records(record: dict, where: str, path: Path) -> list[ExternalRecord]:
    games = record["games"]
    if not isinstance(games, list) or not games:
        raise ExternalVerdictError(f"{where}: Arena-Hard 'games' must be a non-empty list, got {games!r:.80}")
    judge = _judge_name(record, where, path.stem)
    out = []
    for g, game in enumerate(games, 1):
        at = f"{where} game {g}"
        if not isinstance(game, dict):
            raise ExternalVerdictError(f"{at}: no judgment (null: the judge call failed; re-run it or drop the record)")
        prompt = game.get("user_prompt")
        if prompt is None and isinstance(game.get("prompt"), list):  # v2: chat messages
            users = [m.get("content") for m in game["prompt"] if isinstance(m, dict) and m.get("role") == "user"]
            prompt = users[-1] if users else None
        if not isinstance(prompt, str):
            raise ExternalVerdictError(f"{at}: no text user prompt (user_prompt, or a user message in prompt); "
                                       "image or multi-part prompts are not supported")
        check_text(prompt, "user_prompt", at, ExternalVerdictError)
        parts = split_arena_hard_prompt(prompt)
        if parts is None:
            raise ExternalVerdictError(f"{at}: the user prompt does not follow Arena-Hard's single-turn template "
                                       "(<|User Prompt|> ... <|The End of Assistant B's Answer|>, each marker once)")
        if "judgment" not in game:
            raise ExternalVerdictError(f"{at}: missing field 'judgment'")
        judgment = game["judgment"]
        if isinstance(judgment, dict):  # v2: the judge's completion
            judgment = judgment.get("answer")
        out.append(ExternalRecord(judge, "arena_hard", parts, _verdict_text(judgment, at, "judgment"), at, str(path)))
    return out


def read_external_records(path: str | Path) -> list[ExternalRecord]:
    """Every verdict record of one file, validated; an :class:`ExternalVerdictError` naming ``file:line`` if any
    line is unusable."""
    path = Path(path)
    if not path.is_file():
        raise ExternalVerdictError(f"{path}: no such file")
    if path.suffix not in (".jsonl", ".json"):
        raise ExternalVerdictError(f"{path}: unsupported format {path.suffix!r} (use JSONL: one verdict a line)")
    out: list[ExternalRecord] = []
    for lineno, record in read_jsonl(path, ExternalVerdictError):
        where = f"{path}:{lineno}"
        if not isinstance(record, dict):
            raise ExternalVerdictError(f"{where}: expected a JSON object, got {type(record).__name__}")
        out += _arena_hard_records(record, where, path) if "games" in record else [_generic_record(record, where, path)]
    if not out:
        raise ExternalVerdictError(f"{path}: no verdicts")
    return out


# ------------------------------------------------------------------ the judge


@dataclass
class ExternalJudge:
    """One external judge: its verdicts from one or more files (see the module docstring)."""

    judge_name: str  #: the name the files give (``model``); ``name`` is ``external:<judge_name>``
    parser: str
    records: dict[tuple[str, ...], ExternalRecord] = field(repr=False)
    files: tuple[str, ...]  #: the files that hold this judge's verdicts
    file_hashes: tuple[str, ...] = field(repr=False)
    role: str = ROLE
    template_version: str = TEMPLATE_VERSION

    def __post_init__(self) -> None:
        self.kind = PARSERS[self.parser][0]
        self.name = NAME_PREFIX + self.judge_name
        self.model = self.judge_name
        self.checkpoint_hash = content_key(files=list(self.file_hashes))
        self.fingerprint = content_key(external=self.judge_name, files=list(self.file_hashes),
                                       parser=PARSERS[self.parser][1], parser_code=PARSER_CODE,
                                       template=self.template_version)

    @property
    def decoding(self) -> dict:
        return {"mode": "external-file", "parser": self.parser}

    def covers(self, item: Sequence[str]) -> bool:
        """Whether the files have a verdict for ``item`` (exact text, in order)."""
        return tuple(item) in self.records

    def items(self) -> list[tuple[str, ...]]:
        """Every item the files have a verdict for, in file order."""
        return list(self.records)

    def judge(self, items: list[tuple[str, ...]]) -> list[Verdict]:
        """Each item's verdict, parsed; an :class:`ExternalVerdictError` for an item the files do not have."""
        out = []
        for item in items:
            rec = self.records.get(tuple(item))
            if rec is None:
                shown = ", ".join(f"{t[:40]!r}" + ("..." if len(t) > 40 else "") for t in item)
                raise ExternalVerdictError(f"{self.name}: no verdict for item ({shown}) in {', '.join(self.files)} "
                                           f"(a {self.kind} judge has {len(self.records)} items; "
                                           "ask only for covered ones: see covers())")
            out.append(parse_verdict(rec.text, rec.parser))
        return out


def load_external_judges(paths: Iterable[str | Path]) -> list[ExternalJudge]:
    """The external judges in ``paths`` (every record grouped by judge name across files), in order of first
    appearance. An :class:`ExternalVerdictError` names the file and line of any unusable record."""
    groups: dict[str, dict] = {}
    hashes: dict[str, str] = {}
    for path in paths:
        records = read_external_records(path)
        hashes.setdefault(str(path), file_hash(path))
        for rec in records:
            g = groups.setdefault(rec.judge, {"parser": rec.parser, "first": rec.where, "records": {}, "files": []})
            if rec.parser != g["parser"]:
                raise ExternalVerdictError(
                    f"{rec.where}: judge {rec.judge!r} is a {PARSERS[rec.parser][0]} verdict in the "
                    f"{'Arena-Hard' if rec.parser == 'arena_hard' else 'generic'} layout, but {g['first']} gave it a "
                    f"{PARSERS[g['parser']][0]} one in the {'Arena-Hard' if g['parser'] == 'arena_hard' else 'generic'} "
                    "layout: one judge, one layout (give the other a different 'judge' name)")
            seen = g["records"].get(rec.item)
            if seen is not None and seen.text != rec.text:
                raise ExternalVerdictError(f"{rec.where}: judge {rec.judge!r} already has a different verdict for this "
                                           f"item at {seen.where} (one verdict per item)")
            g["records"].setdefault(rec.item, rec)
            if rec.path not in g["files"]:
                g["files"].append(rec.path)
    return [ExternalJudge(name, g["parser"], g["records"], tuple(g["files"]), tuple(hashes[f] for f in g["files"]))
            for name, g in groups.items()]


def import_external_verdicts(judge: ExternalJudge, store: JudgmentStore, run_id: str | None = None,
                              batch_size: int = 512) -> JudgingStats:
    """Put every verdict of ``judge``'s files into ``store`` (so the store's views can set them beside other
    judges' verdicts on the same items, whether or not the report asks for them)."""
    _, _, stats = judge_through_store(judge, judge.items(), store, run_id, batch_size=batch_size, progress=False)
    return stats
