// Rules: what the scanner looks for, in a TOML schema that follows gitleaks'.
//
//   [[rules]]
//   id = "stripe-secret-key"
//   description = "Stripe secret key"
//   regex = '''\b(sk_live_[A-Za-z0-9]{24,99})\b'''
//   secretGroup = 1          # capture group holding the secret (0: first group, else whole match)
//   entropy = 3.0            # minimum Shannon entropy of the secret (bits per character)
//   keywords = ["sk_live_"]  # at least one must occur on the match's lines (case-insensitive)
//   path = '''\.env$'''      # only files whose path matches (alone, without regex: report
//                            # every such file, e.g. keystores)
//   validate = "github-crc32"  # keyhold's own: a structure check the secret must pass
//                              # (validate.h lists them)
//   severity = "high"          # keyhold's own: critical, high (default), medium, low or info
//   revoke = "https://..."     # keyhold's own: where the provider lets you revoke it
//   prefilter = '''token\s*=\s*\d'''  # keyhold's own: a Vectorscan pattern (case-insensitive)
//                              # that matches on every line where the rule reports a finding,
//                              # allowlists applied; the regex then runs only near its matches
//                              # instead of near every keyword
//   [[rules.allowlists]]     # (or the older single [rules.allowlist])
//   regexTarget = "secret"   # "secret", "match" or "line"
//   regexes = ['''EXAMPLE''']
//   stopwords = ["example"]
//   paths = ['''^test/''']
//   condition = "OR"         # "AND": every given criterion must hold
//
// Top level: `[allowlist]` or `[[allowlists]]` apply to every rule; `[extend] useDefault = true`
// adds the built-in rules, `disabledRules = ["id", ...]` drops some of them.
//
//   KH_ASSIGN_OR_RETURN(RuleSet rules, LoadRules(RuleSource{.file = "keyhold-rules.toml"}));
#pragma once

#include <re2/re2.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "scan/validate.h"

namespace keyhold::scan {

// A regex compiled on first use: a scan touches only the rules whose keywords occur, and
// compiling every one of hundreds of built-in regexes (and their allowlists') would cost more than
// scanning a small repository. Thread-safe; shared by the copies of a rule.
class LazyRegex {
 public:
  explicit LazyRegex(std::string pattern);
  const RE2& get() const;
  const RE2* operator->() const { return &get(); }
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<const RE2> re_;
};

struct Allowlist {
  enum class Condition { kOr, kAnd };
  enum class Target { kSecret, kMatch, kLine };
  std::string description;
  Condition condition = Condition::kOr;
  Target regex_target = Target::kSecret;
  std::vector<std::shared_ptr<const LazyRegex>> regexes;
  std::vector<std::shared_ptr<const LazyRegex>> paths;
  std::vector<std::string> stopwords;  // lower case
  std::vector<std::string> commits;
};

struct Rule {
  std::string id;
  std::string description;
  std::string regex_text;
  std::shared_ptr<const LazyRegex> regex;  // null: a path rule, reporting every file `path` matches
  int secret_group = 0;
  double entropy = 0;
  std::vector<std::string> keywords;  // lower case
  // Empty, or a Vectorscan pattern that sends the rule to its regex in place of the keywords: it
  // must match somewhere on the line of each finding the rule can report (see rules.h's header).
  std::string prefilter;
  std::shared_ptr<const LazyRegex> path;  // null: every path
  std::vector<Allowlist> allowlists;
  Validator validator = Validator::kNone;
  std::string severity = "high";
  std::string revoke_url;  // empty: none known
  // True if a match may span several lines (e.g. a PEM block); its keywords' neighbourhood is
  // then searched further.
  bool multiline = false;
};

struct RuleSet {
  std::vector<Rule> rules;
  std::vector<Allowlist> allowlists;  // global
  // Things that load but are probably mistakes, each naming the file, line and rule: a keyword
  // that does not occur in its rule's regex (the rule then runs only where it does).
  std::vector<std::string> warnings;
};

// Parses a rules file. `source_name` names it in errors. Errors: kInvalidArgument naming the
// line of a TOML syntax error, or the rule (and line) of a missing field, a wrong type, or a
// regex that cannot be compiled.
StatusOr<RuleSet> ParseRules(std::string_view toml_text, std::string_view source_name);

// The built-in rules, shipped in the binary. builtin_rules.toml is their source; the build turns
// it into a table (builtin_table.h), so building them parses no TOML. MakeBuiltinRules builds a
// new set; BuiltinRules is one built on first use and kept. BuiltinRulesToml() is the TOML text,
// linked only into what calls it (the tests).
RuleSet MakeBuiltinRules();
const RuleSet& BuiltinRules();
std::string_view BuiltinRulesToml();

// The rule keyhold keys are reported under ("keyhold-key", critical). It is in no rule set: the
// scanner finds keyhold keys by their check characters, not by a regex.
const Rule& KeyholdKeyRule();

// Loads `file` if given (honouring its [extend] section), else the built-in rules.
// Errors: kNotFound if the file cannot be read; whatever ParseRules returns.
StatusOr<RuleSet> LoadRules(const std::optional<std::string>& file);

// Shannon entropy of `s` in bits per byte.
double ShannonEntropy(std::string_view s);

}  // namespace keyhold::scan
