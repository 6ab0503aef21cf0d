"""company.allow_local_servers: mail servers on this machine or the local network

Revision ID: 0012
Revises: 0011

Mailbox settings may name loopback or private addresses only when an admin allows it
(dashboard/mail/targets.py). New companies start with it off. An existing company starts
with it on when a connected mailbox already names such a server by a literal address,
"localhost" or a dot-less LAN name: the upgrade must not stop a sync that worked. Names that
only resolve to a local address are not looked up here (no DNS at start-up); such a mailbox
stops with "local_address", whose explanation sends an admin to the setting.
"""

import ipaddress

import sqlalchemy as sa
from alembic import op

# A copy, frozen with this revision, of the local ranges in dashboard/mail/targets.py.
LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
        "::1/128", "fc00::/7",
    )
)  # fmt: skip


def names_a_local_server(host: str | None) -> bool:
    """True for a literal local address, "localhost" or a dot-less name (a LAN host)."""
    name = (host or "").strip().strip("[]").rstrip(".").lower()
    if not name:
        return False
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name == "localhost" or "." not in name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in net for net in LOCAL_NETWORKS if net.version == address.version)


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "allow_local_servers", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    hosts = op.get_bind().execute(
        sa.text("SELECT imap_host, smtp_host FROM mailbox WHERE secret IS NOT NULL")
    )
    if any(names_a_local_server(imap) or names_a_local_server(smtp) for imap, smtp in hosts):
        op.execute(sa.text("UPDATE company SET allow_local_servers = :yes").bindparams(yes=True))


def downgrade() -> None:
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("allow_local_servers")
