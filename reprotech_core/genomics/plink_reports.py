"""QC reports as TSV and in PLINK 2's own formats (.afreq, .vmiss, .smiss, .hardy).

Column headers and number formatting (six significant digits) follow PLINK 2 v2.00a3
(https://www.cog-genomics.org/plink/2.0/formats), so existing scripts keep working. Our A
allele is PLINK's REF/A1 and our B allele its ALT/AX, as in :mod:`plink_bed`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reprotech_core.genomics.qc import QcResult


def _g(values: np.ndarray) -> list[str]:
    return [format(v, ".6g") if np.isfinite(v) else "NA" for v in np.asarray(values, float)]


def _write(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, sep="\t", index=False)
    return path


def write_afreq(qc: QcResult, path: str | Path) -> Path:
    s = qc.snps
    return _write(
        pd.DataFrame(
            {
                "#CHROM": s["chrom"], "ID": s["snp"], "REF": s["allele_a"], "ALT": s["allele_b"],
                "ALT_FREQS": _g(s["freq_b"]), "OBS_CT": 2 * (s["hom_a"] + s["het"] + s["hom_b"]),
            }
        ),
        Path(path),
    )


def write_vmiss(qc: QcResult, path: str | Path) -> Path:
    s = qc.snps
    total = s["hom_a"] + s["het"] + s["hom_b"] + s["missing"]
    return _write(
        pd.DataFrame(
            {
                "#CHROM": s["chrom"], "ID": s["snp"], "MISSING_CT": s["missing"], "OBS_CT": total,
                "F_MISS": _g(s["missing"] / total),
            }
        ),
        Path(path),
    )


def write_smiss(qc: QcResult, path: str | Path, *, fid: np.ndarray | None = None) -> Path:
    s = qc.samples
    n_snps = len(qc.snps)
    return _write(
        pd.DataFrame(
            {
                "#FID": s["sample"] if fid is None else fid, "IID": s["sample"],
                "MISSING_CT": s["missing"], "OBS_CT": n_snps, "F_MISS": _g(s["missing"] / n_snps),
            }
        ),
        Path(path),
    )


def write_hardy(qc: QcResult, path: str | Path) -> Path:
    s = qc.snps
    return _write(
        pd.DataFrame(
            {
                "#CHROM": s["chrom"], "ID": s["snp"], "A1": s["allele_a"], "AX": s["allele_b"],
                "HOM_A1_CT": s["hom_a"], "HET_A1_CT": s["het"], "TWO_AX_CT": s["hom_b"],
                "O(HET_A1)": _g(s["het_obs"]), "E(HET_A1)": _g(s["het_exp"]), "P": _g(s["hwe_p"]),
            }
        ),
        Path(path),
    )


def write_qc_reports(
    qc: QcResult, prefix: str | Path, *, fid: np.ndarray | None = None
) -> list[Path]:
    """Write ``prefix.snps.tsv``, ``.samples.tsv``, ``.duplicates.tsv``, ``.parents.tsv`` and
    the PLINK 2 files ``prefix.afreq/.vmiss/.smiss/.hardy``; returns the paths written."""
    pre = str(prefix)
    return [
        _write(qc.snps, Path(pre + ".snps.tsv")),
        _write(qc.samples, Path(pre + ".samples.tsv")),
        _write(qc.duplicates, Path(pre + ".duplicates.tsv")),
        _write(qc.parents, Path(pre + ".parents.tsv")),
        write_afreq(qc, pre + ".afreq"),
        write_vmiss(qc, pre + ".vmiss"),
        write_smiss(qc, pre + ".smiss", fid=fid),
        write_hardy(qc, pre + ".hardy"),
    ]
