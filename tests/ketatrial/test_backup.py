"""Backup and restore (issue 16): the archive format, the refusals, and a restore drill to a new
place (a new database, a new media folder) that proves every table, every file and the audit
chains identical. The drill runs on PostgreSQL (CI) and, as a round trip, on SQLite."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from time import monotonic

import pytest
import yaml
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection

from ketatrial import audit_chain
from ketatrial.backup_crypto import (
    Damaged,
    DecryptingReader,
    EncryptingWriter,
    WrongKey,
    backup_key_bytes,
    fingerprint,
    keys_open,
    keys_seal,
)
from participants.crypto import decrypt
from tests.factories import baseline_rated, enrolled

BASE_DIR = Path(django_settings.BASE_DIR)


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def seal(plain: bytes, key: bytes, *, chunk_log2: int = 10) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, key, chunk_log2=chunk_log2)
    for start in range(0, len(plain), 700):  # writes that straddle chunk boundaries
        writer.write(plain[start : start + 700])
    writer.close()
    return out.getvalue()


def unseal(sealed: bytes, key: bytes) -> bytes:
    reader = DecryptingReader(io.BytesIO(sealed), key)
    plain = reader.read()
    reader.read_to_end()
    return plain


# --- the format (pure) ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 2048, 5000])
def test_an_archive_round_trips_whatever_its_length_against_the_chunk_size(size: int) -> None:
    key = backup_key_bytes(new_key())
    plain = os.urandom(size)
    sealed = seal(plain, key)
    assert unseal(sealed, key) == plain
    assert size < 16 or plain[:16] not in sealed


def test_reading_in_small_pieces_gives_the_same_bytes() -> None:
    key = backup_key_bytes(new_key())
    plain = os.urandom(3000)
    reader = DecryptingReader(io.BytesIO(seal(plain, key)), key)
    pieces = []
    while piece := reader.read(77):
        pieces.append(piece)
    assert b"".join(pieces) == plain


def test_a_wrong_backup_key_is_named_as_such_before_any_chunk_is_read() -> None:
    sealed = seal(b"x" * 3000, backup_key_bytes(new_key()))
    with pytest.raises(WrongKey, match="BACKUP_ENCRYPTION_KEY is not the key this archive was made with"):
        DecryptingReader(io.BytesIO(sealed), backup_key_bytes(new_key()))


@pytest.mark.parametrize("where", ["first chunk", "middle chunk", "last tag"])
def test_a_flipped_byte_in_any_chunk_fails_authentication(where: str) -> None:
    key = backup_key_bytes(new_key())
    sealed = bytearray(seal(os.urandom(5000), key))
    at = {"first chunk": 80, "middle chunk": 74 + 1040 * 2 + 5, "last tag": len(sealed) - 1}[where]
    sealed[at] ^= 0x01
    with pytest.raises(Damaged, match="altered, cut short or damaged"):
        unseal(bytes(sealed), key)


def test_an_altered_header_is_refused() -> None:
    key = backup_key_bytes(new_key())
    sealed = bytearray(seal(b"data", key))
    sealed[20] ^= 0x01  # in the salt
    with pytest.raises(WrongKey, match="or its header was altered"):
        unseal(bytes(sealed), key)
    sealed = bytearray(seal(b"data", key))
    sealed[0:8] = b"NOTABACK"
    with pytest.raises(Damaged, match="not a KetaTrial backup archive"):
        unseal(bytes(sealed), key)


def test_an_archive_cut_at_a_chunk_boundary_or_with_a_chunk_added_is_refused() -> None:
    key = backup_key_bytes(new_key())
    sealed = seal(os.urandom(4096), key)  # four full chunks of 1040 bytes after the header
    cut = sealed[: 74 + 1040 * 2]
    with pytest.raises(Damaged):
        unseal(cut, key)
    doubled = sealed + sealed[74 + 1040 : 74 + 1040 * 2]
    with pytest.raises(Damaged):
        unseal(doubled, key)
    swapped = sealed[:74] + sealed[74 + 1040 : 74 + 2080] + sealed[74 : 74 + 1040] + sealed[74 + 2080 :]
    with pytest.raises(Damaged):
        unseal(swapped, key)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "is not set"),
        ("not base64 !", "not URL-safe base64"),
        (base64.urlsafe_b64encode(b"short").decode(), "32 bytes"),
    ],
)
def test_a_backup_key_that_is_not_32_random_bytes_is_refused_with_how_to_make_one(
    value: str, message: str
) -> None:
    with pytest.raises(WrongKey, match=message) as refused:
        backup_key_bytes(value)
    assert "os.urandom(32)" in str(refused.value)


def test_the_key_backup_opens_only_with_its_passphrase_and_holds_no_key_in_the_clear() -> None:
    material = {"IDENTITY_ENCRYPTION_KEYS": [Fernet.generate_key().decode()], "AUDIT_CHAIN_KEY": "k" * 40}
    text = keys_seal(material, "correct horse battery staple", log2_n=10)
    assert material["IDENTITY_ENCRYPTION_KEYS"][0] not in text and "k" * 40 not in text
    assert keys_open(text, "correct horse battery staple") == material
    with pytest.raises(WrongKey, match="wrong passphrase"):
        keys_open(text, "correct horse battery stapler")
    with pytest.raises(WrongKey, match="at least 16 characters"):
        keys_seal(material, "short", log2_n=10)


def test_a_fingerprint_names_a_key_without_revealing_it() -> None:
    key = Fernet.generate_key().decode()
    assert fingerprint(key) == fingerprint(key) != fingerprint(Fernet.generate_key().decode())
    assert len(fingerprint(key)) == 16 and fingerprint(key) not in key
    assert fingerprint(key) != hashlib.sha256(key.encode()).hexdigest()[:16]


def test_the_backup_format_module_imports_no_django() -> None:
    code = (
        "import sys; sys.modules['ketatrial'] = type(sys)('ketatrial'); sys.modules['ketatrial'].__path__ = ['ketatrial']; "
        "import ketatrial.backup_crypto; sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, check=False).returncode == 0


# --- fixtures for the commands ---------------------------------------------------------------------

MEDIA = {
    "mrs/I001-001/session-1/svs_press.nii.gz": os.urandom(200_000),
    "mrs/I001-001/session-1/twix raw (1).dat": os.urandom(70_000),
    "exports/ketatrial-export-1.zip": b"PK\x03\x04" + os.urandom(5000),
    "labels/etiqueta-ñandú.pdf": b"%PDF-1.7 " + os.urandom(100),
}


@pytest.fixture
def place(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """The place the backup is made in: a media folder with files, a heads folder, a backup key."""
    settings.BACKUP_ENCRYPTION_KEY = new_key()
    settings.MEDIA_ROOT = tmp_path / "old" / "media"
    settings.AUDIT_CHAIN_HEADS_DIR = tmp_path / "old" / "heads"
    for name, data in MEDIA.items():
        path = settings.MEDIA_ROOT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return tmp_path


def build_trial(coordinator, rater) -> None:  # type: ignore[no-untyped-def]
    """Participants with encrypted identities, ratings (with their history and chain links), and
    the chain heads written outside the database, as the nightly job does."""
    from django.utils import timezone

    for name in ("Ana Pérez", "Luis Gómez", "María Ruiz"):
        person = enrolled(coordinator, name=name)
        baseline_rated(person)
    audit_chain.heads_write(today=timezone.localdate())


def backup(out: Path) -> Path:
    output = io.StringIO()
    call_command("backup", out=out, stdout=output)
    assert "backup written" in output.getvalue()
    (archive,) = sorted(out.glob("*.ktbackup"))
    return archive


def restore_elsewhere(
    archive: Path, *, database_url: str, new: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    """`manage.py restore` in a new process whose environment names the new place."""
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(new / "media"),
        "AUDIT_CHAIN_HEADS_DIR": str(new / "heads"),
        "BACKUP_ENCRYPTION_KEY": django_settings.BACKUP_ENCRYPTION_KEY,
        "IDENTITY_ENCRYPTION_KEYS": ",".join(django_settings.IDENTITY_ENCRYPTION_KEYS),
        "AUDIT_CHAIN_KEY": django_settings.AUDIT_CHAIN_KEY,
        **extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "restore", str(archive)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- the drill on PostgreSQL -----------------------------------------------------------------------


@pytest.fixture
def new_postgresql_database() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    import psycopg2

    config = connection.settings_dict
    name = f"test_restore_{uuid.uuid4().hex[:10]}"
    params = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    admin = psycopg2.connect(dbname="postgres", **params)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        user = params["user"] or ""
        password = f":{params['password']}" if params["password"] else ""
        yield f"postgres://{user}{password}@{params['host'] or 'localhost'}:{params['port'] or 5432}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def postgresql_state(dsn: str) -> dict[str, object]:
    """Everything the drill compares, read with plain SQL (not the code under test): per table
    the row count and an MD5 of all rows in order; every sequence's position; the triggers."""
    import psycopg2

    db = psycopg2.connect(dsn)
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            tables = [row[0] for row in cursor.fetchall()]
            state: dict[str, object] = {}
            for table in tables:
                cursor.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM \"{table}\" t"
                )
                state[f"table {table}"] = cursor.fetchone()
            cursor.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
            )
            state["sequences"] = cursor.fetchall()
            cursor.execute(
                "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal ORDER BY 1, 2"
            )
            state["triggers"] = cursor.fetchall()
            cursor.execute("SELECT full_name_enc FROM participants_identity ORDER BY id")
            state["names"] = [decrypt(row[0]) for row in cursor.fetchall()]
        return state
    finally:
        db.close()


