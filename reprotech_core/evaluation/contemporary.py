"""Herd-year-season contemporary groups: the fixed effect that compares an animal's record
with the records made beside it.

Animals recorded in the same herd, in the same season of the same year, shared feed, weather
and management; the group's fixed effect removes that shared environment, so what is left
is genetic and individual (Schaeffer 2019, *Animal models*; the contemporary-group rule of
national dairy evaluations, e.g. VanRaden & Wiggans 1991). A herd + birth-year model instead
compares a record of 2019 with one of 2024 in the same herd as if nothing had changed.

**The date** is the record's own date (``core.phenotypes.recorded_on``; a lactation's date
is its calving date), not the animal's birth date. Groups are formed per trait: each trait's
records have their own dates, and a group is judged by the records of that trait in it.

**Seasons** (:data:`SEASONS`, a keyword option): December-February (winter), March-May
(spring), June-August (summer), September-November (autumn). A season spanning the year end
belongs to the year it ends in: December 2023 is in winter 2024 with January and February
2024, so one winter is one group.

**Minimum group size** (``min_size``): a group with fewer records carries little
information on its own effect, so its records mostly estimate the group, not the animals.
Per herd and season year, while a group is below the minimum and the herd-year has another
group, the smallest such group is merged with its neighbouring season (the nearer season
with records; of two, the smaller, which may fix both at once; tie: the earlier). What
cannot grow further is the whole herd-year; if that is still below the minimum its records
are excluded (rule ``cg.small_herd_year``).

**One sire family** (rule ``cg.one_sire_family``): when every record of a group comes from
daughters of one sire, the group's effect equals that family's mean, so the records do not
compare the sire with any other; the group is excluded. A group of size one is the extreme
case (the record is all group effect) and is excluded by the minimum size, which is at
least 2. Records without a date are excluded (rule ``cg.no_date``).

Nothing is silently lost: :attr:`ContemporaryGroups.report` counts, per trait, groups,
records kept, records merged (per merge rule) and records excluded (per rule); the run
record and the CLI show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

SEASONS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("winter", (12, 1, 2)), ("spring", (3, 4, 5)), ("summer", (6, 7, 8)),
    ("autumn", (9, 10, 11)))
DEFAULT_MIN_SIZE = 5
FACTOR = "cg"  # the fixed-effect name of the group in the records (``cg:<trait>`` columns)
EXCLUSION_RULES = ("cg.no_date", "cg.small_herd_year", "cg.one_sire_family")


def check_seasons(seasons: Sequence[tuple[str, Sequence[int]]]) -> None:
    """Seasons must cover each month once, in calendar order."""
    months = [m for _, ms in seasons for m in ms]
    if sorted(months) != list(range(1, 13)):
        raise ValueError(f"seasons must cover months 1-12 once each, got {months}")
    wraps = sum(1 for a, b in zip(months, months[1:] + months[:1], strict=True)
                if b != a % 12 + 1)
    if wraps:
        raise ValueError("seasons must follow the calendar (consecutive months)")


def season_of(day: date, seasons: Sequence[tuple[str, Sequence[int]]] = SEASONS
              ) -> tuple[int, int]:
    """(season year, season index): a season spanning the year end belongs to the year it
    ends in, so December 2023 is (2024, winter)."""
    for i, (_, months) in enumerate(seasons):
        if day.month in months:
            ms = list(months)
            wrap = next((k for k in range(len(ms) - 1) if ms[k + 1] < ms[k]), None)
            ahead = wrap is not None and ms.index(day.month) <= wrap
            return day.year + (1 if ahead else 0), i
    raise ValueError(f"month {day.month} is in no season")  # unreachable after check_seasons


def group_column(trait: str) -> str:
    """The records column holding ``trait``'s contemporary group."""
    return f"{FACTOR}:{trait}"


@dataclass(frozen=True)
class ContemporaryGroups:
    """Per-trait groups of records, what was excluded and why, and the counts."""

    assigned: pd.DataFrame  # animal, trait, group
    excluded: pd.DataFrame  # animal, trait, rule
    report: dict[str, dict[str, int]]  # trait -> counts (see form_groups)

    def apply(self, records: pd.DataFrame, traits: Sequence[str]) -> pd.DataFrame:
        """The wide records (one row per animal) for :func:`~.gblup.evaluate_traits`: each
        trait's group in ``cg:<trait>``, excluded values blanked, and ``herd`` dropped (the
        group nests it, so fitting both only adds confounded columns)."""
        out = records.drop(columns=["herd"], errors="ignore").copy()
        animal = out["animal"].astype(str)
        for trait in traits:
            mine = self.assigned[self.assigned["trait"] == trait]
            out[group_column(trait)] = animal.map(dict(zip(mine["animal"], mine["group"],
                                                           strict=True)))
            out.loc[out[group_column(trait)].isna(), trait] = float("nan")
        return out


