"""Benchmarks run by ``prsm-validate bench NAME``; one module per benchmark."""
