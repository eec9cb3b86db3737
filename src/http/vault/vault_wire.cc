#include "http/vault/vault_wire.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

namespace keyhold::http::vault {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

constexpr int64_t kMaxDurationMs = 100LL * 365 * 24 * 3600 * 1000;

// A path keeps `+` as it is; a query reads it as a space (Go's PathUnescape / QueryUnescape).
enum class PlusIs { kPlus, kSpace };

std::optional<std::string> Decode(std::string_view text, PlusIs plus) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus == PlusIs::kSpace) {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

// Calls `fn(name, value)` for each `name[=value]` of the query of `target`, both decoded
// (nullopt where that fails), in order, until it returns an error, which is returned. Empty
// pairs (`a=1&&b=2`) are skipped, as Go skips them.
template <typename Fn>
Status ForEachParam(std::string_view target, Fn fn) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return OkStatus();
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      KH_RETURN_IF_ERROR(
          fn(QueryUnescape(pair.substr(0, eq)),
             QueryUnescape(eq == std::string_view::npos ? "" : pair.substr(eq + 1))));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return OkStatus();
}

std::string BadName() {
  return "invalid query: a parameter name has a malformed %-escape or an encoded NUL";
}

// Names the parameter (at most 64 bytes of its name, which the caller sent).
std::string BadValue(std::string_view name) {
  return fmt::format("invalid query parameter \"{}\": a malformed %-escape or an encoded NUL",
                     name.substr(0, 64));
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view text) {
  return Decode(text, PlusIs::kPlus);
}

std::optional<std::string> QueryUnescape(std::string_view text) {
  return Decode(text, PlusIs::kSpace);
}

StatusOr<std::optional<std::string>> QueryParam(std::string_view target, std::string_view name) {
  std::optional<std::string> found;
  Status bad = ForEachParam(
      target,
      [&](const std::optional<std::string>& n, const std::optional<std::string>& value) -> Status {
        if (!n) return InvalidArgument(BadName());
        if (*n != name || found) return OkStatus();
        if (!value) return InvalidArgument(BadValue(*n));
        found = *value;
        return OkStatus();
      });
  if (!bad.ok()) return bad;
  return found;
}

std::optional<std::string> QueryProblem(std::string_view target) {
  Status bad = ForEachParam(
      target,
      [](const std::optional<std::string>& n, const std::optional<std::string>& value) -> Status {
        if (!n) return InvalidArgument(BadName());
        if (!value) return InvalidArgument(BadValue(*n));
        return OkStatus();
      });
  if (bad.ok()) return std::nullopt;
  return bad.message();
}

std::optional<bool> ParseGoBool(std::string_view text) {
  if (text == "1" || text == "t" || text == "T" || text == "TRUE" || text == "true" ||
      text == "True") {
    return true;
  }
  if (text == "0" || text == "f" || text == "F" || text == "FALSE" || text == "false" ||
      text == "False") {
    return false;
  }
  return std::nullopt;
}

std::optional<int64_t> ParseGoInt(std::string_view text, int64_t min, int64_t max) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), IsDigit)) return std::nullopt;
  text.remove_prefix(std::min(text.find_first_not_of('0'), text.size()));
  if (text.size() > 18) return std::nullopt;  // past any bound we take, and int64 stays exact
  int64_t value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  if (value < min || value > max) return std::nullopt;
  return value;
}

std::optional<KvPath> ParseKvPath(std::string_view after_v1) {
  size_t first = after_v1.find('/');
  if (first == std::string_view::npos) return std::nullopt;
  KvPath out;
  std::string_view rest = after_v1.substr(first + 1);
  size_t second = rest.find('/');
  // Every part is decoded alike, as Go decodes a whole request path before Vault routes it.
  auto decode = [&out](std::string_view part, std::string* to) {
    auto decoded = PercentDecode(part);
    if (decoded) {
      *to = *std::move(decoded);
    } else {
      out.malformed = true;
    }
  };
  decode(after_v1.substr(0, first), &out.mount);
  decode(rest.substr(0, second), &out.kind);
  if (second != std::string_view::npos) decode(rest.substr(second + 1), &out.path);
  return out;
}

std::optional<SystemPath> ParseSystemPath(std::string_view after_v1) {
  const size_t first = after_v1.find('/');
  auto head = PercentDecode(after_v1.substr(0, first));
  if (!head) return std::nullopt;  // not known to be sys/ or auth/: ParseKvPath refuses it
  auto under = [](std::string_view p) { return p.starts_with("sys/") || p.starts_with("auth/"); };
  const bool named = *head == "sys" || *head == "auth";
  if (!named && !under(*head)) return std::nullopt;  // "sys%2Fhealth" is sys/health too
  if (named && first == std::string_view::npos) return std::nullopt;
  std::string decoded = *std::move(head);
  for (size_t at = first; at != std::string_view::npos;) {
    const size_t next = after_v1.find('/', at + 1);
    auto part = PercentDecode(after_v1.substr(
        at + 1, next == std::string_view::npos ? std::string_view::npos : next - at - 1));
    if (!part) return SystemPath{.path = "", .malformed = true};
    decoded += '/';
    decoded += *part;
    at = next;
  }
  return SystemPath{.path = std::move(decoded), .malformed = false};
}

std::string VaultTime(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

std::string GoDuration(int64_t ms) {
  if (ms <= 0) return "0s";
  if (ms < 1000) return fmt::format("{}ms", ms);
  int64_t h = ms / 3'600'000;
  int64_t m = (ms / 60'000) % 60;
  int64_t s = (ms / 1000) % 60;
  int64_t frac = ms % 1000;
  std::string seconds = frac == 0 ? fmt::format("{}s", s) : fmt::format("{}.{:03}s", s, frac);
  while (frac != 0 && seconds.size() > 2 && seconds[seconds.size() - 2] == '0') {
    seconds.erase(seconds.size() - 2, 1);  // Go trims trailing zeros: 1.500s -> 1.5s
  }
  if (h > 0) return fmt::format("{}h{}m{}", h, m, seconds);
  if (m > 0) return fmt::format("{}m{}", m, seconds);
  return seconds;
}

std::optional<int64_t> ParseGoDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (text.size() > 12) return std::nullopt;
    int64_t secs = std::stoll(std::string(text));
    if (secs * 1000 > kMaxDurationMs) return std::nullopt;
    return secs * 1000;
  }
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (i == start || i - start > 20) return std::nullopt;
    std::string number(text.substr(start, i - start));
    if (std::count(number.begin(), number.end(), '.') > 1 || number == ".") return std::nullopt;
    double value = std::stod(number);
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale = 0;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "d") {
      scale = 86'400'000;
    } else {
      return std::nullopt;
    }
    total_ms += value * scale;
    if (total_ms > static_cast<double>(kMaxDurationMs)) return std::nullopt;
  }
  return static_cast<int64_t>(std::llround(total_ms));
}

}  // namespace keyhold::http::vault
