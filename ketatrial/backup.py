"""Backup and restore of the database and the media in one encrypted archive.

The archive (ketatrial/backup_crypto.py encrypts it) is a tar stream of, in this order:

    manifest.json      format, time, code version, database vendor, applied migrations, the key
                       fingerprints, and per table its row count and a digest of its content
    database.pgdump    pg_dump --format=custom (PostgreSQL), or database.sqlite3 (SQLite, the demo)
    media/...          every file under MEDIA_ROOT, by its path relative to MEDIA_ROOT
    audit-heads/...    the audit-chain heads files (AUDIT_CHAIN_HEADS_DIR)
    files.json         size and SHA-256 of every file above (last: each is hashed as it is archived)

The database copy, the counts and the digests are one snapshot: on PostgreSQL pg_dump runs on the
snapshot exported by the transaction that counts (REPEATABLE READ); on SQLite both come from the
copy made by SQLite's backup API. The key material itself is never in the archive: it is backed up
apart (`backup_keys`), and a restore refuses an environment whose keys do not match the
fingerprints: identity fields it cannot decrypt, or chains it cannot verify, must not be restored
without a word.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tarfile
import tempfile
import tomllib
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from functools import cache
from pathlib import Path, PurePosixPath
from time import monotonic
from typing import IO, Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from ketatrial.backup_crypto import (
    BackupCryptoError,
    DecryptingReader,
    EncryptingWriter,
    backup_key_bytes,
    fingerprint,
)

FORMAT = "ketatrial-backup 1"
PREFIX = "ketatrial-backup-"
SUFFIX = ".ktbackup"
MANIFEST = "manifest.json"
FILES = "files.json"
DATABASE_FILES = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
MEDIA, HEADS = "media", "audit-heads"
STAGING_PREFIX = ".ketatrial-restore-"
WORK_PREFIX = ".ketatrial-backup-"
READ_SIZE = 1 << 20


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why and what to do."""


# --- keys ----------------------------------------------------------------------------------------


def key_material() -> dict[str, Any]:
    """The secrets without which a restored trial cannot be read or checked (and the backup key,
    without which the archives cannot be opened)."""
    return {
        "IDENTITY_ENCRYPTION_KEYS": list(getattr(settings, "IDENTITY_ENCRYPTION_KEYS", []) or []),
        "AUDIT_CHAIN_KEY": getattr(settings, "AUDIT_CHAIN_KEY", "") or "",
        # Keyed pseudonyms and date shifts of exports: another key makes other pseudonyms.
        "EXPORT_PSEUDONYM_KEY": getattr(settings, "EXPORT_PSEUDONYM_KEY", "") or "",
        "BACKUP_ENCRYPTION_KEY": getattr(settings, "BACKUP_ENCRYPTION_KEY", "") or "",
    }


