// Require: how a harness reports a broken property. It aborts, so libFuzzer saves the input as a
// crash and the replay fails; the message says which property broke.
//
//   Require(parsed->prefix == prefix, "a generated key parses to another prefix");
#pragma once

#include <cstdio>
#include <cstdlib>

namespace keyhold::fuzz {

inline void Require(bool condition, const char* property) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", property);
    std::abort();
  }
}

}  // namespace keyhold::fuzz
