"""The core's commands of ``reprotech``: database, demo data, customers, users, settings, lab,
genotype files, evaluation, reproduction, performance records, orders, hub and operations.

The ``reprotech`` entry point itself is :mod:`reprotech.cli`, one layer above this package and
``jobs/``: it adds ``reprotech jobs`` and ``reprotech up`` (which runs the daily jobs), so the
core never imports ``jobs``. :func:`run` (from :mod:`process`) is what any entry point runs an app through.

Subcommands act as the platform's ``system`` user (the audit log records it and the OS
user), through the application login and row security like every other path; only
``db migrate`` and ``user db-login`` use the administrative login.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import func, select, text

from data_models.animals import Animal
from data_models.tenancy import Customer, User
from reprotech_core import accounts, demo
from reprotech_core.cli import (
    context,
    evaluation,
    genotypes,
    herd,
    lab,
    ops,
    records,
    reproduction,
)
from reprotech_core.cli import hub as hub_cli
from reprotech_core.cli.context import print_table, system_session
from reprotech_core.cli.process import run  # noqa: F401 - what entry points run an app through
from reprotech_core.db import logins
from reprotech_core.db.cluster import Cluster
from reprotech_core.db.migrate import admin_url, app_url, head_revision, migrate
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import ReprotechError
from reprotech_core.roles import Role
from reprotech_core.settings import Settings, settings_markdown

app = typer.Typer(
    help="The core's commands (the `reprotech` command adds jobs and up: reprotech/cli.py).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The platform database (embedded PostgreSQL by default).",
                     no_args_is_help=True)
demo_app = typer.Typer(help="Demo data for trying the platform.", no_args_is_help=True)
customer_app = typer.Typer(help="Customers (tenants) and their subscription tiers.",
                           no_args_is_help=True)
user_app = typer.Typer(help="Users, roles, staff assignments and notebook logins.",
                       no_args_is_help=True)
settings_app = typer.Typer(help="Show and document the settings.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(customer_app, name="customer")
app.add_typer(user_app, name="user")
app.add_typer(settings_app, name="settings")
app.add_typer(lab.app, name="lab")
app.add_typer(genotypes.app, name="geno")
app.add_typer(evaluation.app, name="eval")
app.add_typer(reproduction.app, name="repro")
app.add_typer(reproduction.orders_app, name="orders")
app.add_typer(herd.app, name="herd")
app.add_typer(records.app, name="records")
app.add_typer(hub_cli.app, name="hub")
app.add_typer(ops.app, name="ops")

console = Console()
err = Console(stderr=True)


# Context ---------------------------------------------------------------------------------
_settings = context.settings
_database = context.database


def _system(db: Database) -> Identity:
    return db.identity("system")


# db ------------------------------------------------------------------------------------------
@db_app.command("start")
def db_start() -> None:
    """Start the embedded cluster (creating it on first use)."""
    settings = _settings()
    _require_embedded(settings)
    started = Cluster(settings).start()
    console.print("started" if started else "already running")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded cluster."""
    settings = _settings()
    _require_embedded(settings)
    console.print("stopped" if Cluster(settings).stop() else "not running")


@db_app.command("status")
def db_status() -> None:
    """Say where the database is, whether it runs, and its schema revision."""
    settings = _settings()
    if settings.embedded:
        cluster = Cluster(settings)
        state = "running" if cluster.running() else "stopped"
        console.print(f"embedded cluster in {settings.pg_data_dir}: {state}")
        if state == "stopped":
            raise typer.Exit(3)
    db = _database(settings, start=False)
    try:
        with db.engine.connect() as conn:
            version = conn.scalar(text("SHOW server_version"))
            revision = conn.scalar(text("SELECT version_num FROM core.alembic_version"))
    finally:
        db.dispose()
    console.print(f"PostgreSQL {version}; schema revision {revision} (newest {head_revision()})")


@db_app.command("migrate")
def db_migrate() -> None:
    """Bring the schema, roles and privileges up to date (idempotent)."""
    settings = _settings()
    if settings.embedded:
        Cluster(settings).start()
    console.print(f"schema at revision {migrate(settings)}")


@db_app.command("url")
def db_url(admin: Annotated[bool, typer.Option(help="The administrative login's URL")] = False
           ) -> None:
    """Print the connection URL (contains a password: for your terminal only)."""
    settings = _settings()
    console.print(admin_url(settings) if admin else app_url(settings), soft_wrap=True)


@db_app.command("psql")
def db_psql() -> None:
    """Open psql as the application login (you see nothing until you set app.user_id)."""
    import os

    from reprotech_core.db.cluster import bin_dir

    url = app_url(_settings()).replace("+psycopg", "")
    os.execv(bin_dir() / "psql", ["psql", url])


def _require_embedded(settings: Settings) -> None:
    if not settings.embedded:
        raise ReprotechError("REPROTECH_DATABASE_URL is set: the database is external, "
                             "start and stop it with its own tools")