def key_fingerprints(material: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fingerprints of the keys the data depends on (never the keys)."""
    material = material or key_material()
    return {
        "IDENTITY_ENCRYPTION_KEYS": [fingerprint(key) for key in material["IDENTITY_ENCRYPTION_KEYS"]],
        "AUDIT_CHAIN_KEY": fingerprint(material["AUDIT_CHAIN_KEY"]) if material["AUDIT_CHAIN_KEY"] else "",
        "EXPORT_PSEUDONYM_KEY": fingerprint(material.get("EXPORT_PSEUDONYM_KEY", ""))
        if material.get("EXPORT_PSEUDONYM_KEY")
        else "",
    }


def key_mismatches(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Each key of the backup that this environment lacks, named, with what it would break."""
    problems = []
    here = current["IDENTITY_ENCRYPTION_KEYS"]
    for number, print_ in enumerate(recorded.get("IDENTITY_ENCRYPTION_KEYS", []), start=1):
        if print_ not in here:
            problems.append(
                f"IDENTITY_ENCRYPTION_KEYS: key {number} of the backup (fingerprint {print_}) is not "
                f"among this environment's keys ({', '.join(here) or 'none'}): the identity fields "
                "it encrypted could not be decrypted"
            )
    recorded_chain, current_chain = recorded.get("AUDIT_CHAIN_KEY", ""), current["AUDIT_CHAIN_KEY"]
    if recorded_chain and recorded_chain != current_chain:
        problems.append(
            f"AUDIT_CHAIN_KEY: the backup's has fingerprint {recorded_chain}, this environment's "
            f"{current_chain or '(not set)'}: the audit chains could not be verified"
        )
    recorded_export, current_export = (
        recorded.get("EXPORT_PSEUDONYM_KEY", ""),
        current.get("EXPORT_PSEUDONYM_KEY", ""),
    )
    if recorded_export and recorded_export != current_export:
        problems.append(
            f"EXPORT_PSEUDONYM_KEY: the backup's has fingerprint {recorded_export}, this environment's "
            f"{current_export or '(not set)'}: exports would name participants by other pseudonyms and "
            "shift their dates by other offsets"
        )
    return problems


# --- table content -------------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return "x:" + bytes(value).hex()
    if isinstance(value, datetime | date | clock_time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID | timedelta):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return value


def digest_rows(rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    """Row count and an order-free digest of a table's rows: the sum modulo 2**256 of each row's
    SHA-256, so the same rows give the same digest whatever order the database returns them in."""
    total, count = 0, 0
    for row in rows:
        line = json.dumps([_canonical(v) for v in row], sort_keys=True, default=str, separators=(",", ":"))
        total = (total + int.from_bytes(hashlib.sha256(line.encode()).digest(), "big")) % (1 << 256)
        count += 1
    return count, f"{total:064x}"


def _batches(cursor: Any) -> Iterator[Sequence[Any]]:
    while batch := cursor.fetchmany(2000):
        yield from batch


def _postgresql_tables() -> dict[str, dict[str, Any]]:
    """Rows and digest of every table, read in the current transaction (a named cursor per table,
    so a large history table streams)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        tables = sorted(connection.introspection.table_names(cursor))
    out = {}
    for table in tables:
        with connection.chunked_cursor() as cursor:
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608 (a table name from the catalog)
            rows, digest = digest_rows(_batches(cursor))
        out[table] = {"rows": rows, "sha256": digest}
    return out


def _sqlite_tables(path: Path) -> dict[str, dict[str, Any]]:
    """The same for an SQLite file, read with no type conversion (so backup and restore agree)."""
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        out = {}
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            rows, digest = digest_rows(db.execute(f"SELECT * FROM {quoted}"))  # noqa: S608
            out[table] = {"rows": rows, "sha256": digest}
        return out
    finally:
        db.close()


def _migrations(rows: Iterable[Sequence[Any]]) -> list[str]:
    return sorted(f"{app}.{name}" for app, name in rows)


# --- the database copy ---------------------------------------------------------------------------


@dataclass
class Snapshot:
    vendor: str
    database_file: Path
    tables: dict[str, dict[str, Any]]
    migrations: list[str]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client of the server's major version "
            "(Debian: apt-get install postgresql-client)"
        )
    return path


def _postgresql_env() -> dict[str, str]:
    """libpq's variables for the default connection: the password never goes on a command line."""
    env = dict(os.environ)
    config = connection.settings_dict
    for variable, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
    ):
        if config.get(key):
            env[variable] = str(config[key])
    options = config.get("OPTIONS") or {}
    if options.get("sslmode"):
        env["PGSSLMODE"] = str(options["sslmode"])
    return env


def _run(command: list[str]) -> None:
    result = subprocess.run(command, env=_postgresql_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip() or result.returncode}")


def _snapshot_postgresql(work: Path) -> Snapshot:
    if connection.in_atomic_block:
        raise BackupError("a backup cannot run inside a transaction (pg_dump would not see its writes)")
    target = work / DATABASE_FILES["postgresql"]
    connection.ensure_connection()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot_id = cursor.fetchone()[0]
        # pg_dump reads the very snapshot this transaction counts below.
        _run(
            [
                _tool("pg_dump"),
                "--format=custom",
                f"--snapshot={snapshot_id}",
                f"--dbname={connection.settings_dict['NAME']}",
                f"--file={target}",
            ]
        )
        tables = _postgresql_tables()
        migrations: list[str] = []
        if "django_migrations" in tables:
            with connection.cursor() as cursor:
                cursor.execute("SELECT app, name FROM django_migrations")
                migrations = _migrations(cursor.fetchall())
    return Snapshot("postgresql", target, tables, migrations)


def _snapshot_sqlite(work: Path) -> Snapshot:
    target = work / DATABASE_FILES["sqlite"]
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        connection.connection.backup(copy)
    finally:
        copy.close()
    tables = _sqlite_tables(target)
    migrations: list[str] = []
    if "django_migrations" in tables:
        db = sqlite3.connect(target)
        try:
            migrations = _migrations(db.execute("SELECT app, name FROM django_migrations"))
        finally:
            db.close()
    return Snapshot("sqlite", target, tables, migrations)


def _snapshot(work: Path) -> Snapshot:
    if connection.vendor == "postgresql":
        return _snapshot_postgresql(work)
    if connection.vendor == "sqlite":
        return _snapshot_sqlite(work)
    raise BackupError(f"backups of {connection.vendor} databases are not supported")


# --- files ---------------------------------------------------------------------------------------


def _tree(root: Path, *, skip: Iterable[Path] = ()) -> Iterator[tuple[str, Path]]:
    """Regular files under `root` (no symbolic links followed), by relative POSIX path, sorted."""
    if not root.is_dir():
        return
    skipped = {p.resolve() for p in skip}
    for folder, subfolders, names in os.walk(root):
        here = Path(folder)
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith((STAGING_PREFIX, WORK_PREFIX)) and (here / name).resolve() not in skipped
        )
        for name in sorted(names):
            path = here / name
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(root).as_posix(), path


