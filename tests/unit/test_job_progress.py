"""A long job cell's stage, from its printed output to the worker's record of the run."""

import json

from jobs.worker import progress_of
from reprotech_core.job_progress import PREFIX, last_stage, printer


def test_printer_prints_each_new_kind_of_stage_and_else_at_most_every_interval():
    lines, now = [], [0.0]
    report = printer(15.0, out=lines.append, clock=lambda: now[0])
    solving = "solving SNP-BLUP: iteration"
    for second, stage in [(0, "variance components: REML"), (1, f"{solving} 1"),
                          (5, f"{solving} 2"), (16, f"{solving} 9"), (17, f"{solving} 10"),
                          (18, "reliabilities: milk")]:
        now[0] = second
        report(stage)
    assert lines == [PREFIX + s for s in ("variance components: REML",
                                          "solving SNP-BLUP: iteration 1",
                                          "solving SNP-BLUP: iteration 9",
                                          "reliabilities: milk")]


def test_the_worker_reads_the_running_cells_last_stage(tmp_path):
    def cell(status, text=None):
        outputs = [{"output_type": "stream", "name": "stdout", "text": text}] if text else []
        return {"cell_type": "code", "metadata": {"papermill": {"status": status}},
                "outputs": outputs, "source": ""}
    notebook = tmp_path / "out.ipynb"
    notebook.write_text(json.dumps({"cells": [
        cell("completed", f"{PREFIX}inputs\n"),
        {"cell_type": "markdown", "metadata": {}, "source": "text"},
        cell("running", ["evaluating\n", f"{PREFIX}path: snp-blup\n",
                         f"{PREFIX}solving SNP-BLUP: iteration 41\nother output\n"]),
        cell("pending")]}))
    assert progress_of(notebook) == "cell 1 of 3: solving SNP-BLUP: iteration 41"
    assert last_stage([{"output_type": "display_data", "data": {}}]) is None
    notebook.write_text("{not json")
    assert progress_of(notebook) is None
