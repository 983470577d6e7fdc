"""The node's secret key: a file in the data folder (mode 0600), never in the database.

Whoever can read the database alone must not be able to forge what the node signs (audit MACs
and checkpoints, media signatures). Each use derives its own key from the one secret, so a key
shown to one party (an edge's media key) reveals nothing about another (the audit MAC).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> key = node_key(folder)
    >>> len(key), node_key(folder) == key, oct((folder / KEY_FILE).stat().st_mode & 0o777)
    (32, True, '0o600')
    >>> derive(key, "audit") == derive(key, "audit") != derive(key, "media")
    True
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from scenewatch.errors import SceneWatchError

KEY_FILE = "secret.key"
ENV = "SCENEWATCH_SECRET_KEY_FILE"  # a key kept elsewhere (a mounted secret, another disk)


def key_path(root: Path) -> Path:
    """Where the key of data folder ``root`` lives: ``$SCENEWATCH_SECRET_KEY_FILE`` or beside the data."""
    return Path(os.environ.get(ENV) or Path(root) / KEY_FILE)


def node_key(root: Path) -> bytes:
    """The 32-byte secret of data folder ``root``, made on first use. The file appears whole (written
    aside, then linked into place), so a process starting beside this one never reads it half made."""
    path = key_path(root)
    if path.exists():
        return _read(path)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs stands
            os.link(aside, path)
    except OSError as exc:
        raise SceneWatchError(
            f"cannot create the secret key {path}: {exc.strerror}",
            "make the data folder writable, or point SCENEWATCH_SECRET_KEY_FILE at a key file",
        ) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(aside)
    return _read(path)


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_mode & 0o077:
            raise SceneWatchError(f"secret key {path} can be read by other users", f"run: chmod 600 {path}")
        key = bytes.fromhex(path.read_text().strip())
        if len(key) != 32:
            raise ValueError("not 32 bytes")
        return key
    except OSError as exc:
        raise SceneWatchError(f"cannot read the secret key {path}: {exc.strerror}") from None
    except ValueError:
        raise SceneWatchError(
            f"secret key {path} is not 64 hex digits",
            "restore it from a backup; a new key makes earlier audit checkpoints unverifiable",
        ) from None


def derive(key: bytes, purpose: str) -> bytes:
    """A key for one ``purpose`` ('audit', 'media:<edge>' ...), independent of the others."""
    return hmac.new(key, f"scenewatch:{purpose}".encode(), hashlib.sha256).digest()
