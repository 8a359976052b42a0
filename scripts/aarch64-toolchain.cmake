# CMake toolchain file: cross-compile cnnext._core for aarch64 Linux (Debian's g++-aarch64-linux-gnu)
# against the Python headers of an arm64 sysroot made by scripts/test_aarch64_qemu.sh.
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=scripts/aarch64-toolchain.cmake \
#         -DCNNEXT_A64_SYSROOT=/work/a64-sysroot -Dpybind11_DIR=...
# The compiler links against its own cross libraries (libstdc++, libgomp); the sysroot only
# supplies Python's headers here, and the run-time libraries under qemu-aarch64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(NOT CNNEXT_A64_SYSROOT)
  set(CNNEXT_A64_SYSROOT "$ENV{CNNEXT_A64_SYSROOT}")
endif()
set(CNNEXT_A64_SYSROOT "${CNNEXT_A64_SYSROOT}" CACHE PATH "arm64 sysroot holding usr/include/python3.X")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CNNEXT_A64_SYSROOT)
if(NOT CNNEXT_A64_SYSROOT)
  message(FATAL_ERROR "set CNNEXT_A64_SYSROOT (or the environment variable) to the arm64 sysroot")
endif()
set(CNNEXT_A64_PYVER "3.11" CACHE STRING "Python version of the sysroot")

# FindPython: the interpreter found is the host's (only used for version queries); the headers
# and the extension suffix must be the target's.
set(Python_INCLUDE_DIR "${CNNEXT_A64_SYSROOT}/usr/include/python${CNNEXT_A64_PYVER}" CACHE PATH "")
string(REPLACE "." "" _cnnext_pyver_nodot "${CNNEXT_A64_PYVER}")
set(Python_SOABI "cpython-${_cnnext_pyver_nodot}-aarch64-linux-gnu" CACHE STRING "")
set(PYTHON_MODULE_EXTENSION ".cpython-${_cnnext_pyver_nodot}-aarch64-linux-gnu.so" CACHE STRING "")
# Debian's pyconfig.h is a wrapper that includes <aarch64-linux-gnu/python3.X/pyconfig.h>;
# -idirafter keeps the sysroot behind the cross compiler's own headers.
set(CMAKE_CXX_FLAGS_INIT "-idirafter ${CNNEXT_A64_SYSROOT}/usr/include")

# Search programs on the host, everything else only where we point.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
