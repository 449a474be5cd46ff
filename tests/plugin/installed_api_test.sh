#!/bin/sh
# The installed module API compiles on its own (DESIGN.md: "the API header is installed"):
# installs the build tree into a temporary prefix and builds tests/plugin/hello_plugin.cpp as
# a shared object against include/parley and the system's headers (Boost, fmt) only, the way
# a third party builds a module.
# Usage: installed_api_test.sh CMAKE BUILD_DIR CXX PLUGIN_SOURCE
set -eu
cmake=$1 build=$2 cxx=$3 source=$4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/parley-api.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unset CPATH CPLUS_INCLUDE_PATH

"$cmake" --install "$build" --prefix "$tmp/prefix" >/dev/null
# Compiled from a copy, so that no quoted include can be found next to the source in the tree.
cp "$source" "$tmp/plugin.cpp"
# The defines the server is built with (Asio compiled once, in the executable).
"$cxx" -std=c++20 -fPIC -shared -Wall -Wextra \
  -DBOOST_ASIO_SEPARATE_COMPILATION -DBOOST_ASIO_NO_DEPRECATED \
  -I"$tmp/prefix/include/parley" "$tmp/plugin.cpp" -o "$tmp/plugin.so"
# What `parley serve` looks up in a plugin (server/module_api.hpp, kRegisterModulesSymbol).
if ! nm -D --defined-only "$tmp/plugin.so" | grep -q ' parley_register_modules$'; then
  echo "plugin.so does not export parley_register_modules" >&2
  exit 1
fi
echo "hello_plugin.cpp builds against $(cd "$tmp/prefix/include/parley" && find . -name '*.hpp' | sort | tr '\n' ' ')"
