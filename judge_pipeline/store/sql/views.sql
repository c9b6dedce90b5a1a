-- SQL views that answer the study's questions. Documented in README.md ("Query the store").

-- Per sample: every non-gold pointwise verdict beside the gold verdict of the same prompt and response.
CREATE OR REPLACE VIEW judge_vs_gold AS
SELECT
    j.judge_name,
    j.prompt_hash,
    j.response_hash,
    j.prompt,
    j.response_a          AS response,
    j.score               AS judge_score,
    j.expected_score      AS judge_expected_score,
    g.score               AS gold_score,
    coalesce(j.expected_score, j.score) - g.score AS gap,
    j.invalid_reason      AS judge_invalid_reason,
    g.reasoning           AS gold_reasoning,
    j.key                 AS judge_key,
    g.key                 AS gold_key
FROM judgments j
JOIN judges jr ON jr.fingerprint = j.fingerprint AND jr.role <> 'gold'
JOIN judgments g ON g.prompt_hash = j.prompt_hash AND g.response_hash = j.response_hash AND g.kind = 'pointwise'
JOIN judges gr ON gr.fingerprint = g.fingerprint AND gr.role = 'gold'
WHERE j.kind = 'pointwise';

-- Per sample and pair of judges: where two judges disagree, largest disagreement first.
CREATE OR REPLACE VIEW judge_pair_disagreement AS
SELECT
    a.judge_name AS judge_a,
    b.judge_name AS judge_b,
    a.prompt_hash,
    a.response_hash,
    a.prompt,
    a.response_a AS response,
    coalesce(a.expected_score, a.score) AS score_a,
    coalesce(b.expected_score, b.score) AS score_b,
    abs(coalesce(a.expected_score, a.score) - coalesce(b.expected_score, b.score)) AS abs_diff
FROM judgments a
JOIN judgments b
  ON a.prompt_hash = b.prompt_hash AND a.response_hash = b.response_hash
 AND a.kind = 'pointwise' AND b.kind = 'pointwise' AND a.judge_name < b.judge_name;

-- Per policy checkpoint: mean training-judge and gold score of the answers it gave.
CREATE OR REPLACE VIEW checkpoint_judge_means AS
SELECT
    u.partition_key,
    u.step,
    j.judge_name,
    count(*)                              AS n,
    avg(coalesce(j.expected_score, j.score)) AS mean_score,
    count(*) FILTER (WHERE j.score IS NULL) AS n_invalid
FROM judgment_uses u
JOIN judgments j USING (key)
WHERE u.context = 'checkpoint_scores'
GROUP BY ALL;

-- Cost per judge: verdicts, invalid outputs, tokens and latency.
CREATE OR REPLACE VIEW judge_costs AS
SELECT
    judge_name,
    count(*)                                 AS verdicts,
    count(*) FILTER (WHERE invalid_reason IS NOT NULL) AS invalid,
    avg(prompt_tokens)                       AS mean_prompt_tokens,
    avg(output_tokens)                       AS mean_output_tokens,
    avg(latency_ms)                          AS mean_latency_ms
FROM judgments
GROUP BY judge_name;
