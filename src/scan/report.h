// Reports and baselines.
//
// Reports never contain a secret: text and JSON show it masked, SARIF not at all; every format
// carries the fingerprint (a truncated SHA-256 of the secret) that baselines are keyed by.
// A baseline is a JSON file of accepted findings, each identified by rule, path and fingerprint —
// not by line, so moving code does not invalidate it:
//
//   {"version": 1, "findings": [{"rule": "stripe-key", "path": "app/.env", "fingerprint": "…"}]}
#pragma once

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/status.h"
#include "scan/finding.h"
#include "scan/sources.h"

namespace keyhold::scan {

enum class ReportFormat { kText, kJson, kSarif, kGitleaksJson };

// Errors: kInvalidArgument for an unknown name ("text", "json", "sarif", "gitleaks-json").
StatusOr<ReportFormat> ParseReportFormat(const std::string& name);

std::string RenderText(const std::vector<Finding>& findings);
std::string RenderJson(const std::vector<Finding>& findings);
// SARIF 2.1.0, one run; `rules` lists every rule the scan used.
std::string RenderSarif(const std::vector<Finding>& findings, const std::vector<Rule>& rules,
                        const std::string& version);

using BaselineKey = std::tuple<std::string, std::string, std::string>;  // rule, path, fingerprint

// Errors: kNotFound if the file cannot be read; kInvalidArgument if it is not a baseline.
StatusOr<std::set<BaselineKey>> ReadBaseline(const std::string& file);
// Writes the findings as a baseline (sorted, without duplicates). Errors: kUnavailable.
Status WriteBaseline(const std::string& file, const std::vector<Finding>& findings);
// Removes the findings the baseline accepts; returns how many.
size_t ApplyBaseline(const std::set<BaselineKey>& baseline, std::vector<Finding>& findings);

}  // namespace keyhold::scan
