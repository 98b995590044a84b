"""Interim app frame (replaced by the dashboards work): who is signed in and their customer."""

from __future__ import annotations

import panel as pn
from sqlalchemy import text

from dashboards.pages import PageContext


def build_app(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        names = s.execute(text("SELECT name FROM core.customers ORDER BY name")).scalars().all()
    return pn.Column(
        pn.pane.Markdown(f"# Reprotech Analytics\nSigned in as **{ctx.identity.username}** "
                         f"({ctx.identity.role})"),
        pn.pane.Markdown("Customers: " + ", ".join(names)),
    )
