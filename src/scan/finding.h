// Finding: one secret the scanner found, and where.
//
// A finding holds the secret's text only in memory, to check allowlists and baselines; reports
// print it masked, and baselines keep only its fingerprint.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scan/rules.h"

namespace keyhold::scan {

enum class FindingKind {
  kRule,        // matched a rule (built-in or the user's)
  kKeyholdKey,  // a keyhold key, confirmed by its check: never a false positive
};

struct Finding {
  FindingKind kind = FindingKind::kRule;
  // The rule that found it: one of the Scanner's rules, or KeyholdKeyRule() for keyhold keys. Not
  // owned: the rule set outlives the findings of a scan. A file dense with secrets yields hundreds
  // of thousands of findings, and copying each one's rule id, description and revocation page
  // cost more than finding it. Null reads as a rule with no id and the default severity.
  const Rule* rule = nullptr;
  std::string path;    // as given on the command line, or the path in the repository
  int64_t line = 0;    // 1-based
  int64_t column = 0;  // 1-based, in bytes
  int64_t end_line = 0;
  std::string secret;       // in memory only: never printed, logged or stored
  std::string fingerprint;  // hex SHA-256 of the secret, truncated to 128 bits
  double entropy = 0;
  // keyhold keys: what identifies the key without revealing it.
  std::string key_prefix;
  std::string key_start;
  // `keyhold scan --revoke`: what the server did when the key was reported leaked — "revoked",
  // "disabled", "none" (not a key that server holds and the token may act on, or already revoked)
  // or "failed" (the report did not reach it). Empty when not reported.
  std::string leak_action;
  // History scans: the commit that introduced the secret.
  std::string commit;
  std::string author;
  std::string email;
  std::string date;  // ISO 8601, UTC

  // The secret with all but its first few characters hidden ("ghp_…(40)").
  std::string Masked() const;

  // The rule's: "keyhold-key" for keyhold keys.
  const std::string& rule_id() const { return rule_or_default().id; }
  // The rule's; "file matched by path rule" for a path rule that has none.
  const std::string& description() const;
  // critical, high, medium, low or info.
  const std::string& severity() const { return rule_or_default().severity; }
  // The provider's page for revoking it; empty if none is known.
  const std::string& revoke_url() const { return rule_or_default().revoke_url; }

 private:
  const Rule& rule_or_default() const;
};

// Sorts `findings` by `before`, stably, moving each finding once: a finding is large, and a file
// dense with secrets holds hundreds of thousands, so sorting their positions and moving each into
// place costs far less than a sort's log2(n) moves of every finding. Returns at once when they are
// in order already.
template <typename Before>
void SortMovingOnce(std::vector<Finding>& findings, Before before) {
  if (std::is_sorted(findings.begin(), findings.end(), before)) return;
  std::vector<uint32_t> order(findings.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return before(findings[a], findings[b]); });
  std::vector<Finding> sorted;
  sorted.reserve(findings.size());
  for (uint32_t i : order) sorted.push_back(std::move(findings[i]));
  findings = std::move(sorted);
}

}  // namespace keyhold::scan
