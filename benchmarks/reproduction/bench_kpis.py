"""Reproduction KPIs of a 10,000-animal farm: the pure functions the portal's overview and
reproduction page wait for on a cold cache (after every record entered, and each new day).

Simulates the farm's breeding history with the demo's simulator (``simulate_history``: heats,
inseminations, diagnoses, calvings, exits over the cows' lives; ~80,000 services for 10,000
animals), then times, best of ``--repeat``:

- ``service_outcomes`` (every service's outcome), ``conceptions_after_calvings``,
  ``submission_days`` and ``pregnancy_cycles`` (the 21-day cycles), one by one;
- ``herd_kpis_from`` over the last year, all of them together (what ``herd_kpis`` computes).

There is no peer tool for these definitions (DairyComp 305 computes its own, closed); the
comparison is with the code of another checkout on the same data in the same run: ``--root``
names the checkout whose ``reprotech_core`` is timed (default: this one), and the figures of
both go in README.md. The simulated records are cached in ``--cache`` (a pickle of the frames)
so both checkouts time the same records.

    flock /tmp/reprotech-bench.lock .venv/bin/python benchmarks/reproduction/bench_kpis.py
    flock /tmp/reprotech-bench.lock .venv/bin/python benchmarks/reproduction/bench_kpis.py \\
        --root ../old-checkout
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 12, 1)


def simulated_frames(animals: int, seed: int):  # noqa: ANN201 - ReproFrames of either checkout
    import pandas as pd

    from reprotech_core.demo import simulated_herd
    from reprotech_core.reproduction.simulate import simulate_history
    from tests.reproduction.test_simulate import frames_of

    ped = simulated_herd(1, animals, 50, seed).pedigree
    born = dict(zip(ped["animal"], pd.to_datetime(ped["birth_date"]).dt.date, strict=True))
    herd = pd.DataFrame({
        "official_id": ped["animal"], "sex": ped["sex"].map({1: "M", 2: "F"}),
        "birth_date": ped["birth_date"].map(lambda d: pd.Timestamp(d).date()),
        "herd": ped["herd"], "sire": ped["sire"],
        "dam": ped["dam"].where(ped["dam"].isin(ped["animal"]))})
    bulls = {s: born[s] for s in herd["sire"].dropna()}
    return frames_of(simulate_history(herd, bulls, seed=seed, today=AS_OF).events)


def best(fn, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(min(times), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--animals", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--root", type=Path, default=HERE, help="checkout whose code is timed")
    ap.add_argument("--cache", type=Path,
                    default=HERE / "benchmarks" / "out" / "reproduction" / "frames.pkl")
    args = ap.parse_args()
    sys.path[:0] = [str(args.root.resolve())]
    import pandas as pd

    from reprotech_core.reproduction import kpis

    if args.cache.exists():
        frames = pickle.loads(args.cache.read_bytes())
    else:
        frames = simulated_frames(args.animals, args.seed)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_bytes(pickle.dumps(frames))
    now = pd.Timestamp(AS_OF)
    outcomes = kpis.service_outcomes(frames.services, frames.diagnoses, frames.calvings)
    lact = kpis.conceptions_after_calvings(outcomes, frames.calvings, frames.exits)
    seen = kpis.submission_days(frames.services, frames.heats)
    year = date(AS_OF.year - 1, AS_OF.month, AS_OF.day)
    result = {
        "module": kpis.__file__,
        "records": {k: len(getattr(frames, k))
                    for k in ("services", "diagnoses", "calvings", "exits", "heats")},
        "service_outcomes_s": best(lambda: kpis.service_outcomes(
            frames.services, frames.diagnoses, frames.calvings), args.repeat),
        "conceptions_after_calvings_s": best(lambda: kpis.conceptions_after_calvings(
            outcomes, frames.calvings, frames.exits), args.repeat),
        "submission_days_s": best(lambda: kpis.submission_days(frames.services, frames.heats),
                                  args.repeat),
        "pregnancy_cycles_s": best(lambda: kpis.pregnancy_cycles(
            lact, as_of=now, submitted=seen), args.repeat),
        "herd_kpis_from_s": best(lambda: kpis.herd_kpis_from(
            frames, start=year, end=AS_OF, as_of=AS_OF), args.repeat),
        "kpis": kpis.herd_kpis_from(frames, start=year, end=AS_OF, as_of=AS_OF).__dict__,
    }
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
