"""A herd register judged against what is stored: new animals, changed fields, placeholders,
and the pedigree rules only the whole picture can check (``register.duplicate``,
``register.herd_unknown``, ``register.parent_unknown``, ``register.parent_sex``,
``register.parent_born_after_calf``, ``register.cycle``; all described in
:mod:`reprotech_core.herd.register`, which parses the rows this module judges).

Pure functions over the parsed rows, the customer's stored animals and the catalogue's bulls,
all by official ID; the adapter (:mod:`reprotech_core.herd.register_import`) loads them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from reprotech_core.herd.register import Header, Problem, RegisterRow

# Stored fields a register sets; the import compares them to say what a file changes.
OPTIONAL = ("name", "herd", "sire", "dam", "management_number", "entry_date", "entry_status")
COMPARED = ("name", "sex", "birth_date", "breed", *OPTIONAL[1:], "placeholder")


@dataclass(frozen=True)
class Known:
    """An animal already stored that the file may name (the customer's own, or a catalogue
    bull): what the rules compare against."""

    official_id: str
    sex: str
    breed: str
    birth_date: date | None
    name: str | None = None
    herd: str | None = None
    sire: str | None = None
    dam: str | None = None
    management_number: str | None = None
    entry_date: date | None = None
    entry_status: str | None = None
    placeholder: bool = False
    catalogue: bool = False

    def value(self, column: str) -> object:
        return getattr(self, column)


@dataclass(frozen=True)
class Change:
    line: int
    official_id: str
    field: str
    old: object
    new: object


@dataclass
class Judgement:
    """What importing the file would do: new rows, changed fields, placeholders and herds to
    create, unchanged rows; or the problems that refuse it."""

    new: list[RegisterRow] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    placeholders: list[Known] = field(default_factory=list)
    new_herds: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    change_order: list[str] = field(default_factory=list)  # changed animals, parents first


def judge(rows: Sequence[RegisterRow], *, file: str, header: Header,
          own: Mapping[str, Known], catalogue: Mapping[str, Known], herds: Iterable[str],
          refused: Collection[str] = (), create_parents: bool = False,
          create_herds: bool = False) -> Judgement:
    """Judge parsed ``rows`` against the customer's stored animals ``own`` and the shared
    catalogue's bulls ``catalogue`` (both by official ID). Columns the file lacks are left as
    stored; a column that is present is authoritative (an empty cell clears the value). A
    stored placeholder parent given its own row stops being one (a change listed like others).
    ``refused`` are IDs of rows already refused by :func:`parse_rows`: not reported again as
    unknown parents."""
    result = Judgement()
    first: dict[str, RegisterRow] = {}
    for r in rows:
        if r.official_id in first:
            result.problems.append(Problem(r.line, header.columns["official_id"],
                                           "register.duplicate", (
                f"{file}, line {r.line}: {r.official_id} is also on line "
                f"{first[r.official_id].line}")))
        else:
            first[r.official_id] = r
    known_herds = set(herds)
    for r in first.values():
        if r.herd and r.herd not in known_herds and r.herd not in result.new_herds:
            if create_herds:
                result.new_herds.append(r.herd)
            else:
                result.problems.append(Problem(r.line, header.columns["herd"],
                                               "register.herd_unknown", (
                    f"{file}, line {r.line}: herd {r.herd!r} is not a herd of this customer "
                    f"(herds: {', '.join(sorted(known_herds)) or 'none'}; create it with "
                    "--create-herds)")))
    merged: dict[str, Known] = {}
    for oid, r in first.items():
        stored = own.get(oid)
        merged[oid] = Known(oid, r.sex, r.breed, r.birth_date, **{
            c: r.value(c) if c in header.columns or stored is None else stored.value(c)
            for c in OPTIONAL})
    placeholders: dict[str, Known] = {}
    for r in first.values():
        for role, sex in (("sire", "M"), ("dam", "F")):
            parent = merged[r.official_id].value(role)
            if parent is None or parent in merged or parent in own or parent in catalogue \
                    or parent in refused:
                continue
            if create_parents:
                placeholders.setdefault(parent, Known(parent, sex, r.breed, None,
                                                      placeholder=True))
            else:
                result.problems.append(Problem(r.line, header.columns.get(role, role),
                                               "register.parent_unknown", (
                    f"{file}, line {r.line}: {role} {parent} is neither in the file, nor an "
                    "animal of this customer, nor in the AI-sire catalogue (create it as a "
                    "placeholder with --create-parents)")))
    view = {**catalogue, **own, **placeholders, **merged}
    result.problems += _pedigree_problems(first, view, own, header, file)
    result.problems += _cycles(first, view, header, file)
    result.problems.sort(key=lambda p: (p.line, p.column, p.rule))
    if result.problems:
        return result
    result.placeholders = sorted(placeholders.values(), key=lambda k: k.official_id)
    for oid, r in first.items():
        stored = own.get(oid)
        if stored is None:
            result.new.append(r)
            continue
        changed = [Change(r.line, oid, c, stored.value(c), merged[oid].value(c))
                   for c in COMPARED if merged[oid].value(c) != stored.value(c)]
        result.changes += changed
        result.unchanged += not changed
    depth = _depths(view)
    result.change_order = sorted({c.official_id for c in result.changes},
                                 key=lambda oid: (depth[oid], oid))
    return result


def _depths(view: Mapping[str, Known]) -> dict[str, int]:
    """Generations of known ancestors of every animal (0: none known); the pedigree has no
    loop when this is called. Iterative, so a long chain cannot exhaust the stack."""
    depth: dict[str, int] = {}
    for start in view:
        stack = [start]
        while stack:
            oid = stack[-1]
            pending = [p for p in _parents(view, oid) if p not in depth]
            if pending:
                stack += pending
                continue
            depth[oid] = 1 + max((depth[p] for p in _parents(view, oid)), default=-1)
            stack.pop()
    return depth


def _pedigree_problems(first: Mapping[str, RegisterRow], view: Mapping[str, Known],
                       own: Mapping[str, Known], header: Header, file: str) -> list[Problem]:
    """Parent sex and birth order for every animal of the file, and for every stored animal
    whose parent the file changes (a dam whose corrected birth date falls after her calf's)."""
    problems: list[Problem] = []
    children: dict[str, list[str]] = {}
    for oid, k in own.items():
        for parent in (k.sire, k.dam):
            if parent in first:
                children.setdefault(parent, []).append(oid)
    pairs = [(oid, first[oid].line, oid) for oid in first]
    pairs += [(child, first[parent].line, parent) for parent, kids in children.items()
              for child in kids if child not in first]
    for child, line, blamed in pairs:
        animal = view[child]
        for role, sex in (("sire", "M"), ("dam", "F")):
            parent = view.get(animal.value(role)) if animal.value(role) else None
            if parent is None:
                continue
            column = header.columns.get(role, role) if blamed == child else \
                header.columns["official_id"]
            about = "" if blamed == child else f" (stored animal {child}, whose {role} is {blamed})"
            if parent.sex != sex:
                problems.append(Problem(line, column, "register.parent_sex", (
                    f"{file}, line {line}: {role} {parent.official_id} is "
                    f"{'male' if parent.sex == 'M' else 'female'}; a {role} must be "
                    f"{'male' if sex == 'M' else 'female'}{about}")))
            if parent.birth_date and animal.birth_date and parent.birth_date >= animal.birth_date:
                problems.append(Problem(line, column, "register.parent_born_after_calf", (
                    f"{file}, line {line}: {role} {parent.official_id} born "
                    f"{parent.birth_date}, not before {child} born {animal.birth_date}{about}")))
    return problems


def _cycles(first: Mapping[str, RegisterRow], view: Mapping[str, Known], header: Header,
            file: str) -> list[Problem]:
    """Pedigree loops through the file's animals (iterative depth-first search, so a long
    chain cannot exhaust the stack); each loop is reported once, at its first line."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    problems: list[Problem] = []
    for start in first:
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(_parents(view, start)))]
        state[start] = 1
        path.append(start)
        while stack:
            node, parents = stack[-1]
            nxt = next(parents, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(nxt) == 1:
                loop = path[path.index(nxt):]
                line = min(first[a].line for a in loop if a in first)
                problems.append(Problem(line, header.columns.get("sire", "sire"),
                                        "register.cycle", (
                    f"{file}, line {line}: pedigree loop {' -> '.join([*loop, nxt])} (an "
                    "animal cannot be its own ancestor)")))
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(_parents(view, nxt))))
    return problems


def _parents(view: Mapping[str, Known], oid: str) -> list[str]:
    k = view.get(oid)
    return [p for p in (k.sire, k.dam) if p and p in view] if k else []
