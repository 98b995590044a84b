"""The "Herd files" page: a herd register or a records file, dry run first, then commit.

A thin view over :mod:`reprotech_core.herd.web_upload`, which calls what ``reprotech herd
import`` and ``reprotech records import`` call: the same rules and report, all or nothing, a
file imported twice changes nothing. "Check" judges the upload and writes nothing; the report
(summary, notes, new/changed/refused rows with line, column and rule) can be downloaded as CSV;
"Commit" is enabled only by a clean check with something to write, and judges the same bytes
again in the writing transaction. Changing the file, the customer, the kind or an option
disables it again, so what is committed is always what was checked.

Callbacks run in the service's thread pool (``pn.config.nthreads``): a large file's import
runs off the event loop, and the progress bar it drives reaches the browser while it runs.
"""

from __future__ import annotations

import io
from functools import partial
from pathlib import Path

import pandas as pd
import panel as pn
import param

from dashboards.layout import widget_row
from dashboards.pages import PageContext
from dashboards.pending import STILL_ARRIVING, PendingChanges
from dashboards.text import md_text
from reprotech_core.errors import NotFound, ReprotechError
from reprotech_core.herd import web_upload as views

SLUG = "herd-files"
NOT_FOUND = ("**Not found.** The customer you asked for does not exist or is not yours to "
             "import for. Nothing was written.")


