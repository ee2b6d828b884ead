"""Benchmarks of qzbg: ``make bench`` runs ``python -m bench.run``."""
