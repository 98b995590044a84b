"""A thin adapter around Beagle 5 (Browning et al. 2018, Am J Hum Genet 103:338-348).

Beagle is the well-kept, widely validated engine for genotype imputation, also in cattle
(it is what most national evaluations' imputation studies compare against), and Debian packages
it (``beagle``, version 22Jul22.46e = 5.4, a ``java -jar`` wrapper). Imputation takes two runs:

1. the reference animals' genotypes are phased (``gt=ref.vcf``; Beagle also fills their
   sporadic missing calls, as a reference panel must have none);
2. the target animals are phased and imputed against them (``gt=target.vcf
   ref=ref_phased.vcf.gz``), giving ``GT`` (best guess) and ``DS`` (dosage of ALT) at every
   reference marker.

Both runs cover all chromosomes of the files (Beagle works per chromosome and, without a
``map=``, takes 1 cM per Mb). Anything wrong — the program missing, a non-zero exit, a time
limit, an output that does not have the samples and markers asked for — raises
``imputation.failed`` with the tail of Beagle's own messages, so the run that needed it stops
with a readable reason instead of evaluating fewer animals.
"""

from __future__ import annotations

import gzip
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reprotech_core.genomics.codes import codes_of
from reprotech_core.genomics.imputation import FAILED, ImputationError
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap, select_snps
from reprotech_core.genomics.vcf import write_vcf


@dataclass(frozen=True)
class Beagle:
    """Beagle 5 as a command (the Debian wrapper ``beagle``, or e.g.
    ``java -Xmx8g -jar beagle.jar``), with its run options.

    ``ne`` is Beagle's effective population size: its default (100,000) is for human
    populations; cattle breeds have Ne of ~100, and a small Ne makes the model expect long
    shared haplotypes, which is what a herd of related animals has. ``window_cm`` is Beagle's
    window (unset: 40 cM when phasing the reference, and one window per chromosome, 200 cM,
    when imputing). Beagle 5.4 refuses a window end holding few markers of a sparse chip
    ("Window has only one position", "inconsistent data" in ``MarkerMap``), which low-density
    chips hit at chromosome ends; imputing a whole chromosome at once avoids those ends, and
    the imputation step is the cheap one (phasing the reference dominates the time).
    """

    command: str = "beagle"
    nthreads: int = 2
    seed: int = 20261205
    ne: int | None = 1000
    window_cm: float | None = None
    timeout_seconds: float = 3600.0
    workdir: Path | None = None

    @property
    def name(self) -> str:
        return f"Beagle ({self.command})"

    def impute(self, reference: GenotypeSet, target: GenotypeSet
               ) -> tuple[np.ndarray, np.ndarray]:
        """Best-guess codes and B-allele dosages of ``target`` on every SNP of ``reference``'s
        map; see the module."""
        if not np.array_equal(reference.snps.names, target.snps.names):
            raise ValueError("reference and target must be on the same map")
        order = _marker_order(reference.snps)
        with tempfile.TemporaryDirectory(prefix="beagle-", dir=self.workdir) as tmp:
            d = Path(tmp)
            ref = select_snps(reference, order)
            write_vcf(ref, d / "ref.vcf")
            self._run(["gt=ref.vcf", "out=ref_phased"], d)
            target_codes = codes_of(target.packed)[:, : len(target.snps)][:, order]
            typed = np.flatnonzero((target_codes != 3).any(axis=0))
            if len(typed) == 0:
                raise ImputationError(FAILED, "the animals to impute have no observed call on "
                                      "the reference panel's SNPs")
            write_vcf(select_snps(target, order[typed]), d / "target.vcf")
            self._run(["gt=target.vcf", "ref=ref_phased.vcf.gz", "out=imputed",
                       f"window={self.window_cm or _WHOLE_CHROMOSOME_CM:g}"], d)
            codes, ds = read_beagle_output(d / "imputed.vcf.gz", samples=target.samples,
                                           markers=reference.snps.names[order])
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return codes[:, back], ds[:, back]

    def _run(self, args: list[str], cwd: Path) -> str:
        argv = shlex.split(self.command) + args
        if args:
            argv += [f"nthreads={self.nthreads}", f"seed={self.seed}"]
            if self.window_cm is not None and not any(a.startswith("window=") for a in args):
                argv.append(f"window={self.window_cm:g}")
            if self.ne is not None:
                argv.append(f"ne={self.ne}")
        if shutil.which(argv[0]) is None:
            raise ImputationError(FAILED, f"imputation program {argv[0]!r} not found "
                                  "(setting imputation_command; Debian: apt-get install beagle)")
        try:
            done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                                  timeout=self.timeout_seconds)
        except subprocess.TimeoutExpired:
            raise ImputationError(FAILED, f"Beagle did not finish within "
                                  f"{self.timeout_seconds:.0f} s ({' '.join(args)})") from None
        output = done.stdout + done.stderr
        if (done.returncode != 0 or "ERROR" in done.stderr
                      or "Exception" in done.stderr):
            raise ImputationError(FAILED, f"Beagle exited with {done.returncode} "
                                  f"({' '.join(args)}): {_tail(output)}")
        return output


