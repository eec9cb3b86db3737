// Rules: parsing the gitleaks-style TOML schema into compiled rules.
#include "scan/rules.h"

#include <hs/hs.h>
#include <toml++/toml.h>

#include <array>
#include <bit>
#include <cmath>

namespace keyhold::scan {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Where(std::string_view source, const toml::node& n) {
  return std::string(source) + ", line " + std::to_string(n.source().begin.line);
}

// Reads an optional array of strings at `key`.
Status Strings(const toml::table& t, std::string_view key, std::string_view where,
               std::vector<std::string>& out) {
  const toml::node* n = t.get(key);
  if (!n) return OkStatus();
  const toml::array* arr = n->as_array();
  if (!arr)
    return InvalidArgument(std::string(where) + ": '" + std::string(key) +
                           "' must be an array of strings");
  for (const toml::node& item : *arr) {
    auto s = item.value<std::string>();
    if (!s)
      return InvalidArgument(std::string(where) + ": '" + std::string(key) +
                             "' must be an array of strings");
    out.push_back(*s);
  }
  return OkStatus();
}

RE2::Options RegexOptions() {
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(64 << 20);
  return opts;
}

// How a regex is compiled: now, so that errors name the file and line, or on first use. Every
// parse compiles now (the built-in rules too, once, at build time: keyhold_rules_gen); the
// built-in table's regexes compile on first use.
enum class RegexCompile { kNow, kOnFirstUse };

StatusOr<std::shared_ptr<const LazyRegex>> Compile(const std::string& pattern,
                                                   std::string_view what, RegexCompile when) {
  auto re = std::make_shared<const LazyRegex>(pattern);
  if (when == RegexCompile::kNow && !re->get().ok()) {
    return InvalidArgument(std::string(what) +
                           ": the regex cannot be compiled: " + re->get().error());
  }
  return re;
}

StatusOr<Allowlist> ParseAllowlist(const toml::table& t, const std::string& where,
                                   RegexCompile when) {
  Allowlist a;
  a.description = t["description"].value_or(std::string());
  std::string condition = Lower(t["condition"].value_or(std::string("OR")));
  if (condition == "and") {
    a.condition = Allowlist::Condition::kAnd;
  } else if (condition != "or") {
    return InvalidArgument(where + ": condition must be \"OR\" or \"AND\"");
  }
  std::string target = Lower(t["regexTarget"].value_or(std::string("secret")));
  if (target == "match") {
    a.regex_target = Allowlist::Target::kMatch;
  } else if (target == "line") {
    a.regex_target = Allowlist::Target::kLine;
  } else if (target != "secret") {
    return InvalidArgument(where + ": regexTarget must be \"secret\", \"match\" or \"line\"");
  }
  std::vector<std::string> regexes, paths;
  KH_RETURN_IF_ERROR(Strings(t, "regexes", where, regexes));
  KH_RETURN_IF_ERROR(Strings(t, "paths", where, paths));
  KH_RETURN_IF_ERROR(Strings(t, "stopwords", where, a.stopwords));
  KH_RETURN_IF_ERROR(Strings(t, "commits", where, a.commits));
  for (auto& s : a.stopwords) s = Lower(s);
  for (const auto& r : regexes) {
    KH_ASSIGN_OR_RETURN(auto re, Compile(r, where + ", allowlist regex", when));
    a.regexes.push_back(std::move(re));
  }
  for (const auto& p : paths) {
    KH_ASSIGN_OR_RETURN(auto re, Compile(p, where + ", allowlist path", when));
    a.paths.push_back(std::move(re));
  }
  return a;
}

// Reads `[name]` (one table) or `[[name]]` (an array of tables) of allowlists.
Status ParseAllowlists(const toml::table& t, std::string_view source, const std::string& what,
                       RegexCompile when, std::vector<Allowlist>& out) {
  for (std::string_view key : {"allowlist", "allowlists"}) {
    const toml::node* n = t.get(key);
    if (!n) continue;
    std::vector<const toml::table*> tables;
    if (const toml::table* one = n->as_table()) tables.push_back(one);
    if (const toml::array* many = n->as_array()) {
      for (const toml::node& item : *many) {
        if (!item.as_table())
          return InvalidArgument(Where(source, item) + ": " + what + " allowlists must be tables");
        tables.push_back(item.as_table());
      }
    }
    if (tables.empty())
      return InvalidArgument(Where(source, *n) + ": " + what + " allowlist must be a table");
    for (const toml::table* a : tables) {
      KH_ASSIGN_OR_RETURN(Allowlist al,
                          ParseAllowlist(*a, Where(source, *a) + " (" + what + ")", when));
      out.push_back(std::move(al));
    }
  }
  return OkStatus();
}

bool LooksMultiline(const std::string& regex) {
  return regex.find("[\\s\\S]") != std::string::npos || regex.find("(?s") != std::string::npos ||
         regex.find("\\n") != std::string::npos;
}

// A keyword is a literal of the regex, possibly with escapes in between ("dp\\.pt\\."). One that
// is not may still be right ("circle_ci" for circle[_-]?ci), so it is only a warning.
bool KeywordInRegex(const std::string& keyword, const std::string& regex) {
  std::string unescaped;
  for (size_t i = 0; i < regex.size(); ++i) {
    bool escape = regex[i] == '\\' && i + 1 < regex.size() &&
                  !std::isalnum(static_cast<unsigned char>(regex[i + 1]));
    if (escape) continue;
    unescaped.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(regex[i]))));
  }
  return unescaped.find(keyword) != std::string::npos;
}

