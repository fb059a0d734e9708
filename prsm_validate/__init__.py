"""prsm-validate: a test, chaos and load validation harness for the PRSM platform.

The pytest plugin lives in :mod:`prsm_validate.plugin`; the command line in
:mod:`prsm_validate.cli`. Heavy modules are imported lazily so loading the plugin is cheap.
"""

__version__ = "0.1.0"
