"""the population comparison: each customer's newest released values, not one global run

``core.population_gebv_bins`` compared a herd with the newest released run of the whole
platform. A run for one customer (``reprotech eval run --customer C --release``) then became
"the population": every other herd's comparison fell below three contributing customers and
vanished, and customer C's herd was compared with itself. The population is now every
customer's newest released values — the same rule as the herd's own values
(``reprotech_core.results.released``). Same signature, owner, grants and threshold.

Revision ID: 0020
Revises: 0019
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

PER_CUSTOMER = """
        CREATE OR REPLACE FUNCTION core.population_gebv_bins(p_trait text, p_lo float8, p_hi float8,
                                                  p_bins int, p_value float8)
        RETURNS TABLE (lo float8, hi float8, bin int, share float8, population_mean float8,
                       share_below float8)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
          WITH newest AS (
            SELECT customer_id, max(run_id) AS run_id FROM core.evaluation_results
             WHERE released GROUP BY customer_id),
          pop AS (
            SELECT r.gebv, r.customer_id FROM core.evaluation_results r
              JOIN newest n ON n.customer_id = r.customer_id AND n.run_id = r.run_id
             WHERE r.trait = p_trait AND r.released),
          stats AS (
            SELECT least(min(gebv), p_lo) AS lo, greatest(max(gebv), p_hi) AS hi,
                   count(*) AS n, avg(gebv) AS mean,
                   avg(CASE WHEN gebv < p_value THEN 1.0 ELSE 0.0 END) AS below
              FROM pop
            HAVING count(DISTINCT customer_id) >= 3),
          edges AS (
            SELECT lo, CASE WHEN hi > lo THEN hi ELSE lo + 1 END AS hi, n, mean, below
              FROM stats
             WHERE core.actor_id() IS NOT NULL AND p_bins BETWEEN 1 AND 200),
          counts AS (
            SELECT least(width_bucket(p.gebv, e.lo, e.hi, p_bins), p_bins) AS bin,
                   count(*) AS k
              FROM pop p CROSS JOIN edges e GROUP BY 1)
          SELECT e.lo, e.hi, b.bin, coalesce(c.k, 0)::float8 / e.n, e.mean::float8,
                 e.below::float8
            FROM edges e CROSS JOIN generate_series(1, p_bins) AS b(bin)
            LEFT JOIN counts c ON c.bin = b.bin
           ORDER BY b.bin
        $$
"""

ONE_RUN = """
        CREATE OR REPLACE FUNCTION core.population_gebv_bins(p_trait text, p_lo float8, p_hi float8,
                                                  p_bins int, p_value float8)
        RETURNS TABLE (lo float8, hi float8, bin int, share float8, population_mean float8,
                       share_below float8)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
          WITH pop AS (
            SELECT r.gebv, r.customer_id FROM core.evaluation_results r
             WHERE r.trait = p_trait AND r.released
               AND r.run_id = (SELECT max(run_id) FROM core.evaluation_results
                                WHERE released)),
          stats AS (
            SELECT least(min(gebv), p_lo) AS lo, greatest(max(gebv), p_hi) AS hi,
                   count(*) AS n, avg(gebv) AS mean,
                   avg(CASE WHEN gebv < p_value THEN 1.0 ELSE 0.0 END) AS below
              FROM pop
            HAVING count(DISTINCT customer_id) >= 3),
          edges AS (
            SELECT lo, CASE WHEN hi > lo THEN hi ELSE lo + 1 END AS hi, n, mean, below
              FROM stats
             WHERE core.actor_id() IS NOT NULL AND p_bins BETWEEN 1 AND 200),
          counts AS (
            SELECT least(width_bucket(p.gebv, e.lo, e.hi, p_bins), p_bins) AS bin,
                   count(*) AS k
              FROM pop p CROSS JOIN edges e GROUP BY 1)
          SELECT e.lo, e.hi, b.bin, coalesce(c.k, 0)::float8 / e.n, e.mean::float8,
                 e.below::float8
            FROM edges e CROSS JOIN generate_series(1, p_bins) AS b(bin)
            LEFT JOIN counts c ON c.bin = b.bin
           ORDER BY b.bin
        $$
"""


def upgrade() -> None:
    op.execute(PER_CUSTOMER)


def downgrade() -> None:
    op.execute(ONE_RUN)