class _Hashing:
    """A file read through, hashed as tarfile copies it."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.sha256.update(data)
        return data


def _add_file(tar: tarfile.TarFile, name: str, path: Path, files: dict[str, Any]) -> None:
    with path.open("rb") as source:
        info = tar.gettarinfo(fileobj=source, arcname=name)
        info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
        hashing = _Hashing(source)
        # A file that shrinks while it is archived fails here (tarfile reads exactly info.size).
        tar.addfile(info, hashing)  # type: ignore[arg-type]
    files[name] = {"size": info.size, "sha256": hashing.sha256.hexdigest()}


def _add_json(tar: tarfile.TarFile, name: str, value: Any) -> None:
    data = json.dumps(value, indent=1, sort_keys=True).encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(tz=UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(READ_SIZE):
            sha.update(chunk)
    return sha.hexdigest()


@cache
def code_version() -> str:
    """The project's version and, in a git checkout, its commit."""
    base = Path(settings.BASE_DIR)
    version = tomllib.loads((base / "pyproject.toml").read_text())["project"]["version"]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=base,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"ketatrial {version}" + (f" ({commit})" if commit else "")


def _heads_dir() -> Path | None:
    value = getattr(settings, "AUDIT_CHAIN_HEADS_DIR", None)
    return Path(value) if value else None


# --- backup --------------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    size: int
    tables: int
    rows: int
    media_files: int
    seconds: float


