"""What a long job cell is doing, from the cell's own output to the job's record.

A job notebook's evaluation is one cell that runs for minutes (18 at 100,000 animals); the
worker's record of it said only "cell 2 of 8" all that time. The cell's work reports its stage
through a callback (``progress=`` of :func:`reprotech_core.store.evaluations.run_evaluation`);
:func:`printer` turns that into ``progress: <stage>`` lines on the cell's output, which
papermill saves with the notebook while the cell runs, and the worker reads the last of them
back (:func:`last_stage`) into the run's ``progress`` ("cell 2 of 8: solving SNP-BLUP,
iteration 41 …"), which ``reprotech jobs`` and the staff pages show.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

PREFIX = "progress: "


def printer(every_s: float = 15.0, *, out: Callable[[str], None] | None = None,
            clock: Callable[[], float] = time.monotonic) -> Callable[[str], None]:
    """A progress callback that prints ``progress: <stage>`` when the stage's kind (the text
    before its first ':') changes, else at most every ``every_s`` seconds — a solver
    reporting each iteration leaves a line per interval, not hundreds."""
    emit = out or (lambda line: print(line, flush=True))
    last: dict[str, object] = {"kind": None, "at": float("-inf")}

    def report(stage: str) -> None:
        kind, now = stage.split(":", 1)[0], clock()
        if kind != last["kind"] or now - float(last["at"]) >= every_s:
            emit(PREFIX + stage)
            last.update(kind=kind, at=now)

    return report


def last_stage(outputs: Iterable[Mapping]) -> str | None:
    """The last ``progress:`` line among a notebook cell's saved stream outputs."""
    stage = None
    for output in outputs:
        if output.get("output_type") != "stream":
            continue
        text = output.get("text", "")
        for line in (text if isinstance(text, str) else "".join(text)).splitlines():
            if line.startswith(PREFIX):
                stage = line[len(PREFIX):].strip()
    return stage
