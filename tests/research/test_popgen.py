"""Population genetics against hand-computed and closed-form cases."""

import json

import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.genomics.packing import MISSING
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap
from reprotech_core.research.cohort import Cohort, EmptyCohort, export_plink
from reprotech_core.research.crossval import cross_validate
from reprotech_core.research.diversity import diversity, fst, hudson_fst, relationship_summary
from reprotech_core.research.gwas import TooFewRecords
from reprotech_core.research.ld import ld_decay, ne_from_ld, pair_r2
from reprotech_core.research.ne import equivalent_generations, realized_ne
from reprotech_core.research.plots import manhattan_frame, qq_frame
from reprotech_core.research.provenance import Provenance, digest
from reprotech_core.evaluation.pedigree import order_pedigree

M = MISSING


def tiny(dosages, herds, chrom=None, pos=None):
    d = np.asarray(dosages)
    m = d.shape[1]
    snps = SnpMap.from_columns([f"s{j}" for j in range(m)], chrom=chrom or ["1"] * m,
                               pos=pos or list(range(1000, 1000 * (m + 1), 1000)))
    animals = pd.DataFrame({"animal": [f"A{i}" for i in range(len(d))], "herd": herds})
    return Cohort(animals, GenotypeSet.from_dosages(d, samples=animals["animal"], snps=snps),
                  snapshot="hand")


def test_diversity_by_hand():
    c = tiny([[0, 1, 2, 1], [1, 1, 2, 0], [2, 1, 2, M], [1, 0, 2, 1]], ["H1"] * 4)
    row = diversity(c).table.set_index("herd").loc["all"]
    ho = [2 / 4, 3 / 4, 0, 2 / 3]
    he = [8 / 7 * 0.5, 8 / 7 * (1 - (3 / 8) ** 2 - (5 / 8) ** 2), 0, 6 / 5 * 4 / 9]
    assert row["ho"] == pytest.approx(np.mean(ho))
    assert row["he"] == pytest.approx(np.mean(he))
    assert row["f_is"] == pytest.approx(1 - np.mean(ho) / np.mean(he))
    assert row["p_poly"] == pytest.approx(0.75) and row["na"] == pytest.approx(1.75)
    assert row["n_animals"] == 4 and row["n_snps"] == 4


def test_diversity_groups_and_bad_input(cohort):
    res = diversity(cohort, by="customer")
    t = res.table
    assert list(t["customer"]) == ["all", "CUST00", "CUST01"]
    assert t["n_animals"].iloc[0] == t["n_animals"].iloc[1:].sum() == cohort.n_animals
    assert (t["he"].between(0.2, 0.6)).all() and (t["ho"].between(0.2, 0.6)).all()
    by_year = diversity(cohort, by="birth_year").table
    assert len(by_year) == 1 + cohort.animals["birth_year"].nunique()
    with pytest.raises(EmptyCohort, match="diversity needs at least 1 genotyped animal"):
        diversity(cohort.subset(np.zeros(cohort.n_animals, bool)))
    with pytest.raises(ValueError, match="no column 'farm'"):
        diversity(cohort, by="farm")
    assert res.provenance.parameters == {"by": "customer", "autosomes_only": True}


def test_hudson_fst_closed_forms():
    n = np.array([10.0])
    assert hudson_fst(np.array([0.0]), n, np.array([1.0]), n) == pytest.approx(1.0)
    same = hudson_fst(np.array([0.5]), n, np.array([0.5]), n)
    assert same == pytest.approx((-0.25 / 9 - 0.25 / 9) / 0.5)
    c = tiny([[0, 0], [0, 1], [2, 2], [2, 1]], ["H1", "H1", "H2", "H2"])
    p1, p2, n4 = np.array([0.0, 0.25]), np.array([1.0, 0.75]), np.array([4.0, 4.0])
    num = (p1 - p2) ** 2 - p1 * (1 - p1) / 3 - p2 * (1 - p2) / 3
    den = p1 * (1 - p2) + p2 * (1 - p1)
    assert fst(c).table["fst"].iloc[0] == pytest.approx(num.sum() / den.sum())
    assert hudson_fst(p1, n4, p2, n4) == pytest.approx(num.sum() / den.sum())


