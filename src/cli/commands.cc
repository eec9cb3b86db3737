// The `keyhold` command line: `serve` and `init` run locally; every other command is a client of
// a server at KEYHOLD_ADDR, authenticated with KEYHOLD_TOKEN.
//
// Exit codes: 0 success; 1 the server answered with an error (or, for `keys verify`, the key is
// not valid; for `ratelimit limit`, the limit refused the request); 2 bad usage or settings; 3 the
// server could not be reached.
#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <tuple>

#include "cli/client.h"
#include "server/serve.h"

namespace keyhold::cli {
namespace {

using nlohmann::json;

constexpr int kExitApiError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

struct ClientFlags {
  bool json_output = false;
  bool quiet = false;  // print only the value a script needs (QuietValue)
};

// The one value of an answer a script wants, for --quiet: a new key's text (shown only once),
// else the id of what was created or shown; for a list, each element's id on its own line.
void PrintQuiet(const json& data) {
  auto id_of = [](const json& d) -> std::string {
    if (!d.is_object()) return "";
    for (const char* f : {"key", "keyId", "apiId", "id"}) {
      if (d.contains(f) && d[f].is_string()) return d[f].get<std::string>();
    }
    return "";
  };
  if (data.is_array()) {
    for (const json& d : data) {
      if (std::string id = id_of(d); !id.empty()) std::printf("%s\n", id.c_str());
    }
  } else if (std::string v = id_of(data); !v.empty()) {
    std::printf("%s\n", v.c_str());
  }
}

// Calls the server and prints `data` (JSON, or through `human`); returns the exit code.
// `exit_for` may turn a successful answer into a non-zero exit code (keys verify).
int Run(const std::string& op, const json& body, const ClientFlags& flags,
        const std::function<void(const json&)>& human,
        const std::function<int(const json&)>& exit_for = nullptr) {
  auto client = ApiClient::FromEnvironment();
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", client.status().message().c_str());
    return kExitUsage;
  }
  auto result = client->Call(op, body);
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", result.status().message().c_str());
    return kExitUnreachable;
  }
  if (result->http_status != 200) {
    if (flags.json_output) {
      std::printf("%s\n", result->body.dump(2).c_str());
    } else {
      PrintApiError(result->body);
    }
    return kExitApiError;
  }
  const json& data = result->body["data"];
  if (flags.json_output) {
    json out = data;
    if (result->body.contains("pagination")) {
      out = {{"data", data}, {"pagination", result->body["pagination"]}};
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else if (flags.quiet) {
    PrintQuiet(data);
  } else {
    human(data);
    if (result->body.contains("pagination") && result->body["pagination"].value("hasMore", false)) {
      std::printf("more: --cursor %s\n", result->body["pagination"].value("cursor", "").c_str());
    }
  }
  return exit_for ? exit_for(data) : 0;
}

// `text` with control characters replaced, for a terminal (a reason is anyone's text).
std::string Printable(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return text;
}

// One line per key under PrintKeyHeader's columns: id, start, state, name.
void PrintKey(const json& k) {
  std::string state = k.value("enabled", true) ? "enabled" : "disabled";
  if (k.contains("revokedAt"))
    state = "revoked (" + Printable(k.value("revocationReason", "")) + ")";
  std::printf("%-24s  %-10s  %-8s  %s\n", k.value("keyId", "").c_str(),
              k.value("start", "").c_str(), state.c_str(),
              Printable(k.value("name", std::string())).c_str());
}

void PrintKeyHeader() {
  std::printf("%-24s  %-10s  %-8s  %s\n", "KEY ID", "START", "STATE", "NAME");
}

void PrintCreatedKey(const json& d) {
  std::printf("key id: %s\nkey:    %s\n(the key is shown only this once)\n",
              d.value("keyId", "").c_str(), d.value("key", "").c_str());
}

// keys reroll / root-keys reroll: `overlap` is a duration ("24h"); prints the new key once.
int Reroll(const std::string& op, const std::string& key_id, const std::string& overlap,
           const ClientFlags& flags) {
  auto ms = server::ParseDuration(overlap);
  if (!ms.ok()) {
    std::fprintf(stderr, "error: --overlap: %s\n", ms.status().message().c_str());
    return kExitUsage;
  }
  return Run(op, {{"keyId", key_id}, {"expiration", ms->count()}}, flags, PrintCreatedKey);
}

json ParseJsonFlag(const std::string& text, const std::string& flag) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw CLI::ValidationError(flag, "must be a JSON object");
  }
  return j;
}

