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
    index, ahead = _month_table(seasons)[day.month]
    return day.year + ahead, index


def _month_table(seasons: Sequence[tuple[str, Sequence[int]]]) -> dict[int, tuple[int, int]]:
    """month -> (season index, 1 when the month counts in the next year's season)."""
    table = {}
    for i, (_, months) in enumerate(seasons):
        ms = list(months)
        wrap = next((k for k in range(len(ms) - 1) if ms[k + 1] < ms[k]), None)
        for k, m in enumerate(ms):
            table[m] = (i, int(wrap is not None and k <= wrap))
    return table


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
    rows = records.reset_index(drop=True)
    rows = rows.assign(animal=rows["animal"].astype(str),
                       date=pd.to_datetime(rows["date"]))
    rows["rule"] = None
    rows.loc[rows["date"].isna(), "rule"] = "cg.no_date"
    table = _month_table(seasons)
    dated = rows["rule"].isna()
    month = rows.loc[dated, "date"].dt.month
    rows.loc[dated, "season"] = month.map(lambda m: table[m][0])
    rows.loc[dated, "year"] = rows.loc[dated, "date"].dt.year + month.map(lambda m: table[m][1])
    plan = _plan(rows[dated].groupby(["trait", "herd", "year", "season"], sort=True).size(),
                 min_size, seasons)
    keys = list(zip(rows["trait"], rows["herd"], rows["year"], rows["season"], strict=True))
    rows["group"] = [plan[k][0] if ok else None for k, ok in zip(keys, dated, strict=True)]
    rows["kind"] = [plan[k][1] if ok else None for k, ok in zip(keys, dated, strict=True)]
    size = rows.groupby(["trait", "group"])["animal"].transform("size")
    rows.loc[dated & (size < min_size), "rule"] = "cg.small_herd_year"
    if "sire" in rows:
        live = rows["rule"].isna()
        sires = rows[live].groupby(["trait", "group"])["sire"]
        one = (sires.transform("count") == sires.transform("size")) & (
            sires.transform("nunique") == 1)
        rows.loc[one[one].index, "rule"] = "cg.one_sire_family"
    kept = rows[rows["rule"].isna()]
    report = {}
    for trait, mine in rows.groupby("trait", sort=False):
        ok = mine[mine["rule"].isna()]
        report[str(trait)] = {
            "records": len(mine), "groups": int(ok["group"].nunique()), "kept": len(ok),
            "merged_season": int((ok["kind"] == "merged_season").sum()),
            "merged_herd_year": int((ok["kind"] == "merged_herd_year").sum()),
            **{r: int((mine["rule"] == r).sum()) for r in EXCLUSION_RULES}}
    return ContemporaryGroups(
        assigned=kept[["animal", "trait", "group"]].reset_index(drop=True),
        excluded=rows.loc[rows["rule"].notna(), ["animal", "trait", "rule"]]
        .reset_index(drop=True),
        report=report)


def _plan(sizes: pd.Series, min_size: int, seasons) -> dict[tuple, tuple[str, str | None]]:
    """(trait, herd, year, season) -> (group label, merge kind or None), from the counts of
    records per herd-year-season: the merges of the module docstring, per herd-year."""
    by_herd_year: dict[tuple, dict[int, int]] = {}
    for (trait, herd, year, season), n in sizes.items():
        by_herd_year.setdefault((trait, herd, int(year)), {})[int(season)] = int(n)
    plan = {}
    for (trait, herd, year), size in by_herd_year.items():
        for g in _merge(size, min_size):
            if len(g) == 1:
                label, kind = f"{herd}:{year}:{seasons[g[0]][0]}", None
            elif len(g) == len(size):
                label, kind = f"{herd}:{year}", "merged_herd_year"
            else:
                label = f"{herd}:{year}:" + "+".join(seasons[s][0] for s in g)
                kind = "merged_season"
            for s in g:
                plan[(trait, herd, year, s)] = (label, kind)
    return plan


def _merge(size: dict[int, int], min_size: int) -> list[list[int]]:
    """Runs of season indices of one herd-year: while a run is below ``min_size`` and there
    is another, the smallest merges with its smaller neighbour (tie: the earlier)."""
    groups = [[s] for s in sorted(size)]

    def n(g: list[int]) -> int:
        return sum(size[s] for s in g)

    while len(groups) > 1:
        small = [i for i, g in enumerate(groups) if n(g) < min_size]
        if not small:
            break
        i = min(small, key=lambda k: (n(groups[k]), k))
        j = min((k for k in (i - 1, i + 1) if 0 <= k < len(groups)),
                key=lambda k: (n(groups[k]), k))
        lo, hi = sorted((i, j))
        groups[lo:hi + 1] = [groups[lo] + groups[hi]]
    return groups


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
