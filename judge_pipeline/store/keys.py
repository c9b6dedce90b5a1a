"""Content keys: a verdict or generation is identified by a hash of everything that determines it.

Identity is by content, never by a name that someone has to remember to bump:

- a checkpoint folder (`checkpoint_hash`) is its weights *and* every file that changes what it computes from
  a text: tokenizer, chat template, model and generation config, custom code (`CHECKPOINT_FILE_PATTERNS`);
- code that judges (the rule gold judge) is the source of its modules and of every project module they
  import (`code_hash`);
- a judge template is its text (`judging.templates.Template.sha256`, passed to `identify_model_judge`).

Editing any of these gives new keys, so nothing stale is reused; the price is recomputing once.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def text_hash(*parts: str | None) -> str:
    """sha256 over the parts in order (None and "" are distinct)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(b"\x00N" if p is None else b"\x00S" + p.encode("utf-8"))
    return h.hexdigest()


def content_key(**parts: Any) -> str:
    """sha256 of the canonical JSON of ``parts``."""
    return hashlib.sha256(canonical_json(parts).encode("utf-8")).hexdigest()


def file_hash(path: str | Path, chunk: int = 1 << 22) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------- checkpoints
WEIGHT_SUFFIXES = frozenset({".safetensors", ".bin", ".gguf"})

#: Files of a checkpoint folder, besides its weights, that change what it computes from a text: the tokenizer
#: (vocabulary, merges, special tokens, normalisation), the chat template (in tokenizer_config.json or its own
#: file), the model and generation config, and remote code. Globs relative to the folder.
CHECKPOINT_FILE_PATTERNS = (
    "config.json", "generation_config.json",
    "tokenizer*", "special_tokens_map.json", "added_tokens.json", "vocab*", "merges.txt", "spiece.model",
    "sentencepiece*.model", "*.tiktoken",
    "chat_template*", "additional_chat_templates/*",
    "*.py",
)

WEIGHTS_CACHE = ".weights.sha256"


