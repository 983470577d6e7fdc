"""Puts back node attributes that the TF.js exporter dropped, so TensorFlow can load the graph.

Run with the converter environment's Python (it needs TensorFlow):
``python fix_tfjs_graph.py SRC_MODEL.json DST_MODEL.json``; the weight shards are copied beside
the new graph file.
"""

import json
import shutil
import sys
from pathlib import Path

from google.protobuf import json_format
from tensorflow.python.framework import op_def_registry

# Fused ops need their argument types spelled out; the exporter leaves TArgs out.
FUSED_OPS = ("_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul")


def fix_node(node: dict) -> None:
    attrs = node.setdefault("attr", {})
    if node["op"] in FUSED_OPS and "TArgs" not in attrs:
        count = int(attrs.get("num_args", {}).get("i", "0"))
        attrs["TArgs"] = {"list": {"type": ["DT_FLOAT"] * count}}
    op = op_def_registry.get(node["op"])
    # TensorFlow's importer wants every attribute, even those with defaults the exporter skipped.
    for attr in op.attr if op else []:
        if attr.name not in attrs and attr.HasField("default_value"):
            attrs[attr.name] = json_format.MessageToDict(attr.default_value)


def main(src: Path, dst: Path) -> None:
    graph = json.loads(src.read_text())
    for node in graph["modelTopology"]["node"]:
        fix_node(node)
    dst.write_text(json.dumps(graph))
    for manifest in graph["weightsManifest"]:
        for shard in manifest["paths"]:
            shutil.copy(src.parent / shard, dst.parent / shard)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
