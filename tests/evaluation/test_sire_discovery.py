"""Sire discovery by LOD: the true sire is named ahead of his own sire and his son, survives a
genotyping error, and nobody is named when only his relatives are genotyped."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.parentage import pair_counts
from reprotech_core.evaluation.simulate import founder_dosages, gametes
from reprotech_core.evaluation.sire_discovery import (
    AMBIGUOUS, DEFAULT_EPSILON, DEFAULT_MIN_DELTA, DEFAULT_MIN_LOD, DEFAULT_MIN_SIRE_AGE_DAYS,
    FOUND, NO_SIRE, discover_sires, lod_matrix, lod_weights,
)
from reprotech_core.genomics.packing import MISSING
from reprotech_core.genomics.snpmap import GenotypeSet

N_FAMILIES, N_SNPS = 40, 1500
ROLES = ("grandsire", "granddam", "sire", "dam", "calf", "dam2", "son")


def _child(rng, sire, dam):
    return gametes(sire, rng=rng) + gametes(dam, rng=rng)


@pytest.fixture(scope="module")
def families():
    """N_FAMILIES three-generation families on unlinked SNPs: a grandsire and granddam have
    the sire; the sire and a dam have the calf, and the sire and another dam have a son (the
    calf's paternal half-brother). 200 unrelated founders make up the population."""
    rng = np.random.default_rng(18)
    n = N_FAMILIES
    founders = founder_dosages(200 + 4 * n, N_SNPS, rng=rng)
    gs, gd, dam, dam2 = (founders[200 + i * n:200 + (i + 1) * n] for i in range(4))
    sire = _child(rng, gs, gd)
    calf, son = _child(rng, sire, dam), _child(rng, sire, dam2)
    blocks = dict(zip(ROLES, (gs, gd, sire, dam, calf, dam2, son), strict=True))
    ids = {role: [f"{role}{i:02d}" for i in range(n)] for role in ROLES}
    dosages = np.concatenate([founders[:200], *blocks.values()]).astype(np.int8)
    samples = [f"other{i:03d}" for i in range(200)] + sum(ids.values(), [])
    return dosages, samples, ids


BORN = {"other": "2008-03-01", "grandsire": "2008-03-01", "granddam": "2008-03-01",
        "sire": "2011-03-01", "dam": "2012-03-01", "dam2": "2012-03-01", "son": "2014-03-01",
        "calf": "2016-03-01"}


@pytest.fixture(scope="module")
def born(families):
    """Birth dates that make every simulated sire old enough for his calves."""
    return {a: BORN[a.rstrip("0123456789")] for a in families[1]}


def geno_of(dosages, samples):
    return GenotypeSet.from_dosages(dosages, samples=samples)


def bulls(ids, roles=("grandsire", "sire", "son")):
    return [a for r in roles for a in ids[r]] + [f"other{i:03d}" for i in range(0, 200, 2)]


def dams_of(ids):
    return dict(zip(ids["calf"], ids["dam"], strict=True))


def test_lod_weights_closed_form():
    """One SNP at p = 0.5, epsilon 0.01: a het dam and a BB calf; a BB candidate passes B
    for sure, a random bull with 1/2, an AA candidate never (only an error explains it)."""
    eps = 0.01
    w = lod_weights(np.array([[2]], np.int8), np.array([[1]], np.int8), np.array([0.5]), eps)
    p_obs = 0.25
    base = (1 - eps) * 0.5 * 0.5 + eps * p_obs
    expect = [np.log10(((1 - eps) * t * 0.5 + eps * p_obs) / base) for t in (0.0, 0.5, 1.0)]
    assert np.allclose(w[:, 0, 0], expect, atol=1e-6)
    assert w[2, 0, 0] == pytest.approx(np.log10(2), abs=0.01)
    missing = lod_weights(np.array([[MISSING]], np.int8), np.array([[1]], np.int8),
                          np.array([0.5]), eps)
    assert (missing == 0).all()  # an uncalled offspring SNP says nothing


def test_trio_lod_separates_sire_from_grandsire_and_son(families, born):
    dosages, samples, ids = families
    geno = geno_of(dosages, samples)
    index = {a: i for i, a in enumerate(samples)}
    rows = lambda names: np.array([index[a] for a in names])  # noqa: E731
    calves, dams = rows(ids["calf"]), rows(ids["dam"])
    cand = np.concatenate([rows(ids["sire"]), rows(ids["grandsire"]), rows(ids["son"])])
    n = N_FAMILIES
    deltas = {}
    for name, dam_rows in (("trio", dams), ("pair", np.full(n, -1))):
        lod = lod_matrix(geno, calves, dam_rows, cand)
        own = np.arange(n)
        sire, grandsire, son = (lod[own, own + k * n] for k in range(3))
        deltas[name] = np.minimum(sire - grandsire, sire - son)
    assert (deltas["trio"] >= DEFAULT_MIN_DELTA).all(), deltas["trio"].min()
    assert (deltas["pair"] > 0).all()
    assert deltas["trio"].mean() > 1.5 * deltas["pair"].mean()  # the dam is worth having
    found = discover_sires(geno, ids["calf"], bulls(ids), dams=dams_of(ids), birth_dates=born,
                           min_informative=300)
    assert (found["status"] == FOUND).all() and found["trio"].all()
    assert found["sire"].tolist() == ids["sire"]
    assert (found["lod"] >= DEFAULT_MIN_LOD).all()
    assert (found["n_candidates"] == len(bulls(ids))).all()
    top = found["top_candidates"].str.split("; ")
    assert (top.str.len() == 3).all() and (top.str[0].str.split(" ").str[0] == found["sire"]).all()


def test_a_genotyping_error_does_not_exclude_the_true_sire(families, born):
    """Three SNPs of every sire are turned into opposing homozygotes with his calf: a strict
    exclusion would drop him; the LOD keeps him first, about log10(epsilon) per SNP lower."""
    dosages, samples, ids = families
    index = {a: i for i, a in enumerate(samples)}
    broken = dosages.copy()
    for c, s in zip(ids["calf"], ids["sire"], strict=True):
        hom = np.flatnonzero(np.isin(dosages[index[c]], (0, 2)))[:3]
        broken[index[s], hom] = 2 - dosages[index[c], hom]
    calf_rows = [index[c] for c in ids["calf"]]
    sire_rows = [index[s] for s in ids["sire"]]
    opposing, _ = pair_counts(broken[calf_rows], broken[sire_rows])
    assert (opposing >= 3).all()
    kw = dict(dams=dams_of(ids), birth_dates=born, min_informative=300)
    clean = discover_sires(geno_of(dosages, samples), ids["calf"], bulls(ids), **kw)
    found = discover_sires(geno_of(broken, samples), ids["calf"], bulls(ids), **kw)
    assert (found["status"] == FOUND).all() and found["sire"].tolist() == ids["sire"]
    drop = (clean["lod"] - found["lod"]) / 3
    assert drop.between(1.0, 1 - np.log10(DEFAULT_EPSILON)).all(), drop.describe()


def test_ungenotyped_dam_falls_back_to_the_pair_lod(families, born):
    dosages, samples, ids = families
    geno = geno_of(dosages, samples)
    kw = dict(birth_dates=born, min_informative=300)
    pair = discover_sires(geno, ids["calf"], bulls(ids), **kw)
    not_typed = discover_sires(geno, ids["calf"], bulls(ids), **kw,
                               dams=dict.fromkeys(ids["calf"], "a cow without genotypes"))
    wrong_dam = discover_sires(geno, ids["calf"], bulls(ids), **kw,
                               dams=dict(zip(ids["calf"], ids["dam2"], strict=True)))
    trio = discover_sires(geno, ids["calf"], bulls(ids), **kw, dams=dams_of(ids))
    for fallback in (not_typed, wrong_dam):  # a dam excluded by opposing homozygotes: no trio
        assert not fallback["trio"].any()
        assert np.allclose(fallback["lod"], pair["lod"]) and fallback["sire"].equals(pair["sire"])
    assert not pair["trio"].any() and trio["trio"].all()
    assert (trio["delta_lod"] > pair["delta_lod"]).mean() > 0.9
    assert (pair.loc[pair["status"] == FOUND, "sire"]
            == pd.Series(ids["sire"])[pair["status"] == FOUND]).all()


def test_only_relatives_genotyped_names_no_sire(families, born):
    """The true sire is not among the candidates: his father and son are compatible-looking
    relatives, but no bull is named (the benchmark's 'no false assignment')."""
    dosages, samples, ids = families
    found = discover_sires(geno_of(dosages, samples), ids["calf"],
                           bulls(ids, roles=("grandsire", "son")), dams=dams_of(ids),
                           birth_dates=born, min_informative=300)
    assert found["sire"].isna().all()
    assert set(found["status"]) == {NO_SIRE}
    # two independent reasons: a relative's LOD is far below a sire's (the SNPs where he does
    # not carry the calf's paternal allele cost ~log10(epsilon) each), and he fails the
    # opposing-homozygote check the named bull must pass
    assert (found["lod"] < 0).all() and (found["opposing_rate"] > 0.01).all()


def test_a_twin_under_two_ids_is_ambiguous(families, born):
    dosages, samples, ids = families
    index = {a: i for i, a in enumerate(samples)}
    twin = dosages[[index[ids["sire"][0]]]]
    geno = geno_of(np.concatenate([dosages, twin]), [*samples, "twin"])
    found = discover_sires(geno, ids["calf"][:1], [*bulls(ids), "twin"], dams=dams_of(ids),
                           birth_dates=born, min_informative=300).iloc[0]
    assert found["status"] == AMBIGUOUS and pd.isna(found["sire"])
    assert found["delta_lod"] == pytest.approx(0.0)
    assert re.fullmatch(rf"({ids['sire'][0]}|twin) [\d.]+; ({ids['sire'][0]}|twin) [\d.]+; .+",
                        found["top_candidates"])


def test_a_bull_too_young_to_be_the_sire_is_not_a_candidate(families):
    dosages, samples, ids = families
    geno = geno_of(dosages, samples)
    born = {a: "2024-01-01" for a in samples}
    born.update({c: "2025-06-01" for c in ids["calf"]})  # 517 days: too young to have sired
    kids, cand = ids["calf"][:2], bulls(ids, roles=("sire",))
    found = discover_sires(geno, kids, cand, birth_dates=born, min_informative=300)
    assert (found["status"] == NO_SIRE).all() and found["sire"].isna().all()
    assert (found["n_candidates"] == 0).all()
    older = discover_sires(geno, kids, cand, birth_dates=born, min_informative=300,
                           min_sire_age_days=500)
    assert older["sire"].tolist() == ids["sire"][:2]
    del born[ids["sire"][0]]  # an unknown birth date restricts nobody
    unknown = discover_sires(geno, kids, cand, birth_dates=born, min_informative=300)
    assert unknown["sire"].iloc[0] == ids["sire"][0] and pd.isna(unknown["sire"].iloc[1])
    assert DEFAULT_MIN_SIRE_AGE_DAYS == 600


def test_too_little_evidence_and_bad_arguments(families):
    dosages, samples, ids = families
    geno = geno_of(dosages, samples)
    few = discover_sires(geno, ids["calf"][:3], bulls(ids), birth_dates=None,
                         min_informative=N_SNPS + 1)
    assert set(few["status"]) == {"undetermined"} and few["sire"].isna().all()
    with pytest.raises(ValueError, match="1 offspring have no genotypes"):
        discover_sires(geno, ["zz"], ids["sire"], birth_dates=None)
    with pytest.raises(ValueError, match="1 candidates have no genotypes"):
        discover_sires(geno, ids["calf"], ["zz"], birth_dates=None)
    with pytest.raises(ValueError, match="no candidate sires"):
        discover_sires(geno, ids["calf"], [], birth_dates=None)
    with pytest.raises(ValueError, match="epsilon"):
        discover_sires(geno, ids["calf"], ids["sire"], birth_dates=None, epsilon=0)
    with pytest.raises(ValueError, match="min_lod"):
        discover_sires(geno, ids["calf"], ids["sire"], birth_dates=None, min_delta=-1)


def test_thresholds_are_documented():
    doc = (Path(__file__).parents[2] / "docs" / "parentage.md").read_text()
    for value in (f"LOD ≥ {DEFAULT_MIN_LOD:g}", f"ΔLOD ≥ {DEFAULT_MIN_DELTA:g}",
                  f"ε = {DEFAULT_EPSILON:g}", f"{DEFAULT_MIN_SIRE_AGE_DAYS} days"):
        assert value in doc, value
