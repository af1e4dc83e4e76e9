// FUZZ_CHECK: an invariant of a fuzz target. A broken one prints what broke
// and aborts, which libFuzzer reports as a crash and saves the input.
#ifndef MLCANARY_FUZZ_FUZZ_CHECK_H_
#define MLCANARY_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition, ...)                                                           \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #condition); \
      std::fprintf(stderr, "  " __VA_ARGS__);                                                \
      std::fprintf(stderr, "\n");                                                            \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

#endif  // MLCANARY_FUZZ_FUZZ_CHECK_H_