def backup_create(*, out: Path, now: datetime, keep: int | None = None) -> BackupResult:
    """Write one encrypted archive of the database, MEDIA_ROOT and the audit-chain heads to `out`
    (a file named *.ktbackup, or a directory: a new file there named by the time). With `keep`,
    only the newest `keep` archives of that directory stay."""
    key = backup_key_bytes(getattr(settings, "BACKUP_ENCRYPTION_KEY", ""))
    started = monotonic()
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    # A path ending in .ktbackup names the file; any other, a directory (made if missing).
    target = out if out.suffix == SUFFIX and not out.is_dir() else out / f"{PREFIX}{stamp}{SUFFIX}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise BackupError(f"{target} already exists: choose another name")
    media_root, heads = Path(settings.MEDIA_ROOT), _heads_dir()
    skip = [target.parent] + ([heads] if heads else [])
    with (
        _folder_lock(target.parent),
        tempfile.TemporaryDirectory(prefix=WORK_PREFIX, dir=target.parent) as work,
    ):
        snapshot = _snapshot(Path(work))
        manifest = {
            "format": FORMAT,
            "created": now.astimezone(UTC).isoformat(timespec="seconds"),
            "code_version": code_version(),
            "host": socket.gethostname(),
            "database": {"vendor": snapshot.vendor, "file": snapshot.database_file.name},
            "media_root": str(media_root),
            "migrations": snapshot.migrations,
            "tables": snapshot.tables,
            "keys": key_fingerprints(),
        }
        files: dict[str, Any] = {}
        partial = target.with_name(target.name + ".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as raw:
                writer = EncryptingWriter(raw, key)
                with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                    _add_json(tar, MANIFEST, manifest)
                    _add_file(tar, snapshot.database_file.name, snapshot.database_file, files)
                    for name, path in _tree(media_root, skip=skip):
                        _add_file(tar, f"{MEDIA}/{name}", path, files)
                    if heads and heads.resolve() != media_root.resolve():
                        for name, path in _tree(heads):
                            _add_file(tar, f"{HEADS}/{name}", path, files)
                    _add_json(tar, FILES, files)
                writer.close()
                raw.flush()
                os.fsync(raw.fileno())
            # Only a whole archive gets the name: a backup cut short never looks like one.
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    if keep and target.parent == out:
        archives_prune(out, keep=keep)
    return BackupResult(
        path=target,
        size=target.stat().st_size,
        tables=len(snapshot.tables),
        rows=sum(t["rows"] for t in snapshot.tables.values()),
        media_files=sum(1 for name in files if name.startswith(f"{MEDIA}/")),
        seconds=monotonic() - started,
    )


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """One backup at a time per folder; with the lock held, what a killed backup left is removed
    (its work folder holds a plaintext copy of the database)."""
    handle = (folder / ".ketatrial-backup.lock").open("w")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupError(f"another backup is being written in {folder}") from exc
        for leftover in folder.glob(f"{WORK_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in folder.glob(f"{PREFIX}*{SUFFIX}.partial"):
            leftover.unlink(missing_ok=True)
        yield
    finally:
        handle.close()


def archives_prune(folder: Path, *, keep: int) -> list[Path]:
    """Delete all but the newest `keep` archives this command named in `folder` (by their time)."""
    archives = sorted(folder.glob(f"{PREFIX}*{SUFFIX}"))
    removed = archives[:-keep] if keep > 0 else []
    for path in removed:
        path.unlink()
    return removed


# --- reading an archive --------------------------------------------------------------------------


def _member_name(name: str) -> str:
    """A member's name if it is one an archive may hold, else the archive is refused."""
    path = PurePosixPath(name)
    allowed = name in (MANIFEST, FILES, *DATABASE_FILES.values()) or (
        len(path.parts) >= 2 and path.parts[0] in (MEDIA, HEADS)
    )
    if path.is_absolute() or ".." in path.parts or not allowed:
        raise BackupError(f"the archive holds an unexpected member {name!r}: it was not made by `backup`")
    return path.as_posix()


@dataclass
class Unpacked:
    manifest: dict[str, Any]
    declared: dict[str, Any]
    found: dict[str, Any]


def archive_read(
    archive: Path,
    *,
    key: bytes,
    staging: Path | None,
    on_manifest: Callable[[dict[str, Any]], None] = lambda manifest: None,
) -> Unpacked:
    """Decrypt and read the whole archive, writing its files under `staging` (or only hashing them
    when None). `on_manifest` sees the manifest, the first member, before anything else is
    written and may refuse. Every byte is authenticated before this returns; nothing outside
    `staging` is touched."""
    manifest: dict[str, Any] | None = None
    declared: dict[str, Any] | None = None
    found: dict[str, Any] = {}
    try:
        with archive.open("rb") as raw:
            reader = DecryptingReader(raw, key)
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    if member.isdir():
                        continue
                    name = _member_name(member.name)
                    if not member.isfile():
                        raise BackupError(f"the archive member {name!r} is not a regular file")
                    source = tar.extractfile(member)
                    assert source is not None
                    if name == MANIFEST:
                        manifest = json.loads(source.read())
                        on_manifest(manifest)
                        continue
                    if manifest is None:
                        raise BackupError("the archive does not start with its manifest")
                    if name == FILES:
                        declared = json.loads(source.read())
                        continue
                    found[name] = _copy_member(source, staging / name if staging else None)
            reader.read_to_end()
    except tarfile.TarError as exc:
        raise BackupError(
            f"the archive's content is not a tar stream ({exc}): it was not made by `backup`"
        ) from exc
    if manifest is None or declared is None:
        raise BackupError("the archive lacks its manifest or its file list: it was not made by `backup`")
    return Unpacked(manifest, declared, found)


def _copy_member(source: IO[bytes], target: Path | None) -> dict[str, Any]:
    sha, size = hashlib.sha256(), 0
    out = None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        out = target.open("xb")
    try:
        while chunk := source.read(READ_SIZE):
            sha.update(chunk)
            size += len(chunk)
            if out is not None:
                out.write(chunk)
    finally:
        if out is not None:
            out.close()
    return {"size": size, "sha256": sha.hexdigest()}


def file_differences(declared: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """Each file whose size or hash differs between two {name: {size, sha256}} lists."""
    problems = []
    for name in sorted(set(declared) | set(found)):
        if name not in found:
            problems.append(f"{name}: in the list, missing")
        elif name not in declared:
            problems.append(f"{name}: present, not in the list")
        elif declared[name] != found[name]:
            problems.append(
                f"{name}: SHA-256 {found[name]['sha256'][:16]}…, expected {declared[name]['sha256'][:16]}…"
            )
    return problems


# --- restore -------------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    manifest: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _code_migrations() -> tuple[set[str], set[str]]:
    """Migrations this code has (with those squashed ones replace) and its graph's leaves' plan."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = {f"{app}.{name}" for app, name in loader.disk_migrations}
    for migration in loader.disk_migrations.values():
        known |= {f"{app}.{name}" for app, name in migration.replaces}
    plan = {f"{app}.{name}" for app, name in loader.graph.nodes}
    return known, plan


def _database_label() -> str:
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return str(config["NAME"])
    return f"{config['NAME']} on {config.get('HOST') or 'localhost'}:{config.get('PORT') or 5432}"


def _database_is_empty() -> bool:
    if connection.vendor == "sqlite":
        path = Path(connection.settings_dict["NAME"])
        return not path.exists() or not _sqlite_tables(path)
    try:
        with connection.cursor() as cursor:
            return not connection.introspection.table_names(cursor)
    except DatabaseError as exc:
        raise BackupError(f"cannot reach the target database {_database_label()}: {exc}") from exc


def _folder_is_empty(folder: Path) -> bool:
    return not folder.exists() or not any(not p.name.startswith(STAGING_PREFIX) for p in folder.iterdir())


def _preflight(manifest: dict[str, Any], *, media_root: Path, force: bool) -> None:
    """Everything that can refuse a restore before a byte of it is written."""
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"archive format {manifest.get('format')!r} is not {FORMAT!r}: use the matching code version"
        )
    mismatched = key_mismatches(manifest["keys"], key_fingerprints())
    if mismatched:
        raise BackupError(
            "this environment's keys do not match the backup's:\n  "
            + "\n  ".join(mismatched)
            + "\nSet the keys from the key backup of that time (manage.py backup_keys --read FILE)."
        )
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise BackupError(
            f"the archive holds a {vendor} database; DATABASE_URL names a {connection.vendor} one"
        )
    if vendor == "sqlite" and connection.is_in_memory_db():
        raise BackupError("an SQLite restore needs a database file: set DATABASE_URL=sqlite:////path/to/file")
    known, _plan = _code_migrations()
    newer = sorted(set(manifest["migrations"]) - known)
    if newer:
        raise BackupError(
            f"the archive was made by newer code ({manifest['code_version']}): its database has "
            f"migrations this code lacks ({', '.join(newer[:5])}); restore with that code version"
        )
    if not force and not _database_is_empty():
        raise BackupError(
            f"the target database {_database_label()} is not empty: restore into a new, empty "
            "database (or pass --force to replace what the archive holds)"
        )
    if not force and not _folder_is_empty(media_root):
        raise BackupError(
            f"the target media folder {media_root} is not empty: use a new one (or pass --force)"
        )


def _restore_database(dump: Path, vendor: str, *, force: bool) -> None:
    if vendor == "postgresql":
        command = [
            _tool("pg_restore"),
            # The restoring role owns what it creates; the application role gets its rights from
            # ketatrial.db_roles after (the old place's roles need not exist here).
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={connection.settings_dict['NAME']}",
        ]
        if force:
            command += ["--clean", "--if-exists"]
        _run([*command, str(dump)])
        return
    connection.close()
    target = Path(connection.settings_dict["NAME"])
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm"), Path(f"{target}-journal")):
        leftover.unlink(missing_ok=True)
    partial = target.with_name(target.name + ".restoring")
    shutil.copyfile(dump, partial)
    os.replace(partial, target)


def _grant_application_role() -> str:
    from ketatrial.db_roles import grant_application_role

    role = getattr(settings, "DATABASE_APP_ROLE", "")
    if grant_application_role():
        return f"application role {role} granted its rights"
    return "no application role to grant (DATABASE_APP_ROLE unset or absent here)"


def _tables_now(vendor: str) -> dict[str, dict[str, Any]]:
    if vendor == "sqlite":
        return _sqlite_tables(Path(connection.settings_dict["NAME"]))
    with transaction.atomic():
        return _postgresql_tables()


def _audit_verify(heads: Path | None) -> tuple[str, list[str]]:
    """Run `audit_verify` (against the archive's newest heads file) when this code has it."""
    from django.core.management import call_command, get_commands
    from django.core.management.base import CommandError

    if "audit_verify" not in get_commands():
        return "audit: no audit_verify here; the history tables were compared by content above", []
    output = io.StringIO()
    options = {"heads": heads} if heads else {}
    try:
        call_command("audit_verify", stdout=output, stderr=output, **options)
    except CommandError as exc:
        breaks = [line for line in output.getvalue().splitlines() if line.startswith("BREAK")]
        return "audit: audit_verify found breaks", [f"audit_verify: {exc}", *breaks]
    except Exception as exc:  # the data is restored by now: report what stopped the check, do not hide it
        return "audit: audit_verify could not run", [f"audit_verify failed: {type(exc).__name__}: {exc}"]
    against = f" against {heads.name}" if heads else ""
    return f"audit: audit_verify{against}: audit trail intact", []


def restore(*, archive: Path, media_root: Path, force: bool = False) -> RestoreReport:
    """Restore `archive` into the database of DATABASE_URL and `media_root`, then verify the row
    counts and digests of every table, the hash of every file and the audit chains. Refuses
    (BackupError) before writing anything when the keys, the database, the folder or the archive
    are not right; the report lists any difference found after."""
    key = backup_key_bytes(getattr(settings, "BACKUP_ENCRYPTION_KEY", ""))
    report = RestoreReport()
    media_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=media_root))
    try:
        unpacked = archive_read(
            archive,
            key=key,
            staging=staging,
            on_manifest=lambda manifest: _preflight(manifest, media_root=media_root, force=force),
        )
        manifest = report.manifest = unpacked.manifest
        damaged = file_differences(unpacked.declared, unpacked.found)
        if damaged:
            raise BackupError("the archive's files differ from its list:\n  " + "\n  ".join(damaged))
        vendor = manifest["database"]["vendor"]
        report.lines.append(
            f"archive: {archive.name}, made {manifest['created']} by {manifest['code_version']} on {manifest['host']}"
        )
        report.lines.append("keys: the fingerprints match this environment")

        _restore_database(staging / manifest["database"]["file"], vendor, force=force)
        report.lines.append(f"database: restored into {_database_label()}")
        if vendor == "postgresql":
            report.lines.append(_grant_application_role())

        media = sorted(name for name in unpacked.declared if name.startswith(f"{MEDIA}/"))
        for name in media:
            target = media_root / PurePosixPath(name).relative_to(MEDIA)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, target)
        heads_files = sorted(name for name in unpacked.declared if name.startswith(f"{HEADS}/"))
        heads_dir = _heads_dir()
        if heads_dir is not None:
            for name in heads_files:
                target = heads_dir / PurePosixPath(name).relative_to(HEADS)
                if target.exists() and file_sha256(target) != unpacked.declared[name]["sha256"]:
                    report.lines.append(f"heads: kept the existing {target} (it differs from the archive's)")
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(staging / name, target)

        # Verification, against the manifest written when the backup was made.
        tables = _tables_now(vendor)
        expected = manifest["tables"]
        for table in sorted(set(expected) | set(tables)):
            if table not in tables:
                report.problems.append(f"table {table}: in the backup, missing after the restore")
            elif table not in expected:
                report.lines.append(f"table {table}: not in the backup (left as it was)")
            elif tables[table]["rows"] != expected[table]["rows"]:
                report.problems.append(
                    f"table {table}: {tables[table]['rows']} rows, the backup had {expected[table]['rows']}"
                )
            elif tables[table]["sha256"] != expected[table]["sha256"]:
                report.problems.append(f"table {table}: same row count, different content")
        same = sum(1 for t in expected if tables.get(t) == expected[t])
        rows = sum(t["rows"] for t in expected.values())
        report.lines.append(f"tables: {same} of {len(expected)} equal in row count and content ({rows} rows)")

        found = {}
        for name in media:
            path = media_root / PurePosixPath(name).relative_to(MEDIA)
            if path.is_file():
                found[name] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
        differences = file_differences({name: unpacked.declared[name] for name in media}, found)
        report.problems += [f"media {line}" for line in differences]
        report.lines.append(
            f"media: {len(media) - len(differences)} of {len(media)} files with the backup's SHA-256 under {media_root}"
        )

        _known, plan = _code_migrations()
        pending = sorted(plan - set(manifest["migrations"]))
        if pending:
            # This code's models are ahead of the restored tables, so audit_verify would read columns
            # that are not there yet; the history tables were compared by content above.
            report.lines.append(
                f"migrations: this code has {len(pending)} the backup had not ({', '.join(pending[:3])}…): "
                "run manage.py migrate, then manage.py audit_verify"
            )
        else:
            newest_heads = staging / heads_files[-1] if heads_files else None
            line, breaks = _audit_verify(newest_heads)
            report.lines.append(line)
            report.problems += breaks
        return report
    except BackupCryptoError as exc:
        raise BackupError(str(exc)) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def archive_check(*, archive: Path) -> RestoreReport:
    """Read a whole archive and check every file against its list, touching nothing: proves an
    archive (a copy kept off site, say) can be restored with this key."""
    key = backup_key_bytes(getattr(settings, "BACKUP_ENCRYPTION_KEY", ""))
    try:
        unpacked = archive_read(archive, key=key, staging=None)
    except BackupCryptoError as exc:
        raise BackupError(str(exc)) from exc
    manifest = unpacked.manifest
    report = RestoreReport(manifest=manifest)
    report.problems += file_differences(unpacked.declared, unpacked.found)
    report.lines.append(
        f"archive: {archive.name}, made {manifest['created']} by {manifest['code_version']} on {manifest['host']}"
    )
    report.lines.append(
        f"content: {len(manifest['tables'])} tables, {sum(t['rows'] for t in manifest['tables'].values())} rows, "
        f"{len(unpacked.found)} files, all authenticated"
    )
    mismatched = key_mismatches(manifest["keys"], key_fingerprints())
    report.lines += [f"keys: {line}" for line in mismatched] or [
        "keys: the fingerprints match this environment"
    ]
    return report
