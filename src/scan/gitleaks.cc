// gitleaks compatibility: .gitleaksignore and the JSON report shape.
#include "scan/gitleaks.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace keyhold::scan {
namespace {

std::string StripDotSlash(std::string path) {
  while (path.starts_with("./")) path = path.substr(2);
  return path;
}

// gitleaks' ids for formats keyhold's rules name differently.
const std::multimap<std::string, std::string>& GitleaksAliases() {
  static const auto* aliases = new std::multimap<std::string, std::string>{
      {"aws-access-token", "aws-access-key-id"},
      {"generic-api-key", "generic-secret"},
      {"private-key", "private-key-rsa"},
      {"private-key", "private-key-dsa"},
      {"private-key", "private-key-ec"},
      {"private-key", "private-key-openssh"},
      {"private-key", "private-key-pkcs8"},
      {"private-key", "private-key-pkcs8-encrypted"},
      {"private-key", "private-key-pgp"},
      {"private-key", "generic-private-key"},
      {"github-app-token", "github-app-user-token"},
      {"github-app-token", "github-app-installation-token"},
      {"github-oauth", "github-oauth-token"},
      {"stripe-access-token", "stripe-secret-key"},
      {"stripe-access-token", "stripe-test-secret-key"},
      {"stripe-access-token", "stripe-restricted-key"},
      {"sendgrid-api-token", "sendgrid-api-key"},
      {"anthropic-admin-api-key", "anthropic-admin-key"},
      {"huggingface-access-token", "huggingface-token"},
      {"huggingface-organization-api-token", "huggingface-org-token"},
      {"digitalocean-access-token", "digitalocean-oauth-token"},
      {"databricks-api-token", "databricks-token"},
      {"gitlab-ptt", "gitlab-pipeline-trigger-token"},
      {"gitlab-rrt", "gitlab-runner-registration-token"},
      {"gitlab-runner-authentication-token", "gitlab-runner-token"},
      {"slack-legacy-bot-token", "slack-bot-token"},
      {"slack-webhook-url", "slack-webhook-url"},
      {"telegram-bot-api-token", "telegram-bot-token"},
      {"shopify-custom-access-token", "shopify-custom-app-token"},
      {"shopify-private-app-access-token", "shopify-private-app-token"},
      {"square-access-token", "square-access-token"},
      {"doppler-api-token", "doppler-personal-token"},
      {"vault-service-token", "vault-legacy-token"},
      {"rubygems-api-token", "rubygems-api-key"},
      {"pypi-upload-token", "pypi-upload-token"},
      {"npm-access-token", "npm-access-token"},
      {"mailgun-private-api-token", "mailgun-api-key"},
      {"mailgun-private-api-token", "mailgun-private-key"},
      {"sentry-access-token", "sentry-legacy-token"},
      {"discord-api-token", "discord-bot-token"},
      {"heroku-api-key-v2", "heroku-api-key-v2"},
      {"grafana-cloud-api-token", "grafana-cloud-token"},
      {"linear-api-key", "linear-api-key"},
      {"notion-api-token", "notion-integration-token"},
      {"planetscale-api-token", "planetscale-service-token"},
      {"flyio-access-token", "flyio-macaroon"},
  };
  return *aliases;
}

bool PositiveNumber(const std::string& s) {
  return !s.empty() && s.size() < 12 && s.find_first_not_of("0123456789") == std::string::npos &&
         s != "0";
}

std::vector<std::string> Split(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  for (char c : line) {
    if (c == ':') {
      fields.push_back(field);
      field.clear();
    } else {
      field.push_back(c);
    }
  }
  fields.push_back(field);
  return fields;
}

}  // namespace

GitleaksIgnore GitleaksIgnore::Parse(const std::string& text, const std::string& source,
                                     std::vector<std::string>& warnings) {
  GitleaksIgnore ignore;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    line = line.substr(start, line.find_last_not_of(" \t") - start + 1);
    std::vector<std::string> f = Split(line);
    bool ok = (f.size() == 3 || f.size() == 4) && PositiveNumber(f.back());
    for (const std::string& field : f) ok = ok && !field.empty();
    if (!ok) {
      warnings.push_back(source + ", line " + std::to_string(number) +
                         ": not a finding fingerprint (commit:file:rule:line or file:rule:line); "
                         "ignored");
      continue;
    }
    f[f.size() - 3] = StripDotSlash(f[f.size() - 3]);
    std::string key;
    for (size_t i = 0; i < f.size(); ++i) key += (i ? ":" : "") + f[i];
    ignore.entries_.insert(key);
    // A gitleaks rule id also stands for keyhold's rules for the same format.
    auto [lo, hi] = GitleaksAliases().equal_range(f[f.size() - 2]);
    for (auto it = lo; it != hi; ++it) {
      std::vector<std::string> alias = f;
      alias[alias.size() - 2] = it->second;
      std::string k;
      for (size_t i = 0; i < alias.size(); ++i) k += (i ? ":" : "") + alias[i];
      ignore.entries_.insert(k);
    }
  }
  return ignore;
}

std::string GitleaksFingerprint(const Finding& f) {
  std::string tail = StripDotSlash(f.path) + ":" + f.rule_id() + ":" + std::to_string(f.line);
  return f.commit.empty() ? tail : f.commit + ":" + tail;
}

bool GitleaksIgnore::Ignores(const Finding& f) const {
  std::string tail = StripDotSlash(f.path) + ":" + f.rule_id() + ":" + std::to_string(f.line);
  return entries_.count(tail) > 0 || (!f.commit.empty() && entries_.count(f.commit + ":" + tail));
}

size_t GitleaksIgnore::Apply(std::vector<Finding>& findings) const {
  size_t before = findings.size();
  std::erase_if(findings, [&](const Finding& f) { return Ignores(f); });
  return before - findings.size();
}

StatusOr<GitleaksIgnore> ReadGitleaksIgnore(const std::string& file,
                                            std::vector<std::string>& warnings) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFound("cannot read " + file);
  std::stringstream buf;
  buf << in.rdbuf();
  return GitleaksIgnore::Parse(buf.str(), file, warnings);
}

std::string RenderGitleaksJson(const std::vector<Finding>& findings) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Finding& f : findings) {
    int64_t end_column = f.column + static_cast<int64_t>(f.secret.size()) - 1;
    arr.push_back({{"RuleID", f.rule_id()},
                   {"Description", f.description()},
                   {"StartLine", f.line},
                   {"EndLine", std::max(f.line, f.end_line)},
                   {"StartColumn", f.column},
                   {"EndColumn", f.line == 0 ? 0 : end_column},
                   {"Match", "REDACTED"},
                   {"Secret", "REDACTED"},
                   {"File", f.path},
                   {"SymlinkFile", ""},
                   {"Commit", f.commit},
                   {"Entropy", f.entropy},
                   {"Author", f.author},
                   {"Email", f.email},
                   {"Date", f.date},
                   {"Message", ""},
                   {"Tags", nlohmann::json::array({f.severity()})},
                   {"Fingerprint", GitleaksFingerprint(f)}});
  }
  return arr.dump(1) + "\n";
}

}  // namespace keyhold::scan
