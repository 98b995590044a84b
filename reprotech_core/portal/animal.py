"""One animal's page: everything a breeder asks about a single cow or bull.

Looked up under the reader's row security: an animal of another customer is not visible and
reads exactly like an id that does not exist (``NotFound``), so a forged URL learns nothing.
Ancestors are shown as far as the reader may see them; an ancestor in another herd that the
reader cannot see is shown as "not recorded", never by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.errors import NotFound
from reprotech_core.results.released import released_results, released_run

#: Pedigree positions, three generations: the animal's parents, grandparents, great-grandparents.
PEDIGREE_POSITIONS = ("sire", "dam",
                      "sire.sire", "sire.dam", "dam.sire", "dam.dam",
                      "sire.sire.sire", "sire.sire.dam", "sire.dam.sire", "sire.dam.dam",
                      "dam.sire.sire", "dam.sire.dam", "dam.dam.sire", "dam.dam.dam")


@dataclass(frozen=True)
class Ancestor:
    position: str
    id: int
    official_id: str
    name: str | None
    breed: str
    birth_date: date | None


@dataclass
class AnimalPage:
    id: int
    customer_id: int
    official_id: str
    name: str | None
    sex: str
    breed: str
    birth_date: date | None
    herd: str | None
    reference: bool  # a bull of the shared AI-sire catalogue
    left: tuple[date, str, str | None] | None = None  # exit day, reason, cause
    pedigree: dict[str, Ancestor] = field(default_factory=dict)
    genotype: dict | None = None  # call_rate, panel, qc decision, reasons, decided_at, batch
    parentage: pd.DataFrame = field(default_factory=pd.DataFrame)
    results: pd.DataFrame = field(default_factory=pd.DataFrame)
    inbreeding: dict | None = None  # f_genomic, f_pedigree
    reproduction: pd.DataFrame = field(default_factory=pd.DataFrame)
    progeny: int = 0

    @property
    def generations_known(self) -> int:
        """How many generations of the pedigree have at least one recorded ancestor."""
        return max((p.position.count(".") + 1 for p in self.pedigree.values()), default=0)


def _animal(session: Session, animal_id: int):
    row = session.execute(text(
        """
        SELECT a.id, a.customer_id, a.official_id, a.name, a.sex, a.breed, a.birth_date,
               a.sire_id, a.dam_id, h.code AS herd, c.kind = 'reference' AS reference,
               x.exit_date, x.reason, x.cause
          FROM core.animals a JOIN core.customers c ON c.id = a.customer_id
          LEFT JOIN core.herds h ON h.id = a.herd_id
          LEFT JOIN core.animal_exits x ON x.animal_id = a.id
         WHERE a.id = :a
        """), {"a": animal_id}).one_or_none()
    if row is None:
        raise NotFound(f"animal {animal_id}")
    return row


def three_generations(session: Session, sire_id: int | None, dam_id: int | None
                      ) -> dict[str, Ancestor]:
    """Ancestors by position, three generations, those the reader may see."""
    found: dict[str, Ancestor] = {}
    frontier = {"sire": sire_id, "dam": dam_id}
    for _generation in range(3):
        wanted = {pos: aid for pos, aid in frontier.items() if aid is not None}
        if not wanted:
            break
        rows = {r.id: r for r in session.execute(text(
            "SELECT id, official_id, name, breed, birth_date, sire_id, dam_id "
            "FROM core.animals WHERE id = ANY(:ids)"), {"ids": list(set(wanted.values()))})}
        frontier = {}
        for pos, aid in wanted.items():
            r = rows.get(aid)
            if r is None:  # not visible to this reader: shown as not recorded
                continue
            found[pos] = Ancestor(pos, r.id, r.official_id, r.name, r.breed, r.birth_date)
            frontier[f"{pos}.sire"] = r.sire_id
            frontier[f"{pos}.dam"] = r.dam_id
    return found


def _genotype(session: Session, animal_id: int, customer_id: int) -> dict | None:
    row = session.execute(text(
        """
        SELECT g.call_rate, g.n_snps, p.name AS panel, g.created_at AS genotyped_at,
               q.decision, q.reasons, q.decided_at, q.heterozygosity
          FROM core.genotypes g JOIN core.snp_panels p ON p.id = g.panel_id
          LEFT JOIN core.sample_qc_latest q
                 ON q.sample_id = g.sample_id AND q.customer_id = :c
         WHERE g.animal_id = :a ORDER BY g.created_at DESC LIMIT 1
        """), {"a": animal_id, "c": customer_id}).mappings().one_or_none()
    return dict(row) if row is not None else None


def _reproduction(session: Session, animal_id: int) -> pd.DataFrame:
    """Services, diagnoses, calvings, flushes and OPU sessions of a cow, newest first."""
    rows = session.execute(text(
        """
        SELECT s.service_date AS date,
               CASE s.kind WHEN 'ai' THEN 'insemination' ELSE 'embryo transfer' END AS event,
               concat_ws(' ', 'sire ' || b.official_id, 'by ' || s.technician) AS detail
          FROM core.reproduction_services s LEFT JOIN core.animals b ON b.id = s.sire_id
         WHERE s.cow_id = :a
        UNION ALL
        SELECT diagnosis_date, 'pregnancy diagnosis',
               concat_ws(' ', result, '(' || method || ')',
                         CASE WHEN days_pregnant IS NOT NULL
                              THEN days_pregnant || ' days' END)
          FROM core.pregnancy_diagnoses WHERE cow_id = :a
        UNION ALL
        SELECT calving_date, 'calving',
               concat_ws(' ', 'calf ' || calf_sex, 'ease ' || ease,
                         CASE WHEN stillborn THEN 'stillborn' END)
          FROM core.calvings WHERE dam_id = :a
        UNION ALL
        SELECT flush_date, 'embryo flush', 'sire ' || coalesce(s.official_id, 'unknown')
          FROM core.embryo_flushes f LEFT JOIN core.animals s ON s.id = f.sire_id
         WHERE f.donor_id = :a
        UNION ALL
        SELECT opu_date, 'OPU / IVF', oocytes_collected || ' oocytes, ' || blastocysts
               || ' blastocysts'
          FROM core.ivf_sessions WHERE donor_id = :a
        ORDER BY 1 DESC, 2
        """), {"a": animal_id}).all()
    return pd.DataFrame(rows, columns=["date", "event", "detail"])


def animal_page(session: Session, animal_id: int) -> AnimalPage:
    """Everything the animal page shows; ``NotFound`` when the reader may not see the animal."""
    a = _animal(session, animal_id)
    page = AnimalPage(a.id, a.customer_id, a.official_id, a.name, a.sex, a.breed, a.birth_date,
                      a.herd, bool(a.reference),
                      (a.exit_date, a.reason, a.cause) if a.exit_date else None)
    page.pedigree = three_generations(session, a.sire_id, a.dam_id)
    page.genotype = _genotype(session, a.id, a.customer_id)
    run = released_run(session, a.customer_id)
    if run is not None:
        page.results = released_results(session, a.customer_id, animal_id=a.id)[
            ["trait", "gebv", "reliability", "basis"]].reset_index(drop=True)
        inbreeding = session.execute(text(
            "SELECT f_genomic, f_pedigree FROM core.inbreeding WHERE animal_id = :a "
            "AND run_id = :r"), {"a": a.id, "r": run}).mappings().one_or_none()
        page.inbreeding = dict(inbreeding) if inbreeding is not None else None
        page.parentage = pd.DataFrame(session.execute(text(
            """
            SELECT p.parent_role AS parent, r.official_id AS recorded, p.status,
                   p.informative_snps, p.opposing_homozygotes, s.official_id AS suggested
              FROM core.parentage_results p
              LEFT JOIN core.animals r ON r.id = p.recorded_parent_id
              LEFT JOIN core.animals s ON s.id = p.suggested_parent_id
             WHERE p.animal_id = :a AND p.run_id = :r ORDER BY p.parent_role DESC
            """), {"a": a.id, "r": run}).all(),
            columns=["parent", "recorded", "status", "informative_snps",
                     "opposing_homozygotes", "suggested"])
    if page.sex == "F" and not page.reference:
        page.reproduction = _reproduction(session, a.id)
    page.progeny = int(session.scalar(text(
        "SELECT count(*) FROM core.animals WHERE sire_id = :a OR dam_id = :a"), {"a": a.id}))
    return page
