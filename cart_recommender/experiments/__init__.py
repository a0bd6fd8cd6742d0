"""A/B tests between model versions, baselines and a hold-out: assignment, statistics, results."""
