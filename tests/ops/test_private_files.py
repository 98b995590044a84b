"""What the platform writes under ``<data_dir>`` is its own accounts' (issue #15, item 7).

Notebook servers run as accounts of their own; they must not read genotype files, QC
reports, evaluations, the hub's database or logs through loose file modes. Root may be
needed to create the research group, so the group checks run only where the suite is root
(CI runs as root; the reason is in the skip).
"""

from __future__ import annotations

import grp
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from reprotech_core.ops.private_files import RESEARCH_GROUP, protect_data_dir
from tests.conftest import make_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_platform_process_writes_files_only_its_account_reads(tmp_path: Path) -> None:
    out = tmp_path / "written"
    code = ("from reprotech_core.ops.private_files import use_private_umask;"
            "import pandas as pd, sys; use_private_umask();"
            f"p = {str(out)!r}; import os; os.makedirs(p);"
            "pd.DataFrame({'a': [1]}).to_parquet(p + '/t.parquet');"
            "open(p + '/report.html', 'w').write('qc')")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ},
                   preexec_fn=lambda: os.umask(0o022))  # start loose, as a shell would
    assert mode(out) == 0o700
    assert {p.name: mode(p) for p in out.iterdir()} == {"t.parquet": 0o600,
                                                        "report.html": 0o600}


@pytest.mark.skipif(os.geteuid() != 0, reason="creating the research group needs root")
def test_a_data_folder_written_loosely_is_brought_to_private_modes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    var = settings.var_dir
    tenant = var / "store" / "tenants" / "farm-1"
    research = var / "store" / "research"
    for folder in (tenant, research, var / "jobs" / "run-1", settings.homes_dir / "rt-a"):
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o755)
    for path in (tenant / "genotypes.parquet", research / "cohort.parquet",
                 var / "jobs" / "run-1" / "out.ipynb"):
        path.write_bytes(b"x")
        os.chmod(path, 0o644)
    os.chmod(settings.homes_dir / "rt-a", 0o700)

    protect_data_dir(settings)

    assert mode(var) == 0o711 and mode(settings.homes_dir) == 0o711  # pass through, list nothing
    assert mode(settings.homes_dir / "rt-a") == 0o700  # each home stays its account's
    assert mode(tenant) == 0o700 and mode(tenant / "genotypes.parquet") == 0o600
    assert mode(var / "jobs" / "run-1" / "out.ipynb") == 0o600
    gid = grp.getgrnam(RESEARCH_GROUP).gr_gid
    store = var / "store"
    assert (mode(store), store.stat().st_gid) == (0o710, gid)  # the group passes, others not
    assert (mode(research), research.stat().st_gid) == (0o750, gid)
    assert mode(research / "cohort.parquet") == 0o640
    protect_data_dir(settings)  # idempotent
    assert mode(tenant / "genotypes.parquet") == 0o600
