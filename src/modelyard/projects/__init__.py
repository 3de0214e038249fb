"""Projects: the unit of ownership that groups experiments, runs, datasets and models."""
