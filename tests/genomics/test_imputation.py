"""Several chips in one evaluation: alignment, merging, named refusals and real Beagle 5."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from reprotech_core.genomics.beagle import Beagle
from reprotech_core.genomics.codes import codes_of
from reprotech_core.genomics.imputation import (
    CONFLICTING_CALLS,
    FAILED,
    NO_COMMON_SNPS,
    ImputationError,
    align_panel,
    choose_reference,
    concordance,
    impute_to_reference,
)
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.genomics.snpmap import (
    GenotypeSet,
    SnpMap,
    autosomes,
    select_samples,
    select_snps,
)

needs_beagle = pytest.mark.skipif(shutil.which("beagle") is None,
                                  reason="Beagle 5 not installed (./run test installs it)")


@pytest.fixture(scope="module")
def herd():
    return simulate_herd(n_animals=240, n_snps=3000, seed=11, n_generations=4)


def _split(herd, low_share=0.2, ld_share=0.25, seed=1):
    """The herd as two chips: most animals on the full panel, a share on a subset."""
    g = autosomes(herd.genotypes)
    rng = np.random.default_rng(seed)
    ld_idx = np.sort(rng.choice(len(g.snps), int(len(g.snps) * ld_share), replace=False))
    low = np.zeros(len(g.samples), bool)
    low[rng.choice(len(g.samples), int(len(g.samples) * low_share), replace=False)] = True
    return g, ld_idx, low, {"HD": select_samples(g, ~low),
                            "LD": select_snps(select_samples(g, low), ld_idx)}


def _codes(geno: GenotypeSet) -> np.ndarray:
    return codes_of(geno.packed)[:, : len(geno.snps)]


def test_reference_is_the_chip_with_most_animals_or_the_setting(herd):
    _, _, _, panels = _split(herd)
    assert choose_reference(panels) == "HD"
    assert choose_reference(panels, "LD") == "LD"
    with pytest.raises(ImputationError, match="no genotypes") as refused:
        choose_reference(panels, "Chip777")
    assert refused.value.rule == "imputation.reference_panel"


def test_a_chip_sharing_no_snps_is_refused_by_name(herd):
    g = autosomes(herd.genotypes)
    other = SnpMap.from_columns([f"X{i}" for i in range(50)], chrom=["1"] * 50,
                                pos=np.arange(1, 51))
    with pytest.raises(ImputationError, match="panel 'Other' shares 0 SNPs") as refused:
        align_panel(g.snps, other, name="Other", min_common=10)
    assert refused.value.rule == NO_COMMON_SNPS
    moved = SnpMap.from_columns(g.snps.names[:100], chrom=g.snps.chrom[:100],
                                pos=g.snps.pos[:100] + 7, allele_a=g.snps.allele_a[:100],
                                allele_b=g.snps.allele_b[:100])
    with pytest.raises(ImputationError, match="100 names match on another chromosome or position"):
        align_panel(g.snps, moved, name="OtherAssembly", min_common=10)


def test_swapped_alleles_are_flipped_not_lost(herd):
    g = autosomes(herd.genotypes)
    sub = select_snps(g, np.arange(0, 600))
    swapped = SnpMap(names=sub.snps.names, chrom=sub.snps.chrom, pos=sub.snps.pos,
                     allele_a=sub.snps.allele_b, allele_b=sub.snps.allele_a)
    c = _codes(sub)
    flipped = GenotypeSet.from_dosages(np.where(c == 3, -1, 2 - c.astype(np.int8)),
                                       samples=sub.samples, snps=swapped)
    alignment = align_panel(g.snps, swapped, name="Swapped", min_common=10)
    assert alignment.common == 600 and alignment.flip.all()
    merged = impute_to_reference({"HD": g, "Swapped": flipped}, None, min_common_snps=10)
    assert merged.report["animals_on_several_panels"] == len(g.samples)
    assert merged.report["excluded"] == {}
    assert merged.report["discordant_calls_set_missing"] == 0


def test_an_animal_whose_chips_disagree_is_excluded_and_reported(herd):
    g = autosomes(herd.genotypes)
    ld_idx = np.arange(0, len(g.snps), 4)
    ld = select_snps(select_samples(g, np.arange(10)), ld_idx)
    # the LD sample of animal 0 is really animal 50's (a swapped tube)
    swapped_calls = select_snps(select_samples(g, [50]), ld_idx).packed
    ld.packed[0] = swapped_calls[0]
    result = impute_to_reference({"HD": g, "LD": ld}, None, min_common_snps=10)
    excluded = result.report["excluded"][CONFLICTING_CALLS]
    assert [e["animal"] for e in excluded] == [str(g.samples[0])]
    assert excluded[0]["panels"] == ["HD", "LD"]
    assert excluded[0]["discordant"] > 0.1 * excluded[0]["compared"]
    assert str(g.samples[0]) not in set(result.genotypes.samples)
    assert len(result.genotypes.samples) == len(g.samples) - 1
    # ten animals were on both chips; the nine others agree and are kept
    assert result.report["animals_on_several_panels"] == 10


def test_a_chip_without_common_snps_excludes_its_animals_in_the_report(herd):
    g, _, _, panels = _split(herd)
    stranger = GenotypeSet.from_dosages(np.zeros((3, 40), np.int8),
                                        samples=["900001", "900002", "900003"])
    result = impute_to_reference({"HD": panels["HD"], "Stranger": stranger}, None,
                                 min_common_snps=10)
    lost = result.report["excluded"][NO_COMMON_SNPS]
    assert [e["animal"] for e in lost] == ["900001", "900002", "900003"]
    refused = [p for p in result.report["panels"] if p["name"] == "Stranger"][0]
    assert "shares 0 SNPs" in refused["refused"]


def test_imputation_needs_an_engine_and_a_failing_engine_is_named(herd, tmp_path):
    _, _, _, panels = _split(herd)
    with pytest.raises(ImputationError) as refused:
        impute_to_reference(panels, None, min_common_snps=10)
    assert refused.value.rule == FAILED
    with pytest.raises(ImputationError, match="not found") as missing:
        impute_to_reference(panels, Beagle(command="no-such-beagle-here"), min_common_snps=10)
    assert missing.value.rule == FAILED
    fake = tmp_path / "fake-beagle"
    fake.write_text("#!/bin/sh\necho 'Exception in thread main: out of memory' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(ImputationError, match="exited with 3.*out of memory") as crashed:
        impute_to_reference(panels, Beagle(command=str(fake)), min_common_snps=10)
    assert crashed.value.rule == FAILED
    silent = tmp_path / "silent-beagle"
    silent.write_text("#!/bin/sh\nexit 0\n")
    silent.chmod(0o755)
    with pytest.raises(ImputationError, match="wrote no") as empty:
        impute_to_reference(panels, Beagle(command=str(silent)), min_common_snps=10)
    assert empty.value.rule == FAILED


@needs_beagle
@pytest.mark.slow
def test_beagle_imputes_masked_snps_well_above_chance_and_keeps_observed_calls():
    """The simulator's founders carry no linkage disequilibrium, so Beagle can only follow
    haplotypes shared by descent: the herd must be big and dense enough for that (~1 min)."""
    herd = simulate_herd(n_animals=400, n_snps=6000, seed=11, n_generations=4)
    g, ld_idx, low, panels = _split(herd)
    result = impute_to_reference(panels, Beagle(nthreads=2), min_common_snps=100)
    report = result.report
    assert report["imputed_animals"] == low.sum() and report["excluded"] == {}
    assert [p["common_with_reference"] for p in report["panels"]] == [len(g.snps), len(ld_idx)]
    assert np.array_equal(result.genotypes.samples, np.sort(g.samples))  # nobody lost
    truth = _codes(g)
    row = {s: i for i, s in enumerate(g.samples)}
    imputed = np.flatnonzero(result.imputed)
    true_rows = truth[[row[s] for s in result.genotypes.samples[imputed]]]
    got = _codes(result.genotypes)[imputed]
    seen = result.observed_mask()
    # observed calls unchanged, and observed exactly where the low-density chip had a call
    ld_calls = np.full_like(true_rows, 3)
    ld_calls[:, ld_idx] = _codes(panels["LD"])[
        [list(panels["LD"].samples).index(s) for s in result.genotypes.samples[imputed]]]
    assert np.array_equal(seen, ld_calls != 3)
    assert np.array_equal(got[seen], ld_calls[seen])
    assert (got != 3).all() and np.isfinite(result.dosages).all()
    # masked SNPs: concordance and dosage r2 well above chance (the commonest genotype)
    masked = np.where(seen, 3, true_rows)
    acc = concordance(masked, got, result.dosages)
    hd = _codes(panels["HD"])
    commonest = np.array([np.bincount(c[c != 3], minlength=3).argmax() for c in hd.T])
    chance = concordance(masked, np.broadcast_to(commonest, masked.shape))["concordance"]
    assert acc["concordance"] > max(0.82, chance + 0.1), (acc, chance)
    assert acc["dosage_r2"] > 0.4, acc
