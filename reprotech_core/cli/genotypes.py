"""``reprotech geno``: genotype QC, simulation and format conversion for lab staff.

Thin commands over :mod:`reprotech_core.genomics`; every rule lives there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from reprotech_core.errors import ReprotechError
from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.genomics.packing import packed_width
from reprotech_core.genomics.plink_bed import iter_bed_samples, read_bim, read_fam, write_plink
from reprotech_core.genomics.plink_reports import write_qc_reports
from reprotech_core.genomics.qc import QcThresholds
from reprotech_core.genomics.qc_plink import qc_plink
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.table_files import read_frame

# Readers and writers of FinalReport, manifest, VCF and the simulator are imported inside the
# commands that use them: `geno qc` starts without them (see reprotech/launch.py).

app = typer.Typer(help="Genotype files: QC, simulated herds, conversion.", no_args_is_help=True)
err = Console(stderr=True)


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/red] {escape(str(exc))}")  # file names and values are not markup
    raise typer.Exit(code=2)


def _bed_prefix(path: Path) -> Path:
    return path.with_suffix("") if path.suffix in (".bed", ".bim", ".fam") else path


def _read_plink_with_progress(prefix: Path) -> tuple[GenotypeSet, pd.DataFrame]:
    snps = read_bim(prefix.with_suffix(".bim"))
    fam = read_fam(prefix.with_suffix(".fam"))
    packed = np.empty((len(fam), packed_width(len(snps))), dtype=np.uint8)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(f"reading {prefix.name}", total=len(fam))
        for rows, block in iter_bed_samples(prefix):
            packed[rows] = block
            progress.update(task, completed=rows.stop)
    geno = GenotypeSet(packed, fam["iid"].to_numpy(dtype=str), snps,
                       sex=fam["sex"].to_numpy(dtype=np.int8))
    return geno, fam


@app.command()
def qc(
    bfile: Annotated[Path, typer.Argument(help="PLINK 1 fileset prefix (or its .bed)")],
    out: Annotated[Path, typer.Option(help="output prefix for the reports")],
    pedigree: Annotated[Path | None, typer.Option(help="CSV with animal,sire,dam")] = None,
    sample_call_rate: float = 0.90,
    snp_call_rate: float = 0.90,
    maf: float = 0.01,
    hwe_p: Annotated[float | None, typer.Option(help="fail SNPs below this HWE p")] = None,
    het_z: float = 4.0,
) -> None:
    """QC of a PLINK fileset: TSV reports and PLINK 2 .afreq/.vmiss/.smiss/.hardy.

    Counts straight from the SNP-major .bed (qc_plink): no transpose into packed rows."""
    try:
        ped = read_frame(pedigree, required=("animal", "sire", "dam")) if pedigree else None
        limits = QcThresholds(sample_call_rate=sample_call_rate, snp_call_rate=snp_call_rate,
                              maf=maf, hwe_p=hwe_p, het_z=het_z)
        with err.status("QC"):
            result, fam = qc_plink(_bed_prefix(bfile), thresholds=limits, pedigree=ped)
        out.parent.mkdir(parents=True, exist_ok=True)
        paths = write_qc_reports(result, out, fid=fam["fid"].to_numpy(dtype=str))
    except (GenotypeFileError, ReprotechError, FileNotFoundError) as exc:
        _fail(exc)
    typer.echo(f"{len(result.samples)} samples, {len(result.snps)} SNPs: "
               f"{len(result.failed_samples)} samples and {len(result.failed_snps)} SNPs fail")
    for p in paths:
        typer.echo(str(p))


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Argument(help="directory to write into")],
    animals: int = 1000,
    snps: int = 6000,
    seed: int = 0,
    plink: Annotated[bool, typer.Option(help="write herd.bed/.bim/.fam")] = True,
    finalreport: Annotated[bool, typer.Option(help="write herd_FinalReport.txt")] = False,
    vcf: Annotated[bool, typer.Option(help="write herd.vcf")] = False,
) -> None:
    """A simulated herd: genotypes plus pedigree, breeding values, phenotypes and manifest."""
    from reprotech_core.genomics.finalreport_write import write_finalreport
    from reprotech_core.genomics.manifest import PanelManifest, write_manifest
    from reprotech_core.genomics.simulate import simulate_herd
    from reprotech_core.genomics.vcf import write_vcf

    out_dir.mkdir(parents=True, exist_ok=True)
    with err.status("simulating"):
        herd = simulate_herd(n_animals=animals, n_snps=snps, seed=seed)
    written = [write_manifest(PanelManifest("SimulatedSNP60", herd.genotypes.snps),
                              out_dir / "manifest.csv")]
    fam = pd.DataFrame({"father": herd.pedigree["sire"].fillna("0"),
                        "mother": herd.pedigree["dam"].fillna("0")})
    if plink:
        written += [write_plink(herd.genotypes, out_dir / "herd", fam=fam).with_suffix(".bed")]
    if finalreport:
        written.append(write_finalreport(herd.genotypes, out_dir / "herd_FinalReport.txt"))
    if vcf:
        written.append(write_vcf(herd.genotypes, out_dir / "herd.vcf"))
    for name, frame in (("pedigree", herd.pedigree), ("breeding_values", herd.breeding_values),
                        ("phenotypes", herd.phenotypes)):
        frame.to_csv(out_dir / f"{name}.csv", index=name != "pedigree", index_label="animal")
        written.append(out_dir / f"{name}.csv")
    for p in written:
        typer.echo(str(p))


@app.command()
def convert(
    source: Annotated[Path, typer.Argument(help="FinalReport, .vcf[.gz] or PLINK .bed/prefix")],
    target: Annotated[Path, typer.Argument(help="output .vcf, or a PLINK prefix")],
    manifest: Annotated[Path | None, typer.Option(help="chip manifest (FinalReport)")] = None,
    coding: Annotated[str, typer.Option(help="FinalReport alleles: AB, Top, Forward")] = "AB",
    gc_min: float = 0.15,
) -> None:
    """Convert FinalReport -> PLINK/VCF and PLINK <-> VCF."""
    from reprotech_core.genomics.vcf import write_vcf

    try:
        geno = _read_any(source, manifest, coding, gc_min)
        if target.suffix == ".vcf":
            written = write_vcf(geno, target)
        else:
            written = write_plink(geno, _bed_prefix(target)).with_suffix(".bed")
    except (GenotypeFileError, FileNotFoundError) as exc:
        _fail(exc)
    typer.echo(f"{len(geno.samples)} samples x {len(geno.snps)} SNPs -> {written}")


def _read_any(source: Path, manifest: Path | None, coding: str, gc_min: float) -> GenotypeSet:
    from reprotech_core.genomics.finalreport import read_finalreport
    from reprotech_core.genomics.manifest import read_manifest
    from reprotech_core.genomics.vcf import read_vcf

    name = source.name.lower()
    if name.endswith((".vcf", ".vcf.gz")):
        return read_vcf(source)
    if source.suffix == ".bed" or _bed_prefix(source).with_suffix(".bed").exists() \
            and not source.is_file():
        geno, _ = _read_plink_with_progress(_bed_prefix(source))
        return geno
    if manifest is None:
        raise GenotypeFileError("a FinalReport needs --manifest", file=source)
    with err.status(f"reading {source.name}"):
        return read_finalreport(source, read_manifest(manifest), coding=coding, gc_min=gc_min)