def test_fst_needs_two_groups(cohort):
    one = cohort.animals.assign(herd="H")
    with pytest.raises(EmptyCohort, match="two groups"):
        fst(Cohort(one, cohort.genotypes))


def test_pair_r2_equals_correlation_on_complete_pairs():
    rng = np.random.default_rng(1)
    d = rng.integers(0, 3, size=(40, 5)).astype(np.int8)
    d[:, 1] = d[:, 0]
    d[3, 2] = M
    d[:, 4] = 1
    i, j, r2 = pair_r2(d, window_snps=4)
    got = {(a, b): r for a, b, r in zip(i, j, r2)}
    assert got[(0, 1)] == pytest.approx(1.0)
    keep = d[:, 2] != M
    assert got[(0, 2)] == pytest.approx(np.corrcoef(d[keep, 0], d[keep, 2])[0, 1] ** 2)
    assert np.isnan(got[(0, 4)]) and len(got) == 4 + 3 + 2 + 1


def test_ld_decays_with_distance(cohort):
    res = ld_decay(cohort, window_snps=20, max_distance_kb=20000, bin_kb=2000)
    t = res.table
    assert t["mean_r2"].iloc[0] > t["mean_r2"].iloc[-1]
    assert (t["n_animals"] == cohort.n_animals).all()
    ne = ne_from_ld(res)
    assert ne.table["generations_ago"].is_monotonic_decreasing
    assert ne.provenance.snapshot == cohort.snapshot == res.provenance.snapshot


def test_ne_from_ld_inverts_sved():
    c = np.array([0.001, 0.01, 0.05])
    n, ne = 200, 150.0
    table = pd.DataFrame({"mean_distance_kb": c * 100 * 1000, "n_animals": n,
                          "mean_r2": 1 / (1 + 4 * ne * c) + 1 / n})
    out = ne_from_ld(table).table
    np.testing.assert_allclose(out["ne"], ne)
    np.testing.assert_allclose(out["generations_ago"], 1 / (2 * c))
    flat = ne_from_ld(table.assign(mean_r2=1 / n)).table
    assert flat["ne"].isna().all()


def full_sib_pedigree(generations=5):
    rows = [("M0", None, None, 0), ("F0", None, None, 0)]
    for g in range(1, generations + 1):
        for s in ("M", "F"):
            rows.append((f"{s}{g}", f"M{g - 1}", f"F{g - 1}", g))
    return pd.DataFrame(rows, columns=["animal", "sire", "dam", "generation"])


def test_realized_ne_on_full_sib_mating():
    ped = full_sib_pedigree()
    t = equivalent_generations(order_pedigree(ped))
    order = order_pedigree(ped).ids
    assert dict(zip(order, t))["M4"] == pytest.approx(4.0)
    f = {2: 0.25, 3: 0.375, 4: 0.5, 5: 0.59375}  # Wright: F_t = (1 + 2F_{t-1} + F_{t-2}) / 4
    delta = [1 - (1 - f[g]) ** (1 / (g - 1)) for g in f]
    res = realized_ne(ped, by="generation").table.set_index("group")
    assert res.loc["all", "mean_delta_f"] == pytest.approx(np.mean(delta))
    assert res.loc["all", "ne"] == pytest.approx(1 / (2 * np.mean(delta)))
    assert res.loc["2", "ne"] == pytest.approx(2.0)  # dF = 1/4 -> Ne = 2, a full-sib pair


def test_realized_ne_needs_pedigree_depth():
    flat = pd.DataFrame({"animal": ["a", "b"], "sire": [None, None], "dam": [None, None]})
    with pytest.raises(ValueError, match="more than one equivalent complete generation"):
        realized_ne(flat)


