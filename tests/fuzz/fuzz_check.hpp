#pragma once
// The one assertion the fuzz targets use: an invariant that does not hold is a finding, so it
// must stop the run with a message whatever the build type (assert() vanishes with NDEBUG).
// libFuzzer then saves the input as a crash-* reproducer.

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition, ...)                                                  \
  do {                                                                              \
    if (!(condition)) {                                                             \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n  ", __FILE__, __LINE__,   \
                   #condition);                                                     \
      std::fprintf(stderr, __VA_ARGS__);                                            \
      std::fprintf(stderr, "\n");                                                   \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)
