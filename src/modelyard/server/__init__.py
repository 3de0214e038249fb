"""The REST API server: one FastAPI app over the domain services."""