def form_groups(
    records: pd.DataFrame, *, min_size: int = DEFAULT_MIN_SIZE,
    seasons: Sequence[tuple[str, Sequence[int]]] = SEASONS,
) -> ContemporaryGroups:
    """Herd-year-season groups of ``records`` (long: ``animal``, ``trait``, ``herd``,
    ``date``, optional ``sire``), merged up to ``min_size`` and excluded by the rules of
    the module docstring.

    The report per trait: ``records`` (in), ``groups`` and ``kept`` (out),
    ``merged_season`` (records in a group of several seasons, not the whole herd-year),
    ``merged_herd_year`` (records in a group of the whole herd-year of several seasons),
    and one count per exclusion rule (:data:`EXCLUSION_RULES`).
    """
    if min_size < 2:
        raise ValueError(f"min_size must be at least 2 (a group of one has no information), "
                         f"got {min_size}")
    check_seasons(seasons)
    missing = {"animal", "trait", "herd", "date"} - set(records.columns)
    if missing:
        raise ValueError(f"records need columns {sorted(missing)}")
    if records["herd"].isna().any():
        raise ValueError(f"herd is missing for {int(records['herd'].isna().sum())} records")
    assigned, excluded = [], []
    report: dict[str, dict[str, int]] = {}
    for trait, rows in records.groupby("trait", sort=False):
        counts = {"records": len(rows), "groups": 0, "kept": 0, "merged_season": 0,
                  "merged_herd_year": 0, **{r: 0 for r in EXCLUSION_RULES}}
        report[str(trait)] = counts
        dated = rows["date"].notna()
        for a in rows.loc[~dated, "animal"]:
            excluded.append((str(a), trait, "cg.no_date"))
        counts["cg.no_date"] = int((~dated).sum())
        rows = rows[dated]
        ys = [season_of(pd.Timestamp(d).date(), seasons) for d in rows["date"]]
        rows = rows.assign(_year=[y for y, _ in ys], _season=[s for _, s in ys])
        for (herd, year), hy in rows.groupby(["herd", "_year"], sort=True):
            for members, label, kind in _merge_herd_year(hy, min_size, seasons, herd, year):
                sires = members["sire"] if "sire" in members else None
                if len(members) < min_size:
                    rule = "cg.small_herd_year"
                elif sires is not None and sires.notna().all() and sires.nunique() == 1:
                    rule = "cg.one_sire_family"
                else:
                    counts["groups"] += 1
                    counts["kept"] += len(members)
                    if kind:
                        counts[kind] += len(members)
                    assigned += [(str(a), trait, label) for a in members["animal"]]
                    continue
                counts[rule] += len(members)
                excluded += [(str(a), trait, rule) for a in members["animal"]]
    return ContemporaryGroups(
        assigned=pd.DataFrame(assigned, columns=["animal", "trait", "group"]),
        excluded=pd.DataFrame(excluded, columns=["animal", "trait", "rule"]),
        report=report)


def _merge_herd_year(hy: pd.DataFrame, min_size: int, seasons, herd, year
                     ) -> list[tuple[pd.DataFrame, str, str | None]]:
    """The groups of one herd-year: (records, label, merge kind or None)."""
    present = sorted(hy["_season"].unique())
    groups = [[s] for s in present]  # consecutive runs of season indices with records
    size = {s: int((hy["_season"] == s).sum()) for s in present}

    def n(g: list[int]) -> int:
        return sum(size[s] for s in g)

    while len(groups) > 1:
        small = [i for i, g in enumerate(groups) if n(g) < min_size]
        if not small:
            break
        i = min(small, key=lambda k: (n(groups[k]), k))
        nbrs = [j for j in (i - 1, i + 1) if 0 <= j < len(groups)]
        j = min(nbrs, key=lambda k: (n(groups[k]), k))
        lo, hi = sorted((i, j))
        groups[lo:hi + 1] = [groups[lo] + groups[hi]]
    out = []
    for g in groups:
        members = hy[hy["_season"].isin(g)]
        if len(g) == 1:
            label, kind = f"{herd}:{year}:{seasons[g[0]][0]}", None
        elif len(g) == len(present):
            label, kind = f"{herd}:{year}", "merged_herd_year"
        else:
            label = f"{herd}:{year}:" + "+".join(seasons[s][0] for s in g)
            kind = "merged_season"
        out.append((members, label, kind))
    return out


def by_trait(records: pd.DataFrame, traits: Sequence[str], *, date_column: str
             ) -> pd.DataFrame:
    """The long records :func:`form_groups` takes, from wide ones (one row per animal) whose
    one date column dates every trait of the row (a phenotype file's ``record_date``)."""
    long = records.melt(id_vars=["animal", "herd", date_column], value_vars=list(traits),
                        var_name="trait", value_name="value")
    long = long[long["value"].notna()]
    return pd.DataFrame({"animal": long["animal"].astype(str), "trait": long["trait"],
                         "herd": long["herd"], "date": long[date_column]})


def describe(report: dict[str, dict[str, int]]) -> list[str]:
    """One line per trait for a person: groups, records kept, merged and excluded by rule."""
    lines = []
    for trait, c in report.items():
        out = [f"{trait}: {c['groups']} contemporary groups, {c['kept']} of {c['records']} "
               "records kept"]
        out += [f"{c[k]} in merged {k.removeprefix('merged_').replace('_', '-')}s"
                for k in ("merged_season", "merged_herd_year") if c[k]]
        out += [f"{c[r]} excluded ({r})" for r in EXCLUSION_RULES if c[r]]
        lines.append(", ".join(out))
    return lines
