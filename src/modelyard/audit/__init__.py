"""Tamper-evident audit trail: a hash chain of who did what, verifiable and exportable."""
