#!/usr/bin/env bash
# Compile-checks every translation unit that an aarch64 build compiles (portable + NEON paths,
# no AVX files) with a cross compiler: `apt-get install g++-aarch64-linux-gnu`. Bindings are
# syntax-checked against this host's Python headers. Exit status 1 on any failure.
# To build the module and run the test suite on aarch64 (qemu-user): scripts/test_aarch64_qemu.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
CXX=${CXX:-aarch64-linux-gnu-g++}
PY=${PYTHON:-python3}
PYI=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
PBI=$("$PY" -c "import pybind11; print(pybind11.get_include())")
out=$(mktemp -d)
status=0
for f in $(find src/cpp -name '*.cpp' ! -name '*__avx2.cpp' ! -name '*__avx512.cpp' | sort); do
  case "$f" in
    src/cpp/bindings/*) flags=(-fsyntax-only -I"$PYI" -I"$PBI" -DCNNEXT_VERSION='"check"') ;;
    *) flags=(-c -o "$out/x.o") ;;
  esac
  if ! "$CXX" -std=c++17 -O2 -Wall -fopenmp -DCNNEXT_OPENMP=1 -Isrc/cpp "${flags[@]}" "$f"; then
    echo "aarch64: FAILED $f"; status=1
  fi
done
rm -rf "$out"
[ $status -eq 0 ] && echo "aarch64: every translation unit compiles"
exit $status
