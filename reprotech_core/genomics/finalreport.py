"""Streaming reader of Illumina GenomeStudio FinalReports into packed genotypes.

The text is parsed by Arrow's multithreaded C++ CSV reader (:func:`pyarrow.csv.open_csv`)
in blocks; SNP names, sample IDs and alleles arrive dictionary-encoded, so mapping them to the
panel's SNP order and to 2-bit codes is a lookup per distinct value plus a gather per row, never
a Python loop per line. Memory holds one block of text plus the samples under assembly.

Every check the lab needs is made while streaming: SNPs unknown to the manifest (and a file of
another chip), alleles that are not the SNP's, a sample's genotype set seen twice, a sample cut
short (truncated file), and header counts that disagree with the data. Errors are
:class:`GenotypeFileError` naming file, line, sample and SNP. The iterator raises at the end of
the file for whole-file problems, so callers that store data must consume it fully first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from reprotech_core.genomics.codes import pack_codes
from reprotech_core.genomics.errors import GenotypeFileError, ManifestError
from reprotech_core.genomics.finalreport_header import FinalReportHeader, read_header
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.packing import MISSING_CODE
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.genomics.textio import arrow_stream, decode, open_binary

CODINGS = ("AB", "Top", "Forward")
_LETTERS = {"A": 0, "C": 1, "G": 2, "T": 3, "I": 4, "D": 5, "-": 6}
_MISS_LETTER, _BAD = 6, 255
_UNSET = 255
_DICT = pa.dictionary(pa.int32(), pa.string())


def read_finalreport(path: str | Path, manifest: PanelManifest, **options) -> GenotypeSet:
    """Read a whole FinalReport; ``options`` as for :func:`iter_finalreport`."""
    chunks = list(iter_finalreport(path, manifest, **options))
    return _concat(chunks, manifest)


def read_finalreport_files(
    paths: Sequence[str | Path], manifest: PanelManifest, **options
) -> GenotypeSet:
    """Read the files ``1 of N`` .. ``N of N`` of one export, checking that all are there
    and that no sample appears in two of them."""
    headers = {Path(p): read_header(p) for p in paths}
    counts = {h.file_count for h in headers.values()}
    indices = sorted(h.file_index for h in headers.values())
    if len(counts) != 1 or indices != list(range(1, counts.pop() + 1)):
        raise GenotypeFileError(f"files are parts {indices} of an export, not all of 1..N",
                                file=", ".join(str(p) for p in paths))
    chunks = [c for p in paths for c in iter_finalreport(p, manifest, **options)]
    geno = _concat(chunks, manifest)
    ids, first = np.unique(geno.samples, return_index=True)
    if len(ids) != len(geno.samples):
        dup = next(s for i, s in enumerate(geno.samples) if i not in set(first))
        raise GenotypeFileError("sample appears in two files of the export", sample=str(dup))
    return geno


def _concat(chunks: list[GenotypeSet], manifest: PanelManifest) -> GenotypeSet:
    if not chunks:
        width = (len(manifest.snps) + 3) // 4
        return GenotypeSet(np.zeros((0, width), np.uint8), np.array([], str), manifest.snps)
    return GenotypeSet(
        packed=np.concatenate([c.packed for c in chunks]),
        samples=np.concatenate([c.samples for c in chunks]),
        snps=manifest.snps,
    )


def iter_finalreport(
    path: str | Path,
    manifest: PanelManifest,
    *,
    coding: str = "AB",
    gc_min: float = 0.15,
    samples_per_chunk: int = 256,
    block_size: int = 8 << 20,
) -> Iterator[GenotypeSet]:
    """Stream a FinalReport as :class:`GenotypeSet` chunks on the manifest's SNP order.

    Parameters
    ----------
    path : str or Path
        Plain or gzip-compressed FinalReport.
    manifest : PanelManifest
        The panel (or a common map containing it); its SNPs absent from the file are missing.
    coding : {"AB", "Top", "Forward"}
        Which ``Allele1 - <coding>`` / ``Allele2 - <coding>`` columns to read.
    gc_min : float
        Calls with ``GC Score`` below this are set missing (0 disables the check).
    samples_per_chunk : int
        Completed samples per yielded chunk.
    block_size : int
        Bytes of text parsed per Arrow block.
    """
    if coding not in CODINGS:
        raise ValueError(f"coding must be one of {CODINGS}, got {coding!r}")
    header = read_header(path)
    state = _Assembly(path, header, manifest, coding, gc_min)
    reader = _open(path, header, state.columns, block_size)
    row0 = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, pa.ArrowKeyError, OSError, EOFError) as exc:
            raise _locate_bad_line(path, header, str(exc)) from None
        state.add(batch, row0)
        row0 += batch.num_rows
        while len(state.done) >= samples_per_chunk:
            yield state.pop(samples_per_chunk)
    state.finish(row0)
    while state.done:
        yield state.pop(samples_per_chunk)


def _locate_bad_line(path, header: FinalReportHeader, arrow_message: str) -> GenotypeFileError:
    """Find the first malformed data line (slow path, only after Arrow failed)."""
    n_cols = len(header.columns)
    sep = header.delimiter.encode()
    try:
        with open_binary(path) as fh:
            for number, raw in enumerate(fh, start=1):
                if number <= header.data_line or not raw.strip():
                    continue
                decode(raw, path, line_offset=number - 1)
                fields = raw.rstrip(b"\r\n").split(sep)
                if len(fields) != n_cols:
                    last = not raw.endswith(b"\n")
                    return GenotypeFileError(
                        f"{len(fields)} fields, expected {n_cols}"
                        + (" (truncated file: last line incomplete)" if last else ""),
                        file=path, line=number, sample=_field(fields, 1, sep),
                        snp=_field(fields, 0, sep),
                    )
    except GenotypeFileError as exc:
        return exc
    except (OSError, EOFError) as exc:
        return GenotypeFileError(f"cannot read ({exc}; truncated gzip?)", file=path)
    return GenotypeFileError(f"cannot parse data ({arrow_message})", file=path)


def _field(fields: list[bytes], i: int, sep: bytes) -> str | None:
    return fields[i].decode("utf-8", "replace") if len(fields) > i else None


def _open(path, header: FinalReportHeader, columns: list[str], block_size: int):
    types = {c: _DICT for c in columns[:4]}
    if len(columns) > 4:
        types[columns[4]] = pa.float32()
    try:
        return pacsv.open_csv(
            arrow_stream(path),
            read_options=pacsv.ReadOptions(skip_rows=header.data_line - 1, block_size=block_size),
            parse_options=pacsv.ParseOptions(delimiter=header.delimiter),
            convert_options=pacsv.ConvertOptions(include_columns=columns, column_types=types),
        )
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        raise _locate_bad_line(path, header, str(exc)) from None
    except pa.ArrowKeyError as exc:  # Arrow split the header where read_header did not
        raise GenotypeFileError(
            "the column header does not read as the same line twice: a stray carriage return "
            f"or control character before the data? ({exc})", file=path,
            line=header.data_line) from None


class _Assembly:
    """Per-sample code buffers filled from row blocks, with the checks of the module doc."""

    def __init__(self, path, header: FinalReportHeader, manifest: PanelManifest, coding, gc_min):
        self.path, self.header, self.manifest = path, header, manifest
        self.m = len(manifest.snps)
        self.snp_names = pa.array(manifest.snps.names)
        names = ["SNP Name", "Sample ID", f"Allele1 - {coding}", f"Allele2 - {coding}"]
        if gc_min > 0:
            names.append("GC Score")
        absent = [c for c in names if c not in header.columns]
        if absent:
            raise GenotypeFileError(f"missing columns {absent} (has {header.columns})",
                                    file=path, line=header.data_line)
        self.columns, self.coding, self.gc_min = names, coding, gc_min
        if coding != "AB":
            a, b = manifest.alleles(coding)
            self.code_a, self.code_b = _letter_codes(a), _letter_codes(b)
        self.sample_no: dict[str, int] = {}
        self.buffers: dict[int, np.ndarray] = {}
        self.filled: dict[int, int] = {}
        self.completed: set[int] = set()
        self.done: list[tuple[str, np.ndarray]] = []

    def line(self, row: int) -> int:
        return self.header.data_line + 1 + row

    def fail(self, message: str, row: int, *, sample=None, snp=None, cls=GenotypeFileError):
        raise cls(message, file=self.path, line=self.line(row), sample=sample, snp=snp)

    def add(self, batch: pa.RecordBatch, row0: int) -> None:
        snp_col, sample_col, a1, a2 = (batch.column(i) for i in range(4))
        snp = self._snp_index(snp_col, row0)
        codes = self._codes(a1, a2, snp, sample_col, row0)
        if self.gc_min > 0:
            gc = batch.column(4).to_numpy(zero_copy_only=False)
            codes[~(gc >= self.gc_min)] = MISSING_CODE
        ids = sample_col.dictionary.to_numpy(zero_copy_only=False).astype(str)
        local = sample_col.indices.to_numpy(zero_copy_only=False)
        order = np.argsort(local, kind="stable")
        cuts = np.flatnonzero(np.diff(local[order])) + 1
        for rows in np.split(order, cuts) if len(order) else []:
            self._fill(str(ids[local[rows[0]]]), snp[rows], codes[rows], rows + row0)

    def _snp_index(self, snp_col: pa.DictionaryArray, row0: int) -> np.ndarray:
        found = pc.index_in(snp_col.dictionary, value_set=self.snp_names)
        where = found.fill_null(-1).to_numpy().astype(np.int64)
        idx = snp_col.indices.to_numpy(zero_copy_only=False)
        unknown = where < 0
        if unknown.any():
            names = snp_col.dictionary.to_numpy(zero_copy_only=False)
            row = int(np.flatnonzero(unknown[idx])[0])
            share = unknown.mean()
            msg = (f"{unknown.sum()} of {len(names)} SNP names are not on chip "
                   f"{self.manifest.chip!r} (file says {self.header.chip!r}): wrong chip?"
                   if share > 0.5 and len(names) >= 10
                   else f"SNP is not in the manifest of {self.manifest.chip!r}")
            self.fail(msg, row0 + row, snp=str(names[idx[row]]), cls=ManifestError)
        return where[idx]

    def _codes(self, a1, a2, snp, sample_col, row0) -> np.ndarray:
        d1, d2 = (self._dosage(col, snp) for col in (a1, a2))
        bad = (d1 == _BAD) | (d2 == _BAD)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            col = a1 if d1[r] == _BAD else a2
            allele = col.dictionary[col.indices[r].as_py()].as_py()
            expect = ("A, B" if self.coding == "AB" else
                      f"{self.manifest.alleles(self.coding)[0][snp[r]]}, "
                      f"{self.manifest.alleles(self.coding)[1][snp[r]]}")
            self.fail(f"allele {allele!r} in '{_col_name(self, col is a1)}' is not one of "
                      f"{expect} or '-'", row0 + r,
                      sample=sample_col.dictionary[sample_col.indices[r].as_py()].as_py(),
                      snp=str(self.manifest.snps.names[snp[r]]))
        missing = (d1 == MISSING_CODE) | (d2 == MISSING_CODE)
        return np.where(missing, MISSING_CODE, d1 + d2).astype(np.uint8)

    def _dosage(self, col: pa.DictionaryArray, snp: np.ndarray) -> np.ndarray:
        """Per row: 0 (allele A), 1 (allele B), MISSING_CODE ('-'), or _BAD."""
        values = col.dictionary.to_numpy(zero_copy_only=False).astype(str)
        idx = col.indices.to_numpy(zero_copy_only=False)
        if self.coding == "AB":
            lut = np.array([{"A": 0, "B": 1, "-": MISSING_CODE}.get(v, _BAD) for v in values],
                           dtype=np.uint8)
            return lut[idx]
        letters = _letter_codes(values)[idx]
        is_a, is_b = letters == self.code_a[snp], letters == self.code_b[snp]
        out = np.where(is_b, 1, np.where(is_a, 0, _BAD)).astype(np.uint8)
        out[letters == _MISS_LETTER] = MISSING_CODE
        return out

    def _fill(self, sample: str, snp, codes, rows) -> None:
        k = self.sample_no.setdefault(sample, len(self.sample_no))
        if k in self.completed:
            self.fail("sample has a second genotype set after a complete one", int(rows[0]),
                      sample=sample, snp=str(self.manifest.snps.names[snp[0]]))
        buf = self.buffers.get(k)
        if buf is None:
            buf = self.buffers[k] = np.full(self.m, _UNSET, dtype=np.uint8)
            self.filled[k] = 0
        seen = buf[snp] != _UNSET
        dup_in_block = np.bincount(snp, minlength=self.m).max(initial=0) > 1
        if seen.any() or dup_in_block:
            at = int(np.flatnonzero(seen)[0]) if seen.any() else _first_repeat(snp)
            self.fail("sample has a second genotype set: SNP seen twice", int(rows[at]),
                      sample=sample, snp=str(self.manifest.snps.names[snp[at]]))
        buf[snp] = codes
        self.filled[k] += len(snp)
        if self.filled[k] > self.header.num_snps:
            self.fail(f"sample has more than the header's Num SNPs {self.header.num_snps}",
                      int(rows[-1]), sample=sample)
        if self.filled[k] == self.header.num_snps:
            buf[buf == _UNSET] = MISSING_CODE  # on the manifest but not on this chip
            self.done.append((sample, pack_codes(buf)))
            self.completed.add(k)
            del self.buffers[k]

    def finish(self, n_rows: int) -> None:
        for k in self.buffers:
            sample = next(s for s, i in self.sample_no.items() if i == k)
            self.fail(f"truncated: sample has {self.filled[k]} of {self.header.num_snps} SNPs",
                      n_rows - 1, sample=sample)
        if len(self.sample_no) != self.header.num_samples:
            self.fail(f"header says Num Samples {self.header.num_samples}, data has "
                      f"{len(self.sample_no)}", max(n_rows - 1, 0))

    def pop(self, n: int) -> GenotypeSet:
        chunk, self.done = self.done[:n], self.done[n:]
        return GenotypeSet(
            packed=np.stack([p for _, p in chunk]),
            samples=np.array([s for s, _ in chunk]),
            snps=self.manifest.snps,
        )


def _col_name(state: _Assembly, first: bool) -> str:
    return f"Allele{1 if first else 2} - {state.coding}"


def _first_repeat(snp: np.ndarray) -> int:
    _, first = np.unique(snp, return_index=True)
    return int(np.setdiff1d(np.arange(len(snp)), first)[0])


def _letter_codes(values) -> np.ndarray:
    return np.array([_LETTERS.get(str(v).upper(), _BAD) for v in values], dtype=np.uint8)
