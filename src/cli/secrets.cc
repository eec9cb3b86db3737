// `keyhold secrets …`, `keyhold run` and `keyhold operator rotate-kek`: clients of the `/v1/`
// surface (docs/secrets.md). Values come from arguments (`k=v`), files (`k=@file`) or standard
// input (`k=-`) and are never echoed; `run` hands them to a command through its environment
// only.
//
// Exit codes as every client command: 0, 1 the server answered with an error (or, for `get`, the
// secret or field does not exist), 2 bad usage, 3 the server could not be reached; `run` exits
// with its command's status (128 + the signal if it was killed by one).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/client.h"
#include "cli/commands.h"
#include "core/secret_path.h"

namespace keyhold::cli {
namespace {

using nlohmann::json;

constexpr int kExitApiError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

// "mount/path" or, where a field is allowed, "mount/path#field".
struct SecretRef {
  std::string mount;
  std::string path;
  std::string field;
};

StatusOr<SecretRef> ParseRef(std::string_view text, bool allow_field, bool allow_folder = false) {
  SecretRef ref;
  if (size_t hash = text.find('#'); hash != std::string_view::npos) {
    if (!allow_field) return InvalidArgument("a field (#...) is not allowed here");
    ref.field = std::string(text.substr(hash + 1));
    if (ref.field.empty()) return InvalidArgument("empty field after '#'");
    text = text.substr(0, hash);
  }
  size_t slash = text.find('/');
  ref.mount = std::string(text.substr(0, slash));
  if (!IsValidMountName(ref.mount))
    return InvalidArgument("'" + ref.mount + "' is not a mount name");
  if (slash != std::string_view::npos) ref.path = std::string(text.substr(slash + 1));
  std::string_view check = ref.path;
  if (allow_folder && check.ends_with('/')) check.remove_suffix(1);
  if (allow_folder && check.empty()) return ref;
  if (!allow_folder && ref.path.empty()) {
    return InvalidArgument("'" + std::string(text) +
                           "' has no path after the mount: write a secret as MOUNT/PATH, e.g. "
                           "secret/helpdesk/smtp");
  }
  if (std::string problem = SecretPathProblem(check); !problem.empty()) {
    return InvalidArgument("'" + std::string(text) + "' is not " +
                           (allow_folder ? "a folder to list" : "a secret path") + ": " + problem);
  }
  return ref;
}

std::string Encode(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) ||
        std::string_view("-._~/@=,:").find(static_cast<char>(c)) != std::string_view::npos) {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

std::string Target(const std::string& kind, const SecretRef& ref) {
  std::string t = "/v1/" + ref.mount + "/" + kind;
  if (!ref.path.empty()) t += "/" + Encode(ref.path);
  return t;
}

std::string ReadAll(std::istream& in) {
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// `k=v`, `k=@file` and `k=-` (standard input, once) into a JSON object of strings.
StatusOr<json> ParsePairs(const std::vector<std::string>& pairs) {
  json data = json::object();
  bool stdin_used = false;
  for (const std::string& p : pairs) {
    size_t eq = p.find('=');
    if (eq == 0 || eq == std::string::npos) {
      return InvalidArgument("write each field as KEY=VALUE, KEY=@FILE or KEY=-");
    }
    std::string key = p.substr(0, eq);
    std::string value = p.substr(eq + 1);
    if (value == "-") {
      if (stdin_used) return InvalidArgument("only one field can be read from standard input");
      stdin_used = true;
      value = ReadAll(std::cin);
      if (value.ends_with('\n')) value.pop_back();
    } else if (value.starts_with('@')) {
      std::ifstream f(value.substr(1), std::ios::binary);
      if (!f) return InvalidArgument("cannot read " + value.substr(1));
      value = ReadAll(f);
    }
    data[key] = value;
  }
  return data;
}

// Sends one /v1/ request; on success passes the answer to `on_ok`. Returns the exit code.
int Vault(const std::string& method, const std::string& target, const json& body,
          const std::function<int(const ApiResult&)>& on_ok,
          const std::string& content_type = "application/json") {
  auto client = ApiClient::FromEnvironment();
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", client.status().message().c_str());
    return kExitUsage;
  }
  auto r = client->Vault(method, target, body, content_type);
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
    return kExitUnreachable;
  }
  if (r->http_status != 200 && r->http_status != 204) {
    PrintVaultError(*r);
    return kExitApiError;
  }
  return on_ok(*r);
}

int Usage(const Status& st) {
  std::fprintf(stderr, "error: %s\n", st.message().c_str());
  return kExitUsage;
}

std::string Printable(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

namespace {

struct SecretFlags {
  std::string ref;
  std::vector<std::string> pairs;
  std::vector<int64_t> versions;
  int64_t cas = -1;
  int64_t version = 0;
  std::string stage;  // a rotation stage: current, pending or previous
  std::string field;
  bool json_output = false;
  bool recursive = false;
  int32_t max_versions = -1;
  std::string cas_required;  // "true" / "false" / ""
  std::string delete_version_after;
  std::string rotation_period;
  std::vector<std::string> custom;
};

// Writes (or, with PATCH, merges) the fields given as a new version.
int PutOrPatch(const SecretFlags& f, bool patch) {
  auto ref = ParseRef(f.ref, false);
  if (!ref.ok()) return Usage(ref.status());
  if (f.pairs.empty()) return Usage(InvalidArgument("give at least one KEY=VALUE"));
  auto data = ParsePairs(f.pairs);
  if (!data.ok()) return Usage(data.status());
  json body = {{"data", *data}};
  if (f.cas >= 0) body["options"] = {{"cas", f.cas}};
  return Vault(
      patch ? "PATCH" : "POST", Target("data", *ref), body,
      [&](const ApiResult& r) {
        const json& d = r.body["data"];
        if (f.json_output) {
          std::printf("%s\n", d.dump(2).c_str());
        } else {
          std::printf("%s/%s: version %lld\n", ref->mount.c_str(), ref->path.c_str(),
                      static_cast<long long>(d.value("version", 0)));
        }
        return 0;
      },
      patch ? "application/merge-patch+json" : "application/json");
}

int Get(const SecretFlags& f) {
  auto ref = ParseRef(f.ref, true);
  if (!ref.ok()) return Usage(ref.status());
  std::string field = f.field.empty() ? ref->field : f.field;
  std::string target = Target("data", *ref);
  if (f.version > 0) target += "?version=" + std::to_string(f.version);
  if (!f.stage.empty()) {
    if (f.version > 0) return Usage(InvalidArgument("give either --version or --stage"));
    target += "?keyhold_stage=" + f.stage;
  }
  return Vault("GET", target, nullptr, [&](const ApiResult& r) {
    const json& data = r.body["data"]["data"];
    if (!field.empty()) {
      if (!data.is_object() || !data.contains(field)) {
        std::fprintf(stderr, "error: the secret has no field '%s'\n", field.c_str());
        return kExitApiError;
      }
      std::printf("%s\n", Printable(data[field]).c_str());
      return 0;
    }
    if (f.json_output) {
      std::printf("%s\n", r.body["data"].dump(2).c_str());
      return 0;
    }
    const json& meta = r.body["data"]["metadata"];
    std::printf("version %lld, written %s\n", static_cast<long long>(meta.value("version", 0)),
                meta.value("created_time", "").c_str());
    for (const auto& [k, v] : data.items()) std::printf("%s=%s\n", k.c_str(), Printable(v).c_str());
    return 0;
  });
}

int List(const SecretFlags& f) {
  auto ref = ParseRef(f.ref, false, /*allow_folder=*/true);
  if (!ref.ok()) return Usage(ref.status());
  std::string target = Target("metadata", *ref);
  if (!target.ends_with('/')) target += "/";
  auto client = ApiClient::FromEnvironment();
  if (!client.ok()) return Usage(client.status());
  // Recursive: every secret under the folder, following the pages to the end.
  json keys = json::array();
  size_t listed = 0;
  std::optional<std::string> after;
  do {
    std::string page_target = target;
    if (f.recursive) {
      page_target += "?recursive=true";
      if (after) page_target += "&after=" + Encode(*after);
    }
    auto r = client->Vault("LIST", page_target, nullptr);
    if (!r.ok()) {
      std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
      return kExitUnreachable;
    }
    if (r->http_status == 404) break;
    if (r->http_status != 200) {
      PrintVaultError(*r);
      return kExitApiError;
    }
    const json& data = r->body["data"];
    for (const auto& k : data["keys"]) {
      ++listed;
      if (f.json_output) {
        keys.push_back(k);
      } else {
        std::printf("%s\n", k.get<std::string>().c_str());
      }
    }
    after.reset();
    if (f.recursive && data.contains("next_after") && data["next_after"].is_string()) {
      after = data["next_after"].get<std::string>();
    }
  } while (after);
  if (f.json_output) {
    std::printf("%s\n", keys.dump(2).c_str());
  } else if (listed == 0) {
    std::printf("no secrets\n");
  }
  return 0;
}

int ChangeVersions(const SecretFlags& f, const std::string& kind) {
  auto ref = ParseRef(f.ref, false);
  if (!ref.ok()) return Usage(ref.status());
  auto done = [&](const ApiResult&) {
    std::printf("%s: done\n", kind.c_str());
    return 0;
  };
  if (kind == "delete" && f.versions.empty()) {
    return Vault("DELETE", Target("data", *ref), nullptr, done);
  }
  if (f.versions.empty()) return Usage(InvalidArgument("give --versions"));
  return Vault("POST", Target(kind, *ref), {{"versions", f.versions}}, done);
}

int Metadata(const SecretFlags& f, const std::string& action) {
  auto ref = ParseRef(f.ref, false);
  if (!ref.ok()) return Usage(ref.status());
  if (action == "get") {
    return Vault("GET", Target("metadata", *ref), nullptr, [&](const ApiResult& r) {
      std::printf("%s\n", r.body["data"].dump(2).c_str());
      return 0;
    });
  }
  if (action == "delete") {
    return Vault("DELETE", Target("metadata", *ref), nullptr, [](const ApiResult&) {
      std::printf("deleted, with every version\n");
      return 0;
    });
  }
  json body = json::object();
  if (f.max_versions >= 0) body["max_versions"] = f.max_versions;
  if (!f.cas_required.empty()) body["cas_required"] = f.cas_required == "true";
  if (!f.delete_version_after.empty()) body["delete_version_after"] = f.delete_version_after;
  if (!f.rotation_period.empty()) body["rotation_period"] = f.rotation_period;
  if (!f.custom.empty()) {
    auto custom = ParsePairs(f.custom);
    if (!custom.ok()) return Usage(custom.status());
    body["custom_metadata"] = *custom;
  }
  return Vault("POST", Target("metadata", *ref), body, [](const ApiResult&) {
    std::printf("metadata written\n");
    return 0;
  });
}

void AddSecretsCommands(CLI::App& app, int& code) {
  static SecretFlags f;
  auto* secrets = app.add_subcommand("secrets", "store, read and manage secrets (Vault KV v2)");
  secrets->require_subcommand(1);
  auto ref_option = [](CLI::App* c, const char* what) {
    c->add_option("SECRET", f.ref, what)->required();
  };

  auto* put =
      secrets->add_subcommand("put", "write a new version from KEY=VALUE, KEY=@FILE, KEY=-");
  ref_option(put, "MOUNT/PATH, e.g. secret/helpdesk/smtp");
  put->add_option("FIELDS", f.pairs, "KEY=VALUE, KEY=@FILE (file contents) or KEY=- (stdin)")
      ->required();
  put->add_option("--cas", f.cas, "write only if this is the current version (0: only if new)");
  put->callback([&] { code = PutOrPatch(f, false); });

  auto* patch = secrets->add_subcommand("patch", "change some fields, keeping the others");
  ref_option(patch, "MOUNT/PATH");
  patch->add_option("FIELDS", f.pairs, "KEY=VALUE, KEY=@FILE or KEY=-")->required();
  patch->add_option("--cas", f.cas, "patch only if this is the current version");
  patch->callback([&] { code = PutOrPatch(f, true); });

  auto* get = secrets->add_subcommand("get", "print a secret (or one field of it)");
  ref_option(get, "MOUNT/PATH or MOUNT/PATH#FIELD");
  get->add_option("--field", f.field, "print only this field's value");
  get->add_option("--version", f.version, "a past version (default: the current one)");
  get->add_option("--stage", f.stage,
                  "the version at a rotation stage: current, pending or previous")
      ->check(CLI::IsMember({"current", "pending", "previous"}));
  get->callback([&] { code = Get(f); });

  auto* list = secrets->add_subcommand("list", "list the names in a folder");
  list->add_option("FOLDER", f.ref, "MOUNT or MOUNT/FOLDER")->required();
  list->add_flag("--recursive", f.recursive, "every secret under the folder, at any depth");
  list->callback([&] { code = List(f); });

  for (const char* kind : {"delete", "undelete", "destroy"}) {
    std::string help = std::string(kind) == "delete"
                           ? "delete versions softly (default: the current one)"
                       : std::string(kind) == "undelete" ? "restore softly deleted versions"
                                                         : "destroy versions for good";
    auto* c = secrets->add_subcommand(kind, help);
    ref_option(c, "MOUNT/PATH");
    c->add_option("--versions", f.versions, "version numbers")->delimiter(',');
    c->callback([&code, kind] { code = ChangeVersions(f, kind); });
  }

  auto* metadata = secrets->add_subcommand("metadata", "show or change a secret's metadata");
  metadata->require_subcommand(1);
  auto* mget = metadata->add_subcommand("get", "show versions and settings");
  ref_option(mget, "MOUNT/PATH");
  mget->callback([&] { code = Metadata(f, "get"); });
  auto* mput = metadata->add_subcommand("put", "change settings");
  ref_option(mput, "MOUNT/PATH");
  mput->add_option("--max-versions", f.max_versions, "versions kept (0: the mount's)");
  mput->add_option("--cas-required", f.cas_required, "every write must give --cas")
      ->check(CLI::IsMember({"true", "false"}));
  mput->add_option("--delete-version-after", f.delete_version_after, "e.g. 720h (0s: never)");
  mput->add_option("--rotation-period", f.rotation_period, "e.g. 2160h; 0s removes it");
  mput->add_option("--custom", f.custom, "KEY=VALUE custom metadata (repeatable)");
  mput->callback([&] { code = Metadata(f, "put"); });
  auto* mdel = metadata->add_subcommand("delete", "delete the secret with every version");
  ref_option(mdel, "MOUNT/PATH");
  mdel->callback([&] { code = Metadata(f, "delete"); });

  auto* enable = secrets->add_subcommand("enable", "enable a new KV version 2 mount");
  static std::string mount;
  enable->add_option("MOUNT", mount, "its name")->required();
  enable->callback([&] {
    code = Vault("POST", "/v1/sys/mounts/" + mount,
                 {{"type", "kv"}, {"options", {{"version", "2"}}}}, [](const ApiResult&) {
                   std::printf("enabled %s/\n", mount.c_str());
                   return 0;
                 });
  });
  for (CLI::App* c : {put, patch, get, list}) c->add_flag("--json", f.json_output, "print JSON");
  AddSecretRotationCommands(*secrets, code);
}

}  // namespace

void AddSecrets(CLI::App& app, int& code) {
  AddSecretsCommands(app, code);
  auto* op = app.add_subcommand("operator", "operate the server's encryption");
  op->require_subcommand(1);
  auto* rotate = op->add_subcommand(
      "rotate-kek", "add a keyring term; every data key is re-wrapped in the background");
  rotate->callback([&] {
    code = Vault("POST", "/v1/sys/rotate", nullptr, [](const ApiResult&) {
      std::printf("keyring rotated; data keys are being re-wrapped in the background\n");
      return 0;
    });
  });
}

}  // namespace keyhold::cli
