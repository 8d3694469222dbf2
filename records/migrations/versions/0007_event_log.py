"""event log

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-29 17:05:00

Two new tables: `event_log` (append-only, HMAC-chained entries) and `event_head` (its one-row
head, which appends lock). Existing certificates get a genesis entry each (their state as
it is now), chained with the instance secret, so they keep verifying against the log. The
secret comes from the caller (`safetrain init` / `db upgrade` pass it); a database with
certificates and no secret given is refused before anything changes.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_MAC = "0" * 64


def upgrade() -> None:
    secret = _secret()
    op.create_table(
        "event_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_mac", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_event_log")),
    )
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.create_index("ix_event_log_subject", ["subject"], unique=False)
    head = op.create_table(
        "event_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_event_head_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "mac": GENESIS_MAC}])
    if secret is not None:
        _genesis(secret)


def _secret() -> bytes | None:
    """The instance secret, checked before any table is made (SQLite DDL is not rolled back)."""
    secret = context.config.attributes.get("secret")
    if secret:
        return secret
    count = op.get_bind().execute(sa.text("SELECT count(*) FROM certificate")).scalar() or 0
    if count:
        from records.errors import NotInitialised

        raise NotInitialised(
            f"迁移 0007 要为已有的 {count} 张证书写入事件日志起点，需要实例密钥 secret.key："
            "请用 `safetrain db upgrade` 升级（它会读取实例密钥）。")
    return None


def _genesis(secret: bytes) -> None:
    from records.cert_audit import cert_event, cert_state
    from records.event_log import Anchor, Kind, chain_rows

    conn = op.get_bind()
    cert = sa.table("certificate", sa.column("id", sa.Integer), sa.column("number", sa.String),
                    sa.column("code", sa.String), sa.column("role", sa.String),
                    sa.column("unit_path", sa.String), sa.column("holder_name", sa.String),
                    sa.column("issued_on", sa.Date), sa.column("valid_from", sa.Date),
                    sa.column("valid_until", sa.Date), sa.column("renews_id", sa.Integer),
                    sa.column("revoked_on", sa.Date), sa.column("revoked_reason", sa.String))
    renewed = cert.alias("renewed")
    rows = conn.execute(
        sa.select(cert, renewed.c.number.label("renews"))
        .select_from(cert.outerjoin(renewed, renewed.c.id == cert.c.renews_id))
        .order_by(cert.c.id)).mappings().all()
    if not rows:
        return
    events = [cert_event(Kind.cert_genesis, cert_state(r)) for r in rows]
    entries = chain_rows(secret, events, Anchor(0, GENESIS_MAC),
                         actor="migration 0007", at=dt.datetime.now(dt.UTC))
    log = sa.table("event_log", sa.column("seq", sa.Integer), sa.column("kind", sa.String),
                   sa.column("subject", sa.String),
                   sa.column("recorded_at", sa.DateTime(timezone=True)),
                   sa.column("actor", sa.String), sa.column("payload", sa.Text),
                   sa.column("prev_mac", sa.String), sa.column("mac", sa.String))
    for start in range(0, len(entries), 5000):
        conn.execute(sa.insert(log), entries[start:start + 5000])
    conn.execute(sa.update(sa.table("event_head", sa.column("id"), sa.column("seq"),
                                    sa.column("mac")))
                 .values(seq=entries[-1]["seq"], mac=entries[-1]["mac"]))


def downgrade() -> None:
    op.drop_table("event_head")
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.drop_index("ix_event_log_subject")

    op.drop_table("event_log")
