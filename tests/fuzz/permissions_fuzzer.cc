// Fuzzes permission queries and wildcard matching (core/permissions.h).
//
// Input: lines. Line 1 and line 2 are queries A and B; the following lines (at most 8) are the
// permissions held. Beyond "no crash" it checks:
//   - a refused query is refused with kInvalidArgument;
//   - every parsed query holds for `*` and fails for an empty set;
//   - evaluation is monotonic: granting more permissions never turns true into false;
//   - `(A) AND (B)` and `(A) OR (B)` evaluate as A && B and A || B (or are refused only for
//     depth or length);
//   - a query that is one permission name evaluates as AnyPermissionMatches;
//   - over the held names: every valid name matches and covers itself, Covers is transitive,
//     and what a name covers grants nothing it does not grant itself.
#include <string>
#include <string_view>
#include <vector>

#include "core/permissions.h"
#include "fuzz/property.h"

namespace keyhold {
namespace {

using fuzz::Require;

constexpr size_t kMaxHeld = 8;

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty() && out.size() < 2 + kMaxHeld) {
    size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

// Evaluates `query` for growing prefixes of `held`: once true, it must stay true.
void CheckMonotonic(const PermissionQuery& query, const std::vector<std::string>& held) {
  Require(query.Evaluate({"*"}), "a query fails for a holder of *");
  Require(!query.Evaluate({}), "a query holds for an empty permission set");
  std::vector<std::string> some;
  bool before = false;
  for (const std::string& h : held) {
    some.push_back(h);
    bool now = query.Evaluate(some);
    Require(!before || now, "granting one more permission made a query fail");
    before = now;
  }
}

void CheckCombined(std::string_view a, std::string_view b, bool a_holds, bool b_holds,
                   const std::vector<std::string>& held) {
  for (std::string_view op : {" AND ", " OR "}) {
    std::string text = "(" + std::string(a) + ")" + std::string(op) + "(" + std::string(b) + ")";
    auto q = PermissionQuery::Parse(text);
    if (!q.ok()) {
      const std::string& why = q.status().message();
      Require(why.find("nested too deeply") != std::string::npos ||
                  why.find("too long") != std::string::npos,
              "two valid queries combined do not parse");
      continue;
    }
    bool want = op == " AND " ? a_holds && b_holds : a_holds || b_holds;
    Require(q->Evaluate(held) == want, "a combined query evaluates differently from its parts");
  }
}

void CheckNames(const std::vector<std::string>& held) {
  std::vector<std::string_view> valid;
  for (const std::string& h : held) {
    if (IsValidPermission(h)) valid.push_back(h);
  }
  for (std::string_view a : valid) {
    Require(PermissionMatches(a, a), "a permission does not match itself");
    Require(PermissionCovers(a, a), "a permission does not cover itself");
    Require(PermissionMatches("*", a), "* does not match a permission");
    for (std::string_view b : valid) {
      if (!PermissionCovers(a, b)) continue;
      for (std::string_view c : valid) {
        if (PermissionCovers(b, c)) Require(PermissionCovers(a, c), "Covers is not transitive");
        bool concrete = c.find('*') == std::string_view::npos;
        if (concrete && PermissionMatches(b, c)) {
          Require(PermissionMatches(a, c), "a covered pattern grants what its cover does not");
        }
      }
    }
  }
}

}  // namespace
}  // namespace keyhold

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyhold;
  std::vector<std::string_view> lines =
      Lines(std::string_view(reinterpret_cast<const char*>(data), size));
  if (lines.empty()) return 0;
  std::string_view a = lines[0];
  std::string_view b = lines.size() > 1 ? lines[1] : std::string_view("x");
  std::vector<std::string> held;
  for (size_t i = 2; i < lines.size(); ++i) held.emplace_back(lines[i]);

  auto qa = PermissionQuery::Parse(a);
  auto qb = PermissionQuery::Parse(b);
  for (const auto* q : {&qa, &qb}) {
    if (!q->ok()) {
      fuzz::Require(q->status().code() == StatusCode::kInvalidArgument, "query error code");
      continue;
    }
    CheckMonotonic(**q, held);
  }
  if (qa.ok() && IsValidPermission(a)) {
    fuzz::Require(qa->Evaluate(held) == AnyPermissionMatches(held, a),
                  "a one-name query is not AnyPermissionMatches");
  }
  if (qa.ok() && qb.ok()) CheckCombined(a, b, qa->Evaluate(held), qb->Evaluate(held), held);
  CheckNames(held);
  return 0;
}
