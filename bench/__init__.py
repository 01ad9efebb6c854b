"""Benchmarks: `./run bench` (or `python -m bench`) prints figures and ratios measured in one
run; results are also written to bench/results/*.json."""
