"""Deterministic generator of labelled synthetic scraped-news corpora for testing and benchmarking."""

from .generate import GENERATOR_VERSION, KINDS, SAMPLE_OUT, SAMPLE_SOURCE, TRUTH_SCHEMA, generate, generate_sample

__all__ = ["generate", "generate_sample", "GENERATOR_VERSION", "KINDS", "TRUTH_SCHEMA", "SAMPLE_SOURCE", "SAMPLE_OUT"]
