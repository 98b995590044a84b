-- The latest QC decision per sample, defined once: a sample sent to review and decided again
-- counts by its last decision. One tie-break for decisions made in the same instant: the
-- newest decided_at, then the highest id (the row written last). Everything that asks for "a
-- sample's QC" (evaluation inputs, herd reports, the portal, the staff views) reads this.
--
-- security_invoker: the reader's own row security on core.qc_results applies, so a notebook
-- login sees through the view exactly the samples it may see in the table. customer_id leads
-- the DISTINCT ON (a sample belongs to one customer, so the result is the same) so that a
-- query filtering the view by customer has the filter pushed down into it.
-- Privileges come from data_models/sql/privileges.sql like every object in schema core
-- (SELECT for the application and staff notebook logins; nothing for researchers).
CREATE VIEW core.sample_qc_latest WITH (security_invoker = true) AS
  SELECT DISTINCT ON (q.customer_id, q.sample_id)
         q.id, q.customer_id, q.sample_id, q.batch_id, q.decision, q.reasons, q.call_rate,
         q.heterozygosity, q.metrics, q.decided_at
    FROM core.qc_results q
   ORDER BY q.customer_id, q.sample_id, q.decided_at DESC, q.id DESC;

COMMENT ON VIEW core.sample_qc_latest IS
  'Latest QC decision per sample (newest decided_at, then highest id); reader''s row security';
