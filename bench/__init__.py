"""Benchmarks: how fast, how lean and how close to the limit a sync is (``make bench``).

Nothing here is a test: the suite prints figures next to their targets and writes a small report under
``bench/results/``. See ``bench/__main__.py`` for the workloads.
"""