class HerdFiles(pn.viewable.Viewer):
    """Upload a herd register or a records file for a customer: check, read, commit."""

    status = param.String(default="")

    def __init__(self, ctx: PageContext, **params) -> None:
        super().__init__(**params)
        self.ctx = ctx
        with ctx.session() as s:
            farms = views.upload_customers(s)
        self._farms = farms
        self._checked: tuple[str, str, views.Options, views.Upload] | None = None
        self._result: views.Result | None = None
        self.farm = pn.widgets.Select(label="Customer", visible=len(farms) > 1,
                                      options={f"{n} ({c})": c for c, n in farms})
        self.kind = pn.widgets.RadioButtonGroup(
            options={label.capitalize(): kind for kind, label in views.KINDS.items()},
            value="register", color="primary", variant="outline")
        self.create_parents = pn.widgets.Checkbox(
            label="Create unknown sires and dams as placeholder animals")
        self.create_herds = pn.widgets.Checkbox(label="Create herds the file names")
        self.file = pn.widgets.FileInput(accept=",".join(views.SUFFIXES),
                                         css_classes=["rt-herd-file"])
        self.check_button = pn.widgets.Button(label="Check (dry run)", color="primary")
        self.check_button.on_click(lambda _: self.check())
        self.commit_button = pn.widgets.Button(label="Commit", color="success",
                                               disabled=True)
        self.commit_button.on_click(lambda _: self.commit())
        self.progress = pn.indicators.Progress(value=0, max=100, active=False, visible=False,
                                               width=300)
        self.step = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.result = pn.pane.Alert("", alert_type="light", visible=False,
                                    sizing_mode="stretch_width", css_classes=["rt-herd-result"])
        self.report = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, visible=False,
            pagination="remote", page_size=25, layout="fit_data_table",
            sizing_mode="stretch_width", css_classes=["rt-table-herd-report"])
        self.download = pn.widgets.FileDownload(
            callback=self._report_csv, filename="report.csv", label="Download report (CSV)",
            visible=False)
        self._options = pn.Column(self.create_parents, self.create_herds)
        for widget in (self.farm, self.kind, self.create_parents, self.create_herds, self.file):
            widget.param.watch(self._stale, "value")
        self.kind.param.watch(self._kind_changed, "value")
        self.pending = PendingChanges()
        self.pending.watch([self.farm, self.kind, self.create_parents, self.create_herds,
                            self.file])

    # Actions -------------------------------------------------------------------------------
    def check(self) -> None:
        """Judge the chosen file (a dry run: nothing is written) and show its report."""
        if not self.pending.settled():
            self._show("warning", STILL_ARRIVING)
            return
        if not self.file.value:
            self._show("warning", "Choose a file (.csv, .txt or .xlsx) first.")
            return
        checked = (self._customer(), self.kind.value,
                   views.Options(self.create_parents.value, self.create_herds.value),
                   views.Upload(self.file.filename or "", self.file.value))
        result = self._run(checked, commit=False)
        self._checked = checked if result is not None and result.may_commit else None
        self.commit_button.disabled = self._checked is None

    def commit(self) -> None:
        """Import the checked file for real: judged again, written only if still clean."""
        checked, self._checked = self._checked, None
        self.commit_button.disabled = True
        if checked is None:
            self._show("warning", "Check the file first; then commit what the check showed.")
            return
        self._run(checked, commit=True)

    def _run(self, checked: tuple[str, str, views.Options, views.Upload], *,
             commit: bool) -> views.Result | None:
        farm, kind, options, upload = checked
        total = views.line_estimate(upload)
        self.progress.value = 0 if total else -1
        self.progress.visible = self.progress.active = True
        self._step("writing…" if commit else "checking…")
        try:
            result = views.judge_upload(
                self.ctx.database, self.ctx.identity, farm, upload, kind=kind, commit=commit,
                options=options, progress=partial(self._progress, total, commit))
        except NotFound:
            self._clear_report()
            self._show("danger", NOT_FOUND)
            return None
        except ReprotechError as exc:
            self._clear_report()
            self._show("danger", f"**Nothing written.** {md_text(exc)}")
            return None
        finally:
            self.progress.active = self.progress.visible = False
            self._step("")
        self._show_result(result)
        return result

    # Showing -------------------------------------------------------------------------------
    def _show_result(self, result: views.Result) -> None:
        self._result = result
        lines = [md_text(result.summary), *(f"- note: {md_text(n)}" for n in result.notes)]
        if not result.ok:
            kind = "danger"
            lines.insert(0, f"**Refused: {result.problems} problem(s); nothing written.** "
                            "Fix the rows below and check the file again.")
        elif result.written:
            kind = "success"
            lines.insert(0, "**Written.**")
        elif result.writes:
            kind = "info"
            lines.insert(0, "**Dry run: nothing written yet.** Read the report, then commit.")
        else:
            kind = "info"
            lines.insert(0, "**Nothing to write:** everything in the file is stored already.")
        self._show(kind, "\n\n".join(lines))
        self.report.value = result.shown().reset_index(drop=True)
        self.report.visible = True
        self.download.filename = f"{Path(result.file).stem}-{result.kind}-report.csv"
        self.download.visible = True

    def _clear_report(self) -> None:
        self._result = None
        self.report.visible = self.download.visible = False

    def _show(self, kind: str, text: str) -> None:
        self.result.alert_type = kind
        self.result.object = text
        self.result.visible = True
        self.status = text

    def _step(self, text: str) -> None:
        self.step.object = text

    def _progress(self, total: int | None, commit: bool, rows: int) -> None:
        """Rows read so far (the import's callback); judging, and writing on a commit, follow
        the last row, so the text says what the bar cannot."""
        if total:
            self.progress.value = min(100, rows * 100 // total)
        self._step(f"{rows:,} rows read; {'judging and writing' if commit else 'judging'}…")

    def _report_csv(self) -> io.BytesIO:
        return io.BytesIO(self._result.csv() if self._result else b"")

    def _customer(self) -> str:
        return self.farm.value or ""

    def _stale(self, _event: object) -> None:
        """Anything changed after the check: commit only what is checked again."""
        self._checked = None
        self.commit_button.disabled = True

    def _kind_changed(self, event: param.parameterized.Event) -> None:
        self._options.visible = event.new == "register"

    # Layout --------------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        if not self._farms:
            return pn.pane.Markdown("## Herd files\nYou are not assigned to any customer yet; "
                                    "ask an administrator to assign you.")
        customer = (pn.pane.Markdown(f"Customer: **{md_text(self._farms[0][1])}**")
                    if len(self._farms) == 1 else self.farm)
        templates = [pn.widgets.FileDownload(
            callback=partial(_template, kind), filename=f"{kind}-template.csv",
            label=f"Template: {label}")
            for kind, label in views.KINDS.items()]
        return pn.Column(
            pn.pane.Markdown(
                "## Herd files\nA herd register (animals and pedigree) or a file of "
                "performance records, checked by the same rules as `reprotech herd import` and "
                "`reprotech records import`. **Check** writes nothing and shows every new, "
                "changed and refused row; **Commit** writes the checked file, all or nothing. "
                "A file sent again changes nothing."),
            customer, self.kind, self._options, self.file,
            widget_row(self.check_button, self.commit_button),
            widget_row(self.progress, self.step),
            self.result, self.download, self.report,
            pn.pane.Markdown("#### Templates\nThe columns each import reads, with example rows."),
            widget_row(*templates), sizing_mode="stretch_width")


def _template(kind: str) -> io.BytesIO:
    return io.BytesIO(views.template(kind))


def build(ctx: PageContext) -> pn.viewable.Viewable:
    return pn.panel(HerdFiles(ctx))
