"""Model registry: registered models, versions, aliases, lineage and model cards."""
