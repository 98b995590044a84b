"""The herd's own voluntary waiting period is the one every KPI uses: the overview, the vet's
customer page, the CLI and the delivered report ask ``herd_kpis`` / ``customer_view``, which
read it from the herd's targets; a new waiting period shows at once (the cache key holds it)."""

from __future__ import annotations

from datetime import date, timedelta

from reprotech_core import accounts
from reprotech_core.reproduction.kpis import herd_kpis_from
from reprotech_core.reproduction.queries import herd_kpis, load_frames, records_version
from reprotech_core.reproduction.targets import save_targets
from reprotech_core.staffviews.customers import customer_view
from tests.dashboards.herds import REFERENCE, FarmSpec, build_farm


def test_every_kpi_path_uses_the_herds_waiting_period(db, system):
    farm = build_farm(db, system, FarmSpec("pvwp", 40, genotyped_share=0.0, evaluated=False,
                                           reproduction=True), REFERENCE, seed=29)
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("pvwp-vet", "Vet", "veterinarian"))
        accounts.assign(s, "pvwp-vet", "pvwp")
    today = date.today()
    start = today - timedelta(days=365)
    with db.session(system) as s:
        frames = load_frames(s, farm.id)
        default = herd_kpis(s, farm.id, start=start, end=today, as_of=today)
        before = records_version(s, farm.id)
        save_targets(s, farm.id, {"vwp_days": "100"})
    expected = herd_kpis_from(frames, start=start, end=today, as_of=today, vwp_days=100)
    assert expected.eligible_cycles != default.eligible_cycles  # the period matters here
    with db.session(system) as s:
        assert herd_kpis(s, farm.id, start=start, end=today, as_of=today) == expected
        assert records_version(s, farm.id) != before  # cached figures are recomputed
    with db.session(db.identity("pvwp-vet")) as s:
        view = customer_view(s, farm.id, today=today, days=365)
    assert view.kpis == expected
