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
    """The 32-byte secret of data folder ``root``, made on first use."""
    path = key_path(root)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    except OSError as exc:
        raise SceneWatchError(
            f"cannot create the secret key {path}: {exc.strerror}",
            "make the data folder writable, or point SCENEWATCH_SECRET_KEY_FILE at a key file",
        ) from None
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    return _read(path)


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_mode & 0o077:
            raise SceneWatchError(f"secret key {path} can be read by other users", f"run: chmod 600 {path}")
        return bytes.fromhex(path.read_text().strip())
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