StatusOr<Rule> ParseRule(const toml::table& t, std::string_view source, RegexCompile when,
                         std::vector<std::string>& warnings) {
  Rule r;
  std::string where = Where(source, t);
  auto id = t["id"].value<std::string>();
  if (!id || id->empty()) return InvalidArgument(where + ": a rule needs an 'id'");
  r.id = *id;
  where += " (rule '" + r.id + "')";
  r.description = t["description"].value_or(std::string());
  if (auto path = t["path"].value<std::string>()) {
    KH_ASSIGN_OR_RETURN(r.path, Compile(*path, where + ", path", when));
  }
  auto regex = t["regex"].value<std::string>();
  if (!regex || regex->empty()) {
    if (r.path && !t.get("secretGroup")) {  // a path rule: the file itself is the finding
      KH_RETURN_IF_ERROR(ParseAllowlists(t, source, "rule '" + r.id + "'", when, r.allowlists));
      return r;
    }
    return InvalidArgument(where +
                           ": a rule needs a 'regex' (or only a 'path', to report files by name)");
  }
  if (regex->find('\0') != std::string::npos) {
    return InvalidArgument(where + ": the regex must not contain a NUL character");
  }
  r.regex_text = *regex;
  r.regex = std::make_shared<const LazyRegex>(r.regex_text);
  if (when == RegexCompile::kNow && !r.regex->get().ok()) {
    return InvalidArgument(where + ": the regex cannot be compiled: " + r.regex->get().error());
  }
  if (const toml::node* g = t.get("secretGroup")) {
    auto v = g->value<int64_t>();
    bool known = when == RegexCompile::kNow;
    if (!v || *v < 0 || (known && *v > r.regex->get().NumberOfCapturingGroups())) {
      return InvalidArgument(where + ": secretGroup must name one of the regex's " +
                             std::to_string(r.regex->get().NumberOfCapturingGroups()) + " groups");
    }
    r.secret_group = static_cast<int>(*v);
  }
  if (const toml::node* e = t.get("entropy")) {
    auto v = e->value<double>();
    if (!v || !(*v >= 0 && *v <= 8))  // so that TOML's nan is refused too
      return InvalidArgument(where + ": entropy must be a number from 0 to 8");
    r.entropy = *v;
  }
  if (const toml::node* v = t.get("validate")) {
    auto name = v->value<std::string>();
    auto validator = name ? ParseValidator(*name) : std::nullopt;
    if (!validator) return InvalidArgument(where + ": validate must be one of " + ValidatorNames());
    r.validator = *validator;
  }
  if (const toml::node* sev = t.get("severity")) {
    auto v = sev->value<std::string>();
    static const std::vector<std::string> kSeverities = {"critical", "high", "medium", "low",
                                                         "info"};
    if (!v || std::find(kSeverities.begin(), kSeverities.end(), Lower(*v)) == kSeverities.end())
      return InvalidArgument(where + ": severity must be critical, high, medium, low or info");
    r.severity = Lower(*v);
  } else if (r.id.starts_with("generic")) {
    r.severity = "medium";
  }
  if (const toml::node* rev = t.get("revoke")) {
    auto v = rev->value<std::string>();
    if (!v || !v->starts_with("https://"))
      return InvalidArgument(where + ": revoke must be an https:// URL");
    r.revoke_url = *v;
  }
  if (const toml::node* pre = t.get("prefilter")) {
    auto v = pre->value<std::string>();
    if (!v || v->empty()) return InvalidArgument(where + ": prefilter must be a non-empty string");
    if (v->find('\0') != std::string::npos) {
      return InvalidArgument(where + ": prefilter must not contain a NUL character");
    }
    if (when == RegexCompile::kNow) {  // as the scanner compiles it, so errors name the line
      hs_database_t* db = nullptr;
      hs_compile_error_t* err = nullptr;
      if (hs_compile(v->c_str(), HS_FLAG_CASELESS, HS_MODE_BLOCK, nullptr, &db, &err) !=
          HS_SUCCESS) {
        std::string message = err && err->message ? err->message : "unknown error";
        hs_free_compile_error(err);
        return InvalidArgument(where + ": the prefilter cannot be compiled: " + message);
      }
      hs_free_database(db);
    }
    r.prefilter = *v;
  }
  KH_RETURN_IF_ERROR(Strings(t, "keywords", where, r.keywords));
  for (auto& k : r.keywords) k = Lower(k);
  std::erase_if(r.keywords, [](const std::string& k) { return k.empty(); });
  for (const std::string& k : r.keywords) {
    if (when == RegexCompile::kNow && !KeywordInRegex(k, r.regex_text)) {
      std::string warning = where;
      warning += ": keyword '";
      warning += k;
      warning +=
          "' does not occur in the regex; the rule is searched only on lines holding a "
          "keyword";
      warnings.push_back(std::move(warning));
    }
  }
  KH_RETURN_IF_ERROR(ParseAllowlists(t, source, "rule '" + r.id + "'", when, r.allowlists));
  r.multiline = LooksMultiline(r.regex_text);
  return r;
}

}  // namespace

