"""The user's own CLIP-style encoders (the config's ``embeddings`` section): ONNX image and text
encoders that map crops and query text into one space, compared by cosine.

Interface checked when opened, each problem a :class:`SceneWatchError` naming the setting and
the file: the image encoder takes ``[N,3,H,W]`` float RGB (H and W from the model, else
``image_size``), the text encoder ``[N,L]`` int64 token ids (plus an ``attention_mask`` if the
export has one), each gives ``[N,D]`` with the same ``D``. A one-item dry run proves it.

Crops are padded to a square with the mean colour before resizing (CLIP's centre crop would cut
a standing person's head and feet) and normalised with the configured mean and std. Vectors are
L2-normalised; a track's is the quality-weighted mean of its crops', normalised again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from scenewatch.config.embeddings import EmbeddingsConfig
from scenewatch.errors import ModelError, SceneWatchError
from scenewatch.vision.detector import open_session

log = logging.getLogger(__name__)

REMOVE_HINT = "or remove the embeddings section to search by attributes alone"


def _problem(field: str, path: Path, what: str, todo: str) -> SceneWatchError:
    return SceneWatchError(f"embeddings.{field}: {path} {what}", f"{todo}, {REMOVE_HINT}")


def _dims(shape: Sequence[Any]) -> list[int | None]:
    """A model's declared shape, named or unknown dimensions as None."""
    return [d if isinstance(d, int) and d > 0 else None for d in shape]


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _output(session, field: str, path: Path) -> tuple[str, int | None]:
    """The first rank-2 output ([N, D]) and its declared D."""
    for out in session.get_outputs():
        if len(out.shape) == 2:
            return out.name, _dims(out.shape)[1]
    shapes = ", ".join(str(o.shape) for o in session.get_outputs())
    raise _problem(field, path, f"has no [N, D] output (outputs: {shapes})", "export the pooled embedding")


def _open(field: str, path: Path, threads: int):
    if not path.is_file():
        raise _problem(field, path, "does not exist", "check the path")
    try:
        return open_session(path, threads)
    except ModelError as exc:
        reason = exc.message.split(": ", 1)[-1]
        raise _problem(field, path, f"is not a readable ONNX model ({reason})", "export it again") from None


