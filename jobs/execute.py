"""Run one notebook attempt (the worker's child process; ``python -m jobs.execute``).

Kept in its own process group so the worker can stop it, kernel included, on cancel or
timeout; the result (status, error, failing cell) is written as JSON for the worker to record.
The output notebook is saved after every cell, and every ``AUTOSAVE_S`` seconds while a long
cell prints, so a killed attempt still leaves what ran and the worker can read the stage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import papermill
from papermill.exceptions import PapermillExecutionError

AUTOSAVE_S = 10
"""Seconds between saves of the output notebook while a cell runs (papermill's default is
30): the worker reads the running cell's last ``progress:`` line from it."""


def html_of(notebook: Path) -> Path | None:
    """Render the executed notebook as HTML for people who do not run Jupyter."""
    from nbconvert import HTMLExporter

    if not notebook.exists():
        return None
    body, _ = HTMLExporter().from_filename(str(notebook))
    out = notebook.with_suffix(".html")
    out.write_text(body)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notebook", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--parameters", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--run-id", type=int, required=True)
    args = parser.parse_args(argv)
    result: dict = {"status": "succeeded", "error": None, "cell": None}
    try:
        if not Path(args.notebook).is_file():
            raise FileNotFoundError(f"notebook {args.notebook} does not exist")
        parameters = json.loads(args.parameters)
        if "run_id" in papermill.inspect_notebook(args.notebook):
            parameters["run_id"] = args.run_id  # side effects keyed to the run: retries are safe
        papermill.execute_notebook(
            args.notebook, args.output, parameters=parameters,
            kernel_name="python3", progress_bar=False, cwd=args.cwd,
            request_save_on_cell_execute=True,
            # a long cell's output (its "progress:" lines) reaches the run's record
            autosave_cell_every=AUTOSAVE_S)
    except PapermillExecutionError as exc:
        result = {"status": "failed", "error": f"{exc.ename}: {exc.evalue}",
                  "cell": exc.exec_count}
    except Exception as exc:  # kernel died, bad notebook…: the record says what happened
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "cell": None}
    try:
        html = html_of(Path(args.output))
        result["html"] = str(html) if html else None
    except Exception as exc:  # the run's outcome stands even if rendering fails
        result["html"] = None
        result["html_error"] = str(exc)
    Path(args.result).write_text(json.dumps(result))
    return 0 if result["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
