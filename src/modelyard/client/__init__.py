"""The Python SDK: one Client over two backends (embedded store or REST server)."""
