// CheckFindings: the properties every Scanner::Scan result has, whatever the rules and input.
//
//   std::vector<scan::Finding> found = scanner.Scan(data, ctx, scratch);
//   CheckFindings(data, found);  // aborts, naming the property, if one does not hold
#pragma once

#include <algorithm>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/key_format.h"
#include "fuzz/property.h"
#include "scan/finding.h"

namespace keyhold::fuzz {

// Every finding lies within `data`: its line and column point at its secret, its end line is
// where the secret ends, and the line does not carry an inline allow comment. keyhold keys are
// confirmed by their check. Findings come in order of position.
inline void CheckFindings(std::string_view data, const std::vector<scan::Finding>& found) {
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\n') starts.push_back(i + 1);
  }
  auto line_of = [&](size_t pos) {
    return static_cast<int64_t>(std::upper_bound(starts.begin(), starts.end(), pos) -
                                starts.begin());
  };
  for (const scan::Finding& f : found) {
    Require(!f.secret.empty(), "a finding has an empty secret");
    Require(f.line >= 1 && f.line <= static_cast<int64_t>(starts.size()), "line out of range");
    size_t line_start = starts[static_cast<size_t>(f.line - 1)];
    Require(f.column >= 1, "column out of range");
    size_t at = line_start + static_cast<size_t>(f.column - 1);
    Require(at < data.size() && data.substr(at, f.secret.size()) == f.secret,
            "a finding's line and column do not point at its secret");
    Require(line_of(at) == f.line, "a finding's column runs past its line");
    Require(f.end_line == line_of(at + f.secret.size() - 1), "a finding's end line is wrong");
    size_t line_end = std::min(data.find('\n', at), data.size());
    std::string_view line = data.substr(line_start, line_end - line_start);
    Require(line.find("keyhold:allow") == std::string_view::npos &&
                line.find("gitleaks:allow") == std::string_view::npos,
            "a finding on a line marked keyhold:allow");
    Require(!f.fingerprint.empty(), "a finding without a fingerprint");
    if (f.kind == scan::FindingKind::kKeyholdKey) {
      Require(ParseKey(f.secret).ok(), "a keyhold-key finding that is not a keyhold key");
      Require(f.key_start == KeyStart(f.secret), "a keyhold-key finding with a wrong start");
    }
  }
  Require(std::is_sorted(found.begin(), found.end(),
                         [](const scan::Finding& a, const scan::Finding& b) {
                           return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                         }),
          "findings out of order");
}

}  // namespace keyhold::fuzz
