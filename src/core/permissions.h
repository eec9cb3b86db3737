// Permission names, wildcard matching, and the permission query language of verifyKey.
//
// A permission is a dot-separated name such as `documents.read` or `api.api_123.verify_key`.
// A held permission may contain `*` segments: a `*` in the middle matches exactly one segment,
// a trailing `*` matches one or more remaining segments, and `*` alone matches everything.
// So `documents.*` grants `documents.read` and `api.*.verify_key` grants `api.a1.verify_key`.
//
// A query combines required permissions with AND, OR and parentheses (AND binds tighter):
//   auto q = PermissionQuery::Parse("documents.read AND (documents.write OR admin)");
//   bool ok = q->Evaluate(held_set);
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace keyhold {

inline constexpr size_t kMaxPermissionLength = 512;
inline constexpr size_t kMaxQueryLength = 4096;

// True if `name` is a well-formed permission: 1..512 characters of [a-zA-Z0-9_:.*-], no empty
// segment.
bool IsValidPermission(std::string_view name);

// True if the held pattern `held` grants the concrete permission `wanted`.
bool PermissionMatches(std::string_view held, std::string_view wanted);

// True if every permission that `requested` could match is also matched by `held`, i.e. a
// holder of `held` may hand out `requested` without gaining anything. `api.*.read_key` covers
// `api.a1.read_key` and itself; `api.a1.read_key` does not cover `api.*.read_key`.
bool PermissionCovers(std::string_view held, std::string_view requested);

// True if any of `held` grants `wanted`.
bool AnyPermissionMatches(const std::vector<std::string>& held, std::string_view wanted);

class PermissionQuery {
 public:
  // Parses a query. Fails with InvalidArgument naming the position of the first problem.
  static StatusOr<PermissionQuery> Parse(std::string_view text);

  // True if the permissions in `held` satisfy the query.
  bool Evaluate(const std::vector<std::string>& held) const;

  struct Node;

 private:
  explicit PermissionQuery(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

}  // namespace keyhold
