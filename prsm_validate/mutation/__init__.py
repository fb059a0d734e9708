"""Mutation score of the scenarios: sampled Cosmic Ray mutants of ``reference_system``, each
run against the scenarios that reach its module (``prsm-validate mutation-score``).

:mod:`.generate` makes the mutants, :mod:`.catalogue` maps modules to subsystems and scenarios,
:mod:`.runner` runs them within a budget, :mod:`.equivalents` reads the triaged equivalents,
:mod:`.report` writes the score, :mod:`.score` ties them together.
"""
