"""Demo data for the embedded default, made the way real data arrives.

A simulated herd (reprotech_core.genomics.simulate: pedigree with AI sires, recombination,
missing calls, genotyping errors, wrongly recorded sires) is dealt to farm customers and the
company's AI-sire catalogue (:func:`reprotech_core.store.simulated.plan_herd`). The catalogue
is placed directly (it is the company's own); the farm customers, their herds and one account
per role are created as an admin would. Each farm's herd register, performance records and
sample sheet then arrive as files under ``var/onboarding/<farm>/`` and go through the real
imports (:mod:`reprotech_core.demo_onboarding`), and the genotypes arrive in the lab inbox as
two Illumina FinalReport exports plus the chip's manifest, for the daily jobs to ingest, QC and
report like real batches. Behind the recorded pedigree lies a reproduction history
(inseminations with straws from each herd's tank, pregnancy diagnoses, calvings, losses), plus a
flush, an OPU/IVF session and embryo transfers per farm, and service orders invoiced for one
month; the first farm is on the enterprise tier, so its admin sees the financial module.

Deterministic by seed and idempotent: every step checks what exists and does only what is
missing; the imports run again on every load and report nothing to write. Passwords are
generated once into ``var/secrets`` (0600), never committed.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache
from itertools import groupby
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.lab import GenotypingBatch
from data_models.tenancy import Customer
from reprotech_core import finance
from reprotech_core.accounts import (
    NewUser,
    assign,
    create_customer,
    create_herd,
    create_user,
    set_tier,
)
from reprotech_core.animals import register_animals
from reprotech_core.db.session import Database, Identity
from reprotech_core.demo_onboarding import farm_files, onboard, write_farm_files
from reprotech_core.genomics.finalreport_write import write_finalreport
from reprotech_core.genomics.manifest import PanelManifest, write_manifest
from reprotech_core.genomics.simulate import SimulatedHerd, simulate_herd
from reprotech_core.reproduction import entry as repro
from reprotech_core.reproduction.book import HerdBook
from reprotech_core.reproduction.records import (
    CalvingEntry,
    DiagnosisEntry,
    EmbryoGrade,
    FlushEntry,
    IvfEntry,
    RecordRefused,
    TransferEntry,
    day_of,
)
from reprotech_core.reproduction.simulate import simulate_history
from reprotech_core.roles import Role
from reprotech_core.settings import Settings
from reprotech_core.store.samples import register_samples
from reprotech_core.store.simulated import (
    HerdPlan,
    as_lab_file,
    interbull_id,
    plan_herd,
    samples_of,
)

REFERENCE_CODE = "ai-sires"
CHIP = "DemoSNP"


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
    lab_files: list[Path]
    imports: list[str]  # one summary line per imported file ("farm01: register.csv: ...")


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


@cache
def simulated_herd(n_customers: int, per_customer: int, n_snps: int, seed: int) -> SimulatedHerd:
    """The demo's herd; its herds are dealt to the farms in turn, so every farm gets some."""
    herd = simulate_herd(n_animals=n_customers * per_customer, n_snps=n_snps, seed=seed,
                         n_customers=n_customers, n_herds=2 * n_customers)
    ped = herd.pedigree.copy()
    owner = {h: f"CUST{i % n_customers:02d}" for i, h in enumerate(sorted(ped["herd"].unique()))}
    ped["customer"] = ped["herd"].map(owner)
    return replace(herd, pedigree=ped)


def _herd(settings: Settings) -> SimulatedHerd:
    return simulated_herd(settings.demo_customers, settings.demo_animals_per_customer,
                          settings.demo_snps, settings.demo_seed)


def _plan(settings: Settings) -> HerdPlan:
    """The herd dealt to the farms (``farm01``, ...) and the catalogue, with Interbull IDs."""
    codes = {f"CUST{i:02d}": farm_code(i) for i in range(settings.demo_customers)}
    return plan_herd(_herd(settings), customer_codes=codes, official_id=interbull_id)


def _register(db: Database, actor: Identity, settings: Settings, password: str) -> bool:
    """What the company sets up before a customer's files arrive: its own AI-sire catalogue
    (animals and semen samples, by direct calls: it is the company's, not an import), and,
    as an admin would, each farm customer with its herds, and the accounts."""
    with db.session(actor, reason="demo data") as session:
        if session.scalar(select(Customer.id).where(Customer.code == REFERENCE_CODE)):
            return False
        plan = _plan(settings)
        ref = create_customer(session, code=REFERENCE_CODE, name="AI sire catalogue",
                              tier="reference", kind="reference")
        register_animals(session, ref, plan.reference)
        register_samples(session, ref, samples_of(plan.reference, "BC"))
        for code, herds in plan.herds.items():
            farm = create_customer(session, code=code, name=f"Farm {code}",
                                   tier="professional", kind="farm")
            for h in herds:
                create_herd(session, customer=farm, code=h, name=h.title())
        for account in accounts(settings.demo_customers):
            create_user(session, NewUser(
                username=account.username,
                display_name=account.username.replace("-", " ").title(),
                role=account.role, customer_code=account.customer, password=password))
        assign(session, "vet", farm_code(0))
        assign(session, "vet", farm_code(min(1, settings.demo_customers - 1)))
        assign(session, "tech", farm_code(0))
    return True


