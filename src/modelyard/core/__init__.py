"""Cross-cutting parts shared by every domain: settings, errors, database, artifacts."""