def _tail(text: str, lines: int = 8) -> str:
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(kept[-lines:]) or "no output"


def _marker_order(snps: SnpMap) -> np.ndarray:
    """Markers sorted by chromosome then position, as Beagle requires; chromosomes in the
    cattle order (1..29, then the rest by name)."""
    chrom_rank = np.array([int(c) if c.isdigit() else 1000 for c in snps.chrom])
    if (snps.pos <= 0).any():
        bad = snps.names[snps.pos <= 0][0]
        raise ImputationError(FAILED, f"SNP {bad!r} of the reference panel has no position; "
                              "Beagle imputes along the genome and needs every position")
    return np.lexsort((snps.pos, snps.chrom, chrom_rank))


def read_beagle_output(path: Path, *, samples: np.ndarray, markers: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """GT (as codes) and DS of Beagle's output VCF, checked to hold exactly ``samples`` and
    ``markers`` in that order.

    Each data line's sample fields (``a|b:ds``) are read as numbers in one NumPy call by
    turning ``|`` and ``:`` into tabs: three numbers per sample, no Python loop per call.
    """
    n, m = len(samples), len(markers)
    codes = np.empty((n, m), dtype=np.uint8)
    ds = np.empty((n, m), dtype=np.float32)
    j = 0
    if not path.exists():
        raise ImputationError(FAILED, f"Beagle wrote no {path.name}")
    try:
        with gzip.open(path, "rb") as fh:
            for raw in fh:
                if raw.startswith(b"##"):
                    continue
                if raw.startswith(b"#CHROM"):
                    got = raw.rstrip(b"\r\n").decode().split("\t")[9:]
                    if got != [str(s) for s in samples]:
                        raise ImputationError(FAILED, f"Beagle's output has {len(got)} samples, "
                                              f"not the {n} animals asked for")
                    continue
                fixed = raw.split(b"\t", 9)
                if j >= m or fixed[2].decode() != str(markers[j]):
                    raise ImputationError(FAILED, f"Beagle's output marker {j + 1} is "
                                          f"{fixed[2].decode()!r}, expected "
                                          f"{markers[j] if j < m else 'no more'}")
                if not fixed[8].startswith(b"GT:DS"):
                    raise ImputationError(FAILED, f"Beagle's output has FORMAT "
                                          f"{fixed[8].decode()!r}, expected GT:DS")
                body = fixed[9].translate(_SEPARATORS)
                values = np.array(body.split(), dtype=np.float32)
                if len(values) != 3 * n:
                    raise ImputationError(FAILED, f"Beagle's output line for "
                                          f"{markers[j]!r} has {len(values) // 3} samples")
                values = values.reshape(n, 3)
                codes[:, j] = (values[:, 0] + values[:, 1]).astype(np.uint8)
                ds[:, j] = values[:, 2]
                j += 1
    except (OSError, EOFError, ValueError) as exc:
        raise ImputationError(FAILED, f"Beagle's output {path.name} is unreadable: {exc}"
                              ) from None
    if j != m:
        raise ImputationError(FAILED, f"Beagle's output has {j} markers, expected {m}")
    return codes, ds


_WHOLE_CHROMOSOME_CM = 200.0
_SEPARATORS = bytes.maketrans(b"|:", b"\t\t")
