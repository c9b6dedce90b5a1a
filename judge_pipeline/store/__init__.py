"""The DuckDB judgment store: every verdict and every generation, keyed by content."""

from judge_pipeline.store.judgment_store import JudgmentStore, StoreLockTimeout
from judge_pipeline.store.keys import content_key, text_hash

__all__ = ["JudgmentStore", "StoreLockTimeout", "content_key", "text_hash"]
