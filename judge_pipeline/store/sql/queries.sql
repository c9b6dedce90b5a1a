-- Named queries used by judge_pipeline.store. Each block starts with "-- name: <name>".
-- `wanted` is a one-column relation (key) registered by the caller; `rows` a relation of new rows.

-- name: missing_judgments
SELECT w.key FROM wanted w ANTI JOIN judgments j USING (key);

-- name: fetch_judgments
SELECT j.* FROM judgments j SEMI JOIN wanted w USING (key);

-- name: insert_judgments
INSERT OR IGNORE INTO judgments BY NAME SELECT * FROM rows;

-- name: missing_generations
SELECT w.key FROM wanted w ANTI JOIN generations g USING (key);

-- name: fetch_generations
SELECT g.* FROM generations g SEMI JOIN wanted w USING (key);

-- name: insert_generations
INSERT OR IGNORE INTO generations BY NAME SELECT * FROM rows;

-- name: missing_kl
SELECT w.key FROM wanted w ANTI JOIN kl_estimates k USING (key);

-- name: fetch_kl
SELECT k.* FROM kl_estimates k SEMI JOIN wanted w USING (key);

-- name: insert_kl
INSERT OR IGNORE INTO kl_estimates BY NAME SELECT * FROM rows;

-- name: insert_uses
INSERT OR IGNORE INTO judgment_uses BY NAME SELECT * FROM rows;

-- name: register_judge
INSERT OR IGNORE INTO judges BY NAME SELECT * FROM rows;

-- name: count_judgments
SELECT count(*) AS n FROM judgments;

-- name: judge_vs_gold_for
SELECT * FROM judge_vs_gold WHERE judge_name = $judge_name;

-- name: disagreement_summary
SELECT judge_name,
       count(*)                          AS n,
       avg(abs(gap))                     AS mean_abs_gap,
       avg(gap)                          AS mean_gap,
       corr(coalesce(judge_expected_score, judge_score), gold_score) AS pearson_r
FROM judge_vs_gold
GROUP BY judge_name
ORDER BY judge_name;

-- name: top_disagreements
SELECT judge_name, gold_score, judge_score, round(judge_expected_score, 2) AS judge_expected_score,
       round(gap, 2) AS gap, left(prompt, 80) AS prompt, left(response, 120) AS response
FROM judge_vs_gold
ORDER BY abs(gap) DESC NULLS LAST
LIMIT $limit;
