-- The judgment store's tables: every verdict of every judge, and every generated response, keyed by content.
-- The store keeps each table as a folder of append-only Parquet shards (judgment_store.py); these
-- definitions give the shards their column types, defaults and NOT NULL checks (rows are staged into
-- them in memory before a shard is written) and document every column.
-- Every table has k1, k2: the first 128 bits of the row's id (the key, or a hash of the primary key's
-- columns) as two integers, which lookups and de-duplication join on (four times less to read than the
-- 64-character key).

CREATE TABLE IF NOT EXISTS judges (
    k1                UBIGINT NOT NULL,
    k2                UBIGINT NOT NULL,
    judge_name        VARCHAR NOT NULL,      -- e.g. 'gold:rules-v1', 'nonreasoning'
    fingerprint       VARCHAR PRIMARY KEY,   -- sha256(model + checkpoint hash + template version)
    role              VARCHAR NOT NULL,      -- 'gold' | 'training' | 'external'
    model             VARCHAR NOT NULL,      -- model name or path
    checkpoint_hash   VARCHAR NOT NULL,      -- sha256 of the weights ('' for rule judges)
    template_version  VARCHAR NOT NULL,
    kind              VARCHAR NOT NULL,      -- 'pointwise' | 'pairwise' | 'reward_model' | 'rubric'
    created_at        TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS judgments (
    k1                UBIGINT NOT NULL,
    k2                UBIGINT NOT NULL,
    key               VARCHAR PRIMARY KEY,   -- sha256 of fingerprint, decoding, kind, prompt, responses in order
    judge_name        VARCHAR NOT NULL,
    fingerprint       VARCHAR NOT NULL,
    template_version  VARCHAR NOT NULL,
    decoding          VARCHAR NOT NULL,      -- canonical JSON of the decoding parameters
    kind              VARCHAR NOT NULL,
    prompt_hash       VARCHAR NOT NULL,
    response_hash     VARCHAR NOT NULL,      -- hash of response_a (pointwise) or of (a, b) in order
    prompt            VARCHAR NOT NULL,
    response_a        VARCHAR NOT NULL,
    response_b        VARCHAR,               -- NULL for pointwise verdicts
    raw_output        VARCHAR NOT NULL,      -- exactly what the judge produced
    reasoning         VARCHAR,               -- the judge's reasoning trace, if any
    score             DOUBLE,                -- parsed score 0..9 (pointwise); NULL when invalid
    label             INTEGER,               -- parsed label 1|2 (pairwise); NULL when invalid
    invalid_reason    VARCHAR,               -- why score/label is NULL; NULL when valid
    expected_score    DOUBLE,                -- sum_x x*p(x) over the ten score tokens, p renormalised
    score_probs       DOUBLE[],              -- p(0..9) renormalised, where the judge exposes them
    mass_outside      DOUBLE,                -- probability mass not on the ten score tokens
    reward            DOUBLE,                -- scalar of a reward model (kind 'reward_model'), unbounded
    prompt_tokens     INTEGER,
    output_tokens     INTEGER,
    latency_ms        DOUBLE,
    device_ms         DOUBLE,                -- time the judge's model held its device for this verdict (its share of
                                             -- the batch), where the backend reports it: local models; NULL for
                                             -- servers (HTTP) and rule judges
    run_id            VARCHAR,               -- Dagster run id that computed the verdict
    created_at        TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS generations (
    k1                UBIGINT NOT NULL,
    k2                UBIGINT NOT NULL,
    key               VARCHAR PRIMARY KEY,   -- sha256 of model fingerprint, decoding, prompt, sample index
    model             VARCHAR NOT NULL,      -- model name or checkpoint path
    model_fingerprint VARCHAR NOT NULL,
    decoding          VARCHAR NOT NULL,
    prompt            VARCHAR NOT NULL,
    sample_index      INTEGER NOT NULL,
    completion        VARCHAR NOT NULL,
    finished          BOOLEAN NOT NULL,      -- FALSE when cut by the token limit
    completion_tokens INTEGER,
    latency_ms        DOUBLE,
    run_id            VARCHAR,
    created_at        TIMESTAMP DEFAULT current_timestamp
);

-- KL(policy || reference) per sampled completion: sum over its tokens of the exact next-token KL
-- (judge_pipeline/policy_kl.py). Keyed like generations, plus the reference model's weights.
CREATE TABLE IF NOT EXISTS kl_estimates (
    k1                UBIGINT NOT NULL,
    k2                UBIGINT NOT NULL,
    key                   VARCHAR PRIMARY KEY,   -- sha256 of policy and reference fingerprints, decoding, prompt, sample
    policy_fingerprint    VARCHAR NOT NULL,
    reference_fingerprint VARCHAR NOT NULL,
    decoding              VARCHAR NOT NULL,      -- how the completion was sampled from the policy
    prompt                VARCHAR NOT NULL,
    sample_index          INTEGER NOT NULL,
    kl                    DOUBLE NOT NULL,       -- nats, summed over the completion's tokens
    tokens                INTEGER NOT NULL,      -- completion tokens the sum runs over
    run_id                VARCHAR,
    created_at            TIMESTAMP DEFAULT current_timestamp
);

-- Where a verdict was used: lets SQL slice verdicts by asset, partition and policy step.
CREATE TABLE IF NOT EXISTS judgment_uses (
    k1                UBIGINT NOT NULL,
    k2                UBIGINT NOT NULL,
    key               VARCHAR NOT NULL,
    context           VARCHAR NOT NULL,      -- e.g. 'checkpoint_scores'
    study             VARCHAR NOT NULL,      -- the study (config name) that used it, e.g. 'miniature'
    partition_key     VARCHAR NOT NULL,      -- e.g. 'judge=nonreasoning|policy=smollm2-135m'
    step              INTEGER NOT NULL,      -- policy step (-1 when not applicable)
    item_id           VARCHAR NOT NULL,
    created_at        TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (key, context, study, partition_key, step, item_id)
);

-- Which judges a study used: one row each time a process of a study registers a judge. A study's
-- *current* judge of a name is the fingerprint registered last (view current_judges); older
-- fingerprints stay reachable by name (view judge_history).
CREATE TABLE IF NOT EXISTS study_judges (
    k1                UBIGINT NOT NULL,
    k2                UBIGINT NOT NULL,
    study             VARCHAR NOT NULL,
    judge_name        VARCHAR NOT NULL,
    fingerprint       VARCHAR NOT NULL,
    role              VARCHAR NOT NULL,
    kind              VARCHAR NOT NULL,
    writer            VARCHAR NOT NULL,      -- the process that registered it (host-pid-random)
    created_at        TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (study, judge_name, fingerprint, writer)
);
