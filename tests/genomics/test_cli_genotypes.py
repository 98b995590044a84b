import numpy as np
import pandas as pd
from typer.testing import CliRunner

from reprotech_core.cli.genotypes import app
from reprotech_core.genomics.plink_bed import read_plink

runner = CliRunner()


def test_simulate_qc_and_convert_round_trip(tmp_path):
    res = runner.invoke(app, ["simulate", str(tmp_path), "--animals", "120", "--snps", "400",
                              "--seed", "3", "--finalreport"])
    assert res.exit_code == 0, res.output
    for name in ("herd.bed", "herd_FinalReport.txt", "manifest.csv", "pedigree.csv",
                 "phenotypes.csv", "breeding_values.csv"):
        assert (tmp_path / name).exists()

    res = runner.invoke(app, ["qc", str(tmp_path / "herd"), "--out", str(tmp_path / "qc" / "h"),
                              "--pedigree", str(tmp_path / "pedigree.csv"), "--maf", "0.05"])
    assert res.exit_code == 0, res.output
    assert "120 samples, 400 SNPs" in res.output
    hardy = pd.read_csv(tmp_path / "qc" / "h.hardy", sep="\t")
    assert list(hardy.columns)[:4] == ["#CHROM", "ID", "A1", "AX"] and len(hardy) == 400
    parents = pd.read_csv(tmp_path / "qc" / "h.parents.tsv", sep="\t")
    assert {"animal", "parent", "conflict_rate"} <= set(parents.columns)

    res = runner.invoke(app, ["convert", str(tmp_path / "herd_FinalReport.txt"),
                              str(tmp_path / "fr"), "--manifest", str(tmp_path / "manifest.csv")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["convert", str(tmp_path / "fr.bed"), str(tmp_path / "fr.vcf")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["convert", str(tmp_path / "fr.vcf"), str(tmp_path / "back")])
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(read_plink(tmp_path / "back").packed,
                                  read_plink(tmp_path / "herd").packed)


def test_errors_are_one_line_with_exit_code_2(tmp_path):
    (tmp_path / "junk.txt").write_bytes(b"\x00\x01junk")
    (tmp_path / "m.csv").write_text("Name,SNP,Chr,MapInfo\nrs1,[A/G],1,5\n")
    res = runner.invoke(app, ["convert", str(tmp_path / "junk.txt"), str(tmp_path / "o"),
                              "--manifest", str(tmp_path / "m.csv")])
    assert res.exit_code == 2
    assert "junk.txt" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["qc", str(tmp_path / "missing"), "--out", str(tmp_path / "q")])
    assert res.exit_code == 2
