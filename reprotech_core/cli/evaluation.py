"""``reprotech eval``: genomic evaluation from files (a PLINK fileset plus CSVs, no database)
for researchers and cross-checks, and on the platform's stored data.

Every file command reads the fileset once, restricts it to the autosomes (a bull passes no X
to his sons; hemizygous X calls look homozygous) and writes a CSV or GCTA files. The input CSVs
are read by the platform's table reader (:mod:`reprotech_core.table_files`), so a bad file is
refused naming line and column, never with a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from reprotech_core.cli.context import open_database, settings
from reprotech_core.evaluation.contemporary import (
    DEFAULT_MIN_SIZE, by_trait, describe, form_groups,
)
from reprotech_core.evaluation.gblup import evaluate_traits, gebv_table
from reprotech_core.evaluation.grm import GRM, vanraden_grm, write_gcta_grm
from reprotech_core.evaluation.inbreeding import genomic_inbreeding, runs_of_homozygosity
from reprotech_core.evaluation.mating import allocate_matings
from reprotech_core.evaluation.parentage import verify_parents
from reprotech_core.evaluation.pedigree import inbreeding_meuwissen_luo, order_pedigree
from reprotech_core.evaluation.sire_discovery import (
    DEFAULT_MIN_DELTA, DEFAULT_MIN_LOD, discover_sires,
)
from reprotech_core.genomics.plink_bed import read_fam, read_plink
from reprotech_core.genomics.snpmap import GenotypeSet, autosomes
from reprotech_core.records.phenotype_file import RECORD_DATE, read_phenotype_file
from reprotech_core.results.index import check_weights, gebv_wide, ranked
from reprotech_core.table_files import read_frame, read_text

app = typer.Typer(help="Genomic evaluation: GRM, GBLUP, parentage, inbreeding, mating; "
                       "from PLINK files or the platform's data.", no_args_is_help=True)
console = Console()
Bfile = Annotated[Path, typer.Option("--bfile", help="PLINK 1 fileset prefix (.bed/.bim/.fam)")]
Out = Annotated[Path, typer.Option(help="Output file (or prefix for grm)")]
PEDIGREE = ("animal", "sire", "dam")
DISCOVERY = {"animal": "animal", "sire": "discovered_sire", "status": "discovery",
             "lod": "discovery_lod", "delta_lod": "discovery_delta_lod",
             "top_candidates": "discovery_candidates", "trio": "discovery_trio"}


def _autosomal(bfile: Path) -> tuple[GenotypeSet, list[str]]:
    with console.status(f"reading {bfile}…"):
        geno = autosomes(read_plink(bfile))
    console.print(f"{len(geno.samples)} animals x {len(geno.snps)} autosomal SNPs")
    return geno, [str(s) for s in geno.samples]


def _grm(geno: GenotypeSet) -> GRM:
    with console.status("genomic relationships (VanRaden 2008)…"):
        return vanraden_grm(geno)


def _pairs(values: list[str], what: str) -> dict[str, float]:
    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        try:
            out[key] = float(raw)
        except ValueError:
            sep = ""
        if not sep:
            raise typer.BadParameter(f"{what} {item!r} is not trait=number")
    return out


@app.command("grm")
def grm(bfile: Bfile, out: Out) -> None:
    """VanRaden method 1 GRM in GCTA binary format (.grm.bin, .grm.N.bin, .grm.id)."""
    geno, ids = _autosomal(bfile)
    fam = read_fam(Path(f"{bfile.with_suffix('') if bfile.suffix == '.bed' else bfile}.fam"))
    g = _grm(geno)
    paths = write_gcta_grm(out, g.matrix, list(zip(fam["fid"].astype(str), ids, strict=True)),
                           n_nonmissing=float(g.n_snps_used))
    console.print("written: " + ", ".join(map(str, paths)))


@app.command("gblup")
def gblup(
    bfile: Bfile, out: Out,
    phenotypes: Annotated[Path, typer.Option(
        help="CSV/Excel: animal, trait columns[, herd, birth_year or birth_date, "
             "record_date (herd-year-season groups)]")],
    h2: Annotated[list[str], typer.Option(help="trait=h2; traits not given: REML")] = [],  # noqa: B006
    index: Annotated[list[str], typer.Option(help="trait=weight: add a selection index")] = [],  # noqa: B006
    min_group_size: Annotated[int, typer.Option(
        help="with record_date: a smaller group merges or is excluded")] = DEFAULT_MIN_SIZE,
) -> None:
    """REML + GBLUP: GEBVs and reliabilities for every genotyped animal (CSV: animal, trait,
    gebv, reliability; with --index also index.csv). With a record_date column the fixed
    effect is the herd-year-season contemporary group; merges and exclusions are printed."""
    geno, ids = _autosomal(bfile)
    records, traits = read_phenotype_file(phenotypes)
    if RECORD_DATE in records:
        groups = form_groups(by_trait(records, traits, date_column=RECORD_DATE),
                             min_size=min_group_size)
        records = groups.apply(records.drop(columns=RECORD_DATE), traits)
        for line in describe(groups.report):
            console.print(line)
    g = _grm(geno)
    with console.status(f"REML and GBLUP for {', '.join(traits)}…"):
        results = evaluate_traits(g.matrix, ids, records, traits=traits, h2=_pairs(h2, "h2"))
    for r in results:
        console.print(f"{r.trait}: h2 {r.variances.h2:.3f} (SE {r.variances.se_h2:.3f}), "
                      f"{int(r.animals['has_record'].sum())} records")
    table = gebv_table(results)
    table.to_csv(out, index=False)
    if index:
        index_table(table, _pairs(index, "weight"), traits=traits).to_csv(
            out.with_name(out.stem + ".index.csv"), index=False)
    console.print(f"written: {out}")


def index_table(gebvs: pd.DataFrame, weights: dict[str, float], *, traits: list[str]
                ) -> pd.DataFrame:
    """``--index``'s table from long GEBVs (``animal, trait, gebv``): ``animal, index, rank``
    and each weighted trait's GEBV, best first — the platform's one selection index
    (:mod:`reprotech_core.results.index`), with ``traits`` (the phenotype file's) as the
    traits a weight may name; equal indexes in animal-ID order."""
    used = check_weights(weights, traits=traits)
    table = ranked(gebv_wide(gebvs), weights, traits=traits, tie_break="animal")
    return table[["animal", "index", "rank", *used]]


@app.command("parentage")
def parentage(
    bfile: Bfile, out: Out,
    pedigree: Annotated[Path, typer.Option(help="CSV: animal, sire, dam[, birth_date]")],
    min_informative: int = 500, max_opposing_rate: float = 0.01,
    min_lod: Annotated[float, typer.Option(help="LOD the named sire needs")] = DEFAULT_MIN_LOD,
    min_delta: Annotated[float, typer.Option(
        help="LOD lead on the second candidate the named sire needs")] = DEFAULT_MIN_DELTA,
) -> None:
    """Verify recorded sires and dams; for excluded or unknown sires, name the sire among
    the genotyped bulls (sex 1 in .fam) by LOD score, with the dam's genotypes where she is
    genotyped (trio) and, when the pedigree has birth_date, among bulls old enough."""
    geno, ids = _autosomal(bfile)
    ped = read_frame(pedigree, required=PEDIGREE)
    checked = verify_parents(geno, ped, min_informative=min_informative,
                             max_opposing_rate=max_opposing_rate)
    need = sorted(set(checked.loc[(checked["role"] == "sire") & (checked["status"] == "excluded"),
                                  "animal"]) | set(ped.loc[ped["sire"].isna(), "animal"]) & set(ids))
    bulls = [a for a, s in zip(ids, geno.sex if geno.sex is not None else [], strict=False)
             if s == 1]
    if need and bulls:
        animals = ped["animal"].astype(str)
        births = dict(zip(animals, ped["birth_date"])) if "birth_date" in ped.columns else None
        if births is None:
            console.print(f"[yellow]{pedigree.name} has no birth_date: any bull may be named, "
                          "even a calf's own son[/yellow]")
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task(f"sire discovery: {len(need)} animals x {len(bulls)} bulls")
            found = discover_sires(
                geno, need, bulls, dams=dict(zip(animals, ped["dam"])), birth_dates=births,
                min_lod=min_lod, min_delta=min_delta, min_informative=min_informative,
                max_opposing_rate=max_opposing_rate,
                progress=lambda done, total: bar.update(task, completed=done, total=total))
        checked = checked.merge(found[list(DISCOVERY)].rename(columns=DISCOVERY),
                                on="animal", how="left")
        console.print("sire discovery: " + ", ".join(
            f"{n} {s}" for s, n in found["status"].value_counts().items()))
    checked.to_csv(out, index=False)
    console.print(checked["status"].value_counts().to_string())
    console.print(f"written: {out}")


@app.command("inbreeding")
def inbreeding(
    bfile: Bfile, out: Out,
    pedigree: Annotated[Path | None, typer.Option(help="CSV: animal, sire, dam")] = None,
) -> None:
    """Genomic (G diagonal), runs-of-homozygosity and pedigree inbreeding per animal."""
    geno, ids = _autosomal(bfile)
    g = _grm(geno)
    _, f_roh = runs_of_homozygosity(geno)
    table = pd.DataFrame({"animal": ids, "f_genomic": genomic_inbreeding(g.matrix),
                          "f_roh": f_roh.reindex(ids).to_numpy()})
    if pedigree is not None:
        ordered = order_pedigree(read_frame(pedigree, required=PEDIGREE), animal="animal",
                                 sire="sire", dam="dam", add_missing_parents=True)
        f_ped = pd.Series(inbreeding_meuwissen_luo(ordered), index=list(ordered.ids))
        table["f_pedigree"] = f_ped.reindex(ids).to_numpy()
    table.to_csv(out, index=False)
    console.print(table.drop(columns="animal").describe().loc[["mean", "min", "max"]].round(4)
                  .to_string())
    console.print(f"written: {out}")


@app.command("mating")
def mating(
    bfile: Bfile, out: Out,
    merit: Annotated[Path, typer.Option(help="CSV: animal, merit (a GEBV or an index)")],
    cows: Annotated[Path, typer.Option(help="File with one cow ID per line")],
    bulls: Annotated[Path, typer.Option(help="File with one bull ID per line")],
    max_inbreeding: float = 0.0625, max_per_bull: int = 10,
) -> None:
    """Optimal mating plan: highest expected progeny merit with progeny inbreeding (genomic
    coancestry) at most --max-inbreeding and at most --max-per-bull matings per bull."""
    geno, ids = _autosomal(bfile)
    g = _grm(geno)
    values = read_frame(merit, required=("animal",), text=("animal",)).set_index("animal")
    if values.shape[1] != 1:
        raise typer.BadParameter(f"{merit.name}: give animal and one merit column, not "
                                 f"{', '.join(values.columns) or 'none'}")
    plan = allocate_matings(g.matrix, ids, values.iloc[:, 0],
                            cows=read_text(cows).split(), bulls=read_text(bulls).split(),
                            max_inbreeding=max_inbreeding, max_matings_per_bull=max_per_bull)
    plan.to_csv(out, index=False)
    console.print(f"{len(plan)} matings; mean progeny merit {plan['progeny_merit'].mean():.3f}, "
                  f"max progeny inbreeding {plan['progeny_inbreeding'].max():.4f}")
    console.print(f"written: {out}")


@app.command("run")
def run(
    customer: Annotated[str | None, typer.Option(help="One tenant only")] = None,
    release: Annotated[bool, typer.Option(help="Release the results at once")] = False,
) -> None:
    """Evaluate the platform's released genotypes now (the evaluation job, in this process)."""
    from sqlalchemy import select

    from data_models.tenancy import Customer
    from reprotech_core.store.evaluations import release_run, run_evaluation
    from reprotech_core.store.run_validation import validation_table

    db, system = open_database()
    try:
        cid = None
        if customer:
            with db.session(system) as s:
                cid = s.scalar(select(Customer.id).where(Customer.code == customer))
        with console.status("evaluating…") as status:
            summary = run_evaluation(db, system, folder=settings().var_dir / "evaluations",
                                     customer_id=cid,
                                     progress=lambda stage: status.update(
                                         f"evaluating: {stage}"))
        console.print(f"run {summary.run_id} ({summary.method}): {summary.animals} animals "
                      f"({summary.genotyped} genotyped) x {summary.n_snps} SNPs")
        solver = summary.solver
        if solver:
            console.print(f"solver: {solver['path']} — {solver['reason']}", markup=False)
            if "reliability" in solver:
                console.print(f"  reliabilities {solver['reliability']}", markup=False)
            for why in solver.get("not_done", {}).values():
                console.print(f"  {why}", markup=False)
        for trait, info in summary.traits.items():
            console.print(f"  {trait}: h2 {info['h2']} (SE {info['se_h2']}), "
                          f"{info['records']} records")
        for trait, why in summary.skipped.items():
            console.print(f"  {trait}: not evaluated ({why})")
        cohort = summary.validation.get("cohort")
        if cohort is not None:
            console.print(f"validation (LR method) on {cohort.get('animals', 0)} animals born "
                          f"{cohort.get('birth_years', [])}:")
        console.print(validation_table(summary.validation).to_string(index=False),
                      markup=False)
        if not summary.validation.get("release", {}).get("automatic", True):
            console.print("not released automatically; look at the numbers, then "
                          f"`reprotech eval release {summary.run_id} --despite-validation WHY`")
        if release:
            with db.session(system, reason="released from the CLI") as s:
                console.print(f"released {release_run(s, summary.run_id)} results")
    finally:
        db.dispose()


@app.command("release")
def release(
    run_id: int,
    despite_validation: Annotated[str | None, typer.Option(
        help="Release a run whose validation is far off anyway, saying why (recorded on "
             "the run)")] = None,
) -> None:
    """Release a succeeded evaluation run (customers then see its results)."""
    from reprotech_core.store.evaluations import release_run

    db, system = open_database()
    try:
        with db.session(system, reason=f"release of evaluation run {run_id}") as s:
            n = release_run(s, run_id, despite_validation=despite_validation)
            console.print(f"released {n} results of run {run_id}")
    finally:
        db.dispose()
