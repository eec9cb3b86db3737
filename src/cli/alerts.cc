// `keyhold webhooks create|list|delete|test` and `keyhold alerts list|ack`: thin clients of the
// server's webhooks.* and alerts.* operations (KEYHOLD_ADDR, KEYHOLD_TOKEN). With --json they
// print the server's answer as it came.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "cli/client.h"
#include "cli/commands.h"

namespace keyhold::cli {
namespace {

using nlohmann::json;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnavailable = 3;

// Calls `op`; on success hands the envelope to `print` (unless --json), else reports the error.
int CallAndPrint(const std::string& op, const json& body, bool json_output,
                 const std::function<void(const json&)>& print) {
  auto client = ApiClient::FromEnvironment();
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", client.status().message().c_str());
    return kExitUsage;
  }
  auto result = client->Call(op, body);
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", result.status().message().c_str());
    return kExitUnavailable;
  }
  if (result->http_status != 200) {
    std::fprintf(stderr, "error: %s\n", result->body.dump().c_str());
    return kExitFailed;
  }
  if (json_output) {
    std::printf("%s\n", result->body.dump(2).c_str());
  } else {
    print(result->body);
  }
  return 0;
}

std::string Text(const json& v) { return v.is_string() ? v.get<std::string>() : "-"; }

void PrintEndpoint(const json& e) {
  std::string kinds;
  for (const json& k : e.value("kinds", json::array()))
    kinds += (kinds.empty() ? "" : ",") + Text(k);
  std::printf("%-24s %-8s %-28s %s\n", Text(e["endpointId"]).c_str(),
              e.value("enabled", false) ? "enabled" : "disabled",
              kinds.empty() ? "(all kinds)" : kinds.c_str(), Text(e["url"]).c_str());
}

struct WebhookFlags {
  std::string url, description, endpoint_id;
  std::vector<std::string> kinds;
  bool disabled = false;
  bool json_output = false;
};

struct AlertFlags {
  std::string kind, cursor, alert_id;
  bool open_only = false;
  std::optional<int64_t> since;
  int limit = 50;
  bool json_output = false;
};

void AddWebhooks(CLI::App& app, int& code) {
  auto* webhooks = app.add_subcommand("webhooks", "manage the endpoints alerts are sent to");
  webhooks->require_subcommand(1);
  static WebhookFlags f;
  auto* create = webhooks->add_subcommand("create", "add an endpoint; prints its secret once");
  create->add_option("url", f.url, "http(s) URL the alerts are POSTed to")->required();
  create->add_option("--description", f.description, "what the endpoint is for");
  create->add_option("--kind", f.kinds, "an alert kind or family (anomaly.*); repeat; default all");
  create->add_flag("--disabled", f.disabled, "create it disabled");
  create->add_flag("--json", f.json_output, "print the server's answer as JSON");
  create->callback([&code] {
    json body = {{"url", f.url}, {"description", f.description}, {"enabled", !f.disabled}};
    if (!f.kinds.empty()) body["kinds"] = f.kinds;
    code = CallAndPrint("webhooks.createEndpoint", body, f.json_output, [](const json& r) {
      PrintEndpoint(r["data"]);
      std::printf("signing secret (shown only this once): %s\n", Text(r["data"]["secret"]).c_str());
    });
  });
  auto* list = webhooks->add_subcommand("list", "list the endpoints");
  list->add_flag("--json", f.json_output, "print the server's answer as JSON");
  list->callback([&code] {
    code = CallAndPrint("webhooks.listEndpoints", json::object(), f.json_output, [](const json& r) {
      if (r["data"].empty()) std::printf("no endpoints\n");
      for (const json& e : r["data"]) PrintEndpoint(e);
    });
  });
  for (auto [name, op, help] :
       {std::tuple{"delete", "webhooks.deleteEndpoint", "remove an endpoint and its deliveries"},
        std::tuple{"test", "webhooks.testEndpoint", "send a webhook.test alert to one endpoint"}}) {
    auto* sub = webhooks->add_subcommand(name, help);
    sub->add_option("endpoint-id", f.endpoint_id, "the endpoint (wh_...)")->required();
    sub->add_flag("--json", f.json_output, "print the server's answer as JSON");
    sub->callback([&code, op = std::string(op)] {
      code = CallAndPrint(op, {{"endpointId", f.endpoint_id}}, f.json_output, [&](const json& r) {
        if (op == "webhooks.testEndpoint") {
          std::printf("raised %s (%lld deliveries queued)\n", Text(r["data"]["alertId"]).c_str(),
                      r["data"].value("deliveries", 0LL));
        } else {
          std::printf("deleted %s\n", f.endpoint_id.c_str());
        }
      });
    });
  }
}

void PrintAlert(const json& a) {
  std::printf("%-26s %lld  %-24s %-8s %-6s x%lld  %s\n", Text(a["id"]).c_str(),
              a.value("createdAt", 0LL), Text(a["kind"]).c_str(), Text(a["severity"]).c_str(),
              a["acknowledgedAt"].is_null() ? "open" : "acked", a.value("count", 1LL),
              Text(a["summary"]).c_str());
}

void AddAlerts(CLI::App& app, int& code) {
  auto* alerts = app.add_subcommand("alerts", "list and acknowledge alerts");
  alerts->require_subcommand(1);
  static AlertFlags f;
  auto* list = alerts->add_subcommand("list", "list alerts, newest first");
  list->add_option("--kind", f.kind, "only this kind");
  list->add_flag("--open", f.open_only, "only alerts not acknowledged");
  list->add_option("--since", f.since, "from this time (ms since the epoch)");
  list->add_option("--limit", f.limit, "alerts per page (1-1000, default 50)")
      ->check(CLI::Range(1, 1000));
  list->add_option("--cursor", f.cursor, "continue from a previous page");
  list->add_flag("--json", f.json_output, "print the server's answer as JSON");
  list->callback([&code] {
    json body = {{"limit", f.limit}};
    if (!f.kind.empty()) body["kind"] = f.kind;
    if (f.open_only) body["acknowledged"] = false;
    if (f.since) body["since"] = *f.since;
    if (!f.cursor.empty()) body["cursor"] = f.cursor;
    code = CallAndPrint("alerts.list", body, f.json_output, [](const json& r) {
      if (r["data"].empty()) std::printf("no alerts\n");
      for (const json& a : r["data"]) PrintAlert(a);
      if (r["pagination"].value("hasMore", false)) {
        std::printf("more: --cursor %s\n", Text(r["pagination"]["cursor"]).c_str());
      }
    });
  });
  auto* ack = alerts->add_subcommand("ack", "acknowledge an alert");
  ack->add_option("alert-id", f.alert_id, "the alert (alert_...)")->required();
  ack->add_flag("--json", f.json_output, "print the server's answer as JSON");
  ack->callback([&code] {
    code = CallAndPrint("alerts.acknowledge", {{"alertId", f.alert_id}}, f.json_output,
                        [](const json& r) { PrintAlert(r["data"]); });
  });
}

}  // namespace

void AddAlertCommands(CLI::App& app, int& code) {
  AddWebhooks(app, code);
  AddAlerts(app, code);
}

}  // namespace keyhold::cli