def test_relationship_summary_by_hand():
    g = np.array([[1.1, 0.5, 0.0, 0.1],
                  [0.5, 0.9, 0.2, 0.0],
                  [0.0, 0.2, 1.0, 0.3],
                  [0.1, 0.0, 0.3, 1.2]])
    t = relationship_summary(g, ["a", "a", "b", "b"]).table.set_index(["group_a", "group_b"])
    assert t.loc[("a", "a"), "mean"] == pytest.approx(0.5)
    assert t.loc[("a", "a"), "mean_self"] == pytest.approx(1.0)
    assert t.loc[("a", "b"), "mean"] == pytest.approx((0.0 + 0.1 + 0.2 + 0.0) / 4)
    assert t.loc[("b", "b"), "mean_self"] == pytest.approx(1.1)


def test_relationships_higher_within_herds(cohort):
    g = vanraden_grm(cohort.genotypes, block_snps=128)
    t = relationship_summary(g.matrix, cohort.animals["customer"]).table
    within = t[t["group_a"] == t["group_b"]]["mean"].mean()
    between = t[t["group_a"] != t["group_b"]]["mean"].mean()
    assert within > between


def test_cross_validation(cohort, records):
    g = vanraden_grm(cohort.genotypes, block_snps=128)
    res = cross_validate(g.matrix, list(cohort.animals["animal"]), records, "milk", folds=4,
                         h2=0.35)
    t = res.table.set_index("fold")
    assert list(t.index) == ["0", "1", "2", "3", "all"]
    assert t.loc["all", "n_test"] == len(records) and 0.1 < t.loc["all", "r"] < 0.9
    by_herd = cross_validate(g.matrix, list(cohort.animals["animal"]),
                             records.merge(cohort.animals[["animal", "herd"]]), "milk",
                             folds=2, by="herd", h2=0.35).table
    assert len(by_herd) == 3
    few = records.head(12)
    with pytest.raises(TooFewRecords, match="12 genotyped animals with a record"):
        cross_validate(g.matrix, list(cohort.animals["animal"]), few, "milk")


def test_plot_frames():
    table = pd.DataFrame({"snp": list("abcd"), "chrom": ["2", "1", "X", "1"],
                          "pos": [50, 10, 5, 30], "p": [0.1, 0.01, np.nan, 1e-8]})
    m = manhattan_frame(table)
    assert list(m["snp"]) == ["b", "d", "a"] and list(m["x"]) == [10, 30, 80]
    assert m["neglog10p"].iloc[1] == pytest.approx(8.0)
    q = qq_frame(np.array([0.5, 0.25, 0.75, np.nan]))
    np.testing.assert_allclose(q["expected"], -np.log10([0.25, 0.5, 0.75]))
    assert (q["lower"] <= q["expected"]).all() and (q["expected"] <= q["upper"]).all()


def test_provenance_round_trip_and_digests(cohort, tmp_path):
    res = diversity(cohort)
    again = Provenance.from_json(res.provenance.to_json())
    assert again == res.provenance
    assert json.loads(res.provenance.to_json())["snapshot"] == "simulated:seed"
    assert digest(np.arange(3)) == digest(np.arange(3)) != digest(np.arange(4))
    other = diversity(cohort.subset(np.arange(10)))
    assert not other.provenance.same_inputs(res.provenance)
    prefix = export_plink(cohort, tmp_path / "out")
    fam = pd.read_csv(tmp_path / "out.fam", sep=" ", header=None)
    assert list(fam[1]) == list(cohort.animals["animal"])
    assert list(fam[0]) == list(cohort.animals["herd"])
    prov = json.loads((tmp_path / "out.provenance.json").read_text())
    assert prov["inputs"]["cohort"] == cohort.digest() and prefix.name == "out"


def test_simulated_trait_has_the_asked_heritability_and_is_found(cohort):
    from reprotech_core.research.gwas import gwas
    from reprotech_core.research.simulate import simulate_trait

    records, qtl = simulate_trait(cohort, h2=0.6, n_qtl=2, seed=3, name="t")
    assert len(records) == cohort.n_animals and len(qtl) == 2
    assert 0.6 < records["t"].var() < 1.5
    top = gwas(cohort, records, "t").table.sort_values("p")["snp"].head(20)
    assert set(qtl["snp"]) & set(top)
    with pytest.raises(ValueError, match=r"h2 must be in \(0, 1\)"):
        simulate_trait(cohort, h2=1.0)
