#!/usr/bin/env bash
# The op tests under AddressSanitizer + UndefinedBehaviorSanitizer (CI's second stage).
#
# 1. pip-builds cnnext with -Ccmake.define.CNNEXT_SANITIZE=ON in its own build dir
#    (build/sanitize, never build/dev) and installs it into build/sanitize/site, not into the venv.
# 2. Runs the op tests with that copy first on PYTHONPATH, pytest capturing only sys.stdout/err
#    so a report on file descriptor 2 reaches the log. The Python interpreter is not built with
#    ASan, so the ASan runtime the module links (and the C++ runtime) is preloaded to come first;
#    CPython's own allocations at exit look like leaks to LeakSanitizer, so leak detection is off
#    (tests/test_leaks.py covers leaks). UBSan is compiled with -fno-sanitize-recover=all, ASan
#    halts on the first error: any report ends the run with exit code 86.
#
# Usage: scripts/sanitize.sh [pytest args, e.g. -k conv]   (SANITIZE_TESTS overrides the files)
# Needs a C++ compiler with libasan/libubsan (GCC or Clang) and numpy, pytest, hypothesis, scipy
# in the active environment. scikit-build-core and pybind11 are taken from the environment when
# present (offline, incremental), else pip fetches them into an isolated build environment.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
BUILD=${CNNEXT_SANITIZE_DIR:-build/sanitize}
SITE=$BUILD/site
TESTS=${SANITIZE_TESTS:-"tests/test_conv.py tests/test_pooling.py tests/test_activations.py
  tests/test_dense.py tests/test_signal.py tests/test_losses_ops.py tests/test_optim_ops.py
  tests/test_norm.py tests/test_alignment.py tests/test_threads.py tests/test_winograd.py
  tests/test_relu.py tests/test_train_step.py tests/test_conv_crop.py tests/test_conv_pool.py
  tests/test_pool_relu_backward.py tests/test_dense_backprop_input.py"}

isolation=()
if "$PY" -c "import scikit_build_core, pybind11" 2>/dev/null; then
  isolation=(--no-build-isolation)
fi
"$PY" -m pip install -q --no-deps --upgrade --target "$SITE" ${isolation[@]+"${isolation[@]}"} \
  -Ccmake.define.CNNEXT_SANITIZE=ON -Cinstall.strip=false -Cbuild-dir="$BUILD/cmake" .

core=$(ls "$SITE"/cnnext/_core*.so)
libasan=$(ldd "$core" | awk '/libasan/ {print $3}')
libstdcxx=$(ldd "$core" | awk '/libstdc\+\+|libc\+\+\.so/ {print $3}')
[ -n "$libasan" ] || { echo "sanitize.sh: $core is not linked with ASan" >&2; exit 1; }

# The C++ runtime is preloaded too: ASan's __cxa_throw interceptor looks the real one up when it
# starts, and Python itself does not load libstdc++ ("CHECK failed ... real___cxa_throw").
export LD_PRELOAD=$libasan${libstdcxx:+:$libstdcxx}${LD_PRELOAD:+:$LD_PRELOAD}
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:exitcode=86:allocator_may_return_null=1:check_initialization_order=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:report_error_type=1:exitcode=86${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}

"$PY" -c "import cnnext, sys; p = cnnext._core.__file__; print('sanitized module:', p); \
sys.exit(0 if p.startswith('$(cd "$SITE" && pwd)') else 'sanitize.sh: wrong cnnext imported')"
# shellcheck disable=SC2086
"$PY" -m pytest -q -p no:cacheprovider --capture=sys $TESTS "$@"
