"""the 文号 of a transfer and the police 案号 are sealed like the other personal fields

Revision ID: 0016_seal_document_numbers
Revises: 0013_audit_keyed_chain
Create Date: 2026-12-07 18:05:00

Staff type these two numbers freely, so they may carry a name or an ID number ("张三案", a case number with the
suspect's ID in it); the contract gives them no format to check against. Each existing value is sealed under its
report's data key (the vault of the app running the migration) into ``document_no_data`` / ``case_no_data`` and
the clear columns are dropped. A report whose data key was destroyed (crypto-shredded) loses the number with the
rest of its contents. Downgrading opens them again.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_seal_document_numbers'
down_revision = '0013_audit_keyed_chain'
branch_labels = None
depends_on = None

COLUMNS = (("document_no", "document_no_data"), ("case_no", "case_no_data"))


def _keys(conn, key_ids):
    """The data keys the rows were sealed under, as the vault takes them (ORM rows of ``data_keys``)."""
    from sqlalchemy.orm import Session

    from app.crypto.models import DataKey

    session = Session(bind=conn)
    return {key_id: session.get(DataKey, key_id) for key_id in set(key_ids)}


def _vault():
    from app.crypto.vault import get_vault

    return get_vault()


def upgrade():
    conn = op.get_bind()
    with op.batch_alter_table('transfers') as batch:
        batch.add_column(sa.Column('document_no_data', sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column('case_no_data', sa.LargeBinary(), nullable=True))
    transfers = sa.table('transfers', sa.column('id', sa.Uuid()), sa.column('document_no_data', sa.LargeBinary()),
                         sa.column('case_no_data', sa.LargeBinary()))
    for clear, sealed in COLUMNS:
        rows = conn.execute(sa.text(
            f"SELECT t.id, t.{clear}, r.data_key_id FROM transfers AS t JOIN reports AS r ON r.id = t.report_id "
            f"WHERE t.{clear} IS NOT NULL"
        ).columns(sa.column('id', sa.Uuid()), sa.column(clear, sa.String()),
                  sa.column('data_key_id', sa.Uuid()))).all()
        if not rows:
            continue
        vault, keys = _vault(), _keys(conn, [row[2] for row in rows])
        for row_id, value, key_id in rows:
            key = keys[key_id]
            blob = (vault.encrypt(key, 'transfers', sealed, row_id, value)
                    if key is not None and key.wrapped is not None else None)
            conn.execute(transfers.update().where(transfers.c.id == row_id).values({sealed: blob}))
    with op.batch_alter_table('transfers') as batch:
        batch.drop_column('document_no')
        batch.drop_column('case_no')


def downgrade():
    conn = op.get_bind()
    with op.batch_alter_table('transfers') as batch:
        batch.add_column(sa.Column('document_no', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('case_no', sa.String(length=64), nullable=True))
    transfers = sa.table('transfers', sa.column('id', sa.Uuid()), sa.column('document_no', sa.String()),
                         sa.column('case_no', sa.String()))
    for clear, sealed in COLUMNS:
        rows = conn.execute(sa.text(
            f"SELECT t.id, t.{sealed}, r.data_key_id FROM transfers AS t JOIN reports AS r ON r.id = t.report_id "
            f"WHERE t.{sealed} IS NOT NULL"
        ).columns(sa.column('id', sa.Uuid()), sa.column(sealed, sa.LargeBinary()),
                  sa.column('data_key_id', sa.Uuid()))).all()
        if not rows:
            continue
        vault, keys = _vault(), _keys(conn, [row[2] for row in rows])
        for row_id, blob, key_id in rows:
            value = vault.decrypt(keys[key_id], 'transfers', sealed, row_id, blob)
            conn.execute(transfers.update().where(transfers.c.id == row_id).values({clear: value}))
    conn.execute(transfers.update().where(transfers.c.document_no.is_(None)).values(document_no=''))
    with op.batch_alter_table('transfers') as batch:
        batch.alter_column('document_no', existing_type=sa.String(length=64), nullable=False)
        batch.drop_column('document_no_data')
        batch.drop_column('case_no_data')
