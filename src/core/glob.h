// Glob: whether a text matches a pattern in which '*' stands for any run of characters (also
// none) and every other character for itself. Used by the anomaly detectors' sensitive routes and
// tags and by rate-limit override identifiers.
//
//   GlobMatch("premium_*", "premium_42")  // true
#pragma once

#include <string_view>

namespace keyhold {

// Whether `text` matches `pattern` in full. Greedy with backtracking to the last '*' only: at
// worst |pattern|·|text| steps, never exponential.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace keyhold
