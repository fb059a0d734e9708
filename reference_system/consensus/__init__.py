"""PBFT consensus cluster of the reference system (Castro & Liskov, OSDI '99).

Modules: ``messages`` (protocol messages, canonical encoding), ``crypto`` (ed25519, MACs),
``replica`` (the sans-IO core: ``state`` dataclasses and the transition modules ``batching``,
``normal``, ``checkpoints``, ``viewchange``, ``recovery``), ``state_machine`` (FTNS
ledger, task queue), ``byzantine`` (opt-in faulty behaviours wrapping the honest core),
``sim`` (seeded simulated network), ``transport``/``node``/``durable``/``introspect`` (the
``prsm-ref node`` process), ``client`` (asyncio client library) and ``config``.
"""
