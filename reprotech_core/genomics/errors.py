"""One small exception hierarchy for genotype files.

Every error names the place (file, line, sample, SNP) so a lab technician can find the fault
without reading a traceback (STYLE.md, practice 6). :class:`GenotypeFileError` subclasses
:class:`ValueError`, so callers that only know "bad input" can still catch it.
"""

from __future__ import annotations

from os import PathLike


class GenotypeFileError(ValueError):
    """A genotype, map or manifest file that cannot be read as its format says.

    Attributes
    ----------
    file, line, column, sample, snp
        Where the problem is; ``None`` when not applicable. ``line`` is 1-based; ``column`` is
        the column's name in the file's header.
    rule
        The named rule the file broke (``snpmap.alleles`` …), for readers that name one, so a
        report can group refusals by rule as the table imports do.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | PathLike[str] | None = None,
        line: int | None = None,
        column: str | None = None,
        sample: str | None = None,
        snp: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.file = None if file is None else str(file)
        self.line = line
        self.column = column
        self.rule = rule
        self.sample = sample
        self.snp = snp
        self.reason = message
        super().__init__(self.located + (f" [rule {rule}]" if rule else ""))

    @property
    def located(self) -> str:
        """Place and reason, without the rule (for callers that carry the rule themselves)."""
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.sample is not None:
            where.append(f"sample {self.sample!r}")
        if self.snp is not None:
            where.append(f"SNP {self.snp!r}")
        return (", ".join(where) + ": " if where else "") + self.reason


class ManifestError(GenotypeFileError):
    """A SNP absent from the panel manifest, or a file of another chip."""
