"""GWAS: equal to a direct generalised-least-squares fit per SNP; bad input reported."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.reml import VarianceComponents
from reprotech_core.genomics.packing import MISSING, pack, unpack
from reprotech_core.genomics.snpmap import select_samples
from reprotech_core.research.cohort import Cohort, EmptyCohort
from reprotech_core.research.gwas import TooFewRecords, genomic_inflation, gwas


def direct_gls(cohort, records, trait, g, vc, factors, exclude_chrom=None, grm=None):
    """Reference: for each SNP, solve (X_s' V^-1 X_s) b = X_s' V^-1 y with numpy."""
    rows = cohort.animals.reset_index().merge(records.dropna(subset=[trait]), on="animal")
    rows = rows.sort_values("index")
    idx = rows["index"].to_numpy()
    y = rows[trait].to_numpy(float)
    cols = [np.ones(len(rows))]
    for f in factors:
        for level in sorted(rows[f].astype(str).unique())[1:]:
            cols.append((rows[f].astype(str) == level).to_numpy(float))
    x = np.column_stack(cols)
    d = unpack(cohort.packed[idx], cohort.n_snps).astype(float)
    out, loco_g = [], {}
    for j in range(cohort.n_snps):
        s = d[:, j].copy()
        called = s != MISSING
        if not called.any() or np.ptp(s[called]) == 0:
            out.append((np.nan, np.nan, np.nan))
            continue
        s[~called] = s[called].mean()
        if exclude_chrom:
            c = cohort.snps.chrom[j]
            if c not in loco_g:
                loco_g[c] = loco_reference(cohort, grm, idx, c)
            gg = loco_g[c]
            v = vc.sigma_u2 * gg + vc.sigma_e2 * np.eye(len(y))
        elif g is None:
            v = np.eye(len(y))
        else:
            v = vc.sigma_u2 * g + vc.sigma_e2 * np.eye(len(y))
        xs = np.column_stack([x, s])
        vinv = np.linalg.inv(v)
        a = xs.T @ vinv @ xs
        b = np.linalg.solve(a, xs.T @ vinv @ y)
        r = y - xs @ b
        df = len(y) - xs.shape[1]
        s2 = r @ vinv @ r / df
        se = np.sqrt(s2 * np.linalg.inv(a)[-1, -1])
        t = b[-1] / se
        out.append((b[-1], se, 2 * stats.t.sf(abs(t), df)))
    return np.array(out)


def loco_reference(cohort, grm, idx, chrom):
    """G from scratch on the other chromosomes' SNPs (frequencies of the full cohort)."""
    keep = cohort.snps.chrom != chrom
    d = unpack(cohort.packed, cohort.n_snps).astype(float)[:, keep]
    p = np.nan_to_num(grm.p[keep])
    z = np.where(d == MISSING, 0.0, d - 2 * p)
    g = z @ z.T / (2 * np.sum(p * (1 - p)))
    return g[np.ix_(idx, idx)]


@pytest.fixture(scope="module")
def grm(cohort):
    return vanraden_grm(cohort.genotypes, block_snps=128, dtype=np.float64)


def test_mixed_model_equals_direct_gls(cohort, records, grm):
    res = gwas(cohort, records, "milk", grm=grm, factors=["herd"], dtype=np.float64,
               block_snps=64)
    rows = cohort.animals.reset_index().merge(records, on="animal")["index"].to_numpy()
    ref = direct_gls(cohort, records, "milk", grm.matrix[np.ix_(rows, rows)], res.variances,
                     ["herd"])
    ok = res.table["status"] == "ok"
    assert ok.sum() > 400
    for k, col in enumerate(("beta", "se", "p")):
        np.testing.assert_allclose(res.table.loc[ok, col], ref[ok.to_numpy(), k],
                                   rtol=1e-8, atol=1e-12)
    assert res.method == "mlm-p3d" and 0 < res.variances.h2 < 1


def test_loco_equals_direct_gls_on_g_without_the_chromosome(cohort, records, grm):
    vc = VarianceComponents(sigma_u2=0.5e6, sigma_e2=1.5e6, h2=0.25, se_h2=np.nan,
                            loglik=np.nan)
    first = cohort.snps.chrom == "1"
    res = gwas(cohort, records, "milk", grm=grm, loco=True, variances=vc, dtype=np.float64)
    ref = direct_gls(cohort, records, "milk", None, vc, [], exclude_chrom=True, grm=grm)[first]
    ok = (res.table["status"] == "ok").to_numpy() & first
    np.testing.assert_allclose(res.table.loc[ok, "beta"], ref[ok[first], 0], rtol=1e-8)
    np.testing.assert_allclose(res.table.loc[ok, "p"], ref[ok[first], 2], rtol=1e-7)


def test_float32_close_to_float64(cohort, records, grm):
    kw = dict(grm=grm, factors=["herd"])
    a = gwas(cohort, records, "milk", dtype=np.float64, **kw)
    b = gwas(cohort, records, "milk", dtype=np.float32, variances=a.variances, **kw)
    ok = a.table["status"] == "ok"
    np.testing.assert_allclose(b.table.loc[ok, "t"], a.table.loc[ok, "t"], rtol=1e-3,
                               atol=1e-3)


def test_no_grm_is_ordinary_least_squares(cohort, records):
    res = gwas(cohort, records, "milk", dtype=np.float64)
    d = unpack(cohort.packed, cohort.n_snps)
    j = int(np.flatnonzero(res.table["status"] == "ok")[0])
    s = d[:, j].astype(float)
    called = s != MISSING
    s[~called] = s[called].mean()
    fit = stats.linregress(s, records.set_index("animal").loc[cohort.animals["animal"], "milk"])
    assert res.table.loc[j, "beta"] == pytest.approx(fit.slope, rel=1e-10)
    assert res.table.loc[j, "p"] == pytest.approx(fit.pvalue, rel=1e-8)
    assert res.method == "ols" and res.variances is None


def test_zero_variance_snps_reported_not_crashed(cohort, records):
    d = unpack(cohort.packed, cohort.n_snps)
    d[:, 3] = 2
    d[:, 7] = MISSING
    mono = Cohort(cohort.animals, replace(cohort.genotypes, packed=pack(d)))
    res = gwas(mono, records, "milk", dtype=np.float64)
    assert res.table.loc[3, "status"] == "zero_variance" and np.isnan(res.table.loc[3, "p"])
    assert res.table.loc[7, "status"] == "zero_variance" and res.table.loc[7, "n"] == 0
    assert np.isfinite(res.lambda_gc)


def test_too_few_records_is_a_clear_error(cohort, records):
    few = records.assign(milk=np.where(np.arange(len(records)) < 10, records["milk"], np.nan))
    with pytest.raises(TooFewRecords, match=r"trait 'milk': 10 genotyped animals .* need at "
                                            r"least 30"):
        gwas(cohort, few, "milk")


def test_records_of_animals_not_in_the_cohort_are_not_counted(cohort, records):
    strangers = records.assign(animal="X" + records["animal"])
    with pytest.raises(TooFewRecords, match="0 genotyped animals"):
        gwas(cohort, strangers, "milk")


def test_empty_cohort(cohort, records):
    with pytest.raises(EmptyCohort, match="GWAS needs at least 1 genotyped animal"):
        gwas(cohort.subset(np.zeros(cohort.n_animals, bool)), records, "milk")


def test_constant_trait_and_bad_grm(cohort, records, grm):
    with pytest.raises(ValueError, match="all .* records are equal"):
        gwas(cohort, records.assign(milk=1.0), "milk")
    small = vanraden_grm(select_samples(cohort.genotypes, np.arange(50)), block_snps=128)
    with pytest.raises(ValueError, match="not for the cohort's 200 animals"):
        gwas(cohort, records, "milk", grm=small)


def test_genomic_inflation_closed_form():
    p = stats.chi2.sf(np.array([CHI := stats.chi2.ppf(0.5, 1) * 1.2]), 1)
    assert genomic_inflation(np.repeat(p, 5)) == pytest.approx(1.2)
    uniform = (np.arange(1, 100001) - 0.5) / 100000
    assert genomic_inflation(uniform) == pytest.approx(1.0, abs=1e-3)
    assert CHI > 0


def test_provenance_names_inputs_and_parameters(cohort, records):
    res = gwas(cohort, records, "milk", factors=["herd"])
    prov = res.provenance
    assert prov.analysis == "gwas" and prov.inputs["cohort"] == cohort.digest()
    assert prov.parameters["factors"] == ["herd"] and "numpy" in prov.versions
    again = gwas(cohort, records, "milk", factors=["herd"])
    assert again.provenance.same_inputs(prov)
    pd.testing.assert_frame_equal(again.table, res.table)
