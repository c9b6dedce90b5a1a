"""Shared test setup: the `tiny` study config, outputs in a temporary folder, W&B off by default.

Set before judge_pipeline is imported, because partitions are built from the active config at import.
"""

import os
import tempfile

os.environ.setdefault("JUDGE_PIPELINE_CONFIG", "tiny")
os.environ.setdefault("JUDGE_PIPELINE_WANDB", "disabled")
os.environ.setdefault("JUDGE_PIPELINE_DATA", tempfile.mkdtemp(prefix="judge_pipeline_test_"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
