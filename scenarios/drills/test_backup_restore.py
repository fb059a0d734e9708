"""Backup and restore drill with point-in-time recovery (Phase 0 roadmap 2.2, Milestone 5:
"Automated backup and recovery procedures tested"; 4.2 "Disaster recovery procedures
validated"; the edge roadmap's backup/restore test).

The procedure of the reference system's runbook, with the PostgreSQL binaries of the pgserver
wheel: a primary archiving WAL continuously, a base backup (pg_basebackup), rows written
before a named restore point and after it, more writes until the primary is killed with its
disk (the disaster). The base backup recovered from the archive to the restore point holds
exactly the rows before it and none after; recovered to the end of the archive it holds every
row archived before the disaster, and what it lost of the writes after the last archive is the
measured RPO (a figure: the archiver's timing decides it, not the drill); a pg_dump of it
restored with pg_restore is identical.
"""

from __future__ import annotations

from prsm_validate import run_pitr_drill


def test_point_in_time_recovery_restores_exactly_the_rows_before_the_target(record_property):
    figures = run_pitr_drill(before=200, after=100, tail_s=1.5)
    record_property("backup", figures.to_json())
    assert not figures.problems, f"restore is wrong: {figures.problems[:10]}"
    assert figures.tail_acknowledged > 0, f"no write acknowledged after the archive: {figures}"
    assert figures.rpo_s <= 60, f"measured RPO {figures.rpo_s:.2f}s > 60s: {figures.to_json()}"
