"""``reprotech eval`` on files, as a researcher runs it: a simulated PLINK fileset plus CSVs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from reprotech_core.cli.main import app
from reprotech_core.evaluation.grm import read_gcta_grm

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    invoke("geno", "simulate", d, "--animals", 300, "--snps", 1200, "--seed", 3)
    return d


def test_grm_gblup_parentage_inbreeding_mating(files, tmp_path):
    bfile = files / "herd"
    invoke("eval", "grm", "--bfile", bfile, "--out", tmp_path / "g")
    g, n, ids = read_gcta_grm(tmp_path / "g")
    assert g.shape == (300, 300) and np.allclose(g, g.T) and len(ids) == 300
    out = invoke("eval", "gblup", "--bfile", bfile, "--phenotypes", files / "phenotypes.csv",
                 "--out", tmp_path / "gebv.csv", "--h2", "fertility=0.05",
                 "--index", "milk_production=1", "--index", "longevity=10")
    assert "milk_production: h2" in out
    gebv = pd.read_csv(tmp_path / "gebv.csv")
    assert set(gebv.columns) == {"animal", "trait", "gebv", "reliability"}
    assert len(gebv) == 300 * 4 and gebv["reliability"].between(0, 1).all()
    assert (tmp_path / "gebv.index.csv").exists()
    out = invoke("eval", "parentage", "--bfile", bfile, "--pedigree", files / "pedigree.csv",
                 "--out", tmp_path / "parents.csv", "--min-informative", 100)
    parents = pd.read_csv(tmp_path / "parents.csv")
    ped = pd.read_csv(files / "pedigree.csv")
    wrong = set(ped.loc[ped["sire"].notna() & (ped["sire"] != ped["true_sire"]), "animal"])
    excluded = set(parents.loc[(parents["role"] == "sire") &
                               (parents["status"] == "excluded"), "animal"])
    assert wrong and len(wrong & excluded) >= 0.8 * len(wrong)
    truth = ped.set_index("animal")["true_sire"]
    hits = parents[parents["discovery"] == "found"].drop_duplicates("animal")
    assert len(hits) and (hits["discovered_sire"] == truth.reindex(hits["animal"]).values).all()
    assert (hits["discovery_lod"] >= 3).all() and (hits["discovery_delta_lod"] >= 3).all()
    assert "sire discovery:" in out
    invoke("eval", "inbreeding", "--bfile", bfile, "--pedigree", files / "pedigree.csv",
           "--out", tmp_path / "f.csv")
    f = pd.read_csv(tmp_path / "f.csv")
    assert {"f_genomic", "f_roh", "f_pedigree"} <= set(f.columns)
    milk = gebv[gebv["trait"] == "milk_production"][["animal", "gebv"]]
    milk.to_csv(tmp_path / "merit.csv", index=False)
    sexes = ped.set_index("animal")["sex"]
    (tmp_path / "cows").write_text("\n".join(ped.loc[sexes.values == 2, "animal"][-30:]))
    (tmp_path / "bulls").write_text("\n".join(ped.loc[sexes.values == 1, "animal"][-8:]))
    out = invoke("eval", "mating", "--bfile", bfile, "--merit", tmp_path / "merit.csv",
                 "--cows", tmp_path / "cows", "--bulls", tmp_path / "bulls",
                 "--max-inbreeding", 0.2, "--max-per-bull", 5, "--out", tmp_path / "plan.csv")
    plan = pd.read_csv(tmp_path / "plan.csv")
    assert len(plan) == 30 and plan["bull"].value_counts().max() <= 5
    assert plan["progeny_inbreeding"].max() <= 0.2


def test_gblup_with_record_dates_fits_herd_year_season_groups(files, tmp_path):
    """A record_date column: the records are fitted in herd-year-season groups, and the
    merges and exclusions are printed per trait, never a silently smaller evaluation."""
    pheno = pd.read_csv(files / "phenotypes.csv")
    pheno["herd"] = [f"H{i % 3}" for i in range(len(pheno))]
    pheno["record_date"] = [f"2024-{1 + i % 12:02d}-15" for i in range(len(pheno))]
    pheno.loc[:3, "herd"] = "tiny"  # one group of 4 records: excluded
    pheno[["animal", "herd", "record_date", "milk_production"]].to_csv(tmp_path / "p.csv",
                                                                        index=False)
    out = invoke("eval", "gblup", "--bfile", files / "herd", "--phenotypes", tmp_path / "p.csv",
                 "--out", tmp_path / "gebv.csv", "--h2", "milk_production=0.3",
                 "--min-group-size", 5)
    out = " ".join(out.split())  # rich wraps long lines
    n = int(pheno["milk_production"].notna().sum())
    assert f"milk_production: 12 contemporary groups, {n - 4} of {n} records kept" in out
    assert "4 excluded (cg.small_herd_year)" in out
    assert f"{n - 4} records" in out


def test_bad_input_is_named(files, tmp_path):
    result = runner.invoke(app, ["eval", "gblup", "--bfile", str(files / "herd"),
                                 "--phenotypes", str(files / "phenotypes.csv"),
                                 "--out", str(tmp_path / "x.csv"), "--h2", "milk_production=1.5"])
    assert result.exit_code != 0
    assert "heritability of 'milk_production' must be in (0, 1)" in repr(result.exception)


def test_gblup_phenotype_file_with_birth_date_and_a_text_column(files, tmp_path):
    """A herd export's birth_date is used as the birth-year fixed effect; a text column that
    is neither a trait nor a fixed effect is refused naming the column and the file (it used to
    fail with "could not convert string to float: '2005-11-17'")."""
    pheno = pd.read_csv(files / "phenotypes.csv")
    pheno = pheno.drop(columns=[c for c in ("birth_year",) if c in pheno])
    pheno["birth_date"] = [f"{2015 + i % 4}-11-17" for i in range(len(pheno))]
    pheno[["animal", "milk_production", "birth_date"]].to_csv(tmp_path / "p.csv", index=False)
    out = invoke("eval", "gblup", "--bfile", files / "herd", "--phenotypes", tmp_path / "p.csv",
                 "--out", tmp_path / "gebv.csv", "--h2", "milk_production=0.3")
    assert "milk_production: h2" in out
    assert set(pd.read_csv(tmp_path / "gebv.csv")["trait"]) == {"milk_production"}
    pheno["breed"] = "Holstein"
    pheno[["animal", "milk_production", "breed"]].to_csv(tmp_path / "q.csv", index=False)
    result = runner.invoke(app, ["eval", "gblup", "--bfile", str(files / "herd"),
                                 "--phenotypes", str(tmp_path / "q.csv"),
                                 "--out", str(tmp_path / "y.csv")])
    assert result.exit_code != 0
    message = str(result.exception)
    assert "[rule pheno.not_numeric]" in message
    assert "column 'breed' of q.csv" in message and "line 2" in message


def test_parentage_without_birth_dates_warns(files, tmp_path):
    """Without birth_date the age rule cannot run: the discovery still runs (trio LOD), but the
    command says that a calf's own son could be named."""
    ped = pd.read_csv(files / "pedigree.csv")
    ped[["animal", "sire", "dam"]].to_csv(tmp_path / "ped.csv", index=False)
    out = invoke("eval", "parentage", "--bfile", files / "herd", "--pedigree", tmp_path / "ped.csv",
                 "--out", tmp_path / "parents.csv", "--min-informative", 100)
    assert "ped.csv has no birth_date" in " ".join(out.split())
    parents = pd.read_csv(tmp_path / "parents.csv")
    assert {"discovered_sire", "discovery", "discovery_lod", "discovery_delta_lod",
            "discovery_candidates", "discovery_trio"} <= set(parents.columns)
    assert parents["discovery_trio"].dropna().astype(bool).any()
