# Cross-compiling for the machine's board (arm64 Debian 12) on an amd64
# Debian 12 with multiarch: crossbuild-essential-arm64 and the :arm64 -dev
# packages (scripts/cross-arm64.sh installs them). Test programs run under
# qemu-user, called explicitly (no binfmt_misc needed).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(PKG_CONFIG_EXECUTABLE aarch64-linux-gnu-pkg-config CACHE FILEPATH "pkg-config for arm64")
# qemu-aarch64 finds the arm64 loader and libraries where multiarch put them.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
