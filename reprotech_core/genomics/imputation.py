"""Several chips in one evaluation: every animal's calls on one reference panel.

Animals genotyped on different chips (a 50K, a high-density, a low-density chip of a few
thousand SNPs) can only share a genomic relationship matrix when their calls stand on the same
SNPs. The reference panel is the chip most animals were typed on (or the one a setting names);
each other chip is aligned to it by SNP name, chromosome and position; an animal typed on
several chips has its calls merged; and the animals without reference-panel calls are imputed
by Beagle 5 (Browning et al. 2018, Am J Hum Genet 103:338; :mod:`reprotech_core.genomics.beagle`)
from the phased reference animals.

Observed calls are never changed: an imputed animal's observed calls are written back over
Beagle's output, and which calls were observed is kept (:attr:`ImputedGenotypes.observed`) with
Beagle's dosages (:attr:`ImputedGenotypes.dosages`), so imputed and observed calls stay apart.

Bad input is named, never a silently smaller evaluation: a chip sharing too few SNPs with the
reference is refused (rule ``imputation.no_common_snps``, or its animals reported as excluded
under that rule by :func:`impute_to_reference`); an animal whose chips disagree at more than a
small share of their shared calls (a sample swap, not genotyping error) is excluded under
``imputation.conflicting_calls`` and reported; Beagle failing is ``imputation.failed``.

Everything here is pure (arrays in, arrays out) except the imputation engine, which is passed
in (:class:`~reprotech_core.genomics.beagle.Beagle` in production).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from reprotech_core.errors import RuleViolation
from reprotech_core.genomics.codes import codes_of, pack_codes
from reprotech_core.genomics.packing import MISSING_CODE
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap

NO_COMMON_SNPS = "imputation.no_common_snps"
CONFLICTING_CALLS = "imputation.conflicting_calls"
FAILED = "imputation.failed"
REFERENCE_PANEL = "imputation.reference_panel"


class ImputationError(RuleViolation):
    """A refusal of the imputation, with its stable rule (``imputation.*``)."""


class Engine(Protocol):
    """What imputes: phased reference animals in, target animals' best guesses and dosages out.

    ``impute(reference, target)`` takes both sets on the reference panel's SNPs (codes, 3 =
    missing) and returns ``(codes, dosages)`` of the target animals on every reference SNP:
    codes uint8 (n_target x m, no missing), dosages float32 of the B allele.
    """

    name: str

    def impute(self, reference: GenotypeSet, target: GenotypeSet
               ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class PanelAlignment:
    """How a chip's SNPs stand on the reference panel.

    ``to_reference[j]`` is the reference index of the chip's SNP ``j`` (-1: not on the
    reference); ``flip[j]`` is true where the chip counts the other allele (codes 0 and 2
    swap). Name matches on another chromosome or position (another genome assembly, a
    renamed SNP) and allele pairs that are not the same two alleles are left out and counted.
    """

    name: str
    n_snps: int
    to_reference: np.ndarray
    flip: np.ndarray
    position_mismatch: int = 0
    allele_mismatch: int = 0

    @property
    def common(self) -> int:
        return int((self.to_reference >= 0).sum())


@dataclass(frozen=True)
class ImputedGenotypes:
    """Every kept animal's calls on the reference panel, imputed calls kept apart.

    ``genotypes``: best-guess calls of all kept animals (rows sorted by sample ID), observed
    calls unchanged. ``imputed``: per row, true when the animal had no reference-panel
    genotype and Beagle filled in its calls. For the imputed rows only (in row order):
    ``dosages`` (float32, Beagle's DS of the B allele) and ``observed`` (bits packed with
    ``np.packbits(..., axis=1)``: 1 where the call was observed on a chip). ``report`` is
    what the run records: panels, imputed and excluded animals by rule.
    """

    genotypes: GenotypeSet
    imputed: np.ndarray
    dosages: np.ndarray
    observed: np.ndarray
    report: dict = field(default_factory=dict)

    def observed_mask(self) -> np.ndarray:
        """Boolean (n_imputed x m) mask of observed calls of the imputed rows."""
        m = len(self.genotypes.snps)
        return np.unpackbits(self.observed, axis=1, count=m).astype(bool)


def choose_reference(panels: Mapping[str, GenotypeSet], preferred: str | None = None) -> str:
    """The reference panel: ``preferred`` when given, else the chip with most animals (ties:
    more SNPs, then name).

    The reference should be the chip with many animals and high density: those animals are
    Beagle's phased reference haplotypes, and every other animal is imputed to its SNPs.
    """
    if not panels:
        raise ImputationError(REFERENCE_PANEL, "no genotyped animals on any panel")
    if preferred is not None:
        if preferred not in panels:
            raise ImputationError(REFERENCE_PANEL, f"reference panel {preferred!r} (setting "
                                  f"imputation_reference_panel) has no genotypes to evaluate; "
                                  f"panels with genotypes: {', '.join(sorted(panels))}")
        return preferred
    return max(sorted(panels), key=lambda p: (len(panels[p].samples), len(panels[p].snps)))


def align_panel(reference: SnpMap, panel: SnpMap, *, name: str,
                min_common: int = 1) -> PanelAlignment:
    """Align chip ``name``'s map to the reference map by SNP name, chromosome and position.

    A chip with fewer than ``min_common`` usable SNPs in common is refused with rule
    ``imputation.no_common_snps``: imputing from a handful of SNPs would give calls that look
    like data but are close to allele frequencies.
    """
    idx = reference.index_of(panel.names)
    hit = idx >= 0
    at = np.where(hit, idx, 0)
    same_place = (reference.chrom[at] == panel.chrom) & (reference.pos[at] == panel.pos)
    ra, rb = reference.allele_a[at], reference.allele_b[at]
    same = (ra == panel.allele_a) & (rb == panel.allele_b)
    swapped = (ra == panel.allele_b) & (rb == panel.allele_a) & ~same
    position_mismatch = int((hit & ~same_place).sum())
    allele_mismatch = int((hit & same_place & ~(same | swapped)).sum())
    ok = hit & same_place & (same | swapped)
    alignment = PanelAlignment(name=name, n_snps=len(panel), to_reference=np.where(ok, idx, -1),
                               flip=ok & swapped, position_mismatch=position_mismatch,
                               allele_mismatch=allele_mismatch)
    if alignment.common < min_common:
        raise ImputationError(NO_COMMON_SNPS, (
            f"panel {name!r} shares {alignment.common} SNPs with the reference panel (name, "
            f"chromosome, position and alleles), fewer than {min_common}; "
            f"{position_mismatch} names match on another chromosome or position (another "
            f"genome assembly?), {allele_mismatch} with other alleles"))
    return alignment


def _on_reference(geno: GenotypeSet, alignment: PanelAlignment, m: int) -> np.ndarray:
    """The chip's codes (uint8, 3 = missing) placed on the reference's ``m`` SNPs."""
    codes = codes_of(geno.packed)[:, : alignment.n_snps]
    keep = np.flatnonzero(alignment.to_reference >= 0)
    out = np.full((len(geno.samples), m), MISSING_CODE, dtype=np.uint8)
    part = codes[:, keep]
    flip = alignment.flip[keep]
    if flip.any():
        sub = part[:, flip]
        part[:, flip] = np.where(sub == MISSING_CODE, sub, 2 - sub.astype(np.int16))
    out[:, alignment.to_reference[keep]] = part
    return out


def impute_to_reference(
    panels: Mapping[str, GenotypeSet],
    engine: Engine | None,
    *,
    reference: str | None = None,
    min_common_snps: int = 500,
    max_conflict_rate: float = 0.02,
) -> ImputedGenotypes:
    """All animals of ``panels`` (chip name -> genotypes, samples = animal IDs) on the
    reference chip, see the module.

    A chip refused by :func:`align_panel` does not stop the run: its animals are reported
    under ``imputation.no_common_snps`` (and dropped unless another chip typed them). An animal
    on several chips keeps each chip's calls where the others are missing; calls that disagree
    are set missing (to be imputed) when they are at most ``max_conflict_rate`` of the calls
    the chips share, else the animal is excluded (``imputation.conflicting_calls``). ``engine``
    is needed only when some animal has no reference-chip genotype; a failing engine raises
    ``imputation.failed``.
    """
    ref_name = choose_reference(panels, reference)
    ref_map = panels[ref_name].snps
    m = len(ref_map)
    report: dict = {"reference_panel": ref_name, "panels": [], "excluded": {}}
    aligned: dict[str, tuple[GenotypeSet, PanelAlignment]] = {}
    refused: dict[str, str] = {}
    for name in sorted(panels, key=lambda p: (p != ref_name, p)):
        geno = panels[name]
        try:
            alignment = align_panel(ref_map, geno.snps, name=name, min_common=min_common_snps)
        except ImputationError as exc:
            refused[name] = exc.message
            report["panels"].append({"name": name, "animals": len(geno.samples),
                                     "snps": len(geno.snps), "common_with_reference": 0,
                                     "refused": exc.message})
            continue
        aligned[name] = (geno, alignment)
        report["panels"].append({
            "name": name, "animals": len(geno.samples), "snps": len(geno.snps),
            "common_with_reference": alignment.common,
            "position_mismatch": alignment.position_mismatch,
            "allele_mismatch": alignment.allele_mismatch,
            "allele_flipped": int(alignment.flip.sum())})
    samples = np.array(sorted({str(s) for g, _ in aligned.values() for s in g.samples}), dtype=str)
    row = {s: i for i, s in enumerate(samples)}
    codes = np.full((len(samples), m), MISSING_CODE, dtype=np.uint8)
    compared = np.zeros(len(samples), dtype=np.int64)
    discordant = np.zeros(len(samples), dtype=np.int64)
    chips: dict[str, list[str]] = {s: [] for s in samples}
    on_reference = np.zeros(len(samples), dtype=bool)
    for name, (geno, alignment) in aligned.items():
        rows = np.array([row[str(s)] for s in geno.samples], dtype=np.int64)
        calls = _on_reference(geno, alignment, m)
        for s in geno.samples:
            chips[str(s)].append(name)
        if name == ref_name:
            on_reference[rows] = True
        have = codes[rows]
        both = (have != MISSING_CODE) & (calls != MISSING_CODE)
        differ = both & (have != calls)
        compared[rows] += both.sum(axis=1)
        discordant[rows] += differ.sum(axis=1)
        merged = np.where(have == MISSING_CODE, calls, have)
        merged[differ] = MISSING_CODE
        codes[rows] = merged
    lost = sorted({str(s) for name in refused for s in panels[name].samples} - set(row))
    if lost:
        report["excluded"][NO_COMMON_SNPS] = [
            {"animal": s, "panels": [p for p in refused if s in set(panels[p].samples)]}
            for s in lost]
    rate = np.divide(discordant, compared, out=np.zeros(len(samples)), where=compared > 0)
    conflict = rate > max_conflict_rate
    if conflict.any():
        report["excluded"][CONFLICTING_CALLS] = [
            {"animal": str(samples[i]), "panels": chips[str(samples[i])],
             "compared": int(compared[i]), "discordant": int(discordant[i])}
            for i in np.flatnonzero(conflict)]
    several = np.array([len(chips[s]) > 1 for s in samples], dtype=bool)
    report["animals_on_several_panels"] = int(several.sum())
    report["discordant_calls_set_missing"] = int(discordant[~conflict].sum())
    keep = ~conflict
    samples, codes, on_reference = samples[keep], codes[keep], on_reference[keep]
    target = np.flatnonzero(~on_reference)
    dosages = np.zeros((0, m), dtype=np.float32)
    observed = np.zeros((0, (m + 7) // 8), dtype=np.uint8)
    report["imputed_animals"] = int(len(target))
    report["imputed_ids"] = [str(s) for s in samples[target]]
    report["engine"] = None
    if len(target):
        if engine is None:
            raise ImputationError(FAILED, f"{len(target)} animals have no genotype on the "
                                  f"reference panel {ref_name!r} and no imputation engine "
                                  "was given")
        ref_rows = np.flatnonzero(on_reference)
        if len(ref_rows) < 2:
            raise ImputationError(FAILED, f"reference panel {ref_name!r} has {len(ref_rows)} "
                                  "animals; Beagle needs reference haplotypes to impute from")
        as_set = lambda r: GenotypeSet(packed=pack_codes(codes[r]), samples=samples[r],  # noqa: E731
                                       snps=ref_map)
        best, dosages = engine.impute(as_set(ref_rows), as_set(target))
        if best.shape != (len(target), m) or dosages.shape != (len(target), m):
            raise ImputationError(FAILED, f"imputation returned {best.shape} calls for "
                                  f"{len(target)} animals x {m} SNPs")
        seen = codes[target] != MISSING_CODE
        codes[target] = np.where(seen, codes[target], best)  # observed calls stay
        dosages = np.where(seen, codes[target], dosages).astype(np.float32)
        observed = np.packbits(seen, axis=1)
        report["engine"] = engine.name
    geno = GenotypeSet(packed=pack_codes(codes), samples=samples, snps=ref_map)
    return ImputedGenotypes(genotypes=geno, imputed=~on_reference, dosages=dosages,
                            observed=observed, report=report)


def concordance(true_codes: np.ndarray, imputed_codes: np.ndarray,
                dosages: np.ndarray | None = None) -> dict[str, float]:
    """Accuracy of imputed calls against the truth, on the cells given (1-D or 2-D arrays).

    Concordance is the share of best-guess calls equal to the true genotype; dosage r² is the
    squared correlation of dosage and true genotype, per SNP then averaged over SNPs that vary
    (Browning & Browning 2009's measure, independent of allele frequency unlike concordance).
    """
    t = np.asarray(true_codes)
    ok = t != MISSING_CODE
    result = {"calls": int(ok.sum()),
              "concordance": float((np.asarray(imputed_codes)[ok] == t[ok]).mean())}
    if dosages is not None and t.ndim == 2:
        d = np.asarray(dosages, dtype=np.float64)
        r2 = []
        for j in range(t.shape[1]):
            k = ok[:, j]
            x, y = d[k, j], t[k, j].astype(np.float64)
            if k.sum() > 2 and x.std() > 0 and y.std() > 0:
                r2.append(np.corrcoef(x, y)[0, 1] ** 2)
        result["dosage_r2"] = float(np.mean(r2)) if r2 else float("nan")
        result["snps_with_r2"] = len(r2)
    return result
