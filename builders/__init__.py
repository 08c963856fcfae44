"""Batch dataset builder for NLP corpora from scraped news."""

__version__ = "0.1.0"
