"""Platform figures for administrators: users, activity, animals, genotypes, analyses, jobs.

"Active today" counts the users who *did* something recorded today (UTC): a change in the
audit log under their identity, or a job run they requested. The platform keeps no sign-in
log of its own (the hub does), so a user who only looked at pages today is not counted;
the figure says so where it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.errors import PermissionDenied
from reprotech_core.roles import has_permission
from reprotech_core.staffviews.jobs import annotate_runs, job_durations, job_runs


@dataclass(frozen=True)
class SystemFigures:
    users: int  # active accounts (people: the platform's own ``system`` actor excluded)
    active_today: int
    customers: int  # active farm customers (the reference catalogue is not a customer)
    animals: int
    genotyped: int  # animals with at least one stored genotype
    evaluations_running: int
    jobs_running: int
    jobs_queued: int
    jobs_failed_24h: int
    users_by_role: pd.DataFrame  # role, users
    job_durations: pd.DataFrame  # see reprotech_core.staffviews.jobs.job_durations


_FIGURES = text(
    """
    SELECT
      (SELECT count(*) FROM core.users WHERE active AND username <> 'system') AS users,
      (SELECT count(DISTINCT who) FROM (
          SELECT l.actor_user_id AS who FROM audit.log l
           WHERE l.occurred_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
          UNION
          SELECT r.requested_by FROM core.job_runs r
           WHERE r.queued_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
        ) t JOIN core.users u ON u.id = t.who WHERE u.username <> 'system') AS active_today,
      (SELECT count(*) FROM core.customers WHERE kind = 'farm' AND active) AS customers,
      (SELECT count(*) FROM core.animals) AS animals,
      (SELECT count(DISTINCT animal_id) FROM core.genotypes) AS genotyped,
      (SELECT count(*) FROM core.evaluation_runs WHERE status = 'running') AS evaluations_running,
      (SELECT count(*) FROM core.job_runs WHERE status = 'running') AS jobs_running,
      (SELECT count(*) FROM core.job_runs WHERE status = 'queued') AS jobs_queued,
      (SELECT count(*) FROM core.job_runs WHERE status = 'failed'
          AND finished_at > now() - interval '24 hours') AS jobs_failed_24h
    """
)


def require_admin(session: Session) -> None:
    """System figures span every customer and user: administrators only."""
    if not has_permission(session, "users:manage_all"):
        raise PermissionDenied("system figures are for administrators")


def system_figures(session: Session, *, job_limit: int = 1000) -> SystemFigures:
    require_admin(session)
    row = session.execute(_FIGURES).one()
    roles = pd.DataFrame(session.execute(text(
        "SELECT r.code AS role, count(u.id) AS users FROM core.roles r "
        "LEFT JOIN core.users u ON u.role = r.code AND u.active AND u.username <> 'system' "
        "GROUP BY r.code ORDER BY r.code")).all(), columns=["role", "users"])
    durations = job_durations(annotate_runs(job_runs(session, limit=job_limit)))
    return SystemFigures(
        users=row.users, active_today=row.active_today, customers=row.customers,
        animals=row.animals, genotyped=row.genotyped,
        evaluations_running=row.evaluations_running, jobs_running=row.jobs_running,
        jobs_queued=row.jobs_queued, jobs_failed_24h=row.jobs_failed_24h,
        users_by_role=roles, job_durations=durations)
