// RelaxedRegex: a rule regex's capture groups, found without RE2's NFA where that gives the same.
//
// RE2 finds a match's span with its DFAs, then runs a capturing engine over the span; for a
// program over 512 instructions that is its NFA, about 100 ns a byte. A regex is mostly large
// through its bounded repetitions (`[a-z0-9+/=_.~!@#$%^&*-]{10,200}` is 200 copies of the class,
// more for caseless UTF-8). The relaxed pattern writes each bounded repetition of one character,
// `x{m,n}`, as a group of its own, `((?:x){m,})`: a larger language, but among the parses the two
// share, RE2 prefers the same ones (a greedy repetition prefers one more turn in both). So when
// the relaxed regex's preferred parse of the span keeps every such group within its bound, it is
// the rule regex's preferred parse too, and its groups are the rule's. Otherwise (or for a span
// that is not ASCII, where a group's bytes are not its characters) the caller asks RE2 as before.
//
//   std::optional<RelaxedRegex> relaxed = RelaxedRegex::For(rule.regex_text, regex);
//   if (relaxed && relaxed->Groups(text, span, groups, n)) { ... }  // else regex.Match(...)
//
// Thread-safety: immutable after construction.
#pragma once

#include <re2/re2.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyhold::scan {

// `pattern` with each bounded greedy repetition of one character that is not inside another
// repetition written as a group of its own without its upper bound.
struct RelaxedPattern {
  struct Bound {
    int group;  // the relaxed pattern's group holding the repetition
    int max;    // its upper bound, in characters
  };
  std::string pattern;
  std::vector<int> group;  // group[i]: the relaxed pattern's group for the original's group i
  std::vector<Bound> bounds;
};

// Empty if `pattern` has no repetition to relax, or uses syntax this does not follow (\Q...\E,
// \C, octal escapes, a quantifier where none can be).
std::optional<RelaxedPattern> RelaxPattern(std::string_view pattern);

class RelaxedRegex {
 public:
  // A relaxed form of `regex` (compiled from `pattern`), if one exists, compiles, and is small
  // enough for RE2's bit-state engine (at most 512 instructions) while `regex` is not.
  static std::optional<RelaxedRegex> For(std::string_view pattern, const RE2& regex);

  // `span` is a match of the original regex in `text` (its group 0, as RE2 reports it searching
  // `text`). Sets groups[1 .. n) as that search would have with n groups, and returns true; or
  // returns false, leaving them alone, where it cannot be sure.
  bool Groups(re2::StringPiece text, re2::StringPiece span, re2::StringPiece* groups, int n) const;

 private:
  RelaxedRegex(RelaxedPattern p, std::shared_ptr<const RE2> re)
      : pattern_(std::move(p)), re_(std::move(re)) {}
  RelaxedPattern pattern_;
  std::shared_ptr<const RE2> re_;
};

}  // namespace keyhold::scan
