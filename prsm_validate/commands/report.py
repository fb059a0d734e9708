"""``prsm-validate report [RUN]``: regenerate report.html from a run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "report"
HELP = "Regenerate report.html of a run (default: reports/latest) from its stored files."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``report``."""
    parser.add_argument("run", nargs="?", default="reports/latest",
                        help="run folder, or a run id under --root (default reports/latest)")
    parser.add_argument("--root", default="reports", help="report root (default reports/)")
    parser.add_argument("--chaos-journal", type=Path, default=None, metavar="JOURNAL",
                        help="turn a Chaos Toolkit journal (chaos run --journal-path) into a "
                        "run folder with report.html under --root")


def run(args: argparse.Namespace) -> int:
    """Render and write the page; print its path."""
    from prsm_validate.report import html, trend

    if args.chaos_journal is not None:
        return _chaos_journal(args.chaos_journal, Path(args.root))
    run_dir = Path(args.run)
    if not run_dir.exists():
        run_dir = Path(args.root) / args.run
    if not (run_dir / "summary.json").exists():
        print(f"prsm-validate report: {args.run}: no summary.json there; give a run folder "
              f"such as reports/latest", file=sys.stderr)
        return 2
    run_dir = run_dir.resolve()
    page = html.render(run_dir, trend.load(run_dir.parent, run_dir.name))
    out = run_dir / "report.html"
    out.write_text(page, encoding="utf-8")
    print(out)
    return 0


def _chaos_journal(journal: Path, root: Path) -> int:
    from prsm_validate.chaostoolkit.journal import JournalError, convert

    try:
        root.mkdir(parents=True, exist_ok=True)
        page = convert(journal, root)
    except JournalError as exc:
        print(f"prsm-validate report: {exc}", file=sys.stderr)
        return 2
    print(page)
    return 0
