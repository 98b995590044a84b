import numpy as np
import pytest

from reprotech_core.evaluation.parentage import pair_counts, verify_parents
from reprotech_core.genomics.packing import MISSING
from reprotech_core.evaluation.sire_discovery import FOUND, discover_sires
from reprotech_core.genomics.snpmap import GenotypeSet, select_snps

from .conftest import with_missing


def genotyping_errors(x, rate, seed=2):
    rng = np.random.default_rng(seed)
    out = x.copy()
    hit = rng.random(x.shape) < rate
    out[hit] = rng.integers(0, 3, size=int(hit.sum()))
    return out


@pytest.fixture(scope="module")
def planted(herd):
    """Pedigree with 10% of recorded sires replaced by another bull of the sire generation."""
    rng = np.random.default_rng(9)
    ped = herd.pedigree.copy()
    kids = np.flatnonzero(ped["sire"].notna().to_numpy())
    wrong = rng.choice(kids, size=len(kids) // 10, replace=False)
    sires_by_gen = ped.merge(ped[["animal", "generation"]].rename(
        columns={"animal": "sire", "generation": "sire_gen"}), on="sire", how="left")
    for k in wrong:
        gen = sires_by_gen.loc[k, "sire_gen"]
        pool = ped.loc[(ped["generation"] == gen) & (ped["animal"] != ped.loc[k, "sire"]), "animal"]
        pool = pool[herd.animals.set_index("animal").loc[pool, "sex"].to_numpy() == "M"]
        ped.loc[k, "sire"] = rng.choice(pool.to_numpy())
    x = with_missing(genotyping_errors(herd.dosages, 0.002), 0.01)
    return (GenotypeSet.from_dosages(x, samples=ped["animal"]), ped,
            set(ped["animal"].iloc[wrong]))


def test_pair_counts():
    off = np.array([[0, 2, 1, MISSING, 0, 2]], np.int8)
    par = np.array([[2, 2, 0, 2, 1, 0]], np.int8)
    opp, inf = pair_counts(off, par)
    assert opp.tolist() == [2] and inf.tolist() == [4]  # hom parent, both called: 0,1,2,5


def test_verify_finds_planted_wrong_sires(planted):
    geno, ped, wrong = planted
    report = verify_parents(geno, ped, min_informative=300)
    sires = report[report["role"] == "sire"]
    flagged = set(sires.loc[sires["status"] == "excluded", "animal"])
    tp = len(flagged & wrong)
    precision, recall = tp / max(len(flagged), 1), tp / len(wrong)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    dams = report[report["role"] == "dam"]
    assert (dams["status"] == "verified").mean() > 0.98


def test_discover_true_sire_among_bulls(planted, herd):
    """Every wrongly recorded calf gets its true sire named, among all sires of the herd
    (fathers and sons of one another), with genotyping errors and missing calls."""
    geno, ped, wrong = planted
    truth = herd.pedigree.set_index("animal")["sire"]
    kids = sorted(wrong)
    bulls = sorted(set(truth.dropna()))
    dams = ped.set_index("animal")["dam"]
    births = ped.set_index("animal")["generation"].map(lambda g: f"{2010 + 2 * g}-01-01")
    found = discover_sires(geno, kids, bulls, dams=dams, birth_dates=births, min_informative=300)
    assert (found["status"] == FOUND).all() and found["trio"].all()
    assert (found["sire"].to_numpy() == truth.loc[kids].to_numpy()).all()


def test_too_few_snps_is_undetermined(planted):
    geno, ped, _ = planted
    report = verify_parents(geno, ped, min_informative=len(geno.snps) + 1)  # more than the panel
    assert set(report["status"]) == {"undetermined"}
    few = verify_parents(select_snps(geno, np.arange(40)), ped, min_informative=300)
    assert (few["status"] == "undetermined").all()
    unknown = ped.assign(sire=ped["sire"].where(ped["sire"].isna(), "nobody"))
    assert set(verify_parents(geno, unknown, min_informative=300)
               .query("role == 'sire'")["status"]) == {"not genotyped"}
    with pytest.raises(ValueError, match="max_opposing_rate"):
        verify_parents(geno, ped, max_opposing_rate=2)
