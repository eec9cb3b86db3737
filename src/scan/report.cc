#include "scan/report.h"

#include <array>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

namespace keyhold::scan {
namespace {

using json = nlohmann::json;

const char* KindName(FindingKind k) {
  return k == FindingKind::kKeyholdKey ? "keyhold-key" : "rule";
}

json FindingJson(const Finding& f) {
  json j = {{"ruleId", f.rule_id()},
            {"kind", KindName(f.kind)},
            {"description", f.description()},
            {"severity", f.severity()},
            {"path", f.path},
            {"line", f.line},
            {"endLine", f.end_line},
            {"column", f.column},
            {"secretMasked", f.Masked()},
            {"fingerprint", f.fingerprint},
            {"entropy", std::round(f.entropy * 100) / 100}};
  if (!f.revoke_url().empty()) j["revokeUrl"] = f.revoke_url();
  if (f.kind == FindingKind::kKeyholdKey) {
    j["keyPrefix"] = f.key_prefix;
    j["keyStart"] = f.key_start;
    if (!f.leak_action.empty()) j["leakAction"] = f.leak_action;
  }
  if (!f.commit.empty()) {
    j["commit"] = f.commit;
    j["author"] = f.author;
    j["email"] = f.email;
    j["date"] = f.date;
  }
  return j;
}

// SARIF's levels; GitHub code scanning reads "security-severity" (a CVSS-like score) too.
const char* SarifLevel(const std::string& severity) {
  if (severity == "critical" || severity == "high") return "error";
  return severity == "medium" ? "warning" : "note";
}
const char* SecuritySeverity(const std::string& severity) {
  if (severity == "critical") return "9.5";
  if (severity == "high") return "8.0";
  if (severity == "medium") return "5.5";
  return severity == "low" ? "3.0" : "1.0";
}

// SARIF URIs are relative references: percent-encode what is not allowed unescaped.
std::string UriOf(const std::string& path) {
  static const char* kHex = "0123456789ABCDEF";
  std::string p = path;
  if (p.starts_with("./")) p = p.substr(2);
  std::string out;
  for (unsigned char c : p) {
    if (std::isalnum(c) || std::strchr("-._~/", c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// What `keyhold scan --revoke` did with a keyhold key, for people.
std::string LeakActionText(const std::string& action) {
  if (action == "revoked") return "revoked by the server";
  if (action == "disabled") return "disabled by the server (its API disables leaked keys)";
  if (action == "none") {
    return "nothing done (not a key of that server this token may act on, or already revoked)";
  }
  return "the report did not reach the server: revoke this key by hand";
}

// The text report's numbers and masked secrets are appended in place: it has a few per finding,
// and a temporary string for each cost more than the rest of the line.
void AppendNumber(std::string& out, int64_t n) {
  std::array<char, 24> digits;
  auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), n);
  out.append(digits.data(), end);
}

// As Finding::Masked().
void AppendMasked(std::string& out, const Finding& f) {
  if (f.kind == FindingKind::kKeyholdKey) {
    out += f.key_start;
    out += "…";
    return;
  }
  out.append(f.secret, 0, std::min<size_t>(4, f.secret.size() / 4));
  out += "…(";
  AppendNumber(out, static_cast<int64_t>(f.secret.size()));
  out += ')';
}

}  // namespace

StatusOr<ReportFormat> ParseReportFormat(const std::string& name) {
  if (name == "text") return ReportFormat::kText;
  if (name == "json") return ReportFormat::kJson;
  if (name == "sarif") return ReportFormat::kSarif;
  if (name == "gitleaks-json" || name == "gitleaks") return ReportFormat::kGitleaksJson;
  return InvalidArgument("unknown report format '" + name +
                         "' (text, json, sarif or gitleaks-json)");
}

std::string RenderText(const std::vector<Finding>& findings) {
  // Appended to one string sized for all of it: a report of hundreds of thousands of findings
  // would otherwise be copied each time a stream's buffer grew.
  size_t size = 0;
  for (const Finding& f : findings) {
    size += f.path.size() + f.rule_id().size() + f.severity().size() + f.description().size() +
            f.fingerprint.size() + f.revoke_url().size() + f.commit.size() + f.author.size() +
            f.email.size() + f.date.size() + 160;
  }
  std::string out;
  out.reserve(size);
  for (const Finding& f : findings) {
    out += f.path;
    if (f.line == 0) {  // a path rule: the file itself
      out += ": ";
      out += f.rule_id();
      out += "  (the file)";
    } else {
      out += ':';
      AppendNumber(out, f.line);
      out += ':';
      AppendNumber(out, f.column);
      out += ": ";
      out += f.rule_id();
      out += " [";
      out += f.severity();
      out += "]  ";
      AppendMasked(out, f);
    }
    if (!f.commit.empty()) {
      out += "  (commit ";
      out += std::string_view(f.commit).substr(0, 12);
      out += ", ";
      out += f.author;
      out += " <";
      out += f.email;
      out += ">, ";
      out += f.date;
      out += ")";
    }
    out += "\n    ";
    out += f.description();
    out += "  [fingerprint ";
    out += f.fingerprint;
    out += "]\n";
    if (!f.revoke_url().empty()) {
      out += "    revoke it: ";
      out += f.revoke_url();
      out += "\n";
    }
    if (!f.leak_action.empty()) {
      out += "    reported leaked: ";
      out += LeakActionText(f.leak_action);
      out += "\n";
    }
  }
  return out;
}

std::string RenderJson(const std::vector<Finding>& findings) {
  json arr = json::array();
  for (const Finding& f : findings) arr.push_back(FindingJson(f));
  return arr.dump(2) + "\n";
}

std::string RenderSarif(const std::vector<Finding>& findings, const std::vector<Rule>& rules,
                        const std::string& version) {
  json driver_rules = json::array();
  std::map<std::string, size_t> index;
  auto add_rule = [&](const std::string& id, const std::string& description,
                      const std::string& severity, const std::string& revoke_url) {
    index[id] = driver_rules.size();
    json rule = {{"id", id},
                 {"name", id},
                 {"shortDescription", {{"text", description.empty() ? id : description}}},
                 {"defaultConfiguration", {{"level", SarifLevel(severity)}}},
                 {"properties",
                  {{"security-severity", SecuritySeverity(severity)}, {"severity", severity}}}};
    if (!revoke_url.empty()) rule["helpUri"] = revoke_url;
    driver_rules.push_back(rule);
  };
  const Rule& key_rule = KeyholdKeyRule();
  add_rule(key_rule.id, key_rule.description, key_rule.severity, key_rule.revoke_url);
  for (const Rule& r : rules) add_rule(r.id, r.description, r.severity, r.revoke_url);
  json results = json::array();
  for (const Finding& f : findings) {
    if (!index.count(f.rule_id()))
      add_rule(f.rule_id(), f.description(), f.severity(), f.revoke_url());
    json region = {{"startLine", std::max<int64_t>(1, f.line)},
                   {"startColumn", std::max<int64_t>(1, f.column)},
                   {"endLine", std::max<int64_t>(1, std::max(f.line, f.end_line))}};
    json result = {
        {"ruleId", f.rule_id()},
        {"ruleIndex", index[f.rule_id()]},
        {"level", SarifLevel(f.severity())},
        {"message",
         {{"text", f.description() + ": " + f.Masked() +
                       (f.revoke_url().empty() ? "" : " (revoke it: " + f.revoke_url() + ")")}}},
        {"locations",
         json::array({{{"physicalLocation",
                        {{"artifactLocation", {{"uri", UriOf(f.path)}}}, {"region", region}}}}})},
        {"partialFingerprints", {{"secretFingerprint/v1", f.fingerprint}}}};
    json props = {{"severity", f.severity()}};
    if (!f.commit.empty()) {
      props["commit"] = f.commit;
      props["author"] = f.author;
      props["date"] = f.date;
    }
    if (f.kind == FindingKind::kKeyholdKey) {
      props["keyPrefix"] = f.key_prefix;
      props["keyStart"] = f.key_start;
      if (!f.leak_action.empty()) props["leakAction"] = f.leak_action;
    }
    if (!props.empty()) result["properties"] = props;
    results.push_back(result);
  }
  json doc = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs",
       json::array(
           {{{"tool",
              {{"driver", {{"name", "keyhold"}, {"version", version}, {"rules", driver_rules}}}}},
             {"results", results}}})}};
  return doc.dump(2) + "\n";
}

StatusOr<std::set<BaselineKey>> ReadBaseline(const std::string& file) {
  std::ifstream in(file);
  if (!in) return NotFound("cannot read baseline " + file);
  json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("findings") || !doc["findings"].is_array()) {
    return InvalidArgument(
        file + " is not a keyhold baseline (expected {\"version\":1,\"findings\":[...]})");
  }
  std::set<BaselineKey> out;
  for (const json& f : doc["findings"]) {
    if (!f.is_object() || !f.value("rule", json()).is_string() ||
        !f.value("path", json()).is_string() || !f.value("fingerprint", json()).is_string()) {
      return InvalidArgument(file + ": each finding needs string 'rule', 'path' and 'fingerprint'");
    }
    out.emplace(f["rule"].get<std::string>(), f["path"].get<std::string>(),
                f["fingerprint"].get<std::string>());
  }
  return out;
}

Status WriteBaseline(const std::string& file, const std::vector<Finding>& findings) {
  std::set<BaselineKey> keys;
  for (const Finding& f : findings) keys.emplace(f.rule_id(), f.path, f.fingerprint);
  json arr = json::array();
  for (const auto& [rule, path, fp] : keys) {
    arr.push_back({{"rule", rule}, {"path", path}, {"fingerprint", fp}});
  }
  std::ofstream out(file, std::ios::trunc);
  out << json{{"version", 1}, {"findings", arr}}.dump(2) << "\n";
  out.close();
  if (!out) return Unavailable("cannot write baseline " + file);
  return OkStatus();
}

size_t ApplyBaseline(const std::set<BaselineKey>& baseline, std::vector<Finding>& findings) {
  size_t before = findings.size();
  std::erase_if(findings, [&](const Finding& f) {
    return baseline.count({f.rule_id(), f.path, f.fingerprint}) > 0;
  });
  return before - findings.size();
}

}  // namespace keyhold::scan
