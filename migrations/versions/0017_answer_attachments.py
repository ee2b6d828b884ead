"""files that came with an answer: attachments.question_id names the question they answer

Revision ID: 0017_answer_attachments
Revises: 0018_institutions
Create Date: 2026-12-07 18:40:00

A nullable column with its index; existing attachments stay with their report and no question.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017_answer_attachments'
down_revision = '0018_institutions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('question_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_attachments_question_id'), ['question_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_attachments_question_id_report_questions'), 'report_questions',
                                    ['question_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_attachments_question_id_report_questions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_attachments_question_id'))
        batch_op.drop_column('question_id')