def _onboard(db: Database, actor: Identity, settings: Settings) -> list[str]:
    """Each farm's register, records and sample sheet, written under ``var/onboarding`` and
    imported (:mod:`reprotech_core.demo_onboarding`); every second farm's register is Excel."""
    plan, lines = _plan(settings), []
    for i, farm in enumerate(plan.farms):
        files = write_farm_files(_herd(settings), plan, farm,
                                 farm_files(settings, farm, excel=i % 2 == 1))
        lines += onboard(db, actor, farm, files, max_bytes=settings.upload_max_mb * 2**20)
    return lines


def _batches(settings: Settings) -> list[tuple[str, slice]]:
    """Two lab batches: the older generations first, the young animals later."""
    n = settings.demo_customers * settings.demo_animals_per_customer
    return [("DEMO-2026-01", slice(0, n // 2)), ("DEMO-2026-02", slice(n // 2, n))]


def write_lab_files(db: Database, actor: Identity, settings: Settings) -> list[Path]:
    """Put the demo's genotyping exports (and the chip manifest) in the lab inbox, as the
    genotyping lab would; batches already stored or already waiting are skipped."""
    inbox = settings.var_dir / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in _batches(settings):
        path = inbox / f"{name}_FinalReport.txt"
        with db.session(actor) as session:
            stored = session.scalar(select(GenotypingBatch.id).where(GenotypingBatch.name == name))
        if stored or path.exists():
            continue
        herd = _herd(settings)
        manifest = PanelManifest(chip=CHIP, snps=herd.genotypes.snps)
        if not (inbox / f"{CHIP}.csv").exists():
            written.append(write_manifest(manifest, inbox / f"{CHIP}.csv"))
        lab = as_lab_file(herd.genotypes, np.arange(len(herd.genotypes.samples))[rows])
        written.append(write_finalreport(lab, path, chip=CHIP, seed=settings.demo_seed))
    return written


FLUSH_GRADES = [EmbryoGrade(6, 1), EmbryoGrade(7, 1), EmbryoGrade(5, 2), EmbryoGrade(6, 2),
                EmbryoGrade(4, 3), EmbryoGrade(1, 4), EmbryoGrade(2, 4)]


def _farm_animals(session, customer: Customer) -> tuple[pd.DataFrame, dict]:
    """A farm's animals with their recorded parents' official IDs, and its sires' birth dates."""
    rows = session.execute(text("""
        SELECT a.official_id, a.sex, a.birth_date, h.code AS herd, s.official_id AS sire,
               d.official_id AS dam, s.birth_date AS sire_born
          FROM core.animals a LEFT JOIN core.herds h ON h.id = a.herd_id
          LEFT JOIN core.animals s ON s.id = a.sire_id LEFT JOIN core.animals d ON d.id = a.dam_id
         WHERE a.customer_id = :c ORDER BY a.official_id"""), {"c": customer.id}).all()
    frame = pd.DataFrame(rows, columns=["official_id", "sex", "birth_date", "herd", "sire", "dam",
                                        "sire_born"])
    return frame, dict(zip(frame["sire"].dropna(), frame.dropna(subset=["sire"])["sire_born"]))


def _reproduction(db: Database, actor: Identity, settings: Settings) -> bool:
    """The farms' reproduction history, embryo work, orders and one invoiced month."""
    with db.session(actor, reason="demo data") as session:
        if session.scalar(text("SELECT EXISTS (SELECT 1 FROM core.inseminations)")):
            return False
        farms = session.scalars(select(Customer).where(Customer.kind == "farm",
                                                       Customer.code.like("farm%"))
                                .order_by(Customer.code)).all()
        today = date.today()
        for i, customer in enumerate(farms):
            farm = write_history(session, customer, seed=settings.demo_seed + i, today=today,
                                 reserve=(_flush_day(today), 5))
            _embryo_work(session, customer, farm, today)
        if farms:
            set_tier(session, farms[0].code, "enterprise")
            finance.invoice_month(session, settings, _flush_day(today).strftime("%Y-%m"),
                                  issued_on=today)
    return True


@dataclass(frozen=True)
class FarmHistory:
    animals: pd.DataFrame  # the farm's registered animals before the history (see _farm_animals)
    bulls: dict[str, date]  # birth dates of the sires used
    reserved: list[str]  # heifers left free of records (``reserve`` of simulate_history)


def write_history(session: Session, customer: Customer, *, seed: int, today: date,
                  reserve: tuple[date, int] | None = None, strict: bool = True) -> FarmHistory:
    """Simulate a farm's breeding history over its registered animals and record it through
    the herd book, every rule checked: a refusal is a bug in the simulator, raised as such
    (``strict=False`` leaves refused records out, for test herds that are not real herds).

    The history is written a year at a time: a calf registered by a calving gets an id when its
    year is written, and its own records (bred at 13 months or later) are judged against it."""
    animals, bulls = _farm_animals(session, customer)
    history = simulate_history(animals, bulls, seed=seed, today=today, reserve=reserve)
    if history.receipts:
        repro.receive_semen_many(session, customer, history.receipts, today=today)
    names = [*animals["official_id"], *bulls]
    events = sorted(history.events, key=_event_order)
    for _, year in groupby(events, key=lambda e: _event_order(e)[0].year):
        year = list(year)
        calves = [e.calf for e in year if isinstance(e, CalvingEntry) and e.calf]
        book = HerdBook.load(session, customer, animals=names + calves, today=today)
        accepted = []
        for e in year:
            verdict = repro.check(book, e)
            if verdict.problems:
                if strict:
                    raise RecordRefused(verdict.problems)
                continue
            book.apply(e, verdict)
            accepted.append((e, verdict))
        repro.write_accepted(session, customer, book, accepted)
        names += calves
    return FarmHistory(animals, bulls, history.reserved)


def _event_order(e: object) -> tuple:
    """Date order; within a day services, then calvings, diagnoses and exits."""
    kind = type(e).__name__
    return day_of(e), kind == "CalvingEntry", kind == "DiagnosisEntry", kind == "ExitEntry"


def _flush_day(today: date) -> date:
    return date(today.year, today.month, 1) - timedelta(days=120)


def _embryo_work(session, customer: Customer, farm: FarmHistory, today: date) -> None:
    """A flush (fresh transfers the same day, a frozen one later), an OPU/IVF session, their
    pregnancy diagnoses, and a flush ordered for next week; the donors and recipients are heifers the
    simulated history left unbred for this."""
    day = _flush_day(today)
    cows = farm.reserved
    sires = sorted(b for b, born in farm.bulls.items() if born and (day - born).days > 400)
    if len(cows) < 5 or not sires:
        return
    donor, ivf_donor, *recipients = cows[:5]
    repro.record_flush(session, customer, FlushEntry(donor, sires[0], day, FLUSH_GRADES,
                                                     "fresh", "TANK-1", "C7", "T-Anna"))
    repro.record_ivf_session(session, customer, IvfEntry(
        ivf_donor, sires[-1], day + timedelta(days=14), 18, 13, 5,
        [EmbryoGrade(7, 1), EmbryoGrade(6, 2), EmbryoGrade(7, 2)], "frozen", "TANK-1", "C8"))
    plan = [(recipients[0], repro.embryo_code(donor, "F", day, 1), day, "fresh"),
            (recipients[1], repro.embryo_code(donor, "F", day, 2), day, "fresh"),
            (recipients[2], repro.embryo_code(ivf_donor, "V", day + timedelta(days=14), 1),
             day + timedelta(days=30), "frozen")]
    for n, (cow, code, when, kind) in enumerate(plan):
        repro.record_transfer(session, customer, TransferEntry(cow, code, when, kind, "T-Ben"))
        check = when + timedelta(days=35)
        repro.record_diagnosis(session, customer, DiagnosisEntry(
            cow, check, "ultrasound", "pregnant" if n != 1 else "open",
            35 if n != 1 else None, "T-Ben"))
    # The work recorded is ordered by the invoicing (finance.orders_from_work); a staff order
    # for next week's flush shows the other way in.
    finance.place_order(session, customer, finance.OrderEntry(
        "embryo_flush", today - timedelta(days=3), cows[0], 1, f"DEMO-{customer.code}-next"))


def load(db: Database, actor: Identity, settings: Settings) -> DemoSummary:
    """Create whatever part of the demo records is missing, import the farms' files (again:
    a second load reports nothing to write) and drop the lab files in the inbox; the daily
    jobs ingest, QC and report them."""
    password = demo_password(settings)
    created = _register(db, actor, settings, password)
    imports = _onboard(db, actor, settings)
    _reproduction(db, actor, settings)
    files = write_lab_files(db, actor, settings)
    with db.session(actor) as session:
        customers = session.scalar(select(func.count()).select_from(Customer)) or 0
        animals = session.scalar(select(func.count()).select_from(Animal)) or 0
    return DemoSummary(created, customers, animals, accounts(settings.demo_customers),
                       password, files, imports)


def staff_second_factors(db: Database, actor: Identity, settings: Settings) -> dict[str, str]:
    """TOTP secrets of the demo's staff accounts (the hub requires a second factor of staff).

    Enrolled once and kept in a 0600 file beside the demo password, so ``reprotech demo code``
    can show the current code to whoever runs the demo; real staff enrol with
    ``reprotech user totp`` and keep the secret in their authenticator app only.
    """
    import json

    from reprotech_core.signin import enrol_totp

    path: Path = settings.secrets_dir / "demo-totp.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    staff = [a.username for a in accounts(settings.demo_customers) if not a.role.customer_scoped]
    missing = [name for name in staff if name not in known]
    if missing:
        import pyotp

        with db.session(actor, reason="demo second factors") as session:
            for name in missing:
                known[name] = pyotp.parse_uri(enrol_totp(session, name)).secret
        settings.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(known, handle)
        tmp.replace(path)
    return known
