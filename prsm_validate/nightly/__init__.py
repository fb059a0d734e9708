"""``prsm-validate nightly``: the nightly chaos run (DESIGN.md section 15).

:mod:`~.night` runs a night within its :mod:`~.budget`; its :mod:`~.stages` (the built-in
:mod:`~.chaos` stage, plus any registered by entry point) run randomised schedules of the
:mod:`~.families` while the :mod:`~.soak` keeps a fixed arrival rate on the API; each
:mod:`~.trial` is judged by the invariant checkers, a failing schedule is shrunk
(:mod:`prsm_validate.generator.shrink`); :mod:`~.trends` names regressions across nights and
keeps the last N; :mod:`~.summary` decides the exit status; :mod:`~.html` writes the page.
"""
