-- Invoices as documents (issue 20). Lines are read like invoices (the financial module,
-- within the customers one sees) and written with financial:write; audited.
SELECT core.apply_tenant_policies('core.invoice_lines'::regclass, 'financial:write');
DROP POLICY tenant_read ON core.invoice_lines;
CREATE POLICY tenant_read ON core.invoice_lines FOR SELECT
  USING ((SELECT core.actor_has_module('financial')) AND (SELECT core.sees_all_customers()
         OR customer_id = ANY ((SELECT core.visible_customer_ids())::bigint[])));
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.invoice_lines
  FOR EACH ROW EXECUTE FUNCTION audit.record_change();

-- An issued invoice (its PDF stored) is immutable but for its payment date; an invoice and
-- its lines are never deleted (erasure keeps them: accounting records, portability.py).
CREATE FUNCTION core.refuse_invoice_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM core.raise_rule('invoice.immutable', format(
      '%s %s cannot be deleted; correct it with a credit note', TG_TABLE_NAME, OLD.id));
  END IF;
  IF TG_TABLE_NAME = 'invoice_lines' THEN
    PERFORM core.raise_rule('invoice.immutable', format(
      'invoice line %s cannot be changed; correct the invoice with a credit note', OLD.id));
  END IF;
  IF OLD.pdf IS NOT NULL AND (to_jsonb(NEW) - 'paid_on') IS DISTINCT FROM
                             (to_jsonb(OLD) - 'paid_on') THEN
    PERFORM core.raise_rule('invoice.immutable', format(
      'invoice %s is issued: only its payment date may change; correct it with a credit note',
      OLD.number));
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER invoice_immutable BEFORE UPDATE OR DELETE ON core.invoices
  FOR EACH ROW EXECUTE FUNCTION core.refuse_invoice_change();
CREATE TRIGGER invoice_immutable BEFORE UPDATE OR DELETE ON core.invoice_lines
  FOR EACH ROW EXECUTE FUNCTION core.refuse_invoice_change();

-- An invoiced order keeps what was invoiced; it leaves its invoice only when a credit note
-- has credited that invoice (to be corrected and invoiced again). Clearing its animal is
-- allowed (erasure keeps accounting records without the animals).
CREATE FUNCTION core.refuse_invoiced_order_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.invoice_id IS NULL THEN
    RETURN NEW;
  END IF;
  IF NEW.invoice_id IS NOT DISTINCT FROM OLD.invoice_id THEN
    IF (NEW.service, NEW.quantity, NEW.unit_price, NEW.currency, NEW.performed_on, NEW.status)
       IS DISTINCT FROM
       (OLD.service, OLD.quantity, OLD.unit_price, OLD.currency, OLD.performed_on, OLD.status)
    THEN
      PERFORM core.raise_rule('order.invoiced', format(
        'order %s is on an invoice: correct it with a credit note first',
        coalesce(OLD.reference, OLD.id::text)));
    END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM core.invoices WHERE credit_for_id = OLD.invoice_id) THEN
    PERFORM core.raise_rule('order.invoiced', format(
      'order %s is on an invoice that no credit note has credited',
      coalesce(OLD.reference, OLD.id::text)));
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER order_invoiced BEFORE UPDATE ON core.service_orders
  FOR EACH ROW EXECUTE FUNCTION core.refuse_invoiced_order_change();

-- Prices: the pregnancy check visit (per visit, with the diagnoses priced per cow).
INSERT INTO core.service_prices (service, description, unit_price, currency, valid_from) VALUES
  ('pregnancy_check_visit', 'Herd visit for pregnancy checks', 45.00, 'EUR', '2020-01-01');
