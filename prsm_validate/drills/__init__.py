"""Automated drills of what the roadmaps say must be "tested": backup and restore with
point-in-time recovery, recovery time from detection to healthy, rolling deployment under load
and rollback. Scenarios in ``scenarios/drills/`` run them and record their figures."""
