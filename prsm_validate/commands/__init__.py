"""Sub-commands of ``prsm-validate``: one module per command (see :mod:`prsm_validate.cli`)."""
