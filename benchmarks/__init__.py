"""Benchmark harness: synthetic corpora, our build vs peer dedup tools, accuracy scores and a report."""
