"""The `reprotech` launcher runs `geno` without importing the platform, everything else as before."""

import subprocess
import sys

PROBE = """
import sys
sys.argv = ["reprotech", *{args!r}]
from reprotech.launch import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("reprotech.cli", "jobs.queue", "sqlalchemy.orm", "reprotech_core.db.session",
                           "reprotech_core.evaluation.gblup") if m in sys.modules)
print("HEAVY", heavy)
"""


def probe(*args: str) -> str:
    return subprocess.run([sys.executable, "-c", PROBE.format(args=list(args))], check=True,
                          capture_output=True, text=True).stdout


def test_geno_runs_without_the_platforms_imports():
    out = probe("geno", "qc", "--help")
    assert "PLINK fileset" in out and "HEAVY []" in out


def test_other_commands_go_through_the_full_command_tree():
    out = probe("--help")
    assert "geno" in out and "jobs" in out and "'reprotech.cli'" in out