// Reads a key from stdin when the argument is "-", so it need not appear in the process list.
std::string KeyArgument(const std::string& arg) {
  if (arg != "-") return arg;
  std::string line;
  std::getline(std::cin, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

// --max-key-age and --overdue-grace ("90d") into `body` as milliseconds, where given. False
// (after saying which) if one does not parse.
bool PutPolicyDurations(json& body, const std::string& max_key_age,
                        const std::string& overdue_grace) {
  for (auto [flag, text, field] : {std::tuple{"--max-key-age", &max_key_age, "maxKeyAge"},
                                   std::tuple{"--overdue-grace", &overdue_grace, "overdueGrace"}}) {
    if (text->empty()) continue;
    auto ms = server::ParseDuration(*text);
    if (!ms.ok()) {
      std::fprintf(stderr, "error: %s: %s\n", flag, ms.status().message().c_str());
      return false;
    }
    body[field] = ms->count();
  }
  return true;
}

void AddApis(CLI::App& app, ClientFlags& flags, int& code) {
  auto* apis = app.add_subcommand("apis", "manage APIs (keyspaces)");
  apis->require_subcommand(1);

  auto* create = apis->add_subcommand("create", "create an API");
  static std::string name, prefix;
  static int byte_length = 0;
  static std::vector<std::string> allow;
  create->add_option("--name", name, "API name")->required();
  create->add_option("--default-prefix", prefix, "prefix of keys created without one");
  create->add_option("--default-byte-length", byte_length, "random bytes per key (16-255)");
  create->add_option("--ip-allowlist", allow, "CIDRs allowed to use its keys (repeatable)");
  static std::string on_leak, max_key_age, overdue_grace;
  create->add_option("--on-leak", on_leak, "what a leak report does to a key: revoke or disable")
      ->check(CLI::IsMember({"revoke", "disable"}));
  create->add_option("--max-key-age", max_key_age,
                     "rotation policy: keys older than this are due, e.g. 90d");
  create->add_option(
      "--overdue-grace", overdue_grace,
      "with --max-key-age: overdue keys expire this long after falling due, e.g. 7d");
  create->callback([&] {
    json body = {{"name", name}};
    if (!prefix.empty()) body["defaultPrefix"] = prefix;
    if (byte_length) body["defaultByteLength"] = byte_length;
    if (!allow.empty()) body["ipAllowlist"] = allow;
    if (!on_leak.empty()) body["onLeak"] = on_leak;
    if (!PutPolicyDurations(body, max_key_age, overdue_grace)) {
      code = kExitUsage;
      return;
    }
    code = Run("apis.createApi", body, flags,
               [](const json& d) { std::printf("%s\n", d.value("apiId", "").c_str()); });
  });

  static std::string api_id;
  auto* get = apis->add_subcommand("get", "show an API");
  get->add_option("API_ID", api_id)->required();
  get->callback([&] {
    code = Run("apis.getApi", {{"apiId", api_id}}, flags, [](const json& d) {
      std::printf("%s  %s\n", d.value("id", "").c_str(), d.value("name", "").c_str());
    });
  });

  auto* list = apis->add_subcommand("list", "list the APIs this root key may read");
  list->callback([&] {
    code = Run("apis.listApis", json::object(), flags, [](const json& d) {
      if (d.empty()) {
        std::printf("no APIs\n");
        return;
      }
      std::printf("%-24s  %s\n", "API ID", "NAME");
      for (const auto& a : d) {
        std::printf("%-24s  %s\n", a.value("id", "").c_str(),
                    Printable(a.value("name", std::string())).c_str());
      }
    });
  });

  auto* update = apis->add_subcommand(
      "update", "change an API's name, IP allowlist, leak response or rotation policy");
  static std::string new_name, up_on_leak, up_max_age, up_grace;
  static std::vector<std::string> up_allow;
  static bool clear_allow = false, clear_policy = false;
  update->add_option("API_ID", api_id)->required();
  update->add_option("--name", new_name, "new name");
  update->add_option("--ip-allowlist", up_allow, "CIDRs allowed to use its keys (repeatable)");
  update->add_flag("--any-ip", clear_allow, "remove the IP allowlist");
  update->add_option("--on-leak", up_on_leak, "what a leak report does to a key: revoke or disable")
      ->check(CLI::IsMember({"revoke", "disable"}));
  update->add_option("--max-key-age", up_max_age,
                     "rotation policy: keys older than this are due, e.g. 90d");
  update->add_option("--overdue-grace", up_grace,
                     "overdue keys expire this long after falling due, e.g. 7d");
  update->add_flag("--no-rotation-policy", clear_policy,
                   "remove the rotation policy (maximum key age and overdue grace)");
  update->callback([&] {
    json body = {{"apiId", api_id}};
    if (!new_name.empty()) body["name"] = new_name;
    if (!up_allow.empty()) body["ipAllowlist"] = up_allow;
    if (clear_allow) body["ipAllowlist"] = nullptr;
    if (!up_on_leak.empty()) body["onLeak"] = up_on_leak;
    if (clear_policy) body["maxKeyAge"] = nullptr;
    if (!PutPolicyDurations(body, up_max_age, up_grace)) {
      code = kExitUsage;
      return;
    }
    if (body.size() == 1) {
      std::fprintf(stderr, "error: nothing to change: give at least one option\n");
      code = kExitUsage;
      return;
    }
    code = Run("apis.updateApi", body, flags,
               [](const json& d) { std::printf("%s updated\n", d.value("id", "").c_str()); });
  });
  update->get_option("--any-ip")->excludes("--ip-allowlist");
  update->get_option("--no-rotation-policy")
      ->excludes("--max-key-age")
      ->excludes("--overdue-grace");

  auto* del = apis->add_subcommand("delete", "delete an API and every key in it");
  del->add_option("API_ID", api_id)->required();
  del->callback([&] {
    code = Run("apis.deleteApi", {{"apiId", api_id}}, flags,
               [](const json&) { std::printf("deleted\n"); });
  });
}

void AddRevoke(CLI::App& keys, ClientFlags& flags, int& code);
void AddReportLeak(CLI::App& keys, ClientFlags& flags, int& code);
void AddDue(CLI::App& keys, ClientFlags& flags, int& code);
void AddImport(CLI::App& keys, ClientFlags& flags, int& code);

void AddKeys(CLI::App& app, ClientFlags& flags, int& code) {
  auto* keys = app.add_subcommand("keys", "manage and verify keys");
  keys->require_subcommand(1);

  static std::string api_id, name, prefix, external_id, meta, key_id, key, cursor;
  static std::vector<std::string> permissions, roles;
  static int64_t expires = 0, credits = -1, cost = -1;
  static int byte_length = 0, limit = 0;
  static bool disabled = false, permanent = false;

  auto* create = keys->add_subcommand("create", "create a key (printed once)");
  create->add_option("--api-id", api_id, "API the key belongs to")->required();
  create->add_option("--name", name, "display name");
  create->add_option("--prefix", prefix, "key prefix (at most 16 of [a-zA-Z0-9_])");
  create->add_option("--byte-length", byte_length, "random bytes (16-255, default 32)");
  create->add_option("--external-id", external_id, "your id of the key's owner (identity)");
  create->add_option("--meta", meta, "JSON object stored with the key");
  create->add_option("--permission", permissions, "permission slug (repeatable)");
  create->add_option("--role", roles, "role name (repeatable)");
  create->add_option("--expires", expires, "expiry, Unix time in milliseconds");
  create->add_option("--credits", credits, "number of uses allowed");
  create->add_flag("--disabled", disabled, "create the key disabled");
  create->callback([&] {
    json body = {{"apiId", api_id}};
    if (!name.empty()) body["name"] = name;
    if (!prefix.empty()) body["prefix"] = prefix;
    if (byte_length) body["byteLength"] = byte_length;
    if (!external_id.empty()) body["externalId"] = external_id;
    if (!meta.empty()) body["meta"] = ParseJsonFlag(meta, "--meta");
    if (!permissions.empty()) body["permissions"] = permissions;
    if (!roles.empty()) body["roles"] = roles;
    if (expires) body["expires"] = expires;
    if (credits >= 0) body["credits"] = {{"remaining", credits}};
    if (disabled) body["enabled"] = false;
    code = Run("keys.createKey", body, flags, PrintCreatedKey);
  });

  auto* verify = keys->add_subcommand("verify", "verify a key; exit 0 only if it is valid");
  verify->add_option("KEY", key, "the key, or - to read it from standard input")->required();
  static std::vector<std::string> required;
  verify->add_option("--permission", required,
                     "permission the key must hold, or a query such as 'a.read AND (b OR c)' "
                     "(repeatable: all must hold)");
  verify->add_option("--permissions", required)->group("");  // the former name, hidden
  verify->add_option("--cost", cost, "credits to spend (default 1)");
  verify->callback([&] {
    json body = {{"key", KeyArgument(key)}};
    if (required.size() == 1) {
      body["permissions"] = required.front();
    } else if (!required.empty()) {
      std::string all;
      for (const std::string& q : required) all += (all.empty() ? "(" : " AND (") + q + ")";
      body["permissions"] = all;
    }
    if (cost >= 0) body["credits"] = {{"cost", cost}};
    code = Run(
        "keys.verifyKey", body, flags,
        [](const json& d) {
          std::printf("%s%s\n", d.value("code", "").c_str(),
                      d.contains("keyId") ? ("  " + d["keyId"].get<std::string>()).c_str() : "");
        },
        [](const json& d) { return d.value("valid", false) ? 0 : kExitApiError; });
  });

  auto* get = keys->add_subcommand("get", "show a key");
  get->add_option("KEY_ID", key_id)->required();
  get->callback([&] {
    code = Run("keys.getKey", {{"keyId", key_id}}, flags, [](const json& d) {
      PrintKey(d);
      std::printf("%s\n", d.dump(2).c_str());
    });
  });

  auto* list = keys->add_subcommand("list", "list the keys of an API");
  list->add_option("--api-id", api_id)->required();
  list->add_option("--limit", limit, "page size (1-100)");
  list->add_option("--cursor", cursor, "continue after this cursor");
  list->add_option("--external-id", external_id, "only keys of this identity");
  static bool include_revoked = false;
  list->add_flag("--include-revoked", include_revoked, "also list revoked keys, with the reason");
  list->callback([&] {
    json body = {{"apiId", api_id}};
    if (include_revoked) body["includeRevoked"] = true;
    if (limit) body["limit"] = limit;
    if (!cursor.empty()) body["cursor"] = cursor;
    if (!external_id.empty()) body["externalId"] = external_id;
    code = Run("apis.listKeys", body, flags, [](const json& d) {
      if (d.empty()) {
        std::printf("no keys\n");
        return;
      }
      PrintKeyHeader();
      for (const auto& k : d) PrintKey(k);
    });
  });

  static std::string enabled;
  auto* update = keys->add_subcommand("update", "change a key");
  update->add_option("KEY_ID", key_id)->required();
  update->add_option("--name", name, "display name");
  update->add_option("--meta", meta, "JSON object stored with the key");
  update->add_option("--enabled", enabled, "true or false")
      ->check(CLI::IsMember({"true", "false"}));
  update->add_option("--expires", expires, "expiry, Unix time in milliseconds");
  update->add_option("--credits", credits, "remaining uses");
  update->add_option("--permission", permissions, "replace the permissions (repeatable)");
  update->add_option("--role", roles, "replace the roles (repeatable)");
  update->callback([&] {
    json body = {{"keyId", key_id}};
    if (!name.empty()) body["name"] = name;
    if (!meta.empty()) body["meta"] = ParseJsonFlag(meta, "--meta");
    if (!enabled.empty()) body["enabled"] = enabled == "true";
    if (expires) body["expires"] = expires;
    if (credits >= 0) body["credits"] = {{"remaining", credits}};
    if (!permissions.empty()) body["permissions"] = permissions;
    if (!roles.empty()) body["roles"] = roles;
    code = Run("keys.updateKey", body, flags, [](const json&) { std::printf("updated\n"); });
  });

  static std::string overlap;
  auto* reroll = keys->add_subcommand(
      "reroll", "replace a key: a new key like it, the old one working on for --overlap");
  reroll->add_option("KEY_ID", key_id)->required();
  reroll
      ->add_option("--overlap", overlap,
                   "how long the old key keeps working, e.g. 24h or 7d; 0 ends it at once")
      ->required();
  reroll->callback([&] { code = Reroll("keys.rerollKey", key_id, overlap, flags); });

  auto* del = keys->add_subcommand("delete", "revoke a key at once");
  del->add_option("KEY_ID", key_id)->required();
  del->add_flag("--permanent", permanent, "remove the record instead of marking it deleted");
  del->callback([&] {
    code = Run("keys.deleteKey", {{"keyId", key_id}, {"permanent", permanent}}, flags,
               [](const json&) { std::printf("deleted\n"); });
  });
  AddRevoke(*keys, flags, code);
  AddReportLeak(*keys, flags, code);
  AddDue(*keys, flags, code);
  AddImport(*keys, flags, code);
}

// keys revoke: one key, several, or every key matching filters, with a reason.
void AddRevoke(CLI::App& keys, ClientFlags& flags, int& code) {
  static std::vector<std::string> key_ids;
  static std::string reason, api_id, identity, created_by;
  static int64_t created_after = -1, created_before = -1;
  auto* revoke = keys.add_subcommand(
      "revoke", "revoke keys at once, with a reason: by id, or every key matching the filters");
  revoke->add_option("KEY_ID", key_ids, "key ids (optional when a filter is given)");
  revoke->add_option("--reason", reason, "why (kept with each key, shown by keys get)")->required();
  revoke->add_option("--api-id", api_id, "only keys of this API");
  revoke->add_option("--identity", identity, "only keys of this identity (id or externalId)");
  revoke->add_option("--created-after", created_after, "only keys created at or after (Unix ms)");
  revoke->add_option("--created-before", created_before, "only keys created before (Unix ms)");
  revoke->add_option("--created-by", created_by, "only keys created by this root key id");
  revoke->callback([&] {
    json body = {{"reason", reason}};
    if (!key_ids.empty()) body["keyIds"] = key_ids;
    if (!api_id.empty()) body["apiId"] = api_id;
    if (!identity.empty()) body["identity"] = identity;
    if (created_after >= 0) body["createdAfter"] = created_after;
    if (created_before >= 0) body["createdBefore"] = created_before;
    if (!created_by.empty()) body["createdBy"] = created_by;
    if (body.size() == 1) {
      std::fprintf(stderr, "error: name key ids or give a filter (--api-id, --identity, ...)\n");
      code = kExitUsage;
      return;
    }
    code = Run("keys.revokeKeys", body, flags, [](const json& d) {
      std::printf("revoked %lld keys\n", static_cast<long long>(d.value("revoked", int64_t{0})));
      for (const auto& id : d.value("keyIds", json::array())) {
        std::printf("  %s\n", id.get<std::string>().c_str());
      }
    });
  });
}

// keys report-leak: revoke (or disable, per its API) a key found leaked.
void AddReportLeak(CLI::App& keys, ClientFlags& flags, int& code) {
  static std::string key, source;
  auto* leak = keys.add_subcommand(
      "report-leak", "revoke (or disable, as its API says) a key found leaked, and raise an alert");
  leak->add_option("KEY", key, "the key, or - to read it from standard input")->required();
  leak->add_option("--source", source, "where it was found (URL, or file:line@commit)");
  leak->callback([&] {
    json body = {{"key", KeyArgument(key)}};
    if (!source.empty()) body["source"] = source;
    code = Run("keys.reportLeak", body, flags, [](const json& d) {
      std::string action = d.value("action", "none");
      if (action == "none") {
        std::printf("nothing done: not a key this root key may act on, or already revoked\n");
      } else {
        std::printf("%s\n", action.c_str());
      }
    });
  });
}

// keys due: the keys their APIs' rotation policies say to roll, earliest first.
void AddDue(CLI::App& keys, ClientFlags& flags, int& code) {
  static std::string api_id, within = "7d";
  auto* due = keys.add_subcommand(
      "due", "list keys due for rotation under their API's policy (or overdue), earliest first");
  due->add_option("--api-id", api_id, "only keys of this API");
  due->add_option("--within", within, "also keys falling due this soon (default 7d; 0 = only due)");
  due->callback([&] {
    auto ms = server::ParseDuration(within);
    if (!ms.ok()) {
      std::fprintf(stderr, "error: --within: %s\n", ms.status().message().c_str());
      code = kExitUsage;
      return;
    }
    json body = {{"within", ms->count()}};
    if (!api_id.empty()) body["apiId"] = api_id;
    code = Run("keys.listDue", body, flags, [](const json& d) {
      if (d.empty()) std::printf("no keys due\n");
      for (const auto& k : d) {
        std::time_t at = static_cast<std::time_t>(k.value("dueAt", int64_t{0}) / 1000);
        char when[32];
        std::strftime(when, sizeof when, "%Y-%m-%dT%H:%MZ", std::gmtime(&at));
        std::printf("%s  %s  %s  %s%s\n", k.value("keyId", "").c_str(),
                    k.value("apiId", "").c_str(), k.value("overdue", false) ? "OVERDUE" : "due",
                    when, k.contains("name") ? ("  " + k["name"].get<std::string>()).c_str() : "");
      }
    });
  });
}

// keys import: JSON lines of keys.migrateKeys' key objects, sent in batches of 1000.
void AddImport(CLI::App& keys, ClientFlags& flags, int& code) {
  static std::string file, api_id, migration;
  auto* import = keys.add_subcommand(
      "import", "move in keys another system issued, from JSON lines ({\"hash\": ...} per line)");
  import->add_option("FILE", file, "JSON lines, or - for standard input")->required();
  import->add_option("--api-id", api_id, "the API they join")->required();
  import
      ->add_option("--migration", migration,
                   "how they are given: sha256_hex, sha256_base64, plaintext")
      ->required()
      ->check(CLI::IsMember({"sha256_hex", "sha256_base64", "plaintext"}));
  import->callback([&] {
    std::ifstream in;
  if (file != "-") {
    in.open(file);
    if (!in) {
      std::fprintf(stderr, "error: cannot read %s\n", file.c_str());
      code = kExitUsage;
      return;
    }
  }
  std::istream& src = file == "-" ? std::cin : in;
  int64_t migrated = 0, duplicates = 0, line_no = 0;
  json batch = json::array();
  auto send = [&]() -> bool {
    if (batch.empty()) return true;
    json body = {{"migrationId", migration}, {"apiId", api_id}, {"keys", batch}};
    int c = Run("keys.migrateKeys", body, flags, [&](const json& d) {
      migrated += static_cast<int64_t>(d.value("migrated", json::array()).size());
      duplicates += static_cast<int64_t>(d.value("failed", json::array()).size());
    });
    batch = json::array();
    if (c != 0) code = c;
    return c == 0;
  };
  for (std::string line; std::getline(src, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json item = json::parse(line, nullptr, false);
    if (item.is_discarded() || !item.is_object()) {
      // The line is not echoed: it may hold a key.
      std::fprintf(stderr, "error: line %lld is not a JSON object\n",
                   static_cast<long long>(line_no));
      code = kExitUsage;
      return;
    }
    batch.push_back(std::move(item));
    if (batch.size() == 1000 && !send()) return;
  }
  if (!send()) return;
  if (!flags.json_output) {
    std::printf("imported %lld keys, %lld duplicates skipped\n", static_cast<long long>(migrated),
                static_cast<long long>(duplicates));
  }
});
}  // namespace

void AddRootKeys(CLI::App& app, ClientFlags& flags, int& code) {
  auto* root = app.add_subcommand("root-keys", "manage root keys (credentials for this API)");
  root->require_subcommand(1);
  static std::string name, key_id, cursor;
  static std::vector<std::string> permissions;
  auto* create = root->add_subcommand("create", "create a root key holding some permissions");
  create->add_option("--name", name, "display name");
  create
      ->add_option("--permission", permissions,
                   "permission, e.g. api.<apiId>.verify_key (repeatable)")
      ->required();
  create->callback([&] {
    json body = {{"permissions", permissions}};
    if (!name.empty()) body["name"] = name;
    code = Run("rootKeys.createRootKey", body, flags, PrintCreatedKey);
  });
  auto* list = root->add_subcommand("list", "list root keys");
  list->add_option("--cursor", cursor, "continue after this cursor");
  list->callback([&] {
    json body = json::object();
    if (!cursor.empty()) body["cursor"] = cursor;
    code = Run("rootKeys.listRootKeys", body, flags, [](const json& d) {
      if (d.empty()) {
        std::printf("no root keys\n");
        return;
      }
      PrintKeyHeader();
      for (const auto& k : d) {
        PrintKey(k);
        for (const auto& p : k.value("permissions", json::array())) {
          std::printf("    %s\n", p.get<std::string>().c_str());
        }
      }
    });
  });
  static std::string overlap;
  auto* reroll = root->add_subcommand(
      "reroll", "replace a root key: a new one like it, the old one working on for --overlap");
  reroll->add_option("KEY_ID", key_id)->required();
  reroll
      ->add_option("--overlap", overlap,
                   "how long the old root key keeps working, e.g. 1h; 0 ends it at once")
      ->required();
  reroll->callback([&] { code = Reroll("rootKeys.rerollRootKey", key_id, overlap, flags); });
  auto* del = root->add_subcommand("delete", "delete a root key");
  del->add_option("KEY_ID", key_id)->required();
  del->callback([&] {
    code = Run("rootKeys.deleteRootKey", {{"keyId", key_id}}, flags,
               [](const json&) { std::printf("deleted\n"); });
  });
}

void AddUsage(CLI::App& app, ClientFlags& flags, int& code) {
  static std::vector<std::string> key_ids, api_ids, identity_ids, outcomes;
  static std::vector<std::string> group_by{"time", "outcome"};
  static std::string since = "24h", granularity = "hour";
  auto* usage = app.add_subcommand("usage", "count verifications per key, API, outcome and time");
  usage->add_option("--key-id", key_ids, "only this key id (repeatable)");
  usage->add_option("--key", key_ids)->group("");  // the former name, hidden
  usage->add_option("--api-id", api_ids, "only this API id (repeatable)");
  usage->add_option("--api", api_ids)->group("");  // the former name, hidden
  usage->add_option("--identity", identity_ids, "only this identity id (repeatable)");
  usage->add_option("--outcome", outcomes, "only this outcome, e.g. VALID (repeatable)");
  usage->add_option("--since", since, "how far back, e.g. 90m, 24h, 7d (default 24h)");
  usage->add_option("--granularity", granularity, "minute, hour or day (default hour)")
      ->check(CLI::IsMember({"minute", "hour", "day"}));
  usage->add_option("--group-by", group_by, "time, key, identity, api, outcome (repeatable)")
      ->check(CLI::IsMember({"time", "key", "identity", "api", "outcome"}));
  usage->add_flag("--json", flags.json_output, "print the server's data as JSON");
  usage->callback([&] {
    auto back = server::ParseDuration(since);
    if (!back.ok()) {
      std::fprintf(stderr, "error: --since: %s\n", back.status().message().c_str());
      code = kExitUsage;
      return;
    }
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    json body = {
        {"since", now - back->count()}, {"granularity", granularity}, {"groupBy", group_by}};
    if (!key_ids.empty()) body["keyIds"] = key_ids;
    if (!api_ids.empty()) body["apiIds"] = api_ids;
    if (!identity_ids.empty()) body["identityIds"] = identity_ids;
    if (!outcomes.empty()) body["outcomes"] = outcomes;
    code = Run("analytics.getVerifications", body, flags, [](const json& rows) {
      if (rows.empty()) {
        std::printf("no verifications\n");
        return;
      }
      for (const json& r : rows) {
        std::string line;
        if (r.contains("time")) {
          std::time_t t = r["time"].get<int64_t>() / 1000;
          char buf[32];
          std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%MZ", std::gmtime(&t));
          line += std::string(buf) + "  ";
        }
        for (const char* f : {"apiId", "keyId", "identityId", "outcome"}) {
          if (r.contains(f)) line += r[f].get<std::string>() + "  ";
        }
        std::printf("%s%lld\n", line.c_str(), r.value("count", 0LL));
      }
    });
  });
}

}  // namespace keyhold::cli

namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The closest of `names` to `word`, if close enough to be a likely typo; else "".
std::string Closest(std::string_view word, const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& n : names) {
    size_t d = EditDistance(word, n);
    if (d < best_distance || (d == best_distance && best.empty() && n.starts_with(word))) {
      best = n;
      best_distance = d;
    }
  }
  return best;
}

std::vector<std::string> SubcommandNames(const CLI::App* app) {
  std::vector<std::string> out;
  for (const CLI::App* sub : app->get_subcommands({})) out.push_back(sub->get_name());
  return out;
}

// Every long flag `app` (and, falling through, its parents) accepts, hidden aliases included.
std::vector<std::string> FlagNames(const CLI::App* app) {
  std::vector<std::string> out;
  for (; app; app = app->get_parent()) {
    for (const CLI::Option* o : app->get_options({})) {
      for (const std::string& l : o->get_lnames()) out.push_back("--" + l);
    }
  }
  return out;
}

const CLI::Option* FindFlag(const CLI::App* app, const std::string& flag) {
  for (; app; app = app->get_parent()) {
    for (const CLI::Option* o : app->get_options({})) {
      if (o->check_lname(flag.substr(2))) return o;
    }
  }
  return nullptr;
}

// After a parse error: walks the words as given through the command tree and, at the first word
// that is no command or flag there, says so on standard error with the closest correct one.
// Returns false when it found nothing to say (CLI11's own message is printed then).
bool ExplainUnknown(const CLI::App& root, int argc, char** argv) {
  const CLI::App* at = &root;
  std::string path = "keyhold";
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--") return false;
    if (word.starts_with("--")) {
      std::string flag = word.substr(0, word.find('='));
      const CLI::Option* o = FindFlag(at, flag);
      if (!o) {
        std::string near = Closest(flag, FlagNames(at));
        // A hidden former name is suggested as the name to use now.
        static const std::pair<std::string_view, std::string_view> kRenamed[] = {
            {"--permissions", "--permission"}, {"--key", "--key-id"}, {"--api", "--api-id"}};
        for (auto [before, now] : kRenamed) {
          if (near == before) near = now;
        }
        std::fprintf(stderr, "%s: unknown flag '%s'%s\nRun '%s --help' for its flags.\n",
                     path.c_str(), flag.c_str(),
                     near.empty() ? "" : ("; did you mean '" + near + "'?").c_str(), path.c_str());
        return true;
      }
      if (word.find('=') == std::string::npos && o->get_items_expected_max() > 0) ++i;
      continue;
    }
    if (word.starts_with("-")) continue;
    std::vector<std::string> subs = SubcommandNames(at);
    if (subs.empty()) continue;  // a positional argument
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : at->get_subcommands({})) {
      if (sub->get_name() == word) next = sub;
    }
    if (!next) {
      if (!at->get_options([](const CLI::Option* o) { return o->get_positional(); }).empty()) {
        continue;
      }
      std::string near = Closest(word, subs);
      std::string list;
      for (const std::string& n : subs) list += (list.empty() ? "" : ", ") + n;
      std::fprintf(stderr, "%s: unknown command '%s'%s\nCommands: %s\n", path.c_str(), word.c_str(),
                   near.empty() ? "" : ("; did you mean '" + near + "'?").c_str(), list.c_str());
      return true;
    }
    at = next;
    path += " " + word;
  }
  return false;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{
      "keyhold — one self-hosted server for an application's API keys (Unkey v2 API) and the\n"
      "third-party secrets it holds (Vault KV v2 API), with a hash-chained audit log, usage\n"
      "analytics, anomaly alerts and a leak scanner for files and git history.\n"
      "Client commands talk to KEYHOLD_ADDR (default http://127.0.0.1:8080) with the root key in\n"
      "KEYHOLD_TOKEN; for https with a private CA, --cacert FILE or KEYHOLD_CACERT. Exit codes:\n"
      "0 success, 1 the server answered with an error, the key is not valid or the rate limit\n"
      "refused the request, 2 bad usage, 3 server unreachable.",
      "keyhold"};
  app.require_subcommand(1);
  // Options of the top level may also follow a subcommand (keyhold keys list --cacert ca.pem).
  app.fallthrough();
  std::string cacert;
  app.add_option("--cacert", cacert,
                 "PEM file of the CAs to trust for an https KEYHOLD_ADDR (e.g. a private CA) "
                 "[env KEYHOLD_CACERT]")
      ->check(CLI::ExistingFile)
      ->each([](const std::string& file) { setenv("KEYHOLD_CACERT", file.c_str(), 1); });
  app.set_version_flag("--version", KEYHOLD_VERSION);
  ClientFlags flags;
  int code = 0;

  // Only the command the first word names is built (its options, their help, their checks),
  // since building all of them took longer than many commands run. Every command is built when
  // the first word names none (keyhold --help, a mistyped command: the list of commands and the
  // closest one are shown then) and for `completion`, which is generated from all of them.
  // Building only one changes nothing in what the command line accepts or prints.
  const std::string_view first = argc > 1 ? std::string_view(argv[1]) : std::string_view();
  static constexpr std::string_view kCommands[] = {
      "serve", "init",     "apis",   "keys",      "root-keys", "usage",    "bench", "scan", "hook",
      "audit", "webhooks", "alerts", "ratelimit", "secrets",   "operator", "file",  "run"};
  // `keyhold --version` alone needs none of them.
  const bool none = argc == 2 && first == "--version";
  const bool all =
      !none && std::find(std::begin(kCommands), std::end(kCommands), first) == std::end(kCommands);
  auto wanted = [&](std::initializer_list<std::string_view> names) {
    return all || std::find(names.begin(), names.end(), first) != names.end();
  };

  std::optional<server::Settings> serve_settings;
  std::string config_path;
  std::string check_config_path;
  if (wanted({"serve"})) {
    serve_settings.emplace(server::ServeSettingTable());
    auto* serve = app.add_subcommand("serve", "run the keyhold server");
    serve_settings->AddTo(*serve);
    serve->add_option("--config", config_path,
                      "TOML file of settings (keys as below); flags win over KEYHOLD_* variables, "
                      "which win over the file [env KEYHOLD_CONFIG]");
    serve->add_option("--check-config", check_config_path,
                      "check this TOML file (and the flags and KEYHOLD_* variables given) as "
                      "serve would, report every problem with its line, and exit 0 or 2 without "
                      "serving");
    serve->callback([&] {
      if (!check_config_path.empty()) {
        code = server::CheckConfig(*serve_settings, check_config_path);
        return;
      }
      if (config_path.empty()) {
        if (const char* c = std::getenv("KEYHOLD_CONFIG")) config_path = c;
      }
      Status st = serve_settings->Resolve(config_path);
      if (!st.ok()) {
        std::fprintf(stderr, "keyhold serve: %s\n", st.message().c_str());
        code = kExitUsage;
        return;
      }
      code = server::Serve(*serve_settings);
    });
  }

  std::optional<server::Settings> init_settings;
  bool init_json = false;
  if (wanted({"init"})) {
    init_settings.emplace(server::ServeSettingTable());
    auto* init =
        app.add_subcommand("init", "create a data directory, master key and first root key");
    init_settings->AddTo(*init);
    init->add_flag("--json", init_json, "print {\"rootKeyId\",\"rootKey\"} as JSON");
    init->callback([&] {
      Status st = init_settings->Resolve("");
      if (!st.ok()) {
        std::fprintf(stderr, "keyhold init: %s\n", st.message().c_str());
        code = kExitUsage;
        return;
      }
      code = server::Init(*init_settings, init_json);
    });
  }

  if (wanted({"apis"})) AddApis(app, flags, code);
  if (wanted({"keys"})) AddKeys(app, flags, code);
  if (wanted({"root-keys"})) AddRootKeys(app, flags, code);
  if (wanted({"usage"})) AddUsage(app, flags, code);
  if (wanted({"bench"})) AddBench(app, code);
  if (wanted({"scan", "hook"})) AddScan(app, code);
  if (wanted({"audit"})) AddAudit(app, code);
  if (wanted({"webhooks", "alerts"})) AddAlertCommands(app, code);
  if (wanted({"ratelimit"})) AddRatelimit(app, code);
  if (wanted({"secrets", "operator"})) {
    AddSecrets(app, code);
    AddSealCommands(app, code);
  }
  if (wanted({"file"})) AddFile(app, code);
  std::vector<std::string> run_command;
  if (first == "run") {
    for (int i = 2; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--") {
        run_command.assign(argv + i + 1, argv + argc);
        argc = i;
        break;
      }
    }
  }
  if (wanted({"run"})) AddRun(app, code, run_command);
  if (all) AddCompletion(app, code);
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == "serve" || sub->get_name() == "init" || sub->get_name() == "bench" ||
        sub->get_name() == "scan" || sub->get_name() == "hook" || sub->get_name() == "audit" ||
        sub->get_name() == "webhooks" || sub->get_name() == "alerts" ||
        sub->get_name() == "ratelimit" || sub->get_name() == "secrets" ||
        sub->get_name() == "operator" || sub->get_name() == "run" ||
        sub->get_name() == "completion" || sub->get_name() == "file") {
      continue;
    }
    for (CLI::App* leaf : sub->get_subcommands([](CLI::App*) { return true; })) {
      leaf->add_flag("--json", flags.json_output, "print the server's data as JSON");
      leaf->add_flag("-q,--quiet", flags.quiet,
                     "print only what a script needs: a new key, else the id (one per line for "
                     "lists)");
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (!ExplainUnknown(app, argc, argv)) app.exit(e);
    return kExitUsage;
  }
  return code;
}

}  // namespace keyhold::cli
