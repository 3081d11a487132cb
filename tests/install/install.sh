#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds a downstream C program against it both
# ways: find_package(paraprop) and pkg-config.
set -euo pipefail
build=$1 src=$2 dir=$3
rm -rf "$dir"; mkdir -p "$dir"
prefix="$dir/prefix"
cmake --install "$build" --prefix "$prefix" > "$dir/install.log"
for f in bin/paraprop include/paraprop/net.h include/paraprop/model.h include/paraprop/precision.h \
         lib/pkgconfig/paraprop.pc lib/pkgconfig/paraprop-fortran.pc include/paraprop/fortran/paraprop.mod \
         lib/cmake/paraprop/paraprop-config.cmake; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
ls "$prefix"/lib/libparaprop.so* >/dev/null || { echo "FAIL: libparaprop not installed"; exit 1; }
"$prefix/bin/paraprop" --version
cmake -S "$src/tests/install/downstream" -B "$dir/cm" -DCMAKE_PREFIX_PATH="$prefix" > "$dir/cm.log"
cmake --build "$dir/cm" > "$dir/cm-build.log"
a=$(LD_LIBRARY_PATH="$prefix/lib" "$dir/cm/downstream")
echo "cmake: $a"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc $(pkg-config --cflags paraprop) "$src/tests/install/downstream/main.c" -o "$dir/pc" $(pkg-config --libs paraprop)
b=$(LD_LIBRARY_PATH="$prefix/lib" "$dir/pc")
echo "pkg-config: $b"
[ "$a" = "$b" ] || { echo "FAIL: the two builds disagree"; exit 1; }
echo "PASS install"
