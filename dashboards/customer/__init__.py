"""The customer herd portal: the pages a breeder (and their vet) opens.

Each page is a thin layout over ``reprotech_core.portal``; every query runs as the signed-in
user, so row security decides what a page can show. Module gating: the herd, animals, animal
and download pages need ``genomics`` (every tier), rankings and mating need ``breeding``;
reproduction KPIs on the overview appear with ``reproduction``. The herd files page (a
register or records file in, dry run first) needs ``genomics`` too, so a customer admin on
every tier and the customer's vets and technicians open it; a customer user does not (who
may import for whom is ``animals:write`` and row security, in ``reprotech_core.herd.web_upload``).
Record events (``reproduction``): a customer admin or user records their own herd's
heats seen, inseminations, calvings and exits with the staff page's forms (``events.py`` says who and why).
The reports page lists the nightly herd reports delivered to the farm (PDF) and holds each
user's own email choices. The audit trail: a customer admin reads their farm's changes, an administrator everyone's
(row security on ``audit.log``).
"""

from __future__ import annotations

from dashboards.customer import (
    animal,
    animals,
    audit,
    downloads,
    events,
    herd_files,
    invoices,
    mating,
    my_data,
    overview,
    rankings,
    reports,
    reproduction,
    users,
)
from dashboards.pages import Page
from reprotech_core.roles import Role

CUSTOMERS = frozenset({Role.CUSTOMER_ADMIN, Role.CUSTOMER_USER})
FIELD_STAFF = frozenset({Role.VETERINARIAN, Role.TECHNICIAN})
ADMINS = frozenset({Role.ADMIN, Role.SUPER_ADMIN})

PAGES: list[Page] = [
    Page("overview", "Herd overview", CUSTOMERS | FIELD_STAFF, "genomics", overview.build),
    Page("animals", "Animals", CUSTOMERS | FIELD_STAFF, "genomics", animals.build),
    Page("animal", "Animal", CUSTOMERS | FIELD_STAFF, "genomics", animal.build),
    Page("rankings", "Rankings", CUSTOMERS | {Role.VETERINARIAN}, "breeding", rankings.build),
    Page("mating", "Mating advice", CUSTOMERS | {Role.VETERINARIAN}, "breeding", mating.build),
    Page(reproduction.SLUG, "Reproduction", CUSTOMERS | {Role.VETERINARIAN}, "reproduction",
         reproduction.build),
    Page(events.SLUG, "Record events", CUSTOMERS, events.MODULE, events.build),
    Page("downloads", "Downloads", CUSTOMERS | FIELD_STAFF, "genomics", downloads.build),
    Page(invoices.SLUG, "Invoices", frozenset({Role.CUSTOMER_ADMIN}) | ADMINS, "financial",
         invoices.build),
    Page(reports.SLUG, "Reports", CUSTOMERS | {Role.VETERINARIAN}, "genomics", reports.build),
    Page(herd_files.SLUG, "Herd files", frozenset({Role.CUSTOMER_ADMIN}) | FIELD_STAFF | ADMINS,
         "genomics", herd_files.build),
    Page(users.SLUG, "Users of my farm", frozenset({Role.CUSTOMER_ADMIN}), "genomics",
         users.build),
    Page(my_data.SLUG, "My farm's data", frozenset({Role.CUSTOMER_ADMIN}), "genomics",
         my_data.build),
    Page(audit.SLUG, "Audit trail", frozenset({Role.CUSTOMER_ADMIN}) | ADMINS, "genomics",
         audit.build),
]
