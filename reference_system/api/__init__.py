"""The reference system's HTTP API (FastAPI): the prime-spark contract plus FTNS, inference,
telemetry and Prometheus metrics."""
