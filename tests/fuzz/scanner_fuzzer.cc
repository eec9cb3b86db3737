// Fuzzes the scan engine (scan/scanner.h) with the built-in rules.
//
// Input: the first byte picks the file's path from a short list (a plain source file, a .env,
// an allowlisted lock file...); the rest is the file's content. In the content, `{{name}}`
// stands for a credential-shaped string made at run time (see Expand), so the corpus holds
// none: `{{github}}`, `{{aws_id}}`, `{{pem}}`, `{{keyhold}}`...
//
// Beyond "no crash" it checks that every finding lies within the input (fuzz/findings.h: line,
// column and end line point at the secret; no finding on a keyhold:allow line; keyhold keys
// confirmed), and that every keyhold key the input holds as a token of its own, on a line not
// marked keyhold:allow, is found: keys are confirmed by their check, never missed.
#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/key_format.h"
#include "fakes/fake_env.h"
#include "fakes/fake_secrets.h"
#include "fuzz/findings.h"
#include "fuzz/property.h"
#include "scan/rules.h"
#include "scan/scanner.h"

namespace keyhold::scan {
namespace {

using fuzz::Require;
using testing::FakeSecret;

constexpr std::array<std::string_view, 8> kPaths = {
    "src/app/settings.py", ".env",        "config/production.yaml", "package-lock.json",
    "deploy/id_rsa",       "docs/api.md", "vendor/lib/client.js",   "",
};

struct Expanded {
  std::string text;
  std::vector<std::pair<size_t, std::string>> keyhold_keys;  // offset, key
};

// The credential-shaped string `{{name}}` stands for; `n` tells occurrences apart.
std::string Secret(std::string_view name, uint32_t n, Env& env) {
  const std::string upper_b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const std::string b64 = std::string(testing::kAlnum) + "+/";
  if (name == "aws_id") return FakeSecret("AKIA", 16, upper_b32, n);
  if (name == "aws_secret") return FakeSecret("", 40, b64, n);
  if (name == "gcp") return FakeSecret("AIza", 35, testing::kAlnum, n);
  if (name == "github") return FakeSecret("ghp_", 36, testing::kAlnum, n);
  if (name == "gitlab") return FakeSecret("glpat-", 20, testing::kAlnum, n);
  if (name == "npm") return FakeSecret("npm_", 36, testing::kAlnum, n);
  if (name == "stripe") return FakeSecret("sk_live_", 24, testing::kAlnum, n);
  if (name == "slack") return FakeSecret("xoxb-1234-5678-", 24, testing::kAlnum, n);
  if (name == "sendgrid") {
    return FakeSecret("SG.", 22, testing::kAlnum, n) + FakeSecret(".", 43, testing::kAlnum, n);
  }
  if (name == "pem") return testing::FakePem("RSA PRIVATE KEY", 4);
  if (name == "password") return FakeSecret("", 24, b64, n);
  if (name == "keyhold") return GenerateKey(env, "kh", kDefaultKeyBytes);
  if (name == "keyhold_bare") return GenerateKey(env, "", kMinKeyBytes);
  if (name == "keyhold_long") return GenerateKey(env, "sk_live_test", kMaxKeyBytes);
  return "";
}

// Replaces each `{{name}}` by its secret; remembers where keyhold keys went.
Expanded Expand(std::string_view in) {
  Expanded out;
  testing::FakeEnv env;
  uint32_t n = 0;
  while (!in.empty()) {
    size_t open = in.find("{{");
    size_t close = open == std::string_view::npos ? open : in.find("}}", open + 2);
    if (close == std::string_view::npos || close - open > 20) {
      out.text.append(in.substr(0, open == std::string_view::npos ? in.size() : open + 2));
      in.remove_prefix(open == std::string_view::npos ? in.size() : open + 2);
      continue;
    }
    out.text.append(in.substr(0, open));
    std::string_view name = in.substr(open + 2, close - open - 2);
    std::string secret = Secret(name, ++n, env);
    if (name.starts_with("keyhold") && !secret.empty()) {
      out.keyhold_keys.emplace_back(out.text.size(), secret);
    }
    out.text += secret.empty() ? std::string(in.substr(open, close + 2 - open)) : secret;
    in.remove_prefix(close + 2);
  }
  return out;
}

bool IsWord(std::string_view text, size_t at) {
  if (at >= text.size()) return false;
  char c = text[at];
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// A key standing alone as a token, on a line not marked keyhold:allow, must be found.
void CheckKeysFound(const Expanded& in, const std::vector<Finding>& found) {
  const std::string& text = in.text;
  for (const auto& [at, key] : in.keyhold_keys) {
    if ((at > 0 && IsWord(text, at - 1)) || IsWord(text, at + key.size())) continue;
    size_t line_start = text.rfind('\n', at);  // text[at] is the key's first character
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    size_t line_end = std::min(text.find('\n', at), text.size());
    std::string_view line = std::string_view(text).substr(line_start, line_end - line_start);
    if (line.find("keyhold:allow") != std::string_view::npos ||
        line.find("gitleaks:allow") != std::string_view::npos) {
      continue;
    }
    bool seen = std::any_of(found.begin(), found.end(), [&key = key](const Finding& f) {
      return f.kind == FindingKind::kKeyholdKey && f.secret == key;
    });
    Require(seen, "a keyhold key standing alone was not found");
  }
}

}  // namespace
}  // namespace keyhold::scan

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyhold::scan;
  static const Scanner* scanner = [] {
    auto s = Scanner::Create(BuiltinRules());
    keyhold::fuzz::Require(s.ok(), "the built-in rules do not compile");
    return std::move(s).value().release();
  }();
  static Scanner::Scratch scratch = scanner->NewScratch();
  if (size == 0) return 0;
  std::string_view path = kPaths[data[0] % kPaths.size()];
  Expanded in = Expand(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  std::vector<Finding> found = scanner->Scan(in.text, {.path = path}, scratch);
  keyhold::fuzz::CheckFindings(in.text, found);
  CheckKeysFound(in, found);
  return 0;
}
