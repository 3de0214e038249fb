"""Experiment tracking: runs, params, metrics, tags, datasets, environments, artifacts."""
