"""The contract between the dashboard service and its pages.

The service (``dashboards/serve.py``, run by the hub) resolves the signed-in hub user to an
:class:`~reprotech_core.db.session.Identity` and hands each page a :class:`PageContext`. A page
never reads who the user is from the URL or a widget: every query it makes runs in
``ctx.session()``, so row-level security in PostgreSQL decides what it may see.

Pages are registered in ``dashboards.customer.PAGES`` and ``dashboards.staff.PAGES``; the app
shows the pages whose ``roles`` contain the user's role and whose ``module`` the user's role and
subscription tier open (``reprotech_core.roles.modules_for``). A page's ``build`` returns its
Panel layout; a page that holds state (widgets, callbacks, the data they act on) keeps it in a
``panel.viewable.Viewer`` with ``param`` parameters, and a page of pure layout is a function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reprotech_core.db.session import Database, Identity
from reprotech_core.roles import Role
from reprotech_core.settings import Settings

if TYPE_CHECKING:
    import panel as pn
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class PageContext:
    """What a page knows about its user and where the data is; built by the service only."""

    database: Database
    identity: Identity
    settings: Settings

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read/write unit of work as the signed-in user (RLS applies)."""
        with self.database.session(self.identity) as s:
            yield s


@dataclass(frozen=True)
class Page:
    """One page of the dashboards: reachable at ``?page=<slug>`` for the roles it names."""

    slug: str
    title: str
    roles: frozenset[Role]
    module: str
    build: Callable[[PageContext], pn.viewable.Viewable]
