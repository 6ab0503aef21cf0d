"""`flask --app dashboard backup DEST` and `restore BACKUP --instance DIR`: copies of the
database and the keys taken while the server runs, restored into a new instance folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine.url import make_url

from dashboard.cli.common import fail
from dashboard.db.backup import BackupError, BackupSource, make_backup, restore
from dashboard.db.flask import database_url


def backup_source() -> BackupSource:
    """The running app's SQLite file and instance folder."""
    url = make_url(database_url(current_app))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(
            "backup copies a SQLite file; this instance uses another database. On PostgreSQL,"
            " back the database up with pg_dump (e.g. pg_dump -Fc -f leadsync.dump DBNAME) and"
            " copy the instance's secret_key and fernet.key beside it"
        )
    return BackupSource(Path(url.database), Path(current_app.instance_path))


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(dest: Path) -> None:
    """Copy the database (online, consistent) and the key files into DEST/leadsync-backup-*."""
    try:
        folder = make_backup(backup_source(), dest, dt.datetime.now(dt.UTC).replace(microsecond=0))
    except (BackupError, OSError) as exc:
        fail(exc)
    click.echo(f"Backup written to {folder} (integrity check ok).")


@click.command("restore")
@click.argument("backup", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--instance", "instance", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="A new (or empty) instance folder to restore into.",
)  # fmt: skip
@with_appcontext
def restore_command(backup: Path, instance: Path) -> None:
    """Verify a backup's SHA256SUMS and copy it into a new instance folder."""
    if instance.resolve() == Path(current_app.instance_path).resolve():
        fail(BackupError("restore into a new instance folder, not the one this command runs on"))
    try:
        manifest = restore(backup, instance)
    except (BackupError, OSError) as exc:
        fail(exc)
    click.echo(
        f"Restored the backup of {manifest.get('created_at')} into {instance}; start LeadSync "
        f"with LEADSYNC_INSTANCE={instance} (the schema upgrades on start)."
    )
