#include "core/secret_path.h"

#include <algorithm>
#include <cctype>

#include "core/permissions.h"

namespace keyhold {
namespace {

bool IsPathChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
         c == '@' || c == '=' || c == ',' || c == '~' || c == ':';
}

// Calls `on_segment` for each `/`-separated segment; stops at the first that it refuses.
template <typename F>
bool EverySegment(std::string_view s, F on_segment) {
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    if (!on_segment(s.substr(start, slash - start), slash == std::string_view::npos)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool IsPlainSegment(std::string_view seg) {
  if (seg.empty() || seg == "." || seg == "..") return false;
  return std::all_of(seg.begin(), seg.end(), IsPathChar);
}

// True if glob[g] is a `+` segment. REQUIRES: g is at the start of a segment.
bool IsOneSegmentWildcard(std::string_view glob, size_t g) {
  return glob[g] == '+' && (g + 1 == glob.size() || glob[g + 1] == '/');
}

// Walks `glob` against `path`. Returns true on a full match; if `reach` is set, also when
// `path` runs out first (something longer than `path` could match). Sets `*last_by_plus` if a `+`
// took the last segment of `path` (a folder's, before its trailing '/').
bool Walk(std::string_view glob, std::string_view path, bool reach, bool* last_by_plus = nullptr) {
  size_t g = 0;
  size_t p = 0;
  while (g < glob.size()) {
    if (glob[g] == '*') return true;  // only ever last: anything, even nothing
    if (p == path.size()) return reach;
    bool segment_start = g == 0 || glob[g - 1] == '/';
    if (segment_start && IsOneSegmentWildcard(glob, g)) {
      size_t end = path.find('/', p);
      if (end == std::string_view::npos) end = path.size();
      if (end == p) return false;  // an empty segment is no segment
      if (last_by_plus) *last_by_plus = end + 1 >= path.size();
      p = end;
      ++g;
      continue;
    }
    if (glob[g] != path[p]) return false;
    ++g;
    ++p;
  }
  return p == path.size();
}

}  // namespace

bool IsValidMountName(std::string_view name) {
  if (name.empty() || name.size() > kMaxMountNameLength) return false;
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "sys" || lower == "auth" || lower == "identity" || lower == "cubbyhole" ||
      lower == "v1" || lower == "v2") {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

bool IsValidSecretPath(std::string_view path) {
  if (path.empty() || path.size() > kMaxSecretPathLength) return false;
  return EverySegment(path, [](std::string_view seg, bool) { return IsPlainSegment(seg); });
}

std::string SecretPathProblem(std::string_view path) {
  if (path.empty()) return "the path is empty";
  if (path.size() > kMaxSecretPathLength) {
    return "the path is over " + std::to_string(kMaxSecretPathLength) + " characters";
  }
  std::string problem;
  EverySegment(path, [&problem](std::string_view seg, bool) {
    if (seg.empty()) {
      problem = "a segment is empty (a leading, trailing or doubled '/')";
    } else if (seg == "." || seg == "..") {
      problem = "the segment '" + std::string(seg) + "' is not allowed";
    } else if (auto bad = std::find_if_not(seg.begin(), seg.end(), IsPathChar); bad != seg.end()) {
      unsigned char c = static_cast<unsigned char>(*bad);
      problem = std::isprint(c) ? "the character '" + std::string(1, *bad) + "' is not allowed"
                                : "a control or non-ASCII character is not allowed";
      problem += " (segments are made of A-Z a-z 0-9 . _ - @ = , ~ :)";
    }
    return problem.empty();
  });
  return problem;
}

bool IsValidSecretGlob(std::string_view glob) {
  if (glob.empty() || glob.size() > kMaxSecretPathLength) return false;
  return EverySegment(glob, [](std::string_view seg, bool last) {
    if (seg == "+") return true;
    if (last && seg.ends_with('*')) seg.remove_suffix(1);
    if (seg.empty()) return last;  // "a/*" or a lone "*"
    if (seg == "." || seg == "..") return false;
    return std::all_of(seg.begin(), seg.end(), IsPathChar);
  });
}

bool SecretGlobMatches(std::string_view glob, std::string_view path) {
  return Walk(glob, path, /*reach=*/false);
}

bool SecretGlobReachesUnder(std::string_view glob, std::string_view folder) {
  return Walk(glob, folder, /*reach=*/true);
}

bool SecretGlobCovers(std::string_view held, std::string_view requested) {
  size_t h = 0;
  size_t r = 0;
  while (h < held.size()) {
    if (held[h] == '*') return true;
    if (r == requested.size()) return false;
    bool segment_start = h == 0 || held[h - 1] == '/';
    if (segment_start && IsOneSegmentWildcard(held, h)) {
      size_t end = requested.find('/', r);
      if (end == std::string_view::npos) end = requested.size();
      std::string_view seg = requested.substr(r, end - r);
      // A `*` in the requested segment may run on past it: `+` cannot cover that.
      if (seg.empty() || seg.find('*') != std::string_view::npos) return false;
      r = end;
      ++h;
      continue;
    }
    if (held[h] != requested[r]) return false;
    // `+` in the requested glob is a wildcard, covered only by `+` (handled above) or `*`.
    bool req_segment_start = r == 0 || requested[r - 1] == '/';
    if (req_segment_start && IsOneSegmentWildcard(requested, r)) return false;
    ++h;
    ++r;
  }
  return r == requested.size();
}

bool SplitSecretPermission(std::string_view permission, std::string_view* capability,
                           std::string_view* glob) {
  constexpr std::string_view kPrefix = "secret.";
  if (!permission.starts_with(kPrefix)) return false;
  size_t colon = permission.find(':');
  if (colon == std::string_view::npos) return false;
  if (capability) *capability = permission.substr(kPrefix.size(), colon - kPrefix.size());
  if (glob) *glob = permission.substr(colon + 1);
  return true;
}

bool IsValidSecretPermission(std::string_view permission) {
  std::string_view cap;
  std::string_view glob;
  if (permission.size() > kMaxPermissionLength) return false;
  if (!SplitSecretPermission(permission, &cap, &glob)) return false;
  bool known = cap == "*" ||
               std::find(std::begin(kSecretCapabilities), std::end(kSecretCapabilities), cap) !=
                   std::end(kSecretCapabilities);
  return known && IsValidSecretGlob(glob);
}

bool SecretAccessGranted(const std::vector<std::string>& held, std::string_view capability,
                         std::string_view path) {
  std::string plain = "secret." + std::string(capability);
  for (const std::string& h : held) {
    std::string_view cap;
    std::string_view glob;
    if (SplitSecretPermission(h, &cap, &glob)) {
      if ((cap == "*" || cap == capability) && SecretGlobMatches(glob, path)) return true;
    } else if (PermissionMatches(h, plain)) {
      return true;
    }
  }
  return false;
}

namespace {

// True if a held permission with a capability `capability` accepts (any capability if empty)
// reaches under `folder`; with `named`, only one whose glob names the folder's last segment
// itself rather than matching it with `+`.
bool Reaches(const std::vector<std::string>& held, std::string_view capability,
             std::string_view folder, bool named) {
  for (const std::string& h : held) {
    std::string_view cap;
    std::string_view glob;
    if (SplitSecretPermission(h, &cap, &glob)) {
      if (!capability.empty() && cap != "*" && cap != capability) continue;
      bool by_plus = false;
      if (Walk(glob, folder, /*reach=*/true, &by_plus) && !(named && by_plus)) return true;
    } else if (capability.empty()
                   ? PermissionMatches(h, "secret.read") || PermissionMatches(h, "secret.list") ||
                         PermissionMatches(h, "secret.create")
                   : PermissionMatches(h, "secret." + std::string(capability))) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool SecretListReaches(const std::vector<std::string>& held, std::string_view folder) {
  return Reaches(held, "list", folder, /*named=*/false);
}

bool SecretListNamesFolder(const std::vector<std::string>& held, std::string_view folder) {
  return Reaches(held, "list", folder, /*named=*/true);
}

bool SecretAnyAccessReaches(const std::vector<std::string>& held, std::string_view folder) {
  return Reaches(held, "", folder, /*named=*/false);
}

}  // namespace keyhold
