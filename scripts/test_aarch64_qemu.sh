#!/usr/bin/env bash
# Runs the test suite on aarch64 under qemu-user emulation, from an x86-64 Debian 12 host:
#   1. an arm64 sysroot (Debian bookworm's python3.11, numpy, scipy, h5py and their libraries,
#      unpacked with `dpkg -x`, nothing installed) at $CNNEXT_A64_SYSROOT, made once;
#   2. cnnext._core cross-compiled with scripts/aarch64-toolchain.cmake into build/aarch64 and
#      staged with a copy of python/cnnext in build/aarch64/stage (python/ keeps the host module);
#   3. pytest run by the sysroot's python under qemu-aarch64-static.
#
#   scripts/test_aarch64_qemu.sh                     # the op tests (-x -q)
#   scripts/test_aarch64_qemu.sh tests               # the whole suite; any pytest arguments work
#   CNNEXT_A64_SETUP_ONLY=1 scripts/...              # sysroot + build only
#
# Host packages (apt-get install): qemu-user-static g++-aarch64-linux-gnu cmake ninja-build, and
# the arm64 package lists (`dpkg --add-architecture arm64 && apt-get update`, done here when run
# as root). Pure-Python test dependencies (pytest, pluggy, iniconfig, packaging, pygments,
# hypothesis, sortedcontainers, threadpoolctl) are copied from the host interpreter $PYTHON
# (default python3, e.g. the project venv), which also supplies pybind11's headers.
# Hypothesis gets no deadline and CNNEXT_QEMU_EXAMPLES examples (default 10) where a test does
# not set its own (scripts/aarch64_qemu_plugin.py).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SYSROOT=${CNNEXT_A64_SYSROOT:-$HOME/.cache/cnnext/a64-sysroot}
BUILD=${CNNEXT_A64_BUILD_DIR:-build/aarch64}
PY=${PYTHON:-python3}

# Runtime closure of python3.11 + numpy + scipy + h5py on bookworm arm64 (first alternative of
# every dependency; libblas3/liblapack3 as the reference BLAS), plus the headers to build against.
A64_PACKAGES="libc6 libgcc-s1 gcc-12-base libstdc++6 libgomp1
  python3.11 python3.11-minimal libpython3.11 libpython3.11-minimal libpython3.11-stdlib
  python3.11-dev libpython3.11-dev
  libexpat1 zlib1g libssl3 libffi8 libbz2-1.0 liblzma5 libsqlite3-0 libncursesw6 libtinfo6
  libreadline8 libuuid1 libdb5.3 libnsl2 libtirpc3 libcrypt1 libgssapi-krb5-2 libkrb5-3
  libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2 libzstd1
  python3-numpy libblas3 liblapack3 libgfortran5 python3-scipy liblbfgsb0
  python3-h5py-serial libhdf5-103-1 libhdf5-hl-100 libsz2 libaec0 liblzf1 libcurl4 libbrotli1
  libidn2-0 libunistring2 libldap-2.5-0 libsasl2-2 libsasl2-modules-db libgnutls30 libhogweed6
  libnettle8 libgmp10 libtasn1-6 libp11-kit0 libnghttp2-14 libpsl5 librtmp1 libssh2-1"
PURE_MODULES="pytest _pytest py.py pluggy iniconfig packaging pygments
  sortedcontainers threadpoolctl.py typing_extensions.py
  pytest-*.dist-info pluggy-*.dist-info iniconfig-*.dist-info packaging-*.dist-info
  pygments-*.dist-info sortedcontainers-*.dist-info threadpoolctl-*.dist-info"
# hypothesis has a compiled part (hypothesis._native): its manylinux aarch64 wheel, same version
# as the host's, comes from PyPI through pip.

need() { command -v "$1" >/dev/null || { echo "test_aarch64_qemu: '$1' not found: apt-get install $2" >&2; exit 2; }; }
need qemu-aarch64-static qemu-user-static
need aarch64-linux-gnu-g++ g++-aarch64-linux-gnu
need cmake cmake
need ninja ninja-build
need dpkg-deb dpkg

