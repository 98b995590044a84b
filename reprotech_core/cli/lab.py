"""``reprotech lab``: the genotyping lab's work on the platform database.

File-only tools (QC of a PLINK fileset, conversions, simulation) are ``reprotech geno``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import func, select

from data_models.lab import Genotype, GenotypingBatch, QcResult
from reprotech_core.accounts import customer_by_code
from reprotech_core.cli.context import open_database, print_table, settings, system_session
from reprotech_core.errors import NotFound
from reprotech_core.genomics.illumina_map import read_chip_map
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.store.batch_qc import qc_batch, release_batches
from reprotech_core.store.export import customer_genotypes
from reprotech_core.store.ingest import IngestRefused, ingest_finalreport
from reprotech_core.store.panels import load_panel
from reprotech_core.store.samples import read_sample_sheet, register_samples
from reprotech_core.store.snapshots import write_snapshots
from reprotech_core.uploads import check_upload

app = typer.Typer(help="Genotyping lab: samples, batch ingest, QC, snapshots, exports.",
                  no_args_is_help=True)
console = Console()


@app.command("samples")
def samples(
    csv_file: Annotated[Path, typer.Argument(
        help="Sample sheet, CSV (UTF-8) or Excel, with columns barcode, animal[, tissue]")],
    customer: Annotated[str, typer.Option(help="Customer code")],
) -> None:
    """Register received samples (barcode -> the customer's animal); all or nothing.

    The sheet passes the same upload checks as any import (size limit upload_max_mb, a
    regular file) and is refused by line and column when it cannot be read."""
    rows = read_sample_sheet(csv_file, max_bytes=settings().upload_max_mb * 2**20)
    with system_session(f"samples received from {csv_file.name}") as session:
        done = register_samples(session, customer_by_code(session, customer), rows)
    console.print(f"{escape(customer)}: {done.summary()}")


@app.command("ingest")
def ingest(
    files: Annotated[list[Path], typer.Argument(help="FinalReport file(s) of one export")],
    batch: Annotated[str, typer.Option(help="Batch (plate) name")],
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", "--map",
        help="Chip map: the manifest CSV or GenomeStudio's SNP_Map.txt (told by its header)")
    ] = None,
    chip: Annotated[str | None, typer.Option(
        help="Panel name for an SNP_Map.txt (default: the FinalReport header's Content)")
    ] = None,
    panel: Annotated[str | None, typer.Option(help="A stored panel instead of a map")] = None,
    allow_unknown: Annotated[bool, typer.Option(
        help="Store the known samples even if some sample IDs are not registered")] = False,
) -> None:
    """Ingest a genotyping batch: one transaction, idempotent per file.

    The map is a manifest or SNP_Map.txt (see reprotech_core.genomics.illumina_map); an
    SNP_Map.txt gives no Forward alleles, which AB-coded ingest does not need."""
    db, system = open_database()
    try:
        if manifest is not None:
            check_upload(manifest, max_bytes=settings().upload_max_mb * 2**20, kind="csv")
            chip_map = read_chip_map(manifest, chip=chip, finalreport=files[0])
        elif panel is not None:
            with db.session(system) as session:
                from data_models.lab import SnpPanel

                pid = session.scalar(select(SnpPanel.id).where(SnpPanel.name == panel))
                if pid is None:
                    raise NotFound(f"no stored panel {panel!r}")
                chip_map = PanelManifest(chip=panel, snps=load_panel(session, pid))
        else:
            raise typer.BadParameter("give --manifest/--map or --panel")
        with console.status(f"reading {len(files)} file(s) and storing batch {batch}…"):
            try:
                report = ingest_finalreport(db, system, files, chip_map, batch_name=batch,
                                            allow_unknown=allow_unknown)
            except IngestRefused as refused:
                for line in refused.report.lines()[1:]:
                    console.print(f"[red]{line}[/]")
                raise
    finally:
        db.dispose()
    for line in report.lines():
        console.print(line)


@app.command("qc")
def qc(batch: str) -> None:
    """QC a genotyped batch: record a decision per sample, write the reports."""
    db, system = open_database()
    try:
        with console.status(f"QC of batch {batch}…"):
            with db.session(system, reason=f"QC of batch {batch}") as session:
                summary = qc_batch(session, batch, report_root=settings().var_dir / "store")
    finally:
        db.dispose()
    console.print(f"batch {batch}: {summary.passed} pass, {summary.review} review, "
                  f"{summary.failed} fail; {summary.failed_snps} SNPs fail; reports in "
                  f"{summary.report_dir}")


@app.command("release")
def release(batch: str) -> None:
    """Release a QC'd batch (its genotypes enter evaluations)."""
    with system_session(f"release of batch {batch}") as session:
        release_batches(session, [batch])
    console.print(f"batch {batch} released")


@app.command("batches")
def batches() -> None:
    """List genotyping batches with their stage and QC outcome."""
    with system_session() as session:
        rows = session.execute(
            select(GenotypingBatch.name, GenotypingBatch.stage,
                   func.count(func.distinct(Genotype.id)),
                   func.count(func.distinct(QcResult.id)).filter(QcResult.decision == "fail"),
                   func.count(func.distinct(QcResult.id)).filter(
                       QcResult.decision == "review"))
            .outerjoin(Genotype, Genotype.batch_id == GenotypingBatch.id)
            .outerjoin(QcResult, QcResult.batch_id == GenotypingBatch.id)
            .group_by(GenotypingBatch.id).order_by(GenotypingBatch.name)).all()
    print_table(("batch", "stage", "samples", "QC fail", "QC review"), rows)


@app.command("snapshot")
def snapshot() -> None:
    """Write the Parquet snapshots and analytics tables (see reprotech_core.store.snapshots)."""
    db, system = open_database()
    try:
        with console.status("writing snapshots…"):
            summary = write_snapshots(db, system, settings().var_dir / "store")
    finally:
        db.dispose()
    console.print(f"{sum(summary.tenants.values())} animals in {len(summary.tenants)} tenant "
                  f"snapshots, {summary.research_animals} in the research snapshot; "
                  f"{summary.folder}")


@app.command("export")
def export(
    customer: Annotated[str, typer.Option(help="Customer code")],
    out: Annotated[Path, typer.Option(help="Output prefix (PLINK) or file (VCF)")],
    format: Annotated[str, typer.Option(help="plink or vcf")] = "plink",
    panel: Annotated[str | None, typer.Option(help="Panel, when the customer has several")] = None,
) -> None:
    """Export a customer's genotypes as a PLINK 1 fileset or a VCF."""
    from reprotech_core.genomics.plink_bed import write_plink
    from reprotech_core.genomics.vcf import write_vcf

    if format not in ("plink", "vcf"):
        raise typer.BadParameter("format must be plink or vcf")
    with system_session(f"genotype export for {customer}") as session:
        geno = customer_genotypes(session, customer_by_code(session, customer), panel=panel)
    written = write_plink(geno, out) if format == "plink" else write_vcf(geno, out)
    console.print(f"{len(geno.samples)} animals x {len(geno.snps)} SNPs written to {written}")
