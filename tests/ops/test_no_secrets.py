"""Secrets never in the repository or in committed notebooks: a scan of the tracked files
(outside tests, which use fake credentials on purpose)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
    # placeholders (…, <…>, {…}, ***, the word "password") are fine
    "password in a URL": re.compile(r"\b[a-z+]+://[^\s:/@'\"`]+:"
                                    r"(?!…|<|\{|\*|password@|pass@|PASSWORD@)[^\s@/'\"`]{3,}@"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "JupyterHub/API token assignment": re.compile(
        r"(?i)\b(?:api_token|cookie_secret|client_secret|password)\s*=\s*['\"][A-Za-z0-9+/=_-]{16,}"
        r"['\"]"),
}


def tracked() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: nothing to scan")  # e.g. an sdist
    return [ROOT / name for name in out.splitlines()
            if not name.startswith("tests/") and (ROOT / name).is_file()]


def test_no_secret_in_tracked_files():
    found = []
    for path in tracked():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for what, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert found == []


def test_committed_notebooks_carry_no_outputs():
    """Outputs can hold data and connection details: notebooks are committed clean (job runs
    keep their executed copies under the data folder, not in the repository)."""
    dirty = []
    for path in tracked():
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            if any(c.get("outputs") for c in cells if c["cell_type"] == "code"):
                dirty.append(str(path.relative_to(ROOT)))
    assert dirty == []


@pytest.mark.parametrize(("sample", "what"), [
    ("url = 'postgresql://reprotech_app:Xk2v9aQ@db:5432/reprotech'", "password in a URL"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key"),
    ('api_token = "0123456789abcdef0123456789abcdef"', "JupyterHub/API token assignment"),
])
def test_the_scan_finds_what_it_looks_for(sample, what):
    assert PATTERNS[what].search(sample)
    assert not PATTERNS["password in a URL"].search("postgresql://reprotech_app:…@pgbouncer/db")
