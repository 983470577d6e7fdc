"""Setup and start: the model converter is removed after a conversion unless kept, and `serve`
answers before its pipeline has loaded a model."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import MODELS, cli_path, needs_models, needs_samples

from scenewatch import cli, models
from scenewatch.errors import ModelError
from scenewatch.model_checks import smoke_check
from scenewatch.models import MODEL_NAMES, ModelStore

# Stands in for scenewatch/tools/convert_human_models.sh (npm and TensorFlow take minutes and
# 1.6 GB): same arguments, same parts made in the work folder, real ONNX files as its output, the
# same kind of progress lines. Everything after it (installing, checking, removing) is the real code.
FAKE_CONVERTER = """#!/usr/bin/env bash
set -euo pipefail
out=$1 work=$2
shift 2
mkdir -p "$out" "$work/package/models" "$work/venv/bin" "$work/fixed"
cd "$work"
touch package/.complete venv/.complete npm.log pip.log
head -c 100000 /dev/zero > venv/bin/python
number=0
for model in "$@"; do
  number=$((number + 1))
  echo "converting $model ($number of $#) ..."
  echo "{}" > "fixed/$model.json"
  echo "tf2onnx said things" > "$model.log"
  [ -z "${FAIL_AT:-}" ] || { echo "conversion of $model failed, see $work/$model.log" >&2; exit 1; }
  cp "$SOURCE/$model.onnx" "$out/$model.onnx"
  echo "converting $model ($number of $#) ... done in 0 s"
