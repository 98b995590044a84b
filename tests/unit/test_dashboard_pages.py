"""The dashboard registries: one page per slug, and every page names a role and a module."""

from dashboards.app import registered_pages
from reprotech_core.roles import Role

MODULES = {"genomics", "breeding", "reproduction", "financial", "research", "lab", "admin"}


def test_slugs_are_unique_and_pages_are_gated():
    pages = registered_pages()
    slugs = [p.slug for p in pages]
    assert len(slugs) == len(set(slugs)), slugs
    for page in pages:
        assert page.roles and all(isinstance(r, Role) for r in page.roles), page.slug
        assert page.module in MODULES, (page.slug, page.module)


def test_customers_get_no_staff_page():
    customer_roles = {Role.CUSTOMER_ADMIN, Role.CUSTOMER_USER}
    from dashboards import entry, staff

    for page in [*staff.PAGES, *entry.PAGES]:
        assert not page.roles & customer_roles, page.slug
