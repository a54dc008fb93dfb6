"""Benchmark of the naive one-APScheduler-job-per-reminder design (see README.md)."""
