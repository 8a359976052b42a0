#!/usr/bin/env bash
# Incremental developer build: compiles cnnext._core with CMake into build/dev and drops the module
# into python/cnnext/, so `PYTHONPATH=python python -m pytest` runs against the working tree.
# Users install with pip (see README); this is only for quick edit-compile-test cycles.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
BUILD=${CNNEXT_BUILD_DIR:-build/dev}
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DPython_EXECUTABLE="$(command -v "$PY")" \
    -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" "$@"
fi
cmake --build "$BUILD" -j "${JOBS:-2}"
cp -f "$BUILD"/_core*.so python/cnnext/
