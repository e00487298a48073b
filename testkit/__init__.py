"""Helpers the tests and the benchmarks share, so both measure the same things: copy
transformations, odd and hostile media, free ports and a real redis-server. Not installed with
the package; imported from a checkout (tests and bench put the repository root on sys.path)."""
