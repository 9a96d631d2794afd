"""Encryption of backups and of the key backup (pure: no Django).

Backup archive, format KTBACKUP version 1 (a stream; nothing is held in memory but one chunk):

    offset  size  field
    0       8     magic b"KTBACKUP"
    8       1     version (1)
    9       1     log2 of the chunk size (20: 1 MiB of plaintext per chunk)
    10      32    salt (random per archive)
    42      32    key check: HMAC-SHA256 under HKDF(key, salt, "KTBACKUP v1 check") of bytes 0-41
    74      ...   chunks

The backup key (BACKUP_ENCRYPTION_KEY) is 32 random bytes, URL-safe base64 (a Fernet key has this
form). Each archive gets its own AES-256-GCM key, HKDF-SHA256(backup key, salt, "KTBACKUP v1
payload"), so the chunk counter can serve as the nonce. Chunk i is AES-GCM of at most one chunk of
plaintext with the nonce = i as 11 bytes big-endian + one byte that is 1 for the last chunk and 0
otherwise, and with the 74 header bytes as associated data; every chunk but the last holds exactly
a chunk of plaintext (the last holds 0 to a chunk). This is the STREAM construction of Hoang,
Reyhanitabar, Rogaway and Vizár (as in age and Tink): a chunk changed, dropped, reordered or
appended, or an archive cut at any point, fails authentication. The key check tells a wrong key
from a damaged archive and makes the scheme key-committing, which GCM alone is not.

Key backup, format KTKEYS version 1 (small; text, so it can also be printed and kept on paper):
a first line of description, then base64 lines of

    magic b"KTKEYS\\x00" | version (1) | log2 N | r | p | salt (16) | nonce (12) | AES-256-GCM

with the key scrypt(passphrase, salt, N, r, p) and the 22 header bytes as associated data; the
plaintext is JSON with the key material.

Fingerprints name a key without revealing it: the first 16 hex digits of SHA-256 over a fixed
label and the key. They are safe to print and to store in a manifest because every key here is
random (a 32-byte Fernet or backup key; the audit-chain key, generated the same way).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"KTBACKUP"
VERSION = 1
CHUNK_LOG2 = 20
HEADER_SIZE = 74
TAG_SIZE = 16

KEYS_MAGIC = b"KTKEYS\x00"
KEYS_VERSION = 1
KEYS_HEADER_SIZE = 7 + 1 + 3 + 16 + 12
# scrypt at N = 2**17, r = 8: 128 MiB and about half a second per try, the cost OWASP suggests.
SCRYPT_LOG2_N = 17
KEYS_MIN_PASSPHRASE = 16


class BackupCryptoError(Exception):
    """An archive or key file that cannot be opened: the message says why and what to do."""


class WrongKey(BackupCryptoError):
    """The key (or passphrase) is not the one the file was made with."""


class Damaged(BackupCryptoError):
    """The file is not whole: cut, altered or not a backup at all."""


def fingerprint(secret: str) -> str:
    """A short public name of a key: 16 hex digits of SHA-256 over a label and the key."""
    return hashlib.sha256(b"ketatrial key fingerprint v1\x00" + secret.encode()).hexdigest()[:16]


def backup_key_bytes(value: str) -> bytes:
    """The 32 bytes of a BACKUP_ENCRYPTION_KEY (URL-safe base64); refused if it is not one."""
    how = (
        'generate one with: python -c "import base64, os; '
        'print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
    )
    if not value:
        raise WrongKey(f"BACKUP_ENCRYPTION_KEY is not set: {how}")
    try:
        raw = base64.urlsafe_b64decode(value.strip().encode())
    except (binascii.Error, ValueError) as exc:
        raise WrongKey(f"BACKUP_ENCRYPTION_KEY is not URL-safe base64: {how}") from exc
    if len(raw) != 32:
        raise WrongKey(f"BACKUP_ENCRYPTION_KEY must hold 32 bytes, it holds {len(raw)}: {how}")
    return raw


def _hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class EncryptingWriter:
    """A write-only binary stream that encrypts into `out` (KTBACKUP v1); close() writes the
    last chunk and must be called for the archive to be whole."""

    def __init__(self, out: BinaryIO, key: bytes, *, chunk_log2: int = CHUNK_LOG2) -> None:
        if not 10 <= chunk_log2 <= 24:
            raise ValueError("chunk size out of range")
        salt = os.urandom(32)
        head = MAGIC + bytes([VERSION, chunk_log2]) + salt
        check = hmac.new(_hkdf(key, salt, b"KTBACKUP v1 check"), head, hashlib.sha256).digest()
        self._header = head + check
        self._aead = AESGCM(_hkdf(key, salt, b"KTBACKUP v1 payload"))
        self._chunk = 1 << chunk_log2
        self._out = out
        self._buffer = bytearray()
        self._counter = 0
        self._closed = False
        out.write(self._header)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed backup stream")
        self._buffer += data
        # Keep at least one byte back: only close() knows which chunk is the last.
        while len(self._buffer) > self._chunk:
            self._emit(bytes(self._buffer[: self._chunk]), last=False)
            del self._buffer[: self._chunk]
        return len(data)

    def _emit(self, plain: bytes, *, last: bool) -> None:
        self._out.write(self._aead.encrypt(_nonce(self._counter, last), plain, self._header))
        self._counter += 1

    def close(self) -> None:
        if not self._closed:
            self._emit(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._closed = True

    def flush(self) -> None:
        self._out.flush()


class DecryptingReader:
    """A read-only binary stream of the plaintext of a KTBACKUP v1 archive. The header and the key
    are checked on opening; each chunk is authenticated before any of its bytes is returned, and
    the end of the archive only after the last chunk has been authenticated as the last."""

    def __init__(self, source: BinaryIO, key: bytes) -> None:
        header = source.read(HEADER_SIZE)
        if len(header) < HEADER_SIZE or header[:8] != MAGIC:
            raise Damaged("this is not a KetaTrial backup archive (no KTBACKUP header)")
        if header[8] != VERSION:
            raise Damaged(f"backup format version {header[8]} is not known to this code (it reads {VERSION})")
        chunk_log2, salt, check = header[9], header[10:42], header[42:74]
        if not 10 <= chunk_log2 <= 24:
            raise Damaged("the archive header is damaged (chunk size out of range)")
        expected = hmac.new(_hkdf(key, salt, b"KTBACKUP v1 check"), header[:42], hashlib.sha256).digest()
        if not hmac.compare_digest(expected, check):
            raise WrongKey(
                "BACKUP_ENCRYPTION_KEY is not the key this archive was made with (or its header was "
                "altered); set the key kept in the key backup (manage.py backup_keys --read FILE)"
            )
        self._header = header
        self._aead = AESGCM(_hkdf(key, salt, b"KTBACKUP v1 payload"))
        self._size = (1 << chunk_log2) + TAG_SIZE
        self._source = source
        self._pending = self._read_exactly(self._size)
        self._counter = 0
        self._plain = b""
        self._offset = 0
        self._done = False

    def _read_exactly(self, size: int) -> bytes:
        parts, wanted = [], size
        while wanted:
            part = self._source.read(wanted)
            if not part:
                break
            parts.append(part)
            wanted -= len(part)
        return b"".join(parts)

    def _next_chunk(self) -> None:
        following = self._read_exactly(self._size)
        last = not following
        sealed = self._pending
        if len(sealed) < TAG_SIZE or (not last and len(sealed) != self._size):
            raise Damaged(f"the archive is cut short or damaged at chunk {self._counter}")
        try:
            self._plain = self._aead.decrypt(_nonce(self._counter, last), sealed, self._header)
        except InvalidTag as exc:
            at = HEADER_SIZE + self._counter * self._size
            raise Damaged(
                f"the archive was altered, cut short or damaged: chunk {self._counter} (byte {at}) "
                "fails authentication; use another copy of this backup"
            ) from exc
        self._offset = 0
        self._counter += 1
        self._pending = following
        self._done = last

    def read(self, size: int = -1) -> bytes:
        parts = []
        wanted = size if size is not None and size >= 0 else None
        while wanted is None or wanted > 0:
            if self._offset >= len(self._plain):
                if self._done:
                    break
                self._next_chunk()
                continue
            end = len(self._plain) if wanted is None else min(len(self._plain), self._offset + wanted)
            piece = self._plain[self._offset : end]
            self._offset = end
            parts.append(piece)
            if wanted is not None:
                wanted -= len(piece)
        return b"".join(parts)

    def read_to_end(self) -> None:
        """Authenticate whatever is left (a reader that stops early has not seen the last chunk)."""
        while not self._done:
            self._next_chunk()


def keys_seal(material: dict[str, Any], passphrase: str, *, log2_n: int = SCRYPT_LOG2_N) -> str:
    """The key material as a KTKEYS v1 text file sealed under a passphrase."""
    if len(passphrase) < KEYS_MIN_PASSPHRASE:
        raise WrongKey(f"the key-backup passphrase must have at least {KEYS_MIN_PASSPHRASE} characters")
    salt, nonce, r, p = os.urandom(16), os.urandom(12), 8, 1
    header = KEYS_MAGIC + bytes([KEYS_VERSION, log2_n, r, p]) + salt + nonce
    key = Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(passphrase.encode())
    plain = json.dumps(material, sort_keys=True).encode()
    body = base64.b64encode(header + AESGCM(key).encrypt(nonce, plain, header)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        "KetaTrial key backup (KTKEYS v1: scrypt + AES-256-GCM); open it with "
        "`manage.py backup_keys --read FILE`\n" + "\n".join(lines) + "\n"
    )


def keys_open(text: str, passphrase: str) -> dict[str, Any]:
    """The key material of a KTKEYS v1 file; WrongKey for a wrong passphrase (or an altered file)."""
    lines = [line.strip() for line in text.splitlines()[1:] if line.strip()]
    try:
        blob = base64.b64decode("".join(lines), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Damaged("this is not a KetaTrial key backup (its body is not base64)") from exc
    if len(blob) < KEYS_HEADER_SIZE + TAG_SIZE or blob[:7] != KEYS_MAGIC:
        raise Damaged("this is not a KetaTrial key backup (no KTKEYS header)")
    if blob[7] != KEYS_VERSION:
        raise Damaged(f"key backup format version {blob[7]} is not known to this code")
    log2_n, r, p = struct.unpack("BBB", blob[8:11])
    if not 10 <= log2_n <= 22:
        raise Damaged("the key backup header is damaged (scrypt cost out of range)")
    header, salt, nonce = blob[:KEYS_HEADER_SIZE], blob[11:27], blob[27:39]
    key = Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(passphrase.encode())
    try:
        plain = AESGCM(key).decrypt(nonce, blob[KEYS_HEADER_SIZE:], header)
    except InvalidTag as exc:
        raise WrongKey("wrong passphrase for this key backup (or the file was altered)") from exc
    return json.loads(plain)
