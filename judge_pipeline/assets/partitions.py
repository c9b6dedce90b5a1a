"""Partitions: judge variants, and (policy x judge variant) for the variants policies train against
(`StudyConfig.policy_judge_variants`), from the active study config."""


from dagster import MultiPartitionKey, MultiPartitionsDefinition, MultiToSingleDimensionPartitionMapping, StaticPartitionsDefinition

from judge_pipeline.config import load_config

_cfg = load_config()

judge_partitions = StaticPartitionsDefinition(_cfg.judge_variants)
policy_judge_partitions = MultiPartitionsDefinition({
    "policy": StaticPartitionsDefinition(_cfg.policies),
    "judge": StaticPartitionsDefinition(_cfg.policy_judge_variants),
})
#: a (policy x judge) partition depends on the judge partition of the same variant
judge_of_run = MultiToSingleDimensionPartitionMapping(partition_dimension_name="judge")


def policy_and_judge(context) -> tuple[str, str]:
    key = context.partition_key
    if isinstance(key, MultiPartitionKey):
        dims = key.keys_by_dimension
    else:  # "judge|policy" string form
        dims = dict(zip(["judge", "policy"], str(key).split("|")))
    return dims["policy"], dims["judge"]

#: where the DuckDB IO manager finds each partition in an asset table
JUDGE_PARTITION_META = {"partition_expr": "judge_variant"}
RUN_PARTITION_META = {"partition_expr": {"policy": "policy", "judge": "judge_variant"}}
