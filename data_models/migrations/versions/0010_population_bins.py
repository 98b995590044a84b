"""the population comparison as a SECURITY DEFINER aggregate

The portal compares a herd's GEBVs with every customer's released GEBVs. It used to read them
all as the platform (``system``) inside the dashboard service and bin them there; now the
database does the binning in ``core.population_gebv_bins`` (owned by ``reprotech_definer``) and
hands the signed-in customer's session only shares of animals per bin, the population mean and
the share below a value — nothing below three contributing customers. The service no longer
holds a platform session for it. Executable by the application login only (not notebooks).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION core.population_gebv_bins(p_trait text, p_lo float8, p_hi float8,
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
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION core.population_gebv_bins(text, float8, float8, int, float8)")
