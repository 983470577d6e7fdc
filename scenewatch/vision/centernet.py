"""MobileNetV3 CenterNet (COCO-80): a 512x512 RGB input, up to 100 boxes out.

The shipped graph is fixed at 512x512 only in its last steps (the box decoding folds the 128-cell
heatmap width into constants); everything before the top-100 peak search is convolutional. The
session runs the graph cut after that search, with a free input height and width, and the boxes
are decoded here: at 512x512 the boxes are those of the whole graph (to float rounding), and a
region mosaic is detected on a canvas no larger than its tiles need (``detect_canvas``), at a cost
that follows its area.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from scenewatch.types import Detections
from scenewatch.vision.detector import Detector

INPUT_SIZE = 512
# Boxes below this score are noise for every use here; the configured threshold sits above it.
SCORE_FLOOR = 0.05
STRIDE = 4  # input pixels a heatmap cell
CLASSES = 80
# The cut: the top-100 peaks (scores, flat indices into heatmap cells x classes) and box sides.
OUTPUTS = ("tower_0/TopKV2:0", "tower_0/TopKV2:1", "tower_0/wh")


def free_input_graph(path: Path) -> bytes:
    """The model with its input's height and width free, its outputs the peaks and box sides
    (``OUTPUTS``), and the decoding steps that fixed the size removed (rewritten once per file
    version: a node's pool workers share it)."""
    return _rewrite(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _rewrite(path: str, version: int) -> bytes:
    import onnx  # only to rewrite the graph, at load

    model = onnx.load(path)
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_param, dims[2].dim_param = "height", "width"  # replaces the fixed 512s
    del graph.value_info[:]  # shapes inferred at 512 would contradict other sizes
    outputs = {o.name: o for o in graph.output}
    by_output = {name: node for node in graph.node for name in node.output}
    types = {"tower_0/TopKV2:0": onnx.TensorProto.FLOAT, "tower_0/TopKV2:1": onnx.TensorProto.INT64}
    del graph.output[:]
    for name in OUTPUTS:
        graph.output.append(
            outputs[name] if name in outputs else onnx.helper.make_tensor_value_info(name, types[name], None)
        )
        graph.output[-1].type.tensor_type.ClearField("shape")
    needed: set[int] = set()
    stack = list(OUTPUTS)
    while stack:  # the nodes the cut outputs depend on
        node = by_output.get(stack.pop())
        if node is not None and id(node) not in needed:
            needed.add(id(node))
            stack.extend(node.input)
    kept = [node for node in graph.node if id(node) in needed]
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in kept for name in node.input}
    initializers = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    return model.SerializeToString()


def decode(scores: np.ndarray, index: np.ndarray, sides: np.ndarray) -> np.ndarray:
    """Rows [100, 6] (x1, y1, x2, y2 in input pixels, score, class) as the full graph builds them:
    each peak's cell and class from its flat index, its box from the sides at that cell."""
    width = sides.shape[2]
    index = index[0]
    cell, classes = index // CLASSES, index % CLASSES
    y, x = (cell // width) * STRIDE, (cell % width) * STRIDE
    side = sides[0].reshape(-1, 4)[cell]
    return np.stack(
        [x - side[:, 0], y - side[:, 1], x + side[:, 2], y + side[:, 3], scores[0], classes], axis=1
    ).astype(np.float32)


class CenterNetDetector(Detector):
    name = "centernet"
    model_file = "centernet.onnx"
    summary = "more accurate"
    canvas_step = 32  # MobileNetV3's coarsest stride: any multiple of it on both sides is a valid input

    def _graph(self) -> bytes:
        return free_input_graph(self.model_path)

    def detect_one(self, image: np.ndarray) -> Detections:
        height, width = image.shape[:2]
        # The model was trained on a plain (non-letterboxed) resize of the whole picture.
        resized = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
        scale = np.array([width, height, width, height], dtype=np.float32) / INPUT_SIZE
        return self._run(resized, scale, width, height)

    def detect_canvas(self, image: np.ndarray) -> Detections:
        """Detect a mosaic canvas as it is (no resize): sides multiples of ``canvas_step``, boxes
        in its pixels."""
        height, width = image.shape[:2]
        if height % self.canvas_step or width % self.canvas_step:
            return self.detect_one(image)
        return self._run(image, np.ones(4, np.float32), width, height)

    def _run(self, image: np.ndarray, scale: np.ndarray, width: int, height: int) -> Detections:
        blob = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32)[None]
        input_name = self.session.get_inputs()[0].name
        rows = decode(*self.session.run(list(OUTPUTS), {input_name: blob}))
        rows = rows[rows[:, 4] >= SCORE_FLOOR]
        xyxy = rows[:, :4] * scale
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
        return Detections(xyxy, rows[:, 4], rows[:, 5].astype(np.int32))