done
"""


@pytest.fixture
def converter(tmp_path, monkeypatch):
    """A store that must convert (no mirror, npm "installed") with the stand-in converter."""
    for name in ("SCENEWATCH_MODELS", "SCENEWATCH_MODEL_MIRROR", "SCENEWATCH_CONVERT_WORK", "KEEP_CONVERTER"):
        monkeypatch.delenv(name, raising=False)
    script = tmp_path / "convert.sh"
    script.write_text(FAKE_CONVERTER)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("SOURCE", str(MODELS))
    monkeypatch.setattr(models, "CONVERT_SCRIPT", script)
    monkeypatch.setattr(models, "default_mirrors", lambda: [])
    monkeypatch.setattr(models.shutil, "which", lambda _: "/usr/bin/npm")
    return ModelStore(tmp_path / "cache", check=smoke_check)


@needs_models
@needs_samples
def test_conversion_removes_the_converter_and_shows_each_model(converter):
    messages: list[str] = []
    [path] = converter.fetch(["movenet-lightning.onnx"], progress=messages.append)
    assert path == converter.cache_dir / "movenet-lightning.onnx" and path.is_file()
    assert not converter.convert_dir.exists(), list(converter.convert_dir.rglob("*"))
    # the script's own lines come through as it prints them, then what was installed and removed
    assert "  converting movenet-lightning (1 of 1) ... done in 0 s" in messages, messages
    assert "converted from npm" in messages[-2], messages
    assert messages[-1].startswith(f"removed the converter from {converter.convert_dir} (")
    # what it made: the staged model and the stand-in "Python" of 100 kB, a few bytes besides
    freed = float(re.search(r"\(([\d.]+) MB freed", messages[-1]).group(1))
    assert abs(freed - (path.stat().st_size + 100_000) / 1e6) < 0.06, messages[-1]
    assert "KEEP_CONVERTER=1" in messages[-1]


@needs_models
@needs_samples
def test_keep_converter_from_the_environment_keeps_it(converter, monkeypatch):
    monkeypatch.setenv("KEEP_CONVERTER", "1")
    messages: list[str] = []
    converter.fetch(["movenet-lightning.onnx"], progress=messages.append)
    assert (converter.convert_dir / "venv" / "bin" / "python").is_file()
    assert (converter.convert_dir / "package" / ".complete").is_file()
    assert messages[-1] == f"kept the converter in {converter.convert_dir} for a later conversion"


@needs_models
@needs_samples
def test_keep_converter_flag_of_the_cli_keeps_it(converter, monkeypatch, capsys):
    monkeypatch.setenv("SCENEWATCH_MODELS", str(converter.cache_dir))
    assert cli.main(["models", "fetch", "--keep-converter"]) == 0
    printed = capsys.readouterr().out
    assert "  converting nanodet (2 of 4) ... done in 0 s" in printed, printed
    assert all((converter.cache_dir / name).is_file() for name in MODEL_NAMES)
    assert (converter.convert_dir / "venv" / ".complete").is_file(), printed


@needs_models
@needs_samples
def test_a_work_folder_of_the_users_keeps_their_files(converter, tmp_path, monkeypatch):
    """$SCENEWATCH_CONVERT_WORK may name a folder with other things in it: only the converter goes."""
    work = tmp_path / "mine"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.setenv("SCENEWATCH_CONVERT_WORK", str(work))
    converter.fetch(["movenet-lightning.onnx"], progress=lambda _: None)
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt"]


@needs_models
def test_a_store_without_a_smoke_check_refuses_converted_files(converter):
    """The check is handed in by the caller (the command line); a store given none cannot vouch
    for converted bytes, whose checksum no pin names, and leaves nothing in the cache."""
    bare = ModelStore(converter.cache_dir)
    with pytest.raises(ModelError, match="cannot be trusted without a smoke inference"):
        bare.fetch(["movenet-lightning.onnx"], progress=lambda _: None)
    assert not (bare.cache_dir / "movenet-lightning.onnx").exists()


def test_a_failed_conversion_keeps_the_converter_for_the_retry(converter, monkeypatch):
    monkeypatch.setenv("FAIL_AT", "1")
    with pytest.raises(ModelError, match="conversion of movenet-lightning failed"):
        converter.fetch(["movenet-lightning.onnx"], progress=lambda _: None)
    assert (converter.convert_dir / "venv" / ".complete").is_file()
    assert (converter.convert_dir / "package" / ".complete").is_file()


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(
                    (int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
                )
        except (OSError, IndexError, ValueError):  # ended meanwhile
            continue
    return found


def _poll(what: str, check, deadline_s: float = 60.0, every_s: float = 0.2):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every_s)
    pytest.fail(f"{what}: not within {deadline_s:.0f} s")


def _get(url: str, **kwargs) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=10, **kwargs)
    except httpx.TransportError:
        return None


@needs_models
@needs_samples
@pytest.mark.timeout(400)
def test_serve_answers_before_its_pipeline_has_loaded_a_model(tmp_path):
    """The pipeline's process is frozen (SIGSTOP) the moment it appears, before it has loaded ONNX
    Runtime: a model load as slow as can be. The UI and API answer all the same; once the process
    goes on, the sample camera's tracks show on the Live page's objects."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [cli_path(), "--data", str(tmp_path / "data"), "serve", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    child = None
    try:

        def pipeline_child() -> int | None:
            assert server.poll() is None, log.read_text()
            spawned = [pid for pid, command in _children(server.pid) if "spawn_main" in command]
            return spawned[0] if spawned else None

        child = _poll("the pipeline's process to start", pipeline_child, every_s=0.005)
        os.kill(child, signal.SIGSTOP)
        maps = Path(f"/proc/{child}/maps").read_text()
        assert "onnxruntime" not in maps, "the pipeline loaded ONNX Runtime before it could be stopped"

        version = _poll(
            "GET /api/version", lambda: (r := _get(base + "/api/version")) and r.status_code == 200
        )
        assert version
        page = _get(base + "/", follow_redirects=True)
        assert page is not None and page.status_code == 200 and "<html" in page.text.lower()
        assert "onnxruntime" not in Path(f"/proc/{child}/maps").read_text()

        os.kill(child, signal.SIGCONT)
        password = _poll(
            "the first admin's password",
            lambda: next((line.split(":", 1)[1].strip() for line in log.read_text().splitlines()
                          if "password:" in line), None),
        )  # fmt: skip
        login = httpx.post(
            base + "/api/auth/login", json={"username": "admin", "password": password, "bearer": True}
        )
        headers = {"authorization": f"Bearer {login.json()['token']}"}

        def live_objects() -> list | None:
            answer = _get(base + "/api/cameras/sample/objects", headers=headers)
            return answer.json()["objects"] if answer is not None and answer.status_code == 200 else None

        # generous: the pipeline imports and loads everything now, on a slow shared machine
        objects = _poll("tracks on the Live page", live_objects, deadline_s=240)
        assert all(o["track_id"] > 0 and o["class"] in ("person", "car", "truck") for o in objects)
    finally:
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGCONT)  # a frozen process would not stop with the server
        server.send_signal(signal.SIGINT)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
