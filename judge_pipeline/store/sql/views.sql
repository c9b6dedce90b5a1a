-- SQL views that answer one study's questions. Documented, with an example query each, in README.md
-- ("Query the store"); every example runs in judge_pipeline_tests/test_store_views.py.
-- Studies share one store, so every view has a `study` column and uses the study's *current* judges:
-- the fingerprint of each judge name that the study registered last. Older fingerprints stay in
-- judge_history (and their verdicts in judgments).

-- Every fingerprint each study's judges have had, first and last time registered.
CREATE OR REPLACE VIEW judge_history AS
SELECT study, judge_name, fingerprint, any_value(role) AS role, any_value(kind) AS kind,
       min(created_at) AS first_registered, max(created_at) AS last_registered
FROM study_judges
GROUP BY study, judge_name, fingerprint;

-- Per study and judge name: the current fingerprint (registered last).
CREATE OR REPLACE VIEW current_judges AS
SELECT * FROM judge_history
QUALIFY row_number() OVER (PARTITION BY study, judge_name ORDER BY last_registered DESC, fingerprint) = 1;

-- One value per current judge and item: a pointwise judge's score (item = prompt + response) or a pairwise
-- judge's label (item = prompt + ordered pair; 1 or 2, a tie (label 0) counts 1.5). Several verdicts of one
-- item (decodings, retries) are averaged; invalid verdicts count in n_invalid and not in the value.
CREATE OR REPLACE VIEW current_verdicts AS
SELECT cj.study, cj.judge_name, cj.role, cj.kind, j.prompt_hash, j.response_hash,
       any_value(j.prompt)                          AS prompt,
       any_value(j.response_a)                      AS response_a,
       any_value(j.response_b)                      AS response_b,
       avg(coalesce(j.score, CASE WHEN j.label = 0 THEN 1.5 ELSE j.label END)) AS value,
       avg(coalesce(j.expected_score, j.score))     AS expected_score,
       count(*) FILTER (WHERE j.invalid_reason IS NOT NULL) AS n_invalid
FROM current_judges cj
JOIN judgments j ON j.fingerprint = cj.fingerprint AND j.kind = cj.kind
GROUP BY cj.study, cj.judge_name, cj.role, cj.kind, j.prompt_hash, j.response_hash;

-- Per study and sample: each current non-gold pointwise judge's verdict beside the current gold judge's.
CREATE OR REPLACE VIEW judge_vs_gold AS
SELECT j.study, j.judge_name, j.role AS judge_role, j.prompt_hash, j.response_hash, j.prompt,
       j.response_a                        AS response,
       j.value                             AS judge_score,
       j.expected_score                    AS judge_expected_score,
       g.value                             AS gold_score,
       j.expected_score - g.value          AS gap,
       j.n_invalid                         AS judge_invalid
FROM current_verdicts j
JOIN current_verdicts g ON g.study = j.study AND g.role = 'gold' AND g.kind = 'pointwise'
                       AND g.prompt_hash = j.prompt_hash AND g.response_hash = j.response_hash
WHERE j.role <> 'gold' AND j.kind = 'pointwise';

-- Samples where a judge was fooled: it scored the answer 6 or more (0-9 scale) and gold scored it 3 or less.
CREATE OR REPLACE VIEW fooled AS
SELECT study, judge_name, judge_score, judge_expected_score, gold_score, gap, prompt, response
FROM judge_vs_gold
WHERE judge_expected_score >= 6 AND gold_score <= 3;

-- Per study and pair of current judges of one kind (gold included): agreement on the items both judged.
-- cohen_kappa: unweighted, on rounded values (scores 0-9, labels 1/2);
-- krippendorff_alpha: interval metric, two coders, no missing values (1 - D_o / D_e).
CREATE OR REPLACE VIEW judge_agreement AS
WITH pairs AS (
    SELECT a.study, a.kind, a.judge_name AS judge_a, b.judge_name AS judge_b,
           a.value AS x, b.value AS y, round(a.value) AS rx, round(b.value) AS ry
    FROM current_verdicts a
    JOIN current_verdicts b ON b.study = a.study AND b.kind = a.kind AND b.prompt_hash = a.prompt_hash
                           AND b.response_hash = a.response_hash AND a.judge_name < b.judge_name
    WHERE a.value IS NOT NULL AND b.value IS NOT NULL
), stats AS (
    SELECT study, kind, judge_a, judge_b, count(*) AS n, avg((rx = ry)::DOUBLE) AS p_observed,
           sum((x - y) ^ 2) AS sum_sq_diff
    FROM pairs GROUP BY ALL
), margins AS (
    SELECT study, kind, judge_a, judge_b, c, sum(na) AS na, sum(nb) AS nb FROM (
        SELECT study, kind, judge_a, judge_b, rx AS c, 1 AS na, 0 AS nb FROM pairs
        UNION ALL SELECT study, kind, judge_a, judge_b, ry, 0, 1 FROM pairs)
    GROUP BY ALL
), chance AS (
    SELECT study, kind, judge_a, judge_b, sum(na * nb) AS s FROM margins GROUP BY ALL
), spread AS (
    SELECT study, kind, judge_a, judge_b, var_pop(v) * count(*) AS ss FROM (
        SELECT study, kind, judge_a, judge_b, x AS v FROM pairs
        UNION ALL SELECT study, kind, judge_a, judge_b, y FROM pairs)
    GROUP BY ALL
)
SELECT s.study, s.kind, s.judge_a, s.judge_b, s.n, s.p_observed,
       (s.p_observed - c.s / (s.n * s.n)) / nullif(1 - c.s / (s.n * s.n), 0)    AS cohen_kappa,
       1 - (2 * s.n - 1) * s.sum_sq_diff / nullif(2 * s.n * sp.ss, 0)             AS krippendorff_alpha
