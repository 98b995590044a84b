"""The directions of dependency between the platform's parts, checked on the source.

The layers, bottom up: ``data_models`` (the schema) <- ``reprotech_core`` (every rule) <- the
parts that call it: ``jobs``, ``hub``, ``dashboards`` <- ``reprotech`` (the command, which adds
``jobs`` to the core's commands). A part imports only parts below it, so the core can be used
and tested without a hub, a dashboard server or the job queue, and a change above never breaks
what is below. Inside the core, the database layer (``db/``) stands on settings, errors and
roles only, and the genotype store's ingest does not reach up into ``ops/``.

Every import counts, also one inside a function: a late import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MAY_IMPORT = {
    "data_models": set(),
    "reprotech_core": {"data_models"},
    "jobs": {"reprotech_core", "data_models"},
    "hub": {"reprotech_core", "data_models"},
    "dashboards": {"reprotech_core", "data_models"},
    "reprotech": {"jobs", "reprotech_core", "data_models"},
}
"""Each top-level part and the other parts it may import."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, package: str | None = None) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in ``path``; ``from a import b`` yields ``a`` and ``a.b``
    (``b`` may be a module), relative imports resolved against the file's package."""
    if package is None:
        package = module_name(path) if path.name == "__init__.py" else \
            module_name(path).rpartition(".")[0]
    parts = package.split(".")
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = parts[:len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def sources(part: str) -> list[Path]:
    return sorted(p for p in (ROOT / part).rglob("*.py") if ".ipynb_checkpoints" not in p.parts)


def offending(paths: list[Path], refused) -> list[str]:  # noqa: ANN001 (predicate on a module)
    return sorted({f"{p.relative_to(ROOT)}:{line} imports {module}"
                   for p in paths for line, module in imported(p) if refused(module)})


@pytest.mark.parametrize("part", sorted(MAY_IMPORT))
def test_each_part_imports_only_the_parts_below_it(part: str) -> None:
    others = set(MAY_IMPORT) - MAY_IMPORT[part] - {part}
    found = offending(sources(part), lambda module: module.split(".")[0] in others)
    assert not found, f"{part} may import only {sorted(MAY_IMPORT[part])}:\n" + "\n".join(found)


def test_the_database_layer_stands_on_settings_errors_and_roles_only() -> None:
    allowed = ("reprotech_core.db", "reprotech_core.errors", "reprotech_core.settings",
               "reprotech_core.roles")

    def refused(module: str) -> bool:
        return (module.startswith("reprotech_core.") and
                not any(module == a or module.startswith(a + ".") for a in allowed))

    found = offending(sources("reprotech_core/db"), refused)
    assert not found, "\n".join(found)


def test_the_genotype_ingest_does_not_reach_up_into_ops() -> None:
    found = offending([ROOT / "reprotech_core/store/ingest.py"],
                      lambda m: m == "reprotech_core.ops" or m.startswith("reprotech_core.ops."))
    assert not found, "\n".join(found)


def test_the_check_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The walk finds top-level, late, ``from``-package and relative imports alike."""
    probe = tmp_path / "probe.py"
    probe.write_text("import jobs.cli\n"
                     "from reprotech_core import accounts\n"
                     "def late():\n    from hub import services\n"
                     "from .db import session\n")
    found = {module for _, module in imported(probe, package="reprotech_core")}
    assert {"jobs.cli", "reprotech_core.accounts", "hub", "hub.services",
            "reprotech_core.db.session"} <= found
