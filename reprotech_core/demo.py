"""Demo data for the embedded default: a reference AI-sire catalogue, farm customers with
herds and multi-generation pedigrees, and one account per role.

Deterministic by seed and idempotent: a second load finds the demo customers and changes
nothing. Passwords of the demo accounts are generated once into ``var/secrets`` (0600) and
printed by ``reprotech up``; they are never committed.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from data_models.animals import Animal
from data_models.tenancy import Customer
from reprotech_core.accounts import (
    NewUser,
    assign,
    create_customer,
    create_herd,
    create_user,
)
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.db.session import Database, Identity
from reprotech_core.roles import Role
from reprotech_core.settings import Settings

REFERENCE_CODE = "ai-sires"
BREEDS = ("Holstein", "Jersey", "Brown Swiss")


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    customer: str | None


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    customers: int
    animals: int
    accounts: list[DemoAccount]
    password: str


def demo_password(settings: Settings) -> str:
    """The demo accounts' shared password, generated once into a 0600 file."""
    path: Path = settings.secrets_dir / "demo-password"
    if not path.exists():
        settings.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("demo-" + secrets.token_urlsafe(9))
    return path.read_text().strip()


def farm_code(i: int) -> str:
    return f"farm{i + 1:02d}"


def accounts(n_customers: int) -> list[DemoAccount]:
    staff = [
        DemoAccount("superadmin", Role.SUPER_ADMIN, None),
        DemoAccount("admin", Role.ADMIN, None),
        DemoAccount("vet", Role.VETERINARIAN, None),
        DemoAccount("tech", Role.TECHNICIAN, None),
        DemoAccount("researcher", Role.RESEARCHER, None),
        DemoAccount("labops", Role.LAB_OPS, None),
    ]
    customers = []
    for i in range(n_customers):
        code = farm_code(i)
        customers += [
            DemoAccount(f"{code}-admin", Role.CUSTOMER_ADMIN, code),
            DemoAccount(f"{code}-user", Role.CUSTOMER_USER, code),
        ]
    return staff + customers


def _sires(rng: np.random.Generator, n: int) -> list[AnimalRecord]:
    return [
        AnimalRecord(
            official_id=f"USA{840_000_000 + k:09d}",
            name=f"AI Sire {k + 1}",
            breed=BREEDS[k % len(BREEDS)],
            sex="M",
            birth_date=date(2012, 1, 1) + timedelta(days=int(rng.integers(0, 4 * 365))),
        )
        for k in range(n)
    ]


def _herd_animals(
    rng: np.random.Generator, prefix: str, n: int, sires: list[AnimalRecord], herds: list[str]
) -> list[AnimalRecord]:
    """Founder cows born 2015-2016, then daughters and sons by AI sires out of herd cows."""
    breed = BREEDS[int(rng.integers(len(BREEDS)))]
    n_founders = max(1, n // 4)
    animals: list[AnimalRecord] = []
    for k in range(n_founders):
        animals.append(
            AnimalRecord(
                official_id=f"{prefix}{k:05d}",
                breed=breed,
                sex="F",
                birth_date=date(2015, 1, 1) + timedelta(days=int(rng.integers(0, 730))),
                herd_code=herds[k % len(herds)],
            )
        )
    cows = list(animals)
    for k in range(n_founders, n):
        dam = cows[int(rng.integers(len(cows)))]
        assert dam.birth_date is not None
        birth = dam.birth_date + timedelta(days=int(rng.integers(800, 1400)))
        eligible = [s for s in sires if s.birth_date and s.birth_date < birth]
        sire = eligible[int(rng.integers(len(eligible)))] if eligible else None
        sex = "F" if rng.random() < 0.8 else "M"
        calf = AnimalRecord(
            official_id=f"{prefix}{k:05d}",
            breed=breed,
            sex=sex,
            birth_date=birth,
            herd_code=dam.herd_code,
            sire=sire.official_id if sire else None,
            dam=dam.official_id,
        )
        animals.append(calf)
        if sex == "F":
            cows.append(calf)
    return animals


def load(db: Database, actor: Identity, settings: Settings) -> DemoSummary:
    """Create the demo data unless it exists. One transaction: all or nothing."""
    password = demo_password(settings)
    n = settings.demo_customers
    wanted = accounts(n)
    with db.session(actor, reason="demo data") as session:
        exists = session.scalar(select(Customer.id).where(Customer.code == REFERENCE_CODE))
        if exists is None:
            rng = np.random.default_rng(settings.demo_seed)
            ref = create_customer(
                session, code=REFERENCE_CODE, name="Reprotech AI sire catalogue",
                tier="reference", kind="reference",
            )
            sires = _sires(rng, 12)
            register_animals(session, ref, sires)
            for i in range(n):
                code = farm_code(i)
                customer = create_customer(
                    session, code=code, name=f"Demo Farm {i + 1}", tier="professional"
                )
                herds = [f"{code}-h1", f"{code}-h2"]
                for h, herd in enumerate(herds):
                    create_herd(session, customer=customer, code=herd, name=f"Herd {h + 1}")
                register_animals(
                    session, customer,
                    _herd_animals(rng, f"DE{i + 1:02d}", settings.demo_animals_per_customer,
                                  sires, herds),
                )
            for account in wanted:
                create_user(
                    session,
                    NewUser(
                        username=account.username,
                        display_name=account.username.replace("-", " ").title(),
                        role=account.role,
                        customer_code=account.customer,
                        password=password,
                    ),
                )
            for code in (farm_code(0), farm_code(min(1, n - 1))):
                assign(session, "vet", code)
            assign(session, "tech", farm_code(0))
        customers = session.scalar(select(func.count()).select_from(Customer))
        animals = session.scalar(select(func.count()).select_from(Animal))
    return DemoSummary(exists is None, customers or 0, animals or 0, wanted, password)
