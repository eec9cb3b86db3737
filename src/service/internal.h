// Helpers shared by the KeyService implementation files. Not part of the service's interface.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <string_view>

#include "core/status.h"
#include "service/key_service.h"

namespace keyhold::service {

// Prefix of the root keys that authenticate callers of keyhold's own API.
inline constexpr std::string_view kRootKeyPrefix = "khr";

// kPermissionDenied naming `permission` unless `p` holds it.
Status Require(const Principal& p, const std::string& permission);

// kInvalidArgument ("application/not_enforced") if `ratelimits` is not empty: limits that were
// stored but not enforced would be answered as if they were, so none are accepted until rate
// limiting is part of the service. An empty list (clearing) is fine.
Status RefuseUnenforcedRatelimits(const std::vector<RatelimitConfig>& ratelimits);

// One page of an id-ordered map, starting after `cursor`.
template <typename T, typename V, typename F>
Page<T> PageOver(const std::map<std::string, V>& m, const std::string& cursor, int limit, F make) {
  limit = std::clamp(limit, 1, kMaxPageSize);
  Page<T> page;
  auto it = cursor.empty() ? m.begin() : m.upper_bound(cursor);
  for (; it != m.end() && static_cast<int>(page.items.size()) < limit; ++it) {
    page.items.push_back(make(it->first));
  }
  if (it != m.end() && !page.items.empty()) {
    page.has_more = true;
    auto last = it;
    --last;
    page.cursor = last->first;
  }
  return page;
}

}  // namespace keyhold::service
