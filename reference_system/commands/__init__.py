"""Roles of ``prsm-ref``: one module per role (see :mod:`reference_system.cli`)."""
