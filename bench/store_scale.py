"""The judgment store at 10M verdicts: insert rate, missing-key lookup, one study's disagreement view, each with
and without a reader process holding the catalog open and querying in a loop.

    .venv/bin/python bench/store_scale.py                 # 10M verdicts (about 1.5 GB under data/bench/)
    .venv/bin/python bench/store_scale.py --verdicts 1e6  # a quicker look

Synthetic store: ``--studies`` studies (default 10), each with a gold judge and 4 judges scoring the same
items (so 10M verdicts = 10 studies x 5 judges x 200K items), bulk-written as shards by DuckDB (the bulk rate
is printed too). Then, through the store's API as the pipeline uses it:
- insert: ``put_judgments`` of 20 batches of 1,000 new verdicts (each put checks the whole store for ids it
  already has, then publishes a shard);
- lookup: ``missing_judgments`` of 100K keys, half of them present;
- view: ``disagreement_summary`` (judge_vs_gold per judge) for one study.
Targets (issue 14): lookup < 1 s and view < 1 s on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from judge_pipeline.store import JudgmentStore  # noqa: E402

READER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("open", flush=True)
while True:
    con.execute("SELECT judge_name, count(*) FROM judgments WHERE fingerprint = 'f-0-0' GROUP BY 1").fetchall()
    time.sleep(0.2)
"""


def bulk_load(root: Path, n_verdicts: int, studies: int) -> float:
    items = n_verdicts // (studies * 5)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    t0 = time.perf_counter()
    for s in range(studies):
        for j in range(5):
            fp = f"f-{s}-{j}"
            folder = root / "judgments" / f"bulk-{s}-{j}"
            folder.mkdir(parents=True)
            con.execute(f"""COPY (
                SELECT ('0x' || left(k, 16))::UBIGINT AS k1, ('0x' || substr(k, 17, 16))::UBIGINT AS k2, k AS key,
                       '{'gold' if j == 0 else f'judge{j}'}' AS judge_name, '{fp}' AS fingerprint, 't' AS template_version,
                       '{{}}' AS decoding, 'pointwise' AS kind, sha256('p' || (i % 1000)) AS prompt_hash,
                       sha256('r' || i) AS response_hash, 'prompt ' || (i % 1000) AS prompt, 'response ' || i AS response_a,
                       NULL::VARCHAR AS response_b, 'Score: ' || ((i * {j + 3}) % 10) AS raw_output, NULL::VARCHAR AS reasoning,
                       ((i * {j + 3}) % 10)::DOUBLE AS score, NULL::INTEGER AS label, NULL::VARCHAR AS invalid_reason,
                       ((i * {j + 3}) % 10)::DOUBLE AS expected_score, NULL::DOUBLE[] AS score_probs, 0.0 AS mass_outside,
                       NULL::DOUBLE AS reward, 300 AS prompt_tokens, 1 AS output_tokens, 50.0 AS latency_ms,
                       'bench' AS run_id, now()::TIMESTAMP AS created_at
                FROM (SELECT i, sha256('{fp}|' || i) AS k FROM range({items}) t(i)))
                TO '{folder}/part-000000.parquet' (FORMAT parquet, COMPRESSION zstd)""")
    seconds = time.perf_counter() - t0
    store = JudgmentStore(root, compact_every=0)
    for s in range(studies):
        st = JudgmentStore(root, study=f"study{s}", compact_every=0)
        for j in range(5):
            st.register_judge(judge_name="gold" if j == 0 else f"judge{j}", fingerprint=f"f-{s}-{j}",
                              role="gold" if j == 0 else "training", model="m", checkpoint_hash="", template_version="t",
                              kind="pointwise")
    assert store.count_judgments() == items * studies * 5
    return seconds


def measure(store: JudgmentStore, n_items: int, rounds: int = 3) -> dict[str, float]:
    rng = random.Random(0)
    n_present = min(50_000, n_items)
    present = [hashlib.sha256(f"f-1-1|{i}".encode()).hexdigest() for i in rng.sample(range(n_items), n_present)]
    absent = [hashlib.sha256(f"nowhere-{i}".encode()).hexdigest() for i in range(100_000 - n_present)]
    lookups, views = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        missing = store.missing_judgments(present + absent)
        lookups.append(time.perf_counter() - t)
        assert len(missing) == len(absent)
        t = time.perf_counter()
        df = store.query("disagreement_summary", study="study1")
        views.append(time.perf_counter() - t)
        assert len(df) == 4 and df["n"][0] == n_items
    t = time.perf_counter()
    batches = 20
    for b in range(batches):
        rows = [{"key": hashlib.sha256(f"new-{time.time_ns()}-{b}-{i}".encode()).hexdigest(), "judge_name": "new",
                 "fingerprint": "new", "template_version": "t", "decoding": "{}", "kind": "pointwise", "prompt_hash": "p",
                 "response_hash": f"r{i}", "prompt": "p", "response_a": f"r{i}", "raw_output": "Score: 5", "score": 5.0}
                for i in range(1000)]
        assert store.put_judgments(rows) == 1000
    insert_rate = batches * 1000 / (time.perf_counter() - t)
    return {"lookup_s": statistics.median(lookups), "view_s": statistics.median(views), "insert_per_s": insert_rate}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verdicts", type=float, default=10e6)
    parser.add_argument("--studies", type=int, default=10)
    parser.add_argument("--root", default=str(REPO / "data" / "bench" / "store_scale"))
    args = parser.parse_args()
    root = Path(args.root)
    shutil.rmtree(root, ignore_errors=True)
    n = int(args.verdicts)
    items = n // (args.studies * 5)
    bulk_s = bulk_load(root, n, args.studies)
    print(f"bulk load: {n:,} verdicts in {bulk_s:.1f} s ({n / bulk_s:,.0f}/s), "
          f"{sum(p.stat().st_size for p in root.rglob('*.parquet')) / 1e9:.2f} GB", flush=True)
    store = JudgmentStore(root, compact_every=0)
    results = {"no reader": measure(store, items)}
    reader = subprocess.Popen([sys.executable, "-c", READER, str(root / "catalog.duckdb")], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        results["reader attached"] = measure(store, items)
        assert reader.poll() is None, "the reader died"
    finally:
        reader.kill()
    print(f"\n{n:,} verdicts, {args.studies} studies, 2 threads; median of 3 for lookup and view\n")
    print("| | missing-key lookup, 100K keys (s) | disagreement view, one study (s) | put_judgments (verdicts/s, 1,000 per put) |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['lookup_s']:.3f} | {r['view_s']:.3f} | {r['insert_per_s']:,.0f} |")
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
