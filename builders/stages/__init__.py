"""Pipeline stages: ingest, clean, dedup, publish."""
