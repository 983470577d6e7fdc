"""The audit log's anchor outside the database: a keyed MAC on every row and signed checkpoints.

The hash chain alone shows an edit only to someone who cannot recompute the hashes, and whoever can
write the database can. So each row also carries ``mac = HMAC(key, "id:hash")``, the key derived
from the node secret (``scenewatch.store.keys``: a file in the data folder, never in the database),
and the writer appends a signed checkpoint (last id, row count, head hash) to ``audit.checkpoints``
in the data folder. A rewrite with recomputed hashes breaks the MACs; deleting the newest rows
leaves the chain shorter than the last checkpoint.

    >>> import tempfile
    >>> anchor = Anchor(Path(tempfile.mkdtemp()))
    >>> key = anchor.signing_key(chain_is_anchored=False)
    >>> anchor.write_checkpoint(key, Checkpoint(id=3, rows=3, head="ab" * 32, anchored_from=1, ts=1.0))
    >>> anchor.read_checkpoints(key)[0][-1].rows, anchor.read_checkpoints(key)[1]
    (3, [])
    >>> anchor.read_checkpoints(b"another key")[1]
    [1]
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from scenewatch.errors import SceneWatchError
from scenewatch.store import keys

CHECKPOINT_FILE = "audit.checkpoints"
ROTATE_BYTES = 1 << 20  # past this the file restarts from its newest checkpoint (about 6,000 lines)


class KeyMissing(SceneWatchError):
    """The chain holds MACs but the key that made them is gone: a new key would hide any rewrite."""


@dataclass(frozen=True)
class Checkpoint:
    id: int  # the last row's id
    rows: int  # rows up to and including it
    head: str  # its hash
    anchored_from: int  # the first row with a MAC: rows from there on must all have one
    ts: float

    def body(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()


def sign(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def row_mac(key: bytes, row_id: int, digest: str) -> str:
    """The MAC of one row: its id (no renumbering) and hash (everything else, and its place)."""
    return sign(key, f"{row_id}:{digest}".encode())


class Anchor:
    """The key and checkpoint file of one data folder."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / CHECKPOINT_FILE
        self._key: bytes | None = None

    @property
    def key_file(self) -> Path:
        return keys.key_path(self.root)

    def signing_key(self, chain_is_anchored: bool) -> bytes:
        """The MAC key, made on first use unless the chain already has MACs (then it must exist)."""
        if self._key is None:
            if chain_is_anchored and not self.key_file.exists():
                raise KeyMissing(
                    f"the audit key file {self.key_file} is missing but the audit log is signed with it",
                    "restore the file from a backup; a new key would make the log unverifiable",
                )
            self._key = keys.derive(keys.node_key(self.root), "audit")
        return self._key

    def existing_key(self) -> bytes | None:
        """The MAC key if its file exists; never makes one (for checking)."""
        if self._key is None and not self.key_file.exists():
            return None
        return self.signing_key(chain_is_anchored=True)

    def check_writable(self) -> None:
        """Refuse a checkpoint file that cannot be appended to, naming it."""
        try:
            with open(self.path, "a"):
                pass
        except OSError as exc:
            raise SceneWatchError(
                f"cannot write the audit checkpoints {self.path}: {exc.strerror}",
                "make the data folder writable and free disk space",
            ) from None

    def write_checkpoint(self, key: bytes, point: Checkpoint) -> None:
        """Append one signed line (one write call, so concurrent writers do not interleave)."""
        line = json.dumps({**asdict(point), "mac": sign(key, point.body())}, sort_keys=True) + "\n"
        if self.path.exists() and self.path.stat().st_size > ROTATE_BYTES:
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(line)
            os.replace(tmp, self.path)  # only the newest checkpoint is needed to detect truncation
            return
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            if os.fstat(fd).st_size and os.pread(fd, 1, os.fstat(fd).st_size - 1) != b"\n":
                line = "\n" + line  # after a line cut short by a crash: start a new one
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def read_checkpoints(self, key: bytes) -> tuple[list[Checkpoint], list[int]]:
        """The checkpoints whose MAC holds, and the line numbers of those whose MAC does not. A line
        cut short by a crash is neither (dropping a line gains a forger no more than deleting it)."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return [], []
        good: list[Checkpoint] = []
        bad: list[int] = []
        for number, line in enumerate(lines, 1):
            try:
                data = json.loads(line)
                mac = data.pop("mac")
                point = Checkpoint(**data)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            if hmac.compare_digest(str(mac), sign(key, point.body())):
                good.append(point)
            else:
                bad.append(number)
        return good, bad
