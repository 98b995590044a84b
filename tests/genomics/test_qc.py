from dataclasses import replace

import numpy as np
import pandas as pd

from reprotech_core.genomics.codes import codes_of, pack_codes
from reprotech_core.genomics.packing import MISSING_CODE
from reprotech_core.genomics.qc import QcThresholds, run_qc


def test_wrong_sires_are_exactly_the_parent_conflicts(herd):
    qc = run_qc(herd.genotypes, pedigree=herd.pedigree)
    ped = herd.pedigree
    wrong = set(ped.loc[ped["sire"].notna() & (ped["sire"] != ped["true_sire"]), "animal"])
    assert wrong, "the simulation records some wrong sires"
    failed = qc.parents[qc.parents["fail"]]
    assert set(failed.loc[failed["role"] == "sire", "animal"]) == wrong
    assert not failed["role"].eq("dam").any()


def test_duplicate_sample_under_another_id_is_found(herd):
    g = herd.genotypes
    packed = np.vstack([g.packed, g.packed[[5]]])
    dup = replace(g, packed=packed, samples=np.r_[g.samples, ["RELABELLED"]], sex=np.r_[g.sex, 1])
    qc = run_qc(dup)
    pairs = {frozenset(p) for p in qc.duplicates[["sample_1", "sample_2"]].to_numpy()}
    assert pairs == {frozenset({g.samples[5], "RELABELLED"})}
    assert qc.samples.set_index("sample").loc["RELABELLED", "fail"].endswith("duplicate")


def test_sex_check_flags_a_mislabelled_bull(herd):
    g = herd.genotypes
    sex = g.sex.copy()
    bull = int(np.flatnonzero(sex == 1)[0])
    sex[bull] = 2
    qc = run_qc(replace(g, sex=sex))
    row = qc.samples.iloc[bull]
    assert row["inferred_sex"] == 1 and row["sex_problem"]
    assert "sex_mismatch" in row["fail"]
    before = run_qc(g).samples["sex_problem"].to_numpy()
    after = qc.samples["sex_problem"].to_numpy()
    assert np.flatnonzero(after & ~before).tolist() == [bull]


def test_thresholds_and_reasons(herd):
    g = herd.genotypes
    codes = codes_of(g.packed)
    codes[:, 3] = MISSING_CODE  # a dead SNP
    codes[7, : len(g.snps) // 2] = MISSING_CODE  # a failed sample
    codes[:, 4] = 0  # a monomorphic SNP
    qc = run_qc(replace(g, packed=pack_codes(codes[:, : len(g.snps)])))
    assert qc.snps["fail"].iloc[3] == "call_rate<0.9;maf<0.01"  # no calls: MAF is NaN
    assert qc.snps["fail"].iloc[4] == "maf<0.01"
    assert qc.samples["fail"].iloc[7].startswith("call_rate<0.9")
    assert set(qc.failed_samples["sample"]) >= {g.samples[7]}
    strict = run_qc(g, thresholds=QcThresholds(snp_call_rate=0.999, maf=0.2, hwe_p=0.5))
    assert len(strict.failed_snps) > len(qc.failed_snps)
    assert strict.snps["fail"].str.contains("hwe_p<0.5").any()


def test_blocks_do_not_change_results(herd):
    a = run_qc(herd.genotypes)
    b = run_qc(herd.genotypes, block_rows=17)
    pd.testing.assert_frame_equal(a.snps, b.snps)
    pd.testing.assert_frame_equal(a.samples, b.samples)