double ShannonEntropy(std::string_view s) {
  if (s.empty()) return 0;
  std::array<int, 256> counts{};
  // The bytes present, as a bit set: the sum below visits them in byte order, as a walk over all
  // 256 counts would (the same additions in the same order, so the same result to the last bit),
  // without the 240-odd empty ones. It runs on every candidate secret.
  std::array<uint64_t, 4> present{};
  for (unsigned char c : s) {
    counts[c]++;
    present[c >> 6] |= uint64_t{1} << (c & 63);
  }
  double h = 0;
  double n = static_cast<double>(s.size());
  for (size_t word = 0; word < present.size(); ++word) {
    for (uint64_t bits = present[word]; bits != 0; bits &= bits - 1) {
      const size_t c = word * 64 + static_cast<size_t>(std::countr_zero(bits));
      double p = counts[c] / n;
      h -= p * std::log2(p);
    }
  }
  return h;
}

namespace {

StatusOr<RuleSet> Parse(std::string_view toml_text, std::string_view source_name,
                        RegexCompile when) {
  toml::table doc;
  try {
    doc = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(std::string(source_name) + ", line " +
                           std::to_string(e.source().begin.line) + ": " +
                           std::string(e.description()));
  }
  RuleSet set;
  if (const toml::node* rules = doc.get("rules")) {
    const toml::array* arr = rules->as_array();
    if (!arr)
      return InvalidArgument(Where(source_name, *rules) + ": 'rules' must be [[rules]] tables");
    for (const toml::node& n : *arr) {
      const toml::table* t = n.as_table();
      if (!t) return InvalidArgument(Where(source_name, n) + ": each rule must be a table");
      KH_ASSIGN_OR_RETURN(Rule r, ParseRule(*t, source_name, when, set.warnings));
      for (const Rule& other : set.rules) {
        if (other.id == r.id) {
          return InvalidArgument(Where(source_name, *t) + ": rule id '" + r.id + "' is used twice");
        }
      }
      set.rules.push_back(std::move(r));
    }
  }
  KH_RETURN_IF_ERROR(ParseAllowlists(doc, source_name, "global", when, set.allowlists));
  return set;
}

}  // namespace

StatusOr<RuleSet> ParseRules(std::string_view toml_text, std::string_view source_name) {
  return Parse(toml_text, source_name, RegexCompile::kNow);
}

LazyRegex::LazyRegex(std::string pattern) : pattern_(std::move(pattern)) {}

const RE2& LazyRegex::get() const {
  std::call_once(once_, [this] { re_ = std::make_unique<const RE2>(pattern_, RegexOptions()); });
  return *re_;
}

}  // namespace keyhold::scan
