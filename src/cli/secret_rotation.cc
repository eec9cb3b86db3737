// `keyhold secrets rotate` and `keyhold secrets due`: clients of the `/v2/secrets.*` rotation
// operations (docs/secrets.md "Rotation of held secrets"). They print names, versions, steps and
// dates, never a value.
//
// Exit codes as every client command: 0, 1 the server answered with an error (or, for rotate, a
// step failed), 2 bad usage, 3 the server could not be reached.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "cli/client.h"
#include "cli/commands.h"
#include "core/secret_path.h"
#include "server/settings.h"

namespace keyhold::cli {
namespace {

using nlohmann::json;

constexpr int kExitApiError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

std::string When(int64_t ms) {
  auto at = static_cast<std::time_t>(ms / 1000);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%MZ", std::gmtime(&at));
  return out;
}

constexpr auto kPollEvery = std::chrono::milliseconds(200);

// Whether an answer's data says a rotation is still queued or running.
bool Running(const json& answer) {
  if (!answer.is_object() || !answer.contains("data") || !answer["data"].is_object()) return false;
  const json& data = answer["data"];
  return data.contains("running") && data["running"].is_boolean() && data["running"].get<bool>();
}

// Calls `op`; prints the error (or, with --json, the whole answer) and returns its exit code,
// or hands `data` to `done`. A rotation that is accepted (202) is then asked after with
// secrets.getRotation until it is no longer running, for at most `wait`; `done` gets its end.
int Call(const std::string& op, const json& body, bool json_output,
         const std::function<int(const json&)>& done,
         std::chrono::milliseconds wait = std::chrono::milliseconds(0)) {
  auto client = ApiClient::FromEnvironment();
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", client.status().message().c_str());
    return kExitUsage;
  }
  auto result = client->Call(op, body);
  if (result.ok() && result->http_status == 202) {
    const json target = {{"mount", body.value("mount", "secret")},
                         {"path", body.value("path", "")}};
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (result.ok() && (result->http_status == 200 || result->http_status == 202) &&
           Running(result->body)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        std::fprintf(stderr,
                     "error: the rotation is still running after %llds; see how it ends with "
                     "`keyhold secrets rotate %s/%s --status`\n",
                     static_cast<long long>(wait.count() / 1000),
                     target["mount"].get<std::string>().c_str(),
                     target["path"].get<std::string>().c_str());
        return kExitApiError;
      }
      std::this_thread::sleep_for(kPollEvery);
      result = client->Call("secrets.getRotation", target);
    }
    if (result.ok() && result->http_status == 202) result->http_status = 200;
  }
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", result.status().message().c_str());
    return kExitUnreachable;
  }
  if (result->http_status != 200) {
    if (json_output) {
      std::printf("%s\n", result->body.dump(2).c_str());
    } else {
      const json& err = result->body.contains("error") ? result->body["error"] : result->body;
      std::fprintf(stderr, "error: %s\n", err.value("detail", "the server refused").c_str());
    }
    return kExitApiError;
  }
  return done(result->body["data"]);
}

// "MOUNT/PATH" into the body's mount and path. Errors: kInvalidArgument.
StatusOr<json> TargetOf(const std::string& ref) {
  size_t slash = ref.find('/');
  std::string mount = ref.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : ref.substr(slash + 1);
  if (!IsValidMountName(mount) || !IsValidSecretPath(path)) {
    return InvalidArgument("write a secret as MOUNT/PATH, e.g. secret/db/password");
  }
  return json{{"mount", mount}, {"path", path}};
}

// "interrupted at step set, 2026-12-06T08:00Z: why", or "" when `o` is no outcome.
std::string OutcomeText(const json& o) {
  if (!o.is_object()) return "";
  std::string text = o.value("result", "");
  if (o["step"].is_string()) text += " at step " + o["step"].get<std::string>();
  if (o["at"].is_number()) text += ", " + When(o["at"].get<int64_t>());
  if (o["error"].is_string()) text += ": " + o["error"].get<std::string>();
  return text;
}

void PrintStatus(const json& s) {
  std::printf("%s/%s: current version %lld", s.value("mount", "").c_str(),
              s.value("path", "").c_str(), static_cast<long long>(s.value("currentVersion", 0)));
  if (s["previousVersion"].is_number()) {
    std::printf(", previous %lld", static_cast<long long>(s["previousVersion"].get<int64_t>()));
  }
  if (s["pendingVersion"].is_number()) {
    std::printf(", pending %lld (last step done: %s)",
                static_cast<long long>(s["pendingVersion"].get<int64_t>()),
                s.value("lastStep", "").c_str());
  } else if (s.value("lastStep", "") == "finish") {
    std::printf(" (rotated)");
  }
  if (s.value("running", false)) std::printf(" (rotating now)");
  std::printf("\n");
  if (s["failure"].is_string()) {
    std::printf("failed: %s\n", s["failure"].get<std::string>().c_str());
  }
  if (s.contains("lastOutcome") && s["lastOutcome"].is_object()) {
    std::printf("last attempt: %s\n", OutcomeText(s["lastOutcome"]).c_str());
  }
  if (s["nextRotationAt"].is_number()) {
    std::printf("next rotation due %s\n", When(s["nextRotationAt"].get<int64_t>()).c_str());
  }
}

