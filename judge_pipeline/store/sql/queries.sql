-- Named queries used by judge_pipeline.store. Each block starts with "-- name: <name>".
-- `wanted` is a relation (key, k1, k2) registered by the caller; {table} is filled in by the store.
-- Lookups join on k1, k2 (the first 128 bits of the id): four times less to read than the key itself.

-- name: missing
SELECT w.key FROM wanted w ANTI JOIN {table} t USING (k1, k2);

-- name: fetch
SELECT t.* FROM {table} t SEMI JOIN wanted w USING (k1, k2) ORDER BY t.created_at;

-- name: present_ids
SELECT DISTINCT t.k1, t.k2 FROM {table} t SEMI JOIN wanted w USING (k1, k2);

-- name: duplicates
SELECT count(*) - count(DISTINCT (k1, k2)) AS n FROM {table};

-- name: count_judgments
SELECT count(*) AS n FROM judgments;

-- name: disagreement_summary
SELECT judge_name,
       count(*)                          AS n,
       avg(abs(gap))                     AS mean_abs_gap,
       avg(gap)                          AS mean_gap,
       corr(coalesce(judge_expected_score, judge_score), gold_score) AS pearson_r
FROM judge_vs_gold
WHERE study = $study
GROUP BY judge_name
ORDER BY judge_name;

-- name: top_disagreements
SELECT judge_name, gold_score, judge_score, round(judge_expected_score, 2) AS judge_expected_score,
       round(gap, 2) AS gap, left(prompt, 80) AS prompt, left(response, 120) AS response
FROM judge_vs_gold
WHERE study = $study
ORDER BY abs(gap) DESC NULLS LAST, judge_name, prompt
LIMIT $limit;

-- name: study_agreement
SELECT kind, judge_a, judge_b, n, round(cohen_kappa, 3) AS cohen_kappa, round(krippendorff_alpha, 3) AS krippendorff_alpha
FROM judge_agreement
WHERE study = $study
ORDER BY kind, judge_a, judge_b;

-- name: study_checkpoint_tau
SELECT partition_key, judge_a, judge_b, checkpoints, round(kendall_tau, 2) AS kendall_tau
FROM checkpoint_rank_tau
WHERE study = $study
ORDER BY partition_key, judge_a, judge_b;

-- name: study_verdicts
-- Every verdict of a study's current judges: one row per stored verdict (each decoding and retry attempt).
SELECT cj.judge_name, cj.role, cj.kind, j.key, j.fingerprint, j.template_version, j.decoding, j.prompt, j.response_a,
       j.response_b, j.raw_output, j.reasoning, j.score, j.label, j.reward, j.expected_score, j.invalid_reason,
       j.prompt_tokens, j.output_tokens, j.latency_ms
FROM current_judges cj
JOIN judgments j ON j.fingerprint = cj.fingerprint AND j.kind = cj.kind
WHERE cj.study = $study
ORDER BY cj.judge_name, j.key;

-- name: checkpoint_verdicts
-- The pointwise verdicts a study scored its policy checkpoints with (checkpoint_scores), and where: run and step.
SELECT DISTINCT u.partition_key, u.step, u.item_id, j.judge_name, j.kind, j.key, j.prompt, j.response_a, j.raw_output,
       coalesce(j.expected_score, j.score, j.reward) AS value, j.invalid_reason
FROM judgment_uses u
JOIN judgments j USING (key)
WHERE u.study = $study AND u.context = 'checkpoint_scores' AND j.kind <> 'pairwise'
ORDER BY u.partition_key, u.step, j.judge_name, u.item_id, j.key;

-- name: warehouse_table
-- An asset table of the Dagster warehouse (data/warehouse.duckdb), schema = the study.
SELECT * FROM {schema}.{table};

-- name: greedy_answers
SELECT g.prompt, g.decoding, g.completion
FROM generations g
WHERE g.model_fingerprint = $fingerprint AND g.sample_index = 0
  AND coalesce(TRY_CAST(json_extract_string(g.decoding, '$.temperature') AS DOUBLE), 0) = 0
  AND g.prompt IN (SELECT j.prompt FROM judgment_uses u JOIN judgments j ON j.key = u.key
                   WHERE u.study = $study AND u.partition_key LIKE 'policy=%')
ORDER BY g.prompt, g.decoding;

-- name: study_transfer_scores
SELECT * FROM transfer_scores WHERE study = $study ORDER BY run, judge_name, item_id, step;

-- name: study_trace_accuracy
SELECT * FROM judge_trace_accuracy WHERE study = $study ORDER BY judge_name, key;

-- name: study_self_consistency
SELECT * FROM judge_self_consistency WHERE study = $study ORDER BY judge_name, prompt_hash, response_hash;

-- name: study_reasoning_analytics
SELECT * FROM reasoning_analytics WHERE study = $study ORDER BY judge_name;

-- name: study_cost_ledger
SELECT judge_name, context, count(*) AS rows, sum(verdicts) AS verdicts, sum(total_tokens) AS total_tokens,
       round(sum(seconds), 2) AS seconds, round(sum(device_seconds), 2) AS device_seconds
FROM judge_cost_ledger WHERE study = $study GROUP BY ALL ORDER BY judge_name, context;
