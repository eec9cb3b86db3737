// Rate-limit overrides: a limit that replaces, for one identifier or a pattern of identifiers,
// the limit a ratelimit.limit call gives for its namespace — and which override applies.
//
// An identifier with a '*' is a pattern: each '*' stands for any run of characters, the empty
// one included ("premium_*", "*@example.com", "*spam*"); every other character stands for itself.
// Which override applies to an identifier, first that holds:
//   1. the override whose identifier is exactly it (a pattern too is matched literally first);
//   2. among the patterns that match it, the one with the most characters other than '*' (the
//      most specific: "premium_eu_*" before "premium_*"), then the one with fewer '*'s, then the
//      first in byte order — so the answer never depends on the order overrides were set in.
//
//   OverrideTable t;
//   t.Put({.id = "rlo_1", .namespace_name = "sms", .identifier = "premium_*", .limit = 100, ...});
//   const RatelimitOverride* o = t.Find("sms", "premium_42");   // rlo_1
//
// Pure data: no locks (the owner guards it), no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace keyhold {

struct RatelimitOverride {
  std::string id;
  std::string namespace_name;
  std::string identifier;  // exact, or a pattern
  int64_t limit = 0;       // 0 admits nothing
  int64_t duration_ms = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// Whether `identifier` is a pattern (holds a '*').
bool IsOverridePattern(std::string_view identifier);
// Whether pattern `a` takes precedence over pattern `b` (rule 2 above).
bool MoreSpecificPattern(std::string_view a, std::string_view b);

class OverrideTable {
 public:
  // Adds `o`, replacing the override of the same namespace and identifier if there is one.
  void Put(RatelimitOverride o);
  // Removes the override of (namespace_name, identifier); false if there was none.
  bool Remove(std::string_view namespace_name, std::string_view identifier);
  // The override whose identifier is exactly `identifier` (no matching), or null.
  const RatelimitOverride* Get(std::string_view namespace_name, std::string_view identifier) const;
  // The override that applies to `identifier` in `namespace_name` (rules above), or null.
  // Without allocating: it runs on every ratelimit.limit call.
  const RatelimitOverride* Find(std::string_view namespace_name, std::string_view identifier) const;
  // The overrides of `namespace_name`, in id order.
  std::vector<const RatelimitOverride*> List(std::string_view namespace_name) const;
  size_t size() const { return size_; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
  struct Namespace {
    StringMap<RatelimitOverride> by_identifier;      // every override, patterns too
    std::vector<const RatelimitOverride*> patterns;  // into by_identifier, in precedence order
    void RebuildPatterns();
  };
  StringMap<Namespace> namespaces_;
  size_t size_ = 0;
};

}  // namespace keyhold
