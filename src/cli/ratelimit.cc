// `keyhold ratelimit limit` and `keyhold ratelimit overrides set|get|list|delete`: clients of the
// server's ratelimit.* operations (KEYHOLD_ADDR, KEYHOLD_TOKEN), with the conventions of the keys
// commands: human output by default, the answer's data with --json, ids only with --quiet; exit 0,
// 1 for an error answer (and for a request the limit refused), 2 bad usage, 3 unreachable.
//
// Limits, durations and identifiers are checked by the server, not here: a bad one is its 400,
// shown with the field at fault, so the command line never disagrees with the API.
#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <functional>
#include <optional>
#include <string>

#include "cli/client.h"
#include "cli/commands.h"
#include "server/settings.h"

namespace keyhold::cli {
namespace {

using nlohmann::json;

constexpr int kExitApiError = 1;  // also: the limit refused the request
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

struct Flags {
  std::string namespace_name, identifier, duration, cursor;
  int64_t limit = 0;
  std::optional<int64_t> cost, page_size;  // sent only when given, whatever their value
  bool json_output = false;
  bool quiet = false;
};

// What one call came to: the envelope of a 200, else the exit code (the error already printed).
struct Answer {
  std::optional<json> body;
  int exit_code = 0;
};

Answer Call(const std::string& op, const json& body, const Flags& f) {
  auto client = ApiClient::FromEnvironment();
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", client.status().message().c_str());
    return {std::nullopt, kExitUsage};
  }
  auto result = client->Call(op, body);
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", result.status().message().c_str());
    return {std::nullopt, kExitUnreachable};
  }
  if (result->http_status != 200) {
    if (f.json_output) {
      std::printf("%s\n", result->body.dump(2).c_str());
    } else {
      PrintApiError(result->body);
    }
    return {std::nullopt, kExitApiError};
  }
  return {std::move(result->body), 0};
}

// --duration: milliseconds (the API's unit, passed on as given, so the server judges its range),
// or a count with a unit as elsewhere on the command line (500ms, 30s, 1m, 2h, 1d).
std::optional<int64_t> DurationMs(const std::string& text) {
  int64_t ms = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, ms);
  if (ec == std::errc() && ptr == end) return ms;
  auto parsed = server::ParseDuration(text);
  if (!parsed.ok()) {
    std::fprintf(stderr,
                 "error: --duration: '%s' is neither milliseconds nor a duration such as 30s, 1m "
                 "or 1h\n",
                 text.c_str());
    return std::nullopt;
  }
  return parsed->count();
}

// The body both ratelimit.limit and ratelimit.setOverride start from.
json LimitBody(const Flags& f, int64_t duration_ms) {
  return {{"namespace", f.namespace_name},
          {"identifier", f.identifier},
          {"limit", f.limit},
          {"duration", duration_ms}};
}

// `ms` in the largest unit that states it exactly (60000 -> 1m), as --duration accepts it.
std::string ShortDuration(int64_t ms) {
  static constexpr std::pair<int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}};
  for (auto [size, unit] : kUnits) {
    if (ms > 0 && ms % size == 0) return std::to_string(ms / size) + unit;
  }
  return std::to_string(ms) + "ms";
}