# demo --------------------------------------------------------------------------------------
@demo_app.command("code")
def demo_code(username: str) -> None:
    """The current sign-in code of a demo staff account (demo only; real staff use an app)."""
    import pyotp

    settings = _settings()
    db = _database(settings)
    try:
        secret = demo.staff_second_factors(db, _system(db), settings).get(username)
    finally:
        db.dispose()
    if secret is None:
        err.print(f"{username!r} is not a demo staff account")
        raise typer.Exit(2)
    console.print(pyotp.TOTP(secret).now())


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo customers and accounts, import the farms' register, records and sample
    files from var/onboarding (a second load re-imports them: nothing to write)."""
    settings = _settings()
    db = _database(settings)
    try:
        with console.status("loading the demo farms through the imports…"):
            summary = demo.load(db, _system(db), settings)
    finally:
        db.dispose()
    for line in summary.imports:
        console.print(f"imported {escape(line)}", highlight=False)
    console.print(
        f"{'loaded' if summary.created else 'already present'}: {summary.customers} customers, "
        f"{summary.animals} animals, {len(summary.accounts)} accounts; "
        f"{len(summary.lab_files)} new lab file(s) in the inbox (run the lab-ingest job)"
    )


# customer ----------------------------------------------------------------------------------
@customer_app.command("add")
def customer_add(
    code: str, name: str,
    tier: Annotated[str, typer.Option(help="basic, professional or enterprise")] = "professional",
) -> None:
    """Create a customer."""
    with system_session() as session:
        customer = accounts.create_customer(session, code=code, name=name, tier=tier)
        console.print(f"customer {customer.code} (id {customer.id}, tier {customer.tier})")


@customer_app.command("set-tier")
def customer_set_tier(code: str, tier: str) -> None:
    """Change a customer's subscription tier (limits are enforced on the next write)."""
    with system_session() as session:
        accounts.set_tier(session, code, tier)
    console.print(f"customer {code} now on tier {tier}")


@customer_app.command("list")
def customer_list() -> None:
    """List customers with their tier and number of animals."""
    with system_session() as session:
        rows = session.execute(
            select(Customer.code, Customer.name, Customer.kind, Customer.tier,
                   func.count(Animal.id))
            .outerjoin(Animal, Animal.customer_id == Customer.id)
            .group_by(Customer.id).order_by(Customer.code)
        ).all()
    print_table(("code", "name", "kind", "tier", "animals"), rows)


# user --------------------------------------------------------------------------------------
@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[Role, typer.Option(help="Business role")],
    customer: Annotated[str | None, typer.Option(help="Customer code (customer roles)")] = None,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    password: Annotated[bool, typer.Option(help="Prompt for a local sign-in password")] = False,
) -> None:
    """Create a user with a role (customer roles need --customer)."""
    secret = getpass.getpass("password: ") if password else None
    with system_session() as session:
        accounts.create_user(session, accounts.NewUser(
            username=username, display_name=name or username, role=role,
            customer_code=customer, email=email, password=secret))
    console.print(f"user {username} ({role.value})")


@user_app.command("list")
def user_list() -> None:
    """List users, roles and customers."""
    with system_session() as session:
        rows = session.execute(
            select(User.username, User.role, Customer.code, User.active, User.db_login)
            .outerjoin(Customer, Customer.id == User.customer_id).order_by(User.username)
        ).all()
    print_table(("username", "role", "customer", "active", "notebook login"), rows)


@user_app.command("assign")
def user_assign(username: str, customer: str) -> None:
    """Assign a veterinarian or technician to a customer."""
    with system_session() as session:
        accounts.assign(session, username, customer)
    console.print(f"{username} assigned to {customer}")


@user_app.command("set-password")
def user_set_password(username: str) -> None:
    """Set a user's local sign-in password (prompted, at least 12 characters)."""
    secret = getpass.getpass("new password: ")
    with system_session() as session:
        accounts.set_password(session, username, secret)
    console.print(f"password of {username} set")


@user_app.command("totp")
def user_totp(
    username: str,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the second factor")] = False,
) -> None:
    """Enrol a staff user in TOTP for the hub's local sign-in; prints the otpauth URI once."""
    from reprotech_core import signin

    db = _database(_settings())
    try:
        with db.session(_system(db)) as session:
            if remove:
                signin.remove_totp(session, username)
                console.print(f"TOTP removed for {username}")
                return
            uri = signin.enrol_totp(session, username)
        console.print("add this to the user's authenticator app (shown once):")
        console.print(uri, soft_wrap=True, markup=False)
    finally:
        db.dispose()


@user_app.command("deactivate")
def user_deactivate(username: str) -> None:
    """Deactivate a user and drop their notebook login."""
    settings = _settings()
    db = _database(settings)
    try:
        with db.session(_system(db)) as session:
            accounts.deactivate(session, username)
        logins.revoke(admin_url(settings), username)
        console.print(f"{username} deactivated")
    finally:
        db.dispose()


@user_app.command("db-login")
def user_db_login(username: str) -> None:
    """Create or rotate a staff user's notebook SQL login and print its URL once."""
    settings = _settings()
    db = _database(settings)
    try:
        creds = accounts.provision_db_login(db, admin_url(settings), _system(db), username)
    finally:
        db.dispose()
    console.print(  # notebook logins connect to PostgreSQL directly, at db_host
        f"postgresql://{creds.login}:{creds.password}@{settings.db_host}:{settings.db_port}/"
        f"{settings.db_name}", soft_wrap=True)


# settings ----------------------------------------------------------------------------------
@settings_app.command("show")
def settings_show() -> None:
    """Print the effective settings (secrets masked)."""
    for name, value in _settings().model_dump().items():
        console.print(f"{name} = {'***' if 'url' in name and value else value}")


@settings_app.command("docs")
def settings_docs() -> None:
    """Print the settings reference (docs/settings.md is this output)."""
    sys.stdout.write(settings_markdown())


