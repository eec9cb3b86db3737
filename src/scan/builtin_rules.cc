// The built-in rules, from the table generated at build time (builtin_table.h), and LoadRules.
// The rules themselves are in builtin_rules.toml.
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

#include "scan/builtin_table.h"
#include "scan/rules.h"

namespace keyhold::scan {

RuleSet MakeBuiltinRules() {
  const builtin::Table t = builtin::BuiltinTable();
  auto str = [&t](builtin::Text x) { return std::string(t.text.substr(x.offset, x.size)); };
  auto regex = [&](builtin::Text x) { return std::make_shared<const LazyRegex>(str(x)); };
  auto allowlist = [&](const builtin::AllowlistRow& row) {
    Allowlist a;
    a.description = str(row.description);
    a.condition = static_cast<Allowlist::Condition>(row.condition);
    a.regex_target = static_cast<Allowlist::Target>(row.target);
    size_t i = row.first;
    a.regexes.reserve(row.regexes);
    for (size_t n = 0; n < row.regexes; ++n) a.regexes.push_back(regex(t.lists[i++]));
    a.paths.reserve(row.paths);
    for (size_t n = 0; n < row.paths; ++n) a.paths.push_back(regex(t.lists[i++]));
    a.stopwords.reserve(row.stopwords);
    for (size_t n = 0; n < row.stopwords; ++n) a.stopwords.push_back(str(t.lists[i++]));
    a.commits.reserve(row.commits);
    for (size_t n = 0; n < row.commits; ++n) a.commits.push_back(str(t.lists[i++]));
    return a;
  };
  RuleSet set;
  set.rules.reserve(t.rules.size());
  for (const builtin::RuleRow& row : t.rules) {
    Rule& r = set.rules.emplace_back();
    r.id = str(row.id);
    r.description = str(row.description);
    r.regex_text = str(row.regex);
    if (!r.regex_text.empty()) r.regex = std::make_shared<const LazyRegex>(r.regex_text);
    r.secret_group = row.secret_group;
    r.entropy = row.entropy;
    r.keywords.reserve(row.keywords);
    for (size_t i = 0; i < row.keywords; ++i)
      r.keywords.push_back(str(t.lists[row.first_keyword + i]));
    r.prefilter = str(row.prefilter);
    if (row.has_path) r.path = regex(row.path);
    r.allowlists.reserve(row.allowlists);
    for (size_t i = 0; i < row.allowlists; ++i)
      r.allowlists.push_back(allowlist(t.allowlists[row.first_allowlist + i]));
    r.validator = static_cast<Validator>(row.validator);
    r.severity = str(row.severity);
    r.revoke_url = str(row.revoke);
    r.multiline = row.multiline;
  }
  set.allowlists.reserve(t.globals);
  for (size_t i = 0; i < t.globals; ++i)
    set.allowlists.push_back(allowlist(t.allowlists[t.first_global + i]));
  return set;
}

const RuleSet& BuiltinRules() {
  static const RuleSet* rules = new RuleSet(MakeBuiltinRules());
  return *rules;
}

const Rule& KeyholdKeyRule() {
  static const Rule* rule =
      new Rule{.id = "keyhold-key",
               .description = "keyhold API key (confirmed by its check characters)",
               .severity = "critical"};
  return *rule;
}

StatusOr<RuleSet> LoadRules(const std::optional<std::string>& file) {
  if (!file) return MakeBuiltinRules();  // built for the caller: no copy of the shared set
  std::ifstream in(*file, std::ios::binary);
  if (!in) return NotFound("cannot read rules file " + *file);
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  KH_ASSIGN_OR_RETURN(RuleSet set, ParseRules(text, *file));
  // [extend]: the file adds to (and may disable some of) the built-in rules.
  toml::table doc = toml::parse(text, *file);  // parsed above, so it does not throw
  if (doc["extend"]["useDefault"].value_or(false)) {
    std::vector<std::string> disabled;
    if (const toml::node* n = doc["extend"]["disabledRules"].node()) {
      const toml::array* arr = n->as_array();
      bool strings = arr != nullptr;
      if (arr) {
        for (const toml::node& item : *arr) {
          auto s = item.value<std::string>();
          if (!s) strings = false;
          if (s) disabled.push_back(*s);
        }
      }
      if (!strings)
        return InvalidArgument(*file + " [extend]: 'disabledRules' must be an array of strings");
    }
    RuleSet merged;
    for (const Rule& r : BuiltinRules().rules) {
      bool off = std::find(disabled.begin(), disabled.end(), r.id) != disabled.end();
      bool overridden = std::any_of(set.rules.begin(), set.rules.end(),
                                    [&](const Rule& mine) { return mine.id == r.id; });
      if (!off && !overridden) merged.rules.push_back(r);
    }
    for (Rule& r : set.rules) merged.rules.push_back(std::move(r));
    merged.allowlists = BuiltinRules().allowlists;
    for (Allowlist& a : set.allowlists) merged.allowlists.push_back(std::move(a));
    return merged;
  }
  return set;
}

}  // namespace keyhold::scan