setup_sysroot() {
  local stamp="$SYSROOT/.cnnext-sysroot" want
  want=$(echo "$A64_PACKAGES $PURE_MODULES" | tr -s ' \n' ' ')
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  echo "test_aarch64_qemu: setting up the arm64 sysroot in $SYSROOT"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    if [ "$(id -u)" = 0 ]; then
      dpkg --add-architecture arm64 && apt-get update -qq
    else
      echo "run as root once: dpkg --add-architecture arm64 && apt-get update" >&2; exit 2
    fi
  fi
  rm -rf "$SYSROOT/.debs" && mkdir -p "$SYSROOT/.debs"
  (cd "$SYSROOT/.debs" && apt-get download -q $(for p in $A64_PACKAGES; do echo "$p:arm64"; done))
  for deb in "$SYSROOT"/.debs/*.deb; do dpkg-deb -x "$deb" "$SYSROOT"; done
  # update-alternatives links that dpkg -x does not make
  ln -sfn blas/libblas.so.3 "$SYSROOT/usr/lib/aarch64-linux-gnu/libblas.so.3"
  ln -sfn lapack/liblapack.so.3 "$SYSROOT/usr/lib/aarch64-linux-gnu/liblapack.so.3"
  # An x86 shell wrapper in the interpreter's own directory: sys.executable points at it (qemu -0),
  # so tests that start `sys.executable` subprocesses run them under qemu too, without binfmt_misc.
  cat > "$SYSROOT/usr/bin/python3-qemu" <<EOF
#!/bin/sh
exec qemu-aarch64-static -L "$SYSROOT" -0 "$SYSROOT/usr/bin/python3-qemu" "$SYSROOT/usr/bin/python3.11" "\$@"
EOF
  chmod +x "$SYSROOT/usr/bin/python3-qemu"
  # Pure-Python test dependencies from the host interpreter (no compiled code in any of them).
  local site
  site=$("$PY" -c "import pytest, os; print(os.path.dirname(os.path.dirname(pytest.__file__)))")
  rm -rf "$SYSROOT/pure-site" && mkdir -p "$SYSROOT/pure-site"
  local m f
  for m in $PURE_MODULES; do
    for f in "$site"/$m; do
      if [ -e "$f" ]; then cp -r "$f" "$SYSROOT/pure-site/"; fi
    done
  done
  local hyp
  hyp=$("$PY" -c "import hypothesis; print(hypothesis.__version__)")
  rm -rf "$SYSROOT/.wheels" && mkdir -p "$SYSROOT/.wheels"
  "$PY" -m pip download -q "hypothesis==$hyp" --no-deps --only-binary=:all: \
    --platform manylinux2014_aarch64 --python-version 3.11 -d "$SYSROOT/.wheels"
  for f in "$SYSROOT"/.wheels/*.whl; do "$PY" -m zipfile -e "$f" "$SYSROOT/pure-site"; done
  find "$SYSROOT/pure-site" -name __pycache__ -prune -exec rm -rf {} +
  echo "$want" > "$stamp"
}

build() {
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_TOOLCHAIN_FILE="$REPO/scripts/aarch64-toolchain.cmake" \
      -DCNNEXT_A64_SYSROOT="$SYSROOT" \
      -DPython_EXECUTABLE="$(command -v "$PY")" \
      -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)"
  fi
  cmake --build "$BUILD" -j "${JOBS:-2}"
  local stage="$BUILD/stage"
  rm -rf "$stage/cnnext" && mkdir -p "$stage"
  cp -r python/cnnext "$stage/"
  find "$stage/cnnext" \( -name '*.so' -o -name __pycache__ \) -prune -exec rm -rf {} +
  cp -f "$BUILD"/_core.cpython-*-aarch64-linux-gnu.so "$stage/cnnext/"
}

run_tests() {
  if [ $# -eq 0 ]; then
    set -- -x -q tests/test_config.py tests/test_activations.py tests/test_conv.py \
      tests/test_pooling.py tests/test_dense.py tests/test_signal.py tests/test_losses_ops.py \
      tests/test_optim_ops.py tests/test_norm.py
  fi
  export PYTHONPATH="$REPO/$BUILD/stage:$REPO/scripts:$SYSROOT/pure-site"
  "$SYSROOT/usr/bin/python3-qemu" -c "import cnnext; cnnext.show_config()"
  local start status=0
  start=$(date +%s)
  "$SYSROOT/usr/bin/python3-qemu" -m pytest -p no:cacheprovider -p aarch64_qemu_plugin "$@" || status=$?
  echo "test_aarch64_qemu: pytest exit $status after $(( $(date +%s) - start )) s under qemu-aarch64"
  return $status
}

main() {  # a function, so bash has read the whole file before running any of it
  setup_sysroot
  build
  [ -n "${CNNEXT_A64_SETUP_ONLY:-}" ] && return 0
  run_tests "$@"
}

main "$@"
exit $?