def postgresql_table_count(dsn: str) -> int:
    import psycopg2

    db = psycopg2.connect(dsn)
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            return int(cursor.fetchone()[0])
    finally:
        db.close()


def dsn_of_this_database() -> str:
    config = connection.settings_dict
    return " ".join(
        f"{key}={value}"
        for key, value in (
            ("dbname", config["NAME"]),
            ("host", config.get("HOST")),
            ("port", config.get("PORT")),
            ("user", config.get("USER")),
            ("password", config.get("PASSWORD")),
        )
        if value
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_restore_to_a_new_place_on_postgresql_gives_identical_tables_files_and_audit_chains(
    place: Path, coordinator, rater, new_postgresql_database: str
) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("the drill needs PostgreSQL (DATABASE_URL naming one; CI has it)")
    build_trial(coordinator, rater)
    before = postgresql_state(dsn_of_this_database())
    assert before["names"] == ["Ana Pérez", "Luis Gómez", "María Ruiz"]
    started = monotonic()
    archive = backup(place / "backups")
    backed_up = monotonic() - started

    # A copy altered near its end is refused after reading it all, and leaves the new place empty.
    tampered = restore_elsewhere(
        flipped(archive, archive.stat().st_size - 5), database_url=new_postgresql_database, new=place / "new"
    )
    assert tampered.returncode == 1 and "fails authentication" in tampered.stderr
    assert postgresql_table_count(new_postgresql_database) == 0
    assert tree_hashes(place / "new") == {}

    started = monotonic()
    result = restore_elsewhere(archive, database_url=new_postgresql_database, new=place / "new")
    restored = monotonic() - started
    took = backed_up + restored
    print(f"restore drill on PostgreSQL: backup {backed_up:.1f} s, restore and verify {restored:.1f} s")  # noqa: T201
    assert result.returncode == 0, result.stdout + result.stderr
    assert "restore verified" in result.stdout and "audit trail intact" in result.stdout
    after = postgresql_state(new_postgresql_database)
    assert after == before  # every table row for row, the sequences, the append-only triggers
    assert any(str(key).startswith("table participants_historical") for key in after)
    assert tree_hashes(place / "new" / "media") == tree_hashes(place / "old" / "media")
    assert len(tree_hashes(place / "new" / "media")) == len(MEDIA)
    assert tree_hashes(place / "new" / "heads") == tree_hashes(place / "old" / "heads") != {}
    assert took < 60


# --- the round trip on SQLite ----------------------------------------------------------------------


def sqlite_rows(db: sqlite3.Connection) -> dict[str, list[str]]:
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {t: sorted(repr(row) for row in db.execute(f'SELECT * FROM "{t}"')) for t in tables}


@pytest.mark.django_db(transaction=True)
def test_a_restore_to_a_new_place_on_sqlite_gives_identical_tables_files_and_audit_chains(
    place: Path, coordinator, rater
) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite round trip runs where the test database is SQLite")
    build_trial(coordinator, rater)
    archive = backup(place / "backups")
    target = place / "new" / "ketatrial.sqlite3"
    tampered = restore_elsewhere(
        flipped(archive, archive.stat().st_size - 5), database_url=f"sqlite:///{target}", new=place / "new"
    )
    assert tampered.returncode == 1 and "fails authentication" in tampered.stderr
    assert not target.exists() and tree_hashes(place / "new") == {}

    result = restore_elsewhere(archive, database_url=f"sqlite:///{target}", new=place / "new")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "restore verified" in result.stdout and "audit trail intact" in result.stdout
    connection.ensure_connection()
    # Read both with the type conversions Django's connection uses, so the rows compare alike.
    restored = sqlite3.connect(target, detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES)
    try:
        memory = connection.connection
        assert sqlite_rows(restored) == sqlite_rows(memory)  # type: ignore[arg-type]
        names = [
            decrypt(r[0])
            for r in restored.execute("SELECT full_name_enc FROM participants_identity ORDER BY id")
        ]
    finally:
        restored.close()
    assert names == ["Ana Pérez", "Luis Gómez", "María Ruiz"]
    assert tree_hashes(place / "new" / "media") == tree_hashes(place / "old" / "media")
    assert tree_hashes(place / "new" / "heads") == tree_hashes(place / "old" / "heads") != {}


# --- refusals --------------------------------------------------------------------------------------


@pytest.fixture
def archive(place: Path, coordinator) -> Path:  # type: ignore[no-untyped-def]
    enrolled(coordinator)
    return backup(place / "backups")


def refused(archive: Path, target: Path) -> str:
    """The refusal of an in-process restore into this (not empty) database; nothing is written."""
    with pytest.raises(CommandError) as refusal:
        call_command("restore", archive, media_root=target, stdout=io.StringIO())
    assert not target.exists() or not any(p.is_file() for p in target.rglob("*"))
    return str(refusal.value)


@pytest.mark.django_db(transaction=True)
def test_a_wrong_backup_key_is_refused_and_named(settings, archive: Path, place: Path) -> None:  # type: ignore[no-untyped-def]
    settings.BACKUP_ENCRYPTION_KEY = new_key()
    message = refused(archive, place / "new")
    assert "BACKUP_ENCRYPTION_KEY is not the key this archive was made with" in message


def flipped(archive: Path, at: int) -> Path:
    """A copy of the archive with one bit of one byte flipped."""
    data = bytearray(archive.read_bytes())
    data[at] ^= 0x01
    tampered = archive.with_name("tampered.ktbackup")
    tampered.write_bytes(bytes(data))
    return tampered


@pytest.mark.django_db(transaction=True)
def test_an_archive_with_one_byte_flipped_is_refused_saying_where(archive: Path, place: Path) -> None:
    message = refused(flipped(archive, 200), place / "new")  # in the first chunk, the manifest's
    assert "altered, cut short or damaged: chunk 0" in message and "fails authentication" in message
    last = flipped(archive, archive.stat().st_size - 5)
    with pytest.raises(CommandError, match="altered, cut short or damaged: chunk .* fails authentication"):
        call_command("restore", last, check=True, stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_a_different_identity_key_is_refused_naming_the_key_and_its_fingerprint(
    settings, archive: Path, place: Path
) -> None:  # type: ignore[no-untyped-def]
    old = settings.IDENTITY_ENCRYPTION_KEYS[0]
    settings.IDENTITY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    message = refused(archive, place / "new")
    assert f"IDENTITY_ENCRYPTION_KEYS: key 1 of the backup (fingerprint {fingerprint(old)})" in message
    assert "could not be decrypted" in message and "AUDIT_CHAIN_KEY" not in message


@pytest.mark.django_db(transaction=True)
def test_a_different_audit_chain_key_is_refused_naming_it(settings, archive: Path, place: Path) -> None:  # type: ignore[no-untyped-def]
    settings.AUDIT_CHAIN_KEY = "another-audit-chain-key-" + new_key()
    message = refused(archive, place / "new")
    assert "AUDIT_CHAIN_KEY" in message and fingerprint(settings.AUDIT_CHAIN_KEY) in message
    assert "IDENTITY_ENCRYPTION_KEYS" not in message


@pytest.mark.django_db(transaction=True)
def test_a_rotated_identity_key_list_that_still_holds_the_old_key_passes_and_a_full_database_is_refused(
    settings, archive: Path, place: Path
) -> None:  # type: ignore[no-untyped-def]
    settings.IDENTITY_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.IDENTITY_ENCRYPTION_KEYS]
    message = refused(archive, place / "new")
    # Past the key check, the next refusal: this test database (a PostgreSQL database or an SQLite
    # file) is not empty.
    assert "_KEY" not in message
    assert "is not empty: restore into a new, empty database" in message


@pytest.mark.django_db(transaction=True)
def test_check_reads_and_authenticates_the_whole_archive_and_touches_nothing(archive: Path) -> None:
    output = io.StringIO()
    call_command("restore", archive, check=True, stdout=output)
    assert "all authenticated" in output.getvalue() and "archive verified" in output.getvalue()
    assert f"{len(MEDIA) + 1} files" in output.getvalue()  # the media and the database copy


def test_a_backup_without_a_backup_key_is_refused(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.BACKUP_ENCRYPTION_KEY = ""
    with pytest.raises(CommandError, match="BACKUP_ENCRYPTION_KEY is not set"):
        call_command("backup", out=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_keep_leaves_the_newest_archives_and_what_a_killed_backup_left_is_removed(place: Path) -> None:
    out = place / "backups"
    (out / ".ketatrial-backup-killed").mkdir(parents=True)
    (out / ".ketatrial-backup-killed" / "database.pgdump").write_bytes(b"plaintext rows")
    (out / "ketatrial-backup-20250104T010000Z.ktbackup.partial").write_bytes(b"half")
    for stamp in ("20250101T010000Z", "20250102T010000Z", "20250103T010000Z"):
        (out / f"ketatrial-backup-{stamp}.ktbackup").write_bytes(b"old")
    (out / "notes.txt").write_text("not ours")
    call_command("backup", out=out, keep=2, stdout=io.StringIO())
    names = sorted(p.name for p in out.iterdir() if p.name != ".ketatrial-backup.lock")
    assert len(names) == 3 and names[2] == "notes.txt"
    assert names[0] == "ketatrial-backup-20250103T010000Z.ktbackup" and names[1].endswith(".ktbackup")


# --- the key backup ----------------------------------------------------------------------------------


def test_the_key_backup_round_trips_and_prints_only_fingerprints(
    settings, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("ketatrial.backup_crypto.SCRYPT_LOG2_N", 10)
    settings.BACKUP_ENCRYPTION_KEY = new_key()
    settings.IDENTITY_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]
    settings.AUDIT_CHAIN_KEY = new_key()
    monkeypatch.setenv("BACKUP_KEYS_PASSPHRASE", "a passphrase kept in the safe")
    written = io.StringIO()
    call_command("backup_keys", out=tmp_path / "keys.txt", stdout=written)
    secrets = [*settings.IDENTITY_ENCRYPTION_KEYS, settings.AUDIT_CHAIN_KEY, settings.BACKUP_ENCRYPTION_KEY]
    for secret in secrets:
        assert secret not in written.getvalue() and secret not in (tmp_path / "keys.txt").read_text()
    assert fingerprint(settings.IDENTITY_ENCRYPTION_KEYS[1]) in written.getvalue()
    assert oct((tmp_path / "keys.txt").stat().st_mode & 0o777) == "0o600"

    shown = io.StringIO()
    call_command("backup_keys", read=tmp_path / "keys.txt", show=True, stdout=shown, stderr=io.StringIO())
    assert "this environment holds these keys" in shown.getvalue()
    assert f"IDENTITY_ENCRYPTION_KEYS={','.join(settings.IDENTITY_ENCRYPTION_KEYS)}" in shown.getvalue()
    assert f"AUDIT_CHAIN_KEY={settings.AUDIT_CHAIN_KEY}" in shown.getvalue()

    monkeypatch.setenv("BACKUP_KEYS_PASSPHRASE", "not the passphrase kept in the safe")
    with pytest.raises(CommandError, match="wrong passphrase"):
        call_command("backup_keys", read=tmp_path / "keys.txt", stdout=io.StringIO())


def test_the_key_backup_passphrase_may_not_be_the_backup_key(settings, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings.BACKUP_ENCRYPTION_KEY = new_key()
    monkeypatch.setenv("BACKUP_KEYS_PASSPHRASE", settings.BACKUP_ENCRYPTION_KEY)
    with pytest.raises(CommandError, match="must differ from BACKUP_ENCRYPTION_KEY"):
        call_command("backup_keys", out=tmp_path / "keys.txt", stdout=io.StringIO())
    assert not (tmp_path / "keys.txt").exists()


# --- compose -------------------------------------------------------------------------------------------


def test_compose_runs_the_nightly_backup_from_the_same_image_into_its_own_volume() -> None:
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    service = compose["services"]["backup"]
    assert service["build"] == compose["services"]["web"]["build"]
    assert "ports" not in service
    assert "manage.py backup" in " ".join(service["command"])
    assert str(service["environment"]["BACKUP_ENCRYPTION_KEY"]).startswith("${BACKUP_ENCRYPTION_KEY:?")
    # pg_dump reads every table as the owner, as the migrate service connects (not the app role).
    assert (
        service["environment"]["DATABASE_URL"]
        == compose["services"]["migrate"]["environment"]["DATABASE_URL"]
    )
    assert service["environment"]["DATABASE_URL"].startswith("postgres://ketatrial_owner:")
    volumes = {v.split(":")[0]: v for v in service["volumes"]}
    assert "backups" in compose["volumes"] and "backups" in volumes
    assert volumes["media"].endswith(":ro")
    assert "healthcheck" in service
