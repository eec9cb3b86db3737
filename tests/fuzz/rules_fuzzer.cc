// Fuzzes rule files in the gitleaks schema (scan/rules.h): the TOML loader, then the scanner
// built from what it accepts.
//
// Input: the text of a rules file (at most 16 KiB). Beyond "no crash" it checks that:
//   - a refused file is refused with kInvalidArgument and a message naming the file;
//   - an accepted rule set keeps its promises: unique non-empty ids, a regex or a path for each
//     rule, secretGroup within the regex's groups, entropy within 0..8, lower-case keywords and
//     stopwords;
//   - every accepted rule set compiles into a Scanner (a rules file that loads must scan);
//   - the scanner's one combined regex of excluded paths answers as the allowlists do one by one;
//   - scanning the file's own text and a sample gives findings that lie within them;
//   - LoadRules (the same text from a file, with [extend]) refuses what ParseRules refuses.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>

#include "fakes/fake_secrets.h"
#include "fuzz/findings.h"
#include "fuzz/property.h"
#include "scan/rules.h"
#include "scan/scanner.h"

namespace keyhold::scan {
namespace {

using fuzz::Require;

constexpr size_t kMaxInput = 16 * 1024;
constexpr std::string_view kSource = "fuzz.toml";
// A few lines for the rules to find something in, their secrets made at run time.
const std::string kSample = "password = \"" + testing::FakeSecret("", 20) + "\"\n" +
                            "url = postgres://app:" + testing::FakeSecret("", 12) + "@" +
                            "db.example:5432/app\n" + testing::FakePem("PRIVATE KEY", 2);
constexpr std::string_view kPaths[] = {"src/main.py", "vendor/lib/a.js", "config/.env",
                                       "package-lock.json", "test/fixtures/keys.txt"};

bool IsLower(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

void CheckAllowlist(const Allowlist& a) {
  for (const std::string& w : a.stopwords) Require(IsLower(w), "a stopword is not lower case");
}

void CheckRuleSet(const RuleSet& set) {
  std::set<std::string> ids;
  for (const Rule& r : set.rules) {
    Require(!r.id.empty() && ids.insert(r.id).second, "rule ids are empty or repeated");
    Require(r.regex || r.path, "a rule with neither regex nor path");
    if (r.regex) {
      Require(r.secret_group >= 0 && r.secret_group <= r.regex->get().NumberOfCapturingGroups(),
              "secretGroup outside the regex's groups");
    }
    Require(r.entropy >= 0 && r.entropy <= 8, "entropy outside 0..8");
    for (const std::string& k : r.keywords) {
      Require(!k.empty() && IsLower(k), "a keyword is empty or not lower case");
    }
    for (const Allowlist& a : r.allowlists) CheckAllowlist(a);
  }
  for (const Allowlist& a : set.allowlists) CheckAllowlist(a);
}

// A path is excluded outright if an OR allowlist of paths only (or any allowlist's paths when
// it has nothing else) matches it.
bool ExcludedOneByOne(const RuleSet& set, std::string_view path) {
  for (const Allowlist& a : set.allowlists) {
    bool only_paths = a.regexes.empty() && a.stopwords.empty() && a.commits.empty();
    if (a.condition != Allowlist::Condition::kOr && !only_paths) continue;
    for (const auto& p : a.paths) {
      if (RE2::PartialMatch(path, p->get())) return true;
    }
  }
  return false;
}

void CheckScanner(const RuleSet& set, std::string_view text) {
  auto scanner = Scanner::Create(set);
  Require(scanner.ok(), "a rule set that loads does not compile into a scanner");
  for (std::string_view path : kPaths) {
    Require((*scanner)->PathAllowlisted(path) == ExcludedOneByOne(set, path),
            "the combined path allowlist disagrees with the allowlists");
  }
  Scanner::Scratch scratch = (*scanner)->NewScratch();
  for (std::string_view data : {text, std::string_view(kSample)}) {
    fuzz::CheckFindings(data, (*scanner)->Scan(data, {.path = kPaths[0]}, scratch));
  }
}

// LoadRules reads a file; the text goes through one made for this process.
void CheckLoad(std::string_view text, bool parsed) {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("keyhold-fuzz-rules-" + std::to_string(getpid())))
          .string();
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  auto loaded = LoadRules(path);
  if (!parsed) Require(!loaded.ok(), "LoadRules accepts what ParseRules refuses");
  if (loaded.ok()) CheckRuleSet(*loaded);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace keyhold::scan

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyhold::scan;
  if (size > kMaxInput) return -1;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto set = ParseRules(text, kSource);
  if (!set.ok()) {
    keyhold::fuzz::Require(set.status().code() == keyhold::StatusCode::kInvalidArgument,
                           "a rules file refused with another code than kInvalidArgument");
    keyhold::fuzz::Require(set.status().message().starts_with(kSource),
                           "an error that does not name the rules file");
  } else {
    CheckRuleSet(*set);
    CheckScanner(*set, text);
  }
  CheckLoad(text, set.ok());
  return 0;
}
