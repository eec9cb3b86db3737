// Scanner: finds secrets in a buffer with every rule at once.
//
// One Hyperscan (Vectorscan) database holds each rule's keywords (and the regex of rules without
// keywords); a single pass over the buffer reports where they occur, and a sparse probe finds the
// runs of word characters long enough to be keyhold keys. Only the lines around those hits are then
// searched with the rule's own regex (RE2, which gives capture groups), so the cost of the exact
// regexes is paid where a secret can be. keyhold keys are confirmed by their check characters, so
// they are never false positives.
//
//   KH_ASSIGN_OR_RETURN(auto scanner, Scanner::Create(BuiltinRules()));
//   Scanner::Scratch scratch = scanner->NewScratch();
//   std::vector<Finding> found = scanner->Scan(text, "config/.env", scratch);
//
// Thread-safety: a Scanner is immutable and may be shared; each thread needs its own Scratch.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "scan/finding.h"
#include "scan/relaxed_regex.h"
#include "scan/rules.h"

struct hs_database;
struct hs_scratch;

namespace keyhold::scan {

// Where a buffer came from, for path rules and allowlists.
struct ScanContext {
  std::string_view path;
  std::string_view commit;  // history scans only
};

class Scanner {
 public:
  // A stretch of a buffer to search with one rule's regex: [begin, end), searched with the text
  // up to `context_end` (the end of the line holding `end`) as context for `$` and `\b`.
  struct Window {
    size_t begin;
    size_t end;
    size_t context_end;
  };

  class Scratch {
   public:
    Scratch() = default;
    Scratch(Scratch&&) noexcept;
    Scratch& operator=(Scratch&&) noexcept;
    ~Scratch();

   private:
    friend class Scanner;
    hs_scratch* hs_ = nullptr;
    // Reused from one Scan to the next.
    std::vector<std::pair<uint32_t, uint64_t>> hits_;
    std::vector<std::vector<Window>> windows_;
    std::vector<uint32_t> touched_;  // rules with windows in the last Scan
  };

  // Compiles `rules`. With a `cache_dir`, the compiled pattern database is read from and kept
  // there (db_cache.h). Errors: kInvalidArgument if the pattern database cannot be built
  // (naming the rule at fault).
  static StatusOr<std::unique_ptr<Scanner>> Create(RuleSet rules, std::string cache_dir = {});
  ~Scanner();

  Scratch NewScratch() const;

  // Every secret in `data`, in order of position, with path and line set. Lines carrying
  // `keyhold:allow` are skipped. Callers check PathAllowlisted() first, before reading the file.
  // The findings refer to this Scanner's rules (Finding::rule): they must not outlive it.
  std::vector<Finding> Scan(std::string_view data, const ScanContext& ctx, Scratch& scratch) const;

  // True if a global allowlist excludes `path` entirely (checked before reading a file).
  bool PathAllowlisted(std::string_view path) const;

  // Findings of path rules (rules with a path and no regex) for the file at ctx.path, whatever
  // its content; line and column are 0: the whole file. Checked before reading it. They refer to
  // this Scanner's rules, as Scan's do.
  std::vector<Finding> PathFindings(const ScanContext& ctx) const;

  const RuleSet& rules() const { return rules_; }

 private:
  struct Hit {
    uint32_t id;
    uint64_t end;
  };
  Scanner() = default;
  Status Compile();
  void ConfirmRule(const Rule& rule, std::vector<Window>& windows, std::string_view data,
                   const ScanContext& ctx, std::vector<Finding>& out) const;
  void ConfirmKeyholdKeys(std::string_view data, std::vector<Finding>& out) const;
  void ConfirmKeyholdToken(std::string_view data, size_t begin, size_t end,
                           std::vector<Finding>& out) const;

  RuleSet rules_;
  // Pattern ids: [0, keywords_.size()) keywords; then the rules' prefilters; then rules without
  // keywords or prefilter.
  std::vector<std::string> keywords_;
  std::vector<std::vector<uint32_t>> keyword_rules_;  // keyword id -> rule indexes
  std::vector<uint32_t> prefilter_rules_;             // pattern id - keywords_.size() -> rule
  std::vector<uint32_t> regex_rules_;                 // pattern id - first regex id -> rule
  std::vector<uint32_t> full_scan_rules_;             // rules the database cannot prefilter
  std::vector<uint32_t> path_rules_;                  // rules without a regex
  // Per rule, built on its first match that needs groups (relaxed_regex.h).
  struct Relaxed {
    std::once_flag once;
    std::optional<RelaxedRegex> regex;
  };
  const RelaxedRegex* RelaxedFor(const Rule& rule) const;
  std::unique_ptr<Relaxed[]> relaxed_;
  // Per rule, then one for the global allowlists: each allowlist's regexes as one (null where
  // they are searched one by one), built on the first finding that needs them.
  struct AllowlistRegexes {
    std::once_flag once;
    std::vector<std::unique_ptr<const RE2>> combined;
  };
  const std::vector<std::unique_ptr<const RE2>>& CombinedRegexes(
      size_t index, const std::vector<Allowlist>& lists) const;
  std::unique_ptr<AllowlistRegexes[]> allowlist_regexes_;
  hs_database* db_ = nullptr;
  std::unique_ptr<const RE2> skip_paths_;  // null: no path is excluded outright
  std::string cache_dir_;
};

}  // namespace keyhold::scan
