#pragma once
// FUZZ_CHECK(condition, message): an invariant of a fuzz target. A violation
// prints the message and aborts, which libFuzzer reports as a crash and saves
// the input (crash-<sha1>) for replay.
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, msg)                                                                     \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      std::fprintf(stderr, "\nFUZZ_CHECK failed at %s:%d: %s\n  (%s)\n", __FILE__, __LINE__, msg, \
                   #cond);                                                                        \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)
