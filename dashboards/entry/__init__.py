"""Data entry for vets and technicians: breeding events by form or by file, for their customers."""

from __future__ import annotations

from dashboards.entry.record import build
from dashboards.pages import Page
from reprotech_core.roles import Role

PAGES = [
    Page(
        slug="record",
        title="Record work",
        roles=frozenset({Role.VETERINARIAN, Role.TECHNICIAN, Role.ADMIN, Role.SUPER_ADMIN}),
        module="reproduction",
        build=build,
    ),
]
