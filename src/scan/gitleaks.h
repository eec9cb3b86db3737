// Compatibility with gitleaks, for teams moving over: its ignore file and its JSON report.
//
// .gitleaksignore holds one finding fingerprint a line, as gitleaks prints them:
//   commit:file:rule:line   (a finding in history)
//   file:rule:line          (a finding in the working tree)
// with '#' comments and blank lines allowed. Rule ids are gitleaks' or keyhold's: where
// gitleaks names a format differently (aws-access-token, generic-api-key, private-key...), its
// name stands for keyhold's rules for the same format.
//
//   KH_ASSIGN_OR_RETURN(GitleaksIgnore ignore, ReadGitleaksIgnore(".gitleaksignore", warnings));
//   size_t ignored = ignore.Apply(findings);
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "scan/finding.h"

namespace keyhold::scan {

class GitleaksIgnore {
 public:
  // Parses the text of an ignore file. A malformed line (not 3 or 4 fields, or a line that is
  // not a positive number) is skipped with a warning naming `source` and the line, as gitleaks
  // skips it.
  static GitleaksIgnore Parse(const std::string& text, const std::string& source,
                              std::vector<std::string>& warnings);

  // True if the finding's fingerprint (with or without its commit) is listed.
  bool Ignores(const Finding& f) const;

  // Removes the ignored findings; returns how many.
  size_t Apply(std::vector<Finding>& findings) const;

  size_t size() const { return entries_.size(); }

 private:
  std::set<std::string> entries_;  // "commit:file:rule:line" or "file:rule:line"
};

// Reads `file` with GitleaksIgnore::Parse. Errors: kNotFound if it cannot be read.
StatusOr<GitleaksIgnore> ReadGitleaksIgnore(const std::string& file,
                                            std::vector<std::string>& warnings);

// The fingerprint gitleaks gives a finding: "commit:file:rule:line", or "file:rule:line".
std::string GitleaksFingerprint(const Finding& f);

// gitleaks' JSON report (an array of objects with RuleID, Description, StartLine, EndLine,
// StartColumn, EndColumn, Match, Secret, File, SymlinkFile, Commit, Entropy, Author, Email,
// Date, Message, Tags, Fingerprint), as gitleaks writes it with --redact: Match and Secret are
// "REDACTED", so the report holds no secret.
std::string RenderGitleaksJson(const std::vector<Finding>& findings);

}  // namespace keyhold::scan