std::string IsoTime(int64_t ms_since_epoch) {
  std::time_t t = static_cast<std::time_t>(ms_since_epoch / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03lldZ", buf, static_cast<long long>(ms_since_epoch % 1000));
  return out;
}

// An identifier as a terminal shows it: control characters (refused by the server) as '?'.
std::string Printable(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return text;
}

void PrintOverrideHeader() {
  std::printf("%-28s  %-12s  %-10s  %s\n", "OVERRIDE ID", "LIMIT", "DURATION", "IDENTIFIER");
}

void PrintOverrideRow(const json& o) {
  std::printf("%-28s  %-12lld  %-10s  %s\n", o.value("overrideId", "").c_str(),
              o.value("limit", 0LL), ShortDuration(o.value("duration", int64_t{0})).c_str(),
              Printable(o.value("identifier", std::string())).c_str());
}

void AddFormatFlags(CLI::App& cmd, Flags& f, const char* quiet_help) {
  cmd.add_flag("--json", f.json_output, "print the server's data as JSON");
  cmd.add_flag("-q,--quiet", f.quiet, quiet_help);
}

void AddLimit(CLI::App& ratelimit, Flags& f, int& code) {
  auto* limit = ratelimit.add_subcommand(
      "limit", "count one request of an identifier against a limit; exit 0 only if allowed");
  limit->add_option("NAMESPACE", f.namespace_name, "the namespace's name, e.g. sms.sign_up")
      ->required();
  limit->add_option("IDENTIFIER", f.identifier, "who is limited, e.g. a user id or an address")
      ->required();
  limit->add_option("--limit", f.limit, "requests allowed per duration (an override replaces it)")
      ->required();
  limit
      ->add_option("--duration", f.duration,
                   "the window, in milliseconds (60000) or with a unit (60s, 1m)")
      ->required();
  limit->add_option("--cost", f.cost, "tokens this request takes (default 1; 0 only reads)");
  AddFormatFlags(*limit, f, "print nothing: the exit code says whether the request was allowed");
  limit->callback([&f, &code] {
    auto ms = DurationMs(f.duration);
    if (!ms) {
      code = kExitUsage;
      return;
    }
    json body = LimitBody(f, *ms);
    if (f.cost) body["cost"] = *f.cost;
    Answer a = Call("ratelimit.limit", body, f);
    if (!a.body) {
      code = a.exit_code;
      return;
    }
    const json& d = (*a.body)["data"];
    if (f.json_output) {
      std::printf("%s\n", d.dump(2).c_str());
    } else if (!f.quiet) {
      std::printf("success    %s\nlimit      %lld\nremaining  %lld\nreset      %s\n",
                  d.value("success", false) ? "true" : "false", d.value("limit", 0LL),
                  d.value("remaining", 0LL), IsoTime(d.value("reset", int64_t{0})).c_str());
      if (d.contains("overrideId")) {
        std::printf("override   %s\n", d["overrideId"].get<std::string>().c_str());
      }
    }
    code = d.value("success", false) ? 0 : kExitApiError;
  });
}

// Prints one answer's data as --json, --quiet or `human` say; returns 0 or the call's exit code.
int CallAndPrint(const std::string& op, const json& body, const Flags& f,
                 const std::function<void(const json&)>& human) {
  Answer a = Call(op, body, f);
  if (!a.body) return a.exit_code;
  const json& d = (*a.body)["data"];
  if (f.json_output) {
    std::printf("%s\n", d.dump(2).c_str());
  } else if (f.quiet) {
    if (d.contains("overrideId")) std::printf("%s\n", d["overrideId"].get<std::string>().c_str());
  } else {
    human(d);
  }
  return 0;
}

// overrides list: one page when --limit or --cursor is given (then the cursor of the next, as
// keys list does), else every page, following the cursors to the end.
int ListOverrides(const Flags& f) {
  const bool one_page = f.page_size || !f.cursor.empty();
  json all = json::array();
  json pagination;
  std::string cursor = f.cursor;
  for (;;) {
    json body = {{"namespace", f.namespace_name},
                 {"limit", f.page_size.value_or(one_page ? 10 : 100)}};
    if (!cursor.empty()) body["cursor"] = cursor;
    Answer a = Call("ratelimit.listOverrides", body, f);
    if (!a.body) return a.exit_code;
    for (json& o : (*a.body)["data"]) all.push_back(std::move(o));
    pagination = a.body->value("pagination", json::object());
    if (one_page || !pagination.value("hasMore", false)) break;
    std::string next = pagination.value("cursor", "");
    if (next.empty() || next == cursor) {
      std::fprintf(stderr, "error: the server's answer has more pages but no new cursor\n");
      return kExitApiError;
    }
    cursor = next;
  }
  if (f.json_output) {
    json out = one_page ? json{{"data", all}, {"pagination", pagination}} : all;
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (f.quiet) {
    for (const json& o : all) std::printf("%s\n", o.value("overrideId", "").c_str());
    return 0;
  }
  if (all.empty()) {
    std::printf("no overrides\n");
  } else {
    PrintOverrideHeader();
    for (const json& o : all) PrintOverrideRow(o);
  }
  if (one_page && pagination.value("hasMore", false)) {
    std::printf("more: --cursor %s\n", pagination.value("cursor", "").c_str());
  }
  return 0;
}

void AddOverrides(CLI::App& ratelimit, Flags& f, int& code) {
  auto* overrides = ratelimit.add_subcommand(
      "overrides", "manage the limits that replace a namespace's for an identifier or a pattern");
  overrides->require_subcommand(1);
  auto add_ref = [&f](CLI::App& cmd) {
    cmd.add_option("NAMESPACE", f.namespace_name, "the namespace's name")->required();
    cmd.add_option("IDENTIFIER", f.identifier,
                   "an identifier, or a pattern in which * stands for any characters (quote it)")
        ->required();
  };
  const char* quiet_help = "print only the override id (one per line for lists)";

  auto* set = overrides->add_subcommand(
      "set", "set the limit of an identifier or pattern (changing the one there keeps its id)");
  add_ref(*set);
  set->add_option("--limit", f.limit, "requests allowed per duration; 0 refuses every request")
      ->required();
  set->add_option("--duration", f.duration,
                  "the window, in milliseconds (60000) or with a unit (60s, 1m)")
      ->required();
  AddFormatFlags(*set, f, quiet_help);
  set->callback([&f, &code] {
    auto ms = DurationMs(f.duration);
    if (!ms) {
      code = kExitUsage;
      return;
    }
    json body = LimitBody(f, *ms);
    code = CallAndPrint("ratelimit.setOverride", body, f, [&f, ms](const json& d) {
      std::printf("%s  %s  %lld per %s\n", d.value("overrideId", "").c_str(),
                  Printable(f.identifier).c_str(), static_cast<long long>(f.limit),
                  ShortDuration(*ms).c_str());
    });
  });

  auto* get = overrides->add_subcommand(
      "get", "show the override set for an identifier or pattern, named exactly as it was set");
  add_ref(*get);
  AddFormatFlags(*get, f, quiet_help);
  get->callback([&f, &code] {
    json body = {{"namespace", f.namespace_name}, {"identifier", f.identifier}};
    code = CallAndPrint("ratelimit.getOverride", body, f, [](const json& d) {
      PrintOverrideHeader();
      PrintOverrideRow(d);
    });
  });

  auto* list = overrides->add_subcommand("list", "list a namespace's overrides, oldest first");
  list->add_option("NAMESPACE", f.namespace_name, "the namespace's name")->required();
  list->add_option("--limit", f.page_size, "one page of this many (1-100)");
  list->add_option("--cursor", f.cursor, "one page, continuing after this cursor");
  AddFormatFlags(*list, f, quiet_help);
  list->callback([&f, &code] { code = ListOverrides(f); });

  auto* del =
      overrides->add_subcommand("delete", "remove the override of an identifier or pattern");
  add_ref(*del);
  AddFormatFlags(*del, f, "print nothing");
  del->callback([&f, &code] {
    json body = {{"namespace", f.namespace_name}, {"identifier", f.identifier}};
    code = CallAndPrint("ratelimit.deleteOverride", body, f,
                        [](const json&) { std::printf("deleted\n"); });
  });
}

}  // namespace

void AddRatelimit(CLI::App& app, int& code) {
  auto* ratelimit = app.add_subcommand(
      "ratelimit", "check identifiers against rate limits and manage their overrides");
  ratelimit->require_subcommand(1);
  static Flags f;
  AddLimit(*ratelimit, f, code);
  AddOverrides(*ratelimit, f, code);
}

}  // namespace keyhold::cli