def checkpoint_files(folder: str | Path) -> list[Path]:
    """The non-weight files of ``folder`` that are part of its identity (`CHECKPOINT_FILE_PATTERNS`), sorted."""
    folder = Path(folder)
    found = {p for pattern in CHECKPOINT_FILE_PATTERNS for p in folder.glob(pattern)
             if p.is_file() and p.suffix not in WEIGHT_SUFFIXES and not p.name.startswith(".")}
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def weights_hash(folder: str | Path) -> str:
    """sha256 over a checkpoint folder's weight files (names and bytes), cached beside them.

    The cache file ``.weights.sha256`` records the names, sizes and mtimes it was computed for, so a
    rewritten weight file is hashed again (multi-GB files are not re-read on every call).
    """
    folder = Path(folder)
    weights = sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file())
    if not weights:
        raise FileNotFoundError(f"no weight files (*.safetensors, *.bin, *.gguf) in {folder}")
    stamp = canonical_json([[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in weights])
    cache = folder / WEIGHTS_CACHE
    if cache.exists():
        cached_stamp, _, digest = cache.read_text().partition("\n")
        if cached_stamp == stamp and digest:
            return digest
    h = hashlib.sha256()
    for p in weights:
        h.update(p.name.encode())
        h.update(file_hash(p).encode())
    digest = h.hexdigest()
    try:
        cache.write_text(f"{stamp}\n{digest}")
    except OSError:
        pass
    return digest


def checkpoint_hash(folder: str | Path) -> str:
    """sha256 of what a checkpoint folder computes: its weights (`weights_hash`, mtime-cached) and every
    tokenizer, chat-template, config and code file (`checkpoint_files`, by relative name and bytes).

    Only the weights' digest is cached: the other files are small (megabytes at most) and are hashed on every
    call, so an edit of the chat template is never missed, even one within the same mtime tick and size.
    """
    folder = Path(folder)
    h = hashlib.sha256(b"checkpoint-v2\x00weights\x00" + weights_hash(folder).encode())
    for p in checkpoint_files(folder):
        h.update(b"\x00file\x00" + p.relative_to(folder).as_posix().encode() + b"\x00" + file_hash(p).encode())
    return h.hexdigest()


# ---------------------------------------------------------------------- code
PROJECT_PACKAGE = "judge_pipeline"


def module_file(name: str) -> Path:
    """The source file of module ``name``, found without importing anything (project modules are looked up
    under the package folder, others through their import spec)."""
    head, _, rest = name.partition(".")
    spec = importlib.util.find_spec(head)  # a top-level spec: nothing is imported
    if spec is None or not spec.origin:
        raise ModuleNotFoundError(f"no module {name!r}")
    root = Path(spec.origin)
    if not rest:
        return root
    if root.name != "__init__.py":
        raise ModuleNotFoundError(f"no module {name!r} ({head} is not a package)")
    base = root.parent.joinpath(*rest.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise ModuleNotFoundError(f"no Python source for module {name!r} (looked for {base}.py and {base}/__init__.py)")


def _module_name_of(path: Path) -> str | None:
    """The dotted name of a project file from its location (None outside the project package)."""
    parts = path.resolve().with_suffix("").parts
    if PROJECT_PACKAGE not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index(PROJECT_PACKAGE)
    name = ".".join(parts[i:])
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _is_module(name: str) -> bool:
    try:
        module_file(name)
        return True
    except ModuleNotFoundError:
        return False


def project_imports(source: str, package: str = "") -> set[str]:
    """The project modules (``judge_pipeline.*``) a source imports: ``import a.b``, ``from a.b import c`` (a.b,
    and a.b.c where that is a module itself) and relative imports, resolved against ``package`` (the package
    the module is in; for a package's ``__init__``, the package itself)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if not package:
                    continue
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}"))
    return {m for m in found if m == PROJECT_PACKAGE or m.startswith(PROJECT_PACKAGE + ".")}


def code_files(*modules: str | ModuleType | Path) -> dict[str, Path]:
    """{module name: source file} of ``modules`` (dotted names, module objects or paths of .py files) and every
    project module they import, transitively. A path keeps its own file even where the name it would have is
    a project module (how tests hash an edited copy)."""
    todo: list[tuple[str, Path]] = []
    for m in modules:
        if isinstance(m, ModuleType):
            m = Path(m.__file__)
        if isinstance(m, Path) or (isinstance(m, str) and m.endswith(".py")):
            path = Path(m)
            todo.append((_module_name_of(path) or path.name, path))
        else:
            todo.append((m, module_file(m)))
    files: dict[str, Path] = {}
    while todo:
        name, path = todo.pop()
        if name in files:
            continue
        files[name] = path
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for dep in sorted(project_imports(path.read_text(encoding="utf-8"), package)):
            if dep not in files:
                todo.append((dep, module_file(dep)))
    return files


def code_hash(*modules: str | ModuleType | Path) -> str:
    """sha256 over the source of ``modules`` and of every project module they import (`code_files`): module
    names and bytes, in name order. Any edit of that code, comments included, is a new hash."""
    h = hashlib.sha256(b"code-v1")
    for name, path in sorted(code_files(*modules).items()):
        h.update(b"\x00" + name.encode() + b"\x00" + file_hash(path).encode())
    return h.hexdigest()


# ---------------------------------------------------------------------- judges
def identify_model_judge(judge, template_sha256: str | None, **extra: Any) -> None:
    """Set ``model``, ``checkpoint_hash`` and ``fingerprint`` of a judge backed by a checkpoint folder.

    The identity that is part of every store key of its verdicts: its name, the checkpoint's hash (weights,
    tokenizer, chat template, config), its template version *and the template's text* (``template_sha256``,
    None for judges that use no template, like a reward model reading the plain chat), and ``extra`` parts
    (e.g. the rubric source's fingerprint). Decoding settings are not here: they are in ``judge.decoding``,
    which is part of every key too."""
    judge.model = str(judge.checkpoint)
    judge.checkpoint_hash = checkpoint_hash(judge.checkpoint)
    judge.fingerprint = content_key(model=judge.name, checkpoint=judge.checkpoint_hash, template=judge.template_version,
                                    template_sha256=template_sha256, **extra)