void AddRotate(CLI::App& secrets, int& code) {
  static std::string ref, step, wait = "10m";
  static bool cancel = false, force = false, status_only = false, json_output = false;
  auto* rotate = secrets.add_subcommand(
      "rotate",
      "rotate a held secret: run the steps not yet done (create pending, set at the provider, "
      "test, finish) through the server's configured rotation command; a failed step leaves the "
      "current value and is retried by running this again");
  rotate->add_option("SECRET", ref, "MOUNT/PATH, e.g. secret/db/password")->required();
  rotate->add_option("--step", step, "run only this step (its earlier steps must be done)")
      ->check(CLI::IsMember({"create", "set", "test", "finish"}));
  rotate->add_flag("--cancel", cancel, "drop the pending version; the current one stays");
  rotate->add_flag("--force", force,
                   "with --cancel: drop the pending version even once 'set' has run (the "
                   "provider may already use it, and it is its only stored copy)");
  rotate->add_flag("--status", status_only, "only show the stages and the last step");
  rotate->add_option("--wait", wait,
                     "how long to wait for the rotation to end (default 10m); it goes on in the "
                     "server after that");
  rotate->add_flag("--json", json_output, "print JSON");
  rotate->callback([&] {
    auto body = TargetOf(ref);
    if (!body.ok()) {
      std::fprintf(stderr, "error: %s\n", body.status().message().c_str());
      code = kExitUsage;
      return;
    }
    if (cancel && (status_only || !step.empty())) {
      std::fprintf(stderr, "error: --cancel goes alone\n");
      code = kExitUsage;
      return;
    }
    if (force && !cancel) {
      std::fprintf(stderr, "error: --force goes with --cancel\n");
      code = kExitUsage;
      return;
    }
    auto wait_ms = server::ParseDuration(wait);
    if (!wait_ms.ok()) {
      std::fprintf(stderr, "error: --wait: %s\n", wait_ms.status().message().c_str());
      code = kExitUsage;
      return;
    }
    std::string op = cancel        ? "secrets.cancelRotation"
                     : status_only ? "secrets.getRotation"
                                   : "secrets.rotate";
    if (!step.empty()) (*body)["step"] = step;
    if (force) (*body)["force"] = true;
    code = Call(
        op, *body, json_output,
        [](const json& s) {
          if (json_output) {
            std::printf("%s\n", s.dump(2).c_str());
          } else {
            PrintStatus(s);
          }
          return s["failure"].is_string() && !status_only ? kExitApiError : 0;
        },
        *wait_ms);
  });
}

// What `secrets due` says of a secret's rotation: under way; or staged with nothing running it
// (failed, interrupted, or waiting for the next step) and how to go on; "" when none is staged.
std::string DueRotationText(const json& s) {
  if (s.value("running", false)) return "  (rotation under way)";
  if (!s.value("rotating", false)) return "";
  if (!s.contains("running")) return "  (rotation under way)";  // a server that does not say
  const std::string ref = s.value("mount", "") + "/" + s.value("path", "");
  const std::string cancel =
      "'keyhold secrets rotate " + ref +
      (s.value("cancelNeedsForce", false) ? " --cancel --force'" : " --cancel'");
  const std::string result = s.contains("lastOutcome") && s["lastOutcome"].is_object()
                                 ? s["lastOutcome"].value("result", "")
                                 : "";
  if (result == "failed" || result == "interrupted") {
    return "  (rotation " + result + ", not running: retry with 'keyhold secrets rotate " + ref +
           "', or drop it with " + cancel + ")";
  }
  std::string step = s["stagedStep"].is_string() ? s["stagedStep"].get<std::string>() : "";
  return "  (rotation staged" + (step.empty() ? "" : " at step " + step) +
         ", waiting: continue with 'keyhold secrets rotate " + ref + "', or drop it with " +
         cancel + ")";
}

void AddDue(CLI::App& secrets, int& code) {
  static std::string within = "7d";
  static bool json_output = false;
  auto* due = secrets.add_subcommand(
      "due", "list secrets due for rotation (or overdue) that this key may rotate, earliest first");
  due->add_option("--within", within,
                  "also secrets falling due this soon (default 7d; 0 = only those due now)");
  due->add_flag("--json", json_output, "print JSON");
  due->callback([&] {
    auto ms = server::ParseDuration(within);
    if (!ms.ok()) {
      std::fprintf(stderr, "error: --within: %s\n", ms.status().message().c_str());
      code = kExitUsage;
      return;
    }
    code = Call("secrets.listDue", {{"within", ms->count()}}, json_output, [](const json& d) {
      if (json_output) {
        std::printf("%s\n", d.dump(2).c_str());
        return 0;
      }
      if (d.empty()) std::printf("no secrets due\n");
      for (const auto& s : d) {
        std::string last;
        if (s.contains("lastOutcome") && s["lastOutcome"].is_object() &&
            s["lastOutcome"].value("result", "") != "finished") {
          last = "  (last attempt " + OutcomeText(s["lastOutcome"]) + ")";
        }
        std::printf("%s/%s  %s  %s%s%s\n", s.value("mount", "").c_str(),
                    s.value("path", "").c_str(), s.value("overdue", false) ? "OVERDUE" : "due",
                    When(s.value("dueAt", int64_t{0})).c_str(), DueRotationText(s).c_str(),
                    last.c_str());
      }
      return 0;
    });
  });
}

}  // namespace

void AddSecretRotationCommands(CLI::App& secrets, int& code) {
  AddRotate(secrets, code);
  AddDue(secrets, code);
}

}  // namespace keyhold::cli