class ImageEncoder:
    """Crops (BGR) to L2-normalised vectors."""

    def __init__(self, config: EmbeddingsConfig, threads: int = 1):
        path = self.path = config.image_model
        self.session = _open("image_model", path, threads)
        inputs = self.session.get_inputs()
        dims = _dims(inputs[0].shape)
        if len(inputs) != 1 or len(dims) != 4 or dims[1] not in (3, None) or "float" not in inputs[0].type:
            got = ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
            raise _problem(
                "image_model", path, f"takes {got}", "give an encoder of one [N,3,H,W] float input"
            )
        self.input = inputs[0].name
        self.height = dims[2] or config.image_size
        self.width = dims[3] or config.image_size
        self.mean = np.array(config.mean, np.float32).reshape(1, 3, 1, 1)
        self.std = np.array(config.std, np.float32).reshape(1, 3, 1, 1)
        self.output, _ = _output(self.session, "image_model", path)
        self.dim = _dry_run("image_model", path, lambda: self.encode([np.zeros((8, 8, 3), np.uint8)]))

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        side = max(h, w, 1)
        fill = tuple(float(v) * 255.0 for v in self.mean.ravel()[::-1])  # BGR
        top, left = (side - h) // 2, (side - w) // 2
        square = cv2.copyMakeBorder(
            image, top, side - h - top, left, side - w - left, cv2.BORDER_CONSTANT, value=fill
        )
        resized = cv2.resize(square, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return resized[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.0

    def encode(self, images: Sequence[np.ndarray]) -> np.ndarray:
        batch = (np.stack([self._prepare(i) for i in images]) - self.mean) / self.std
        (out,) = self.session.run([self.output], {self.input: batch.astype(np.float32)})
        return normalise(np.asarray(out, np.float32))


class TextEncoder:
    """Texts to L2-normalised vectors, tokenized by the model's own ``tokenizer.json``."""

    def __init__(self, config: EmbeddingsConfig, threads: int = 1):
        path = self.path = config.text_model
        self.session = _open("text_model", path, threads)
        inputs = self.session.get_inputs()
        names = [i.name for i in inputs]
        ids = inputs[0]
        dims = _dims(ids.shape)
        extra = [n for n in names[1:] if n != "attention_mask"]
        if len(dims) != 2 or "int64" not in ids.type or extra:
            got = ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
            raise _problem("text_model", path, f"takes {got}", "give an encoder of [N,L] int64 token ids")
        self.input = ids.name
        self.mask = "attention_mask" in names[1:]
        self.length = dims[1] or config.context_length
        self.output, _ = _output(self.session, "text_model", path)
        self.tokenizer = _tokenizer(config.tokenizer, self.length)
        self.dim = _dry_run("text_model", path, lambda: self.encode(["a photo of a person"]))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(list(texts))
        feed = {self.input: np.array([e.ids for e in encoded], np.int64)}
        if self.mask:
            feed["attention_mask"] = np.array([e.attention_mask for e in encoded], np.int64)
        (out,) = self.session.run([self.output], feed)
        return normalise(np.asarray(out, np.float32))


def _tokenizer(path: Path, length: int):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise SceneWatchError(
            "embeddings: the tokenizers package is not installed", "pip install 'scenewatch[clip]'"
        ) from None
    if not path.is_file():
        raise _problem("tokenizer", path, "does not exist", "point it at the text encoder's tokenizer.json")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the library raises a bare Exception on a bad file
        raise _problem(
            "tokenizer", path, f"is not a tokenizer.json ({str(exc).splitlines()[0]})", "use the model's own"
        ) from None
    tokenizer.enable_truncation(length)
    pad_id = tokenizer.padding["pad_id"] if tokenizer.padding else 0
    tokenizer.enable_padding(length=length, pad_id=pad_id)
    return tokenizer


def _dry_run(field: str, path: Path, run) -> int:
    """Run the encoder once; its output must be [1, D]."""
    try:
        out = run()
    except Exception as exc:  # ORT's own error types, shape mismatches inside the graph
        reason = str(exc).splitlines()[0][:200]
        raise _problem(
            field, path, f"failed on a test input ({reason})", "check it has CLIP's interface"
        ) from None
    if out.ndim != 2 or out.shape[0] != 1 or out.shape[1] < 2:
        raise _problem(
            field, path, f"gives shape {list(out.shape)}, not [N, D]", "export the pooled embedding"
        )
    return int(out.shape[1])


class ClipEncoders:
    """The checked pair: ``image`` and ``text`` with one dimension ``dim``."""

    def __init__(self, config: EmbeddingsConfig, threads: int = 1):
        self.config = config
        self.image = ImageEncoder(config, threads)
        self.text = TextEncoder(config, threads)
        if self.image.dim != self.text.dim:
            raise SceneWatchError(
                f"embeddings: image_model {config.image_model} gives {self.image.dim}-d vectors but "
                f"text_model {config.text_model} gives {self.text.dim}-d",
                f"use the image and text encoders of one model, {REMOVE_HINT}",
            )
        self.dim = self.image.dim
        self._failed = False

    def track_vector(self, images: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray | None:
        """One track's vector from its crops (best first), or None if there are none or the
        encoder fails (logged once: descriptions go on without vectors)."""
        if not images:
            return None
        try:
            vectors = self.image.encode(images)
        except Exception:
            self._log_failure("image", self.config.image_model)
            return None
        w = np.maximum(np.asarray(weights, np.float32), 1e-6)[:, None]
        return normalise((vectors * w).sum(axis=0))

    def text_vector(self, text: str) -> np.ndarray | None:
        """A query's vector, or None if the encoder fails (logged once)."""
        try:
            return self.text.encode([text])[0]
        except Exception:
            self._log_failure("text", self.config.text_model)
            return None

    def _log_failure(self, which: str, path: Path) -> None:
        if not self._failed:
            self._failed = True
            log.exception("embeddings: the %s encoder %s failed; going on without it", which, path)


_OPEN: dict[tuple, ClipEncoders] = {}
_LOCK = threading.Lock()


def open_encoders(config: EmbeddingsConfig) -> ClipEncoders:
    """The checked encoders of a config, opened once per process and shared (every camera's
    describer and the search use the same sessions)."""
    files = (config.image_model, config.text_model, config.tokenizer)
    key = (config.model_dump_json(), *(p.stat().st_mtime_ns if p.is_file() else None for p in files))
    with _LOCK:
        if key not in _OPEN:
            _OPEN[key] = ClipEncoders(config)
        return _OPEN[key]
