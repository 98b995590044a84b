"""Genotype ingest, batch QC, snapshots and analytics against the real database."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import func, select, text

from data_models.lab import Genotype, GenotypingBatch, QcResult
from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.genomics.finalreport_write import write_finalreport
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.packing import unpack
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.store.analytics import connect
from reprotech_core.store.batch_qc import qc_batch
from reprotech_core.store.ingest import IngestRefused, ingest_finalreport
from reprotech_core.store.simulated import as_lab_file, place_herd
from reprotech_core.store.snapshots import write_snapshots


@pytest.fixture(scope="module")
def herd(db, system):
    herd = simulate_herd(n_animals=120, n_snps=600, seed=7, n_customers=2, n_herds=4,
                         wrong_sire_rate=0.1)
    with db.session(system) as s:
        placed = place_herd(s, herd, customer_codes={"CUST00": "g-one", "CUST01": "g-two"},
                            reference_code="g-ref")
    return herd, placed, PanelManifest(chip="SimChip600", snps=herd.genotypes.snps)


def stored(db, system, batch):
    with db.session(system) as s:
        return s.scalar(select(func.count()).select_from(Genotype).join(
            GenotypingBatch, GenotypingBatch.id == Genotype.batch_id)
            .where(GenotypingBatch.name == batch))


def test_ingest_is_all_or_nothing_and_idempotent(db, system, world, herd, tmp_path):
    herd, placed, manifest = herd
    lab = world.users["w-lab"]
    geno = herd.genotypes
    first = as_lab_file(geno, np.arange(0, 80))
    path = write_finalreport(first, tmp_path / "b1.txt", chip=manifest.chip)
    report = ingest_finalreport(db, lab, [path], manifest, batch_name="G-B1")
    assert report.stored == 80 and not report.already_ingested
    again = ingest_finalreport(db, lab, [path], manifest, batch_name="G-B1")
    assert again.already_ingested and again.stored == 80
    assert stored(db, system, "G-B1") == 80
    with db.session(system) as s:
        calls, animal = s.execute(text(
            "SELECT g.calls, a.official_id FROM core.genotypes g JOIN core.animals a "
            "ON a.id = g.animal_id JOIN core.genotyping_batches b ON b.id = g.batch_id "
            "WHERE b.name = 'G-B1' ORDER BY a.official_id LIMIT 1")).one()
    k = list(geno.samples).index(animal)
    np.testing.assert_array_equal(
        unpack(np.frombuffer(calls, np.uint8), len(geno.snps)),
        unpack(geno.packed[k], len(geno.snps)))


def test_unknown_samples_refuse_the_whole_batch(db, system, world, herd, tmp_path):
    herd, placed, manifest = herd
    part = as_lab_file(herd.genotypes, np.arange(80, 100))
    samples = part.samples.astype(object)
    samples[3] = "BC-NOT-REGISTERED"
    part = replace(part, samples=samples)
    path = write_finalreport(part, tmp_path / "b2.txt", chip=manifest.chip)
    with pytest.raises(IngestRefused) as refused:
        ingest_finalreport(db, world.users["w-lab"], [path], manifest, batch_name="G-B2")
    assert refused.value.report.unknown_samples == ["BC-NOT-REGISTERED"]
    assert stored(db, system, "G-B2") == 0
    report = ingest_finalreport(db, world.users["w-lab"], [path], manifest,
                                batch_name="G-B2", allow_unknown=True)
    assert report.stored == 19 and report.unknown_samples == ["BC-NOT-REGISTERED"]


def test_samples_genotyped_twice_are_refused(db, world, herd, tmp_path):
    herd, placed, manifest = herd
    path = write_finalreport(as_lab_file(herd.genotypes, np.arange(75, 85)), tmp_path / "b.txt",
                             chip=manifest.chip, seed=3)
    with pytest.raises(IngestRefused, match="genotyped before") as refused:
        ingest_finalreport(db, world.users["w-lab"], [path], manifest, batch_name="G-B3")
    assert any("batch G-B1" in s for s in refused.value.report.already_genotyped)


def test_a_truncated_file_stores_nothing(db, system, world, herd, tmp_path):
    herd, placed, manifest = herd
    path = write_finalreport(as_lab_file(herd.genotypes, np.arange(100, 120)),
                             tmp_path / "b4.txt", chip=manifest.chip)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(GenotypeFileError):
        ingest_finalreport(db, world.users["w-lab"], [path], manifest, batch_name="G-B4")
    assert stored(db, system, "G-B4") == 0


def test_customers_cannot_ingest_and_see_only_their_genotypes(db, world, herd, tmp_path):
    herd, placed, manifest = herd
    with db.session(world.users["w-a-user"]) as s:
        assert s.scalar(text("SELECT count(*) FROM core.genotypes")) == 0


def test_batch_qc_records_audited_decisions_and_finds_wrong_sires(db, system, world, herd,
                                                                  tmp_path):
    herd, placed, manifest = herd
    with db.session(world.users["w-lab"]) as s:
        summary = qc_batch(s, "G-B1", report_root=tmp_path)
    assert summary.samples == 80
    assert summary.passed + summary.failed + summary.review == 80
    assert (summary.report_dir / "G-B1.afreq").exists()
    with db.session(system) as s:
        decisions = s.execute(select(QcResult.decision, QcResult.reasons)
                              .join(GenotypingBatch, GenotypingBatch.id == QcResult.batch_id)
                              .where(GenotypingBatch.name == "G-B1")).all()
        audited = s.scalar(text("SELECT count(*) FROM audit.log WHERE table_name = "
                                "'core.qc_results'"))
        stage = s.scalar(select(GenotypingBatch.stage).where(GenotypingBatch.name == "G-B1"))
    assert len(decisions) == 80 and audited >= 80 and stage == "qc"
    ped = herd.pedigree.set_index("animal").iloc[:80]
    wrong = ped[ped["sire"].notna() & (ped["sire"] != ped["true_sire"])
                & ped["sire"].isin(ped.index)]
    flagged = [r for d, r in decisions if any(x.startswith("sire ") for x in r)]
    assert len(wrong) > 0 and len(flagged) >= len(wrong) * 0.8


def test_release_follows_qc_and_is_final(db, world):
    from reprotech_core.errors import NotFound, RuleViolation
    from reprotech_core.store.batch_qc import release_batches

    lab = world.users["w-lab"]
    with pytest.raises(RuleViolation, match="cannot move from genotyped to released"):
        with db.session(lab) as s:
            release_batches(s, ["G-B2"])  # not QC'd yet
    with pytest.raises(NotFound, match="no genotyping batch 'NO-SUCH'"):
        with db.session(lab) as s:
            release_batches(s, ["NO-SUCH"])
    with db.session(lab) as s:
        assert release_batches(s, ["G-B1"]) == ["G-B1"]
    with db.session(lab) as s:  # releasing again changes nothing
        assert release_batches(s, ["G-B1"]) == ["G-B1"]
        events = s.scalars(text(
            "SELECT e.stage FROM core.batch_stage_events e JOIN core.genotyping_batches b "
            "ON b.id = e.batch_id WHERE b.name = 'G-B1' ORDER BY e.id")).all()
    assert events == ["received", "extracted", "genotyped", "qc", "released"]


def test_snapshots_and_duckdb_tables(db, system, herd, tmp_path):
    herd, placed, manifest = herd
    summary = write_snapshots(db, system, tmp_path / "store")
    assert summary.tenants["g-one"] + summary.tenants["g-two"] + summary.tenants.get("g-ref", 0) \
        >= 99
    con = connect("research", folder=tmp_path / "store")
    names = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    assert {"genotypes", "snp_stats", "animal_stats", "batch_stats"} <= names
    cols = {r[0] for r in con.execute("DESCRIBE genotypes").fetchall()}
    assert "official_id" not in cols and "customer_id" not in cols
    freq = con.execute("SELECT snp, freq_b FROM snp_stats WHERE panel = 'SimChip600' "
                   "ORDER BY snp LIMIT 5").fetchall()
    assert len(freq) == 5 and all(0 <= f <= 1 for _, f in freq if f is not None)
    tenant = connect("tenants/g-one", folder=tmp_path / "store")
    assert tenant.execute("SELECT count(*) FROM genotypes").fetchone()[0] == summary.tenants["g-one"]
