"""Peer dedup tools run as their own processes, each writing OUT/clusters.parquet (`id`, `cluster`)."""