FROM stats s
JOIN chance c USING (study, kind, judge_a, judge_b)
JOIN spread sp USING (study, kind, judge_a, judge_b);

-- Per study, pairwise judge and sample: where two judges of one kind disagree, largest difference first.
CREATE OR REPLACE VIEW judge_pair_disagreement AS
SELECT a.study, a.kind, a.judge_name AS judge_a, b.judge_name AS judge_b, a.prompt, a.response_a, a.response_b,
       a.value AS value_a, b.value AS value_b, abs(a.value - b.value) AS abs_diff
FROM current_verdicts a
JOIN current_verdicts b ON b.study = a.study AND b.kind = a.kind AND b.prompt_hash = a.prompt_hash
                       AND b.response_hash = a.response_hash AND a.judge_name < b.judge_name;

-- Per study and current pairwise judge: on pairs judged in both orders, how often the verdict follows the
-- position (the same position wins both games) instead of the response. Pairs with a tie in either order
-- are left out.
CREATE OR REPLACE VIEW position_flips AS
WITH v AS (
    SELECT cj.study, cj.judge_name, j.prompt_hash, j.response_a, j.response_b, j.decoding, j.label
    FROM current_judges cj
    JOIN judgments j ON j.fingerprint = cj.fingerprint AND j.kind = 'pairwise'
    WHERE cj.kind = 'pairwise' AND j.label IN (1, 2)
)
SELECT f.study, f.judge_name,
       count(*)                                   AS swapped_pairs,
       count(*) FILTER (WHERE f.label = s.label)  AS flips,
       avg((f.label = s.label)::DOUBLE)           AS flip_rate,
       avg((f.label = 1)::DOUBLE)                 AS first_position_rate
FROM v f
JOIN v s ON s.study = f.study AND s.judge_name = f.judge_name AND s.prompt_hash = f.prompt_hash
        AND s.decoding = f.decoding AND s.response_a = f.response_b AND s.response_b = f.response_a
WHERE f.response_a < f.response_b
GROUP BY f.study, f.judge_name;

-- Per study, policy run (partition) and checkpoint: mean score of each judge that scored its answers.
CREATE OR REPLACE VIEW checkpoint_judge_means AS
SELECT u.study, u.partition_key, u.step, j.judge_name,
       count(*)                                          AS n,
       avg(coalesce(j.expected_score, j.score))          AS mean_score,
       count(*) FILTER (WHERE j.invalid_reason IS NOT NULL) AS n_invalid
FROM judgment_uses u
JOIN judgments j USING (key)
WHERE u.context = 'checkpoint_scores'
GROUP BY u.study, u.partition_key, u.step, j.judge_name;

-- Per study, policy run and pair of judges: Kendall tau-b between their rankings of the run's checkpoints.
-- A training judge with tau < 0 against gold ranks the checkpoints the other way round: reward hacking.
CREATE OR REPLACE VIEW checkpoint_rank_tau AS
WITH m AS (
    SELECT a.study, a.partition_key, a.judge_name AS judge_a, b.judge_name AS judge_b, a.step,
           a.mean_score AS x, b.mean_score AS y
    FROM checkpoint_judge_means a
    JOIN checkpoint_judge_means b USING (study, partition_key, step)
    WHERE a.judge_name < b.judge_name
)
SELECT p.study, p.partition_key, p.judge_a, p.judge_b,
       count(DISTINCT p.step) + 1 AS checkpoints,
       sum(sign(q.x - p.x) * sign(q.y - p.y))
         / nullif(sqrt(sum(sign(q.x - p.x) ^ 2) * sum(sign(q.y - p.y) ^ 2)), 0) AS kendall_tau
FROM m p
JOIN m q ON q.study = p.study AND q.partition_key = p.partition_key AND q.judge_a = p.judge_a
        AND q.judge_b = p.judge_b AND q.step > p.step
GROUP BY p.study, p.partition_key, p.judge_a, p.judge_b;

-- Per study and current judge: what its verdicts cost (all verdicts of its fingerprint, in any study).
CREATE OR REPLACE VIEW judge_costs AS
SELECT cj.study, cj.judge_name, cj.role, cj.kind,
       count(*)                                            AS verdicts,
       count(*) FILTER (WHERE j.invalid_reason IS NOT NULL) AS invalid,
       avg(j.prompt_tokens)                                AS mean_prompt_tokens,
       avg(j.output_tokens)                                AS mean_output_tokens,
       sum(coalesce(j.prompt_tokens, 0) + coalesce(j.output_tokens, 0))::BIGINT AS total_tokens,
       avg(j.latency_ms)                                   AS mean_latency_ms,
       sum(j.latency_ms) / 1000                            AS total_seconds
FROM current_judges cj
JOIN judgments j ON j.fingerprint = cj.fingerprint
GROUP BY cj.study, cj.judge_name, cj.role, cj.kind;
