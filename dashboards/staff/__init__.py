"""The staff views: pages for vets, technicians, lab operations, researchers and admins.

Each page is a thin layout over :mod:`reprotech_core.staffviews`; what a role may open is
declared here (``roles``, ``module``) and enforced again by the queries (permissions) and by
PostgreSQL (row security), so a page reached by a forged URL shows "Not found." and nothing
else.
"""

from __future__ import annotations

from dashboards.pages import Page
from dashboards.staff import (
    accounts,
    customers,
    data_requests,
    evaluations,
    finance,
    jobs,
    lab,
    lab_files,
    population,
    system,
)
from reprotech_core.roles import Role

PAGES: list[Page] = [
    Page(slug=customers.SLUG, title="My customers",
         roles=frozenset({Role.VETERINARIAN, Role.TECHNICIAN}), module="reproduction",
         build=customers.build),
    Page(slug=lab.SLUG, title="Lab batches",
         roles=frozenset({Role.LAB_OPS, Role.TECHNICIAN, Role.ADMIN, Role.SUPER_ADMIN}),
         module="lab", build=lab.build),
    Page(slug=lab_files.SLUG, title="Lab files",
         roles=frozenset({Role.LAB_OPS, Role.TECHNICIAN, Role.ADMIN, Role.SUPER_ADMIN}),
         module="lab", build=lab_files.build),
    Page(slug=jobs.SLUG, title="Jobs",
         roles=frozenset({Role.LAB_OPS, Role.ADMIN, Role.SUPER_ADMIN}), module="lab",
         build=jobs.build),
    Page(slug=evaluations.SLUG, title="Evaluations",
         roles=frozenset({Role.LAB_OPS, Role.RESEARCHER, Role.ADMIN, Role.SUPER_ADMIN}),
         module="genomics", build=evaluations.build),
    Page(slug=population.SLUG, title="Population",
         roles=frozenset({Role.RESEARCHER, Role.ADMIN, Role.SUPER_ADMIN}), module="research",
         build=population.build),
    Page(slug=accounts.SLUG, title="Customers and staff",
         roles=frozenset({Role.ADMIN, Role.SUPER_ADMIN}), module="admin", build=accounts.build),
    Page(slug=data_requests.SLUG, title="Data requests",
         roles=frozenset({Role.ADMIN, Role.SUPER_ADMIN}), module="admin",
         build=data_requests.build),
    Page(slug=finance.SLUG, title="Finance",
         roles=frozenset({Role.ADMIN, Role.SUPER_ADMIN}), module="financial",
         build=finance.build),
    Page(slug=system.SLUG, title="System",
         roles=frozenset({Role.ADMIN, Role.SUPER_ADMIN}), module="admin", build=system.build),
]
