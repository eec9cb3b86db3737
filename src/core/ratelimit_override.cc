#include "core/ratelimit_override.h"

#include <algorithm>

#include "core/glob.h"

namespace keyhold {

bool IsOverridePattern(std::string_view identifier) {
  return identifier.find('*') != std::string_view::npos;
}

bool MoreSpecificPattern(std::string_view a, std::string_view b) {
  const auto stars_a = std::count(a.begin(), a.end(), '*');
  const auto stars_b = std::count(b.begin(), b.end(), '*');
  const auto literal_a = static_cast<std::ptrdiff_t>(a.size()) - stars_a;
  const auto literal_b = static_cast<std::ptrdiff_t>(b.size()) - stars_b;
  if (literal_a != literal_b) return literal_a > literal_b;
  if (stars_a != stars_b) return stars_a < stars_b;
  return a < b;
}

void OverrideTable::Namespace::RebuildPatterns() {
  patterns.clear();
  for (const auto& [identifier, o] : by_identifier) {
    if (IsOverridePattern(identifier)) patterns.push_back(&o);
  }
  std::sort(patterns.begin(), patterns.end(), [](const auto* a, const auto* b) {
    return MoreSpecificPattern(a->identifier, b->identifier);
  });
}

void OverrideTable::Put(RatelimitOverride o) {
  Namespace& ns = namespaces_[o.namespace_name];
  const bool pattern = IsOverridePattern(o.identifier);
  auto [it, added] = ns.by_identifier.insert_or_assign(o.identifier, std::move(o));
  if (added) ++size_;
  if (pattern) ns.RebuildPatterns();
}

bool OverrideTable::Remove(std::string_view namespace_name, std::string_view identifier) {
  auto ns = namespaces_.find(namespace_name);
  if (ns == namespaces_.end()) return false;
  auto it = ns->second.by_identifier.find(identifier);
  if (it == ns->second.by_identifier.end()) return false;
  const bool pattern = IsOverridePattern(identifier);
  ns->second.by_identifier.erase(it);
  --size_;
  if (ns->second.by_identifier.empty()) {
    namespaces_.erase(ns);
  } else if (pattern) {
    ns->second.RebuildPatterns();
  }
  return true;
}

const RatelimitOverride* OverrideTable::Get(std::string_view namespace_name,
                                            std::string_view identifier) const {
  auto ns = namespaces_.find(namespace_name);
  if (ns == namespaces_.end()) return nullptr;
  auto it = ns->second.by_identifier.find(identifier);
  return it == ns->second.by_identifier.end() ? nullptr : &it->second;
}

const RatelimitOverride* OverrideTable::Find(std::string_view namespace_name,
                                             std::string_view identifier) const {
  auto ns = namespaces_.find(namespace_name);
  if (ns == namespaces_.end()) return nullptr;
  if (auto it = ns->second.by_identifier.find(identifier); it != ns->second.by_identifier.end()) {
    return &it->second;
  }
  for (const RatelimitOverride* p : ns->second.patterns) {
    if (GlobMatch(p->identifier, identifier)) return p;
  }
  return nullptr;
}

std::vector<const RatelimitOverride*> OverrideTable::List(std::string_view namespace_name) const {
  std::vector<const RatelimitOverride*> out;
  auto ns = namespaces_.find(namespace_name);
  if (ns == namespaces_.end()) return out;
  for (const auto& [identifier, o] : ns->second.by_identifier) out.push_back(&o);
  std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->id < b->id; });
  return out;
}

}  // namespace keyhold
