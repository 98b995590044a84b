"""reproduction and lab records, semen and embryo inventory, service orders and invoices

Tables from the models (data_models/reproduction.py, data_models/finance.py); row security,
audit and rule triggers, the services view and the seed price list in 0006_reproduction.sql.

Revision ID: 0006
Revises: 0005
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent


def upgrade() -> None:
    op.create_table('service_prices',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='EUR', nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_service_prices_currency_code')),
    sa.CheckConstraint('unit_price >= 0', name=op.f('ck_service_prices_price_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_prices')),
    sa.UniqueConstraint('service', 'valid_from', name=op.f('uq_service_prices_service_valid_from')),
    schema='core'
    )
    op.create_table('invoices',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('total', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_invoices_period_order')),
    sa.CheckConstraint('total >= 0', name=op.f('ck_invoices_total_not_negative')),
    sa.ForeignKeyConstraint(['customer_id'], ['core.customers.id'], name=op.f('fk_invoices_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('customer_id', 'period_start', name=op.f('uq_invoices_customer_id_period_start')),
    sa.UniqueConstraint('id', 'customer_id', name=op.f('uq_invoices_id_customer_id')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number')),
    schema='core'
    )
    op.create_index(op.f('ix_invoices_customer_id'), 'invoices', ['customer_id'], unique=False, schema='core')
    op.create_table('calvings',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('dam_id', sa.BigInteger(), nullable=False),
    sa.Column('calving_date', sa.Date(), nullable=False),
    sa.Column('calf_number', sa.SmallInteger(), server_default='1', nullable=False),
    sa.Column('ease', sa.SmallInteger(), nullable=False),
    sa.Column('calf_sex', sa.String(length=1), nullable=False),
    sa.Column('stillborn', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('calf_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("calf_sex IN ('M', 'F')", name=op.f('ck_calvings_calf_sex')),
    sa.CheckConstraint('calf_number BETWEEN 1 AND 4', name=op.f('ck_calvings_calf_number_range')),
    sa.CheckConstraint('ease BETWEEN 1 AND 5', name=op.f('ck_calvings_ease_range')),
    sa.ForeignKeyConstraint(['calf_id', 'customer_id'], ['core.animals.id', 'core.animals.customer_id'], name=op.f('fk_calvings_calf_id_customer_id_animals')),
    sa.ForeignKeyConstraint(['customer_id'], ['core.customers.id'], name=op.f('fk_calvings_customer_id_customers')),
    sa.ForeignKeyConstraint(['dam_id', 'customer_id'], ['core.animals.id', 'core.animals.customer_id'], name=op.f('fk_calvings_dam_id_customer_id_animals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calvings')),
    sa.UniqueConstraint('calf_id', name=op.f('uq_calvings_calf_id')),
    sa.UniqueConstraint('dam_id', 'calving_date', 'calf_number', name=op.f('uq_calvings_dam_id_calving_date_calf_number')),
    schema='core'
    )
    op.create_index(op.f('ix_calvings_customer_id'), 'calvings', ['customer_id'], unique=False, schema='core')
    op.create_index(op.f('ix_calvings_dam_id'), 'calvings', ['dam_id'], unique=False, schema='core')
    op.create_table('embryo_flushes',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('donor_id', sa.BigInteger(), nullable=False),
    sa.Column('sire_id', sa.BigInteger(), nullable=False),
    sa.Column('flush_date', sa.Date(), nullable=False),
    sa.Column('technician', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['core.customers.id'], name=op.f('fk_embryo_flushes_customer_id_customers')),
    sa.ForeignKeyConstraint(['donor_id', 'customer_id'], ['core.animals.id', 'core.animals.customer_id'], name=op.f('fk_embryo_flushes_donor_id_customer_id_animals')),
    sa.ForeignKeyConstraint(['sire_id'], ['core.animals.id'], name=op.f('fk_embryo_flushes_sire_id_animals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_embryo_flushes')),
    sa.UniqueConstraint('donor_id', 'flush_date', name=op.f('uq_embryo_flushes_donor_id_flush_date')),
    sa.UniqueConstraint('id', 'customer_id', name=op.f('uq_embryo_flushes_id_customer_id')),
    schema='core'
    )
    op.create_index(op.f('ix_embryo_flushes_customer_id'), 'embryo_flushes', ['customer_id'], unique=False, schema='core')
    op.create_index(op.f('ix_embryo_flushes_donor_id'), 'embryo_flushes', ['donor_id'], unique=False, schema='core')
    op.create_index(op.f('ix_embryo_flushes_sire_id'), 'embryo_flushes', ['sire_id'], unique=False, schema='core')
    op.create_table('ivf_sessions',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('donor_id', sa.BigInteger(), nullable=False),
    sa.Column('sire_id', sa.BigInteger(), nullable=False),
    sa.Column('opu_date', sa.Date(), nullable=False),
    sa.Column('oocytes_collected', sa.Integer(), nullable=False),
    sa.Column('oocytes_cleaved', sa.Integer(), nullable=False),
    sa.Column('blastocysts', sa.Integer(), nullable=False),
    sa.Column('technician', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('blastocysts BETWEEN 0 AND oocytes_cleaved', name=op.f('ck_ivf_sessions_blastocysts_range')),
    sa.CheckConstraint('oocytes_cleaved BETWEEN 0 AND oocytes_collected', name=op.f('ck_ivf_sessions_cleaved_range')),
    sa.CheckConstraint('oocytes_collected >= 0', name=op.f('ck_ivf_sessions_collected_not_negative')),
    sa.ForeignKeyConstraint(['customer_id'], ['core.customers.id'], name=op.f('fk_ivf_sessions_customer_id_customers')),
    sa.ForeignKeyConstraint(['donor_id', 'customer_id'], ['core.animals.id', 'core.animals.customer_id'], name=op.f('fk_ivf_sessions_donor_id_customer_id_animals')),
    sa.ForeignKeyConstraint(['sire_id'], ['core.animals.id'], name=op.f('fk_ivf_sessions_sire_id_animals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ivf_sessions')),
    sa.UniqueConstraint('donor_id', 'opu_date', name=op.f('uq_ivf_sessions_donor_id_opu_date')),
    sa.UniqueConstraint('id', 'customer_id', name=op.f('uq_ivf_sessions_id_customer_id')),
    schema='core'
    )
    op.create_index(op.f('ix_ivf_sessions_customer_id'), 'ivf_sessions', ['customer_id'], unique=False, schema='core')
    op.create_index(op.f('ix_ivf_sessions_donor_id'), 'ivf_sessions', ['donor_id'], unique=False, schema='core')
    op.create_index(op.f('ix_ivf_sessions_sire_id'), 'ivf_sessions', ['sire_id'], unique=False, schema='core')
    op.create_table('pregnancy_diagnoses',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('cow_id', sa.BigInteger(), nullable=False),
    sa.Column('diagnosis_date', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=12), nullable=False),
    sa.Column('result', sa.String(length=8), nullable=False),
    sa.Column('days_pregnant', sa.SmallInteger(), nullable=True),
    sa.Column('technician', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("method IN ('palpation', 'ultrasound', 'blood', 'milk')", name=op.f('ck_pregnancy_diagnoses_method')),
    sa.CheckConstraint("result IN ('pregnant', 'open')", name=op.f('ck_pregnancy_diagnoses_result')),
    sa.CheckConstraint('days_pregnant BETWEEN 0 AND 300', name=op.f('ck_pregnancy_diagnoses_days_range')),
    sa.ForeignKeyConstraint(['cow_id', 'customer_id'], ['core.animals.id', 'core.animals.customer_id'], name=op.f('fk_pregnancy_diagnoses_cow_id_customer_id_animals')),
    sa.ForeignKeyConstraint(['customer_id'], ['core.customers.id'], name=op.f('fk_pregnancy_diagnoses_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pregnancy_diagnoses')),
    sa.UniqueConstraint('cow_id', 'diagnosis_date', name=op.f('uq_pregnancy_diagnoses_cow_id_diagnosis_date')),
    schema='core'
    )
    op.create_index(op.f('ix_pregnancy_diagnoses_cow_id'), 'pregnancy_diagnoses', ['cow_id'], unique=False, schema='core')
    op.create_index(op.f('ix_pregnancy_diagnoses_customer_id'), 'pregnancy_diagnoses', ['customer_id'], unique=False, schema='core')
    op.create_table('semen_lots',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('herd_id', sa.BigInteger(), nullable=False),
    sa.Column('bull_id', sa.BigInteger(), nullable=False),
    sa.Column('lot_code', sa.String(length=64), nullable=False),
    sa.Column('tank', sa.String(length=32), nullable=False),
    sa.Column('canister', sa.String(length=32), nullable=False),
    sa.Column('straws_in_stock', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('straws_in_stock >= 0', name=op.f('ck_semen_lots_stock_not_negative')),
    sa.ForeignKeyConstraint(['bull_id'], ['core.animals.id'], name=op.f('fk_semen_lots_bull_id_animals')),
    sa.ForeignKeyConstraint(['customer_id'], ['core.customers.id'], name=op.f('fk_semen_lots_customer_id_customers')),
    sa.ForeignKeyConstraint(['herd_id', 'customer_id'], ['core.herds.id', 'core.herds.customer_id'], name=op.f('fk_semen_lots_herd_id_customer_id_herds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_semen_lots')),
    sa.UniqueConstraint('herd_id', 'bull_id', 'lot_code', 'tank', 'canister', name=op.f('uq_semen_lots_herd_id_bull_id_lot_code_tank_canister')),
    sa.UniqueConstraint('id', 'customer_id', name=op.f('uq_semen_lots_id_customer_id')),
    schema='core'
    )
    op.create_index(op.f('ix_semen_lots_bull_id'), 'semen_lots', ['bull_id'], unique=False, schema='core')
    op.create_index(op.f('ix_semen_lots_customer_id'), 'semen_lots', ['customer_id'], unique=False, schema='core')
    op.create_index(op.f('ix_semen_lots_herd_id'), 'semen_lots', ['herd_id'], unique=False, schema='core')
    op.create_table('service_orders',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('animal_id', sa.BigInteger(), nullable=True),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('quantity', sa.Integer(), server_default='1', nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('ordered_on', sa.Date(), nullable=False),
    sa.Column('performed_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=12), server_default='ordered', nullable=False),
    sa.Column('reference', sa.String(length=128), nullable=True),
    sa.Column('invoice_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'done') = (performed_on IS NOT NULL)", name=op.f('ck_service_orders_done_has_date')),
    sa.CheckConstraint("status = 'done' OR invoice_id IS NULL", name=op.f('ck_service_orders_only_done_invoiced')),
    sa.CheckConstraint("status IN ('ordered', 'done', 'cancelled')", name=op.f('ck_service_orders_status')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_service_orders_quantity_positive')),
    sa.CheckConstraint('unit_price >= 0', name=op.f('ck_service_orders_price_not_negative')),
    sa.ForeignKeyConstraint(['animal_id', 'customer_id'], ['core.animals.id', 'core.animals.customer_id'], name=op.f('fk_service_orders_animal_id_customer_id_animals')),
    sa.ForeignKeyConstraint(['customer_id'], ['core.customers.id'], name=op.f('fk_service_orders_customer_id_customers')),
    sa.ForeignKeyConstraint(['invoice_id', 'customer_id'], ['core.invoices.id', 'core.invoices.customer_id'], name=op.f('fk_service_orders_invoice_id_customer_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_orders')),
    sa.UniqueConstraint('customer_id', 'reference', name=op.f('uq_service_orders_customer_id_reference')),
    schema='core'
    )
    op.create_index(op.f('ix_service_orders_animal_id'), 'service_orders', ['animal_id'], unique=False, schema='core')
    op.create_index(op.f('ix_service_orders_customer_id'), 'service_orders', ['customer_id'], unique=False, schema='core')
    op.create_index(op.f('ix_service_orders_invoice_id'), 'service_orders', ['invoice_id'], unique=False, schema='core')
    op.create_table('embryos',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('herd_id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('flush_id', sa.BigInteger(), nullable=True),
    sa.Column('ivf_session_id', sa.BigInteger(), nullable=True),
    sa.Column('donor_id', sa.BigInteger(), nullable=True),
    sa.Column('sire_id', sa.BigInteger(), nullable=True),
    sa.Column('produced_on', sa.Date(), nullable=False),
    sa.Column('stage', sa.SmallInteger(), nullable=False),
    sa.Column('quality', sa.SmallInteger(), nullable=False),
    sa.Column('preservation', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=12), server_default='in_stock', nullable=False),
    sa.Column('tank', sa.String(length=32), nullable=True),
    sa.Column('canister', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("preservation IN ('fresh', 'frozen')", name=op.f('ck_embryos_preservation')),
    sa.CheckConstraint("status IN ('in_stock', 'transferred', 'discarded')", name=op.f('ck_embryos_status')),
    sa.CheckConstraint('flush_id IS NULL OR ivf_session_id IS NULL', name=op.f('ck_embryos_one_origin')),
    sa.CheckConstraint('quality BETWEEN 1 AND 4', name=op.f('ck_embryos_iets_quality')),
    sa.CheckConstraint('stage BETWEEN 1 AND 9', name=op.f('ck_embryos_iets_stage')),
    sa.ForeignKeyConstraint(['customer_id'], ['core.customers.id'], name=op.f('fk_embryos_customer_id_customers')),
    sa.ForeignKeyConstraint(['donor_id'], ['core.animals.id'], name=op.f('fk_embryos_donor_id_animals')),
    sa.ForeignKeyConstraint(['flush_id', 'customer_id'], ['core.embryo_flushes.id', 'core.embryo_flushes.customer_id'], name=op.f('fk_embryos_flush_id_customer_id_embryo_flushes')),
    sa.ForeignKeyConstraint(['herd_id', 'customer_id'], ['core.herds.id', 'core.herds.customer_id'], name=op.f('fk_embryos_herd_id_customer_id_herds')),
    sa.ForeignKeyConstraint(['ivf_session_id', 'customer_id'], ['core.ivf_sessions.id', 'core.ivf_sessions.customer_id'], name=op.f('fk_embryos_ivf_session_id_customer_id_ivf_sessions')),
    sa.ForeignKeyConstraint(['sire_id'], ['core.animals.id'], name=op.f('fk_embryos_sire_id_animals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_embryos')),
    sa.UniqueConstraint('customer_id', 'code', name=op.f('uq_embryos_customer_id_code')),
    sa.UniqueConstraint('id', 'customer_id', name=op.f('uq_embryos_id_customer_id')),
    schema='core'
    )
    op.create_index(op.f('ix_embryos_customer_id'), 'embryos', ['customer_id'], unique=False, schema='core')
    op.create_index(op.f('ix_embryos_donor_id'), 'embryos', ['donor_id'], unique=False, schema='core')
    op.create_index(op.f('ix_embryos_flush_id'), 'embryos', ['flush_id'], unique=False, schema='core')
    op.create_index(op.f('ix_embryos_herd_id'), 'embryos', ['herd_id'], unique=False, schema='core')
    op.create_index(op.f('ix_embryos_ivf_session_id'), 'embryos', ['ivf_session_id'], unique=False, schema='core')
    op.create_index(op.f('ix_embryos_sire_id'), 'embryos', ['sire_id'], unique=False, schema='core')
    op.create_table('inseminations',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('cow_id', sa.BigInteger(), nullable=False),
    sa.Column('bull_id', sa.BigInteger(), nullable=False),
    sa.Column('semen_lot_id', sa.BigInteger(), nullable=True),
    sa.Column('service_date', sa.Date(), nullable=False),
    sa.Column('service_type', sa.String(length=8), server_default='heat', nullable=False),
    sa.Column('technician', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("service_type IN ('heat', 'timed')", name=op.f('ck_inseminations_service_type')),
    sa.ForeignKeyConstraint(['bull_id'], ['core.animals.id'], name=op.f('fk_inseminations_bull_id_animals')),
    sa.ForeignKeyConstraint(['cow_id', 'customer_id'], ['core.animals.id', 'core.animals.customer_id'], name=op.f('fk_inseminations_cow_id_customer_id_animals')),
    sa.ForeignKeyConstraint(['customer_id'], ['core.customers.id'], name=op.f('fk_inseminations_customer_id_customers')),
    sa.ForeignKeyConstraint(['semen_lot_id', 'customer_id'], ['core.semen_lots.id', 'core.semen_lots.customer_id'], name=op.f('fk_inseminations_semen_lot_id_customer_id_semen_lots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inseminations')),
    sa.UniqueConstraint('cow_id', 'service_date', name=op.f('uq_inseminations_cow_id_service_date')),
    schema='core'
    )
    op.create_index(op.f('ix_inseminations_bull_id'), 'inseminations', ['bull_id'], unique=False, schema='core')
    op.create_index(op.f('ix_inseminations_cow_id'), 'inseminations', ['cow_id'], unique=False, schema='core')
    op.create_index(op.f('ix_inseminations_customer_id'), 'inseminations', ['customer_id'], unique=False, schema='core')
    op.create_index(op.f('ix_inseminations_semen_lot_id'), 'inseminations', ['semen_lot_id'], unique=False, schema='core')
    op.create_table('embryo_transfers',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('recipient_id', sa.BigInteger(), nullable=False),
    sa.Column('embryo_id', sa.BigInteger(), nullable=False),
    sa.Column('transfer_date', sa.Date(), nullable=False),
    sa.Column('preservation', sa.String(length=8), nullable=False),
    sa.Column('technician', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("preservation IN ('fresh', 'frozen')", name=op.f('ck_embryo_transfers_preservation')),
    sa.ForeignKeyConstraint(['customer_id'], ['core.customers.id'], name=op.f('fk_embryo_transfers_customer_id_customers')),
    sa.ForeignKeyConstraint(['embryo_id', 'customer_id'], ['core.embryos.id', 'core.embryos.customer_id'], name=op.f('fk_embryo_transfers_embryo_id_customer_id_embryos')),
    sa.ForeignKeyConstraint(['recipient_id', 'customer_id'], ['core.animals.id', 'core.animals.customer_id'], name=op.f('fk_embryo_transfers_recipient_id_customer_id_animals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_embryo_transfers')),
    sa.UniqueConstraint('embryo_id', name=op.f('uq_embryo_transfers_embryo_id')),
    sa.UniqueConstraint('recipient_id', 'transfer_date', name=op.f('uq_embryo_transfers_recipient_id_transfer_date')),
    schema='core'
    )
    op.create_index(op.f('ix_embryo_transfers_customer_id'), 'embryo_transfers', ['customer_id'], unique=False, schema='core')
    op.create_index(op.f('ix_embryo_transfers_recipient_id'), 'embryo_transfers', ['recipient_id'], unique=False, schema='core')
    op.create_table('inventory_movements',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('semen_lot_id', sa.BigInteger(), nullable=True),
    sa.Column('embryo_id', sa.BigInteger(), nullable=True),
    sa.Column('straws', sa.Integer(), nullable=True),
    sa.Column('moved_on', sa.Date(), nullable=False),
    sa.Column('counterpart', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('receipt', 'transfer_out', 'transfer_in', 'discard')", name=op.f('ck_inventory_movements_kind')),
    sa.CheckConstraint('(semen_lot_id IS NULL) <> (embryo_id IS NULL)', name=op.f('ck_inventory_movements_one_item')),
    sa.CheckConstraint('straws IS NULL OR straws > 0', name=op.f('ck_inventory_movements_straws_positive')),
    sa.ForeignKeyConstraint(['customer_id'], ['core.customers.id'], name=op.f('fk_inventory_movements_customer_id_customers')),
    sa.ForeignKeyConstraint(['embryo_id', 'customer_id'], ['core.embryos.id', 'core.embryos.customer_id'], name=op.f('fk_inventory_movements_embryo_id_customer_id_embryos')),
    sa.ForeignKeyConstraint(['semen_lot_id', 'customer_id'], ['core.semen_lots.id', 'core.semen_lots.customer_id'], name=op.f('fk_inventory_movements_semen_lot_id_customer_id_semen_lots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_movements')),
    schema='core'
    )
    op.create_index(op.f('ix_inventory_movements_customer_id'), 'inventory_movements', ['customer_id'], unique=False, schema='core')
    op.create_index(op.f('ix_inventory_movements_embryo_id'), 'inventory_movements', ['embryo_id'], unique=False, schema='core')
    op.create_index(op.f('ix_inventory_movements_semen_lot_id'), 'inventory_movements', ['semen_lot_id'], unique=False, schema='core')
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0006_reproduction.sql").read_text())


def downgrade() -> None:
    op.execute("DROP VIEW core.reproduction_services")
    op.execute("DELETE FROM core.role_permissions WHERE permission = 'financial:write'")
    op.drop_table("inventory_movements", schema="core")
    op.drop_table("embryo_transfers", schema="core")
    op.drop_table("inseminations", schema="core")
    op.drop_table("embryos", schema="core")
    op.drop_table("service_orders", schema="core")
    op.drop_table("semen_lots", schema="core")
    op.drop_table("pregnancy_diagnoses", schema="core")
    op.drop_table("ivf_sessions", schema="core")
    op.drop_table("embryo_flushes", schema="core")
    op.drop_table("calvings", schema="core")
    op.drop_table("invoices", schema="core")
    op.drop_table("service_prices", schema="core")
    for fn in ("core.check_reproduction()", "core.use_straws()", "core.use_embryo()",
               "core.actor_has_module(text)", "audit.record_statement()"):
        op.execute(f"DROP FUNCTION {fn}")
