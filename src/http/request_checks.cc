#include "http/request_checks.h"

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>

namespace keyhold::http {
namespace {

namespace bhttp = boost::beast::http;

std::string_view View(boost::beast::string_view s) { return {s.data(), s.size()}; }

bool IEquals(std::string_view a, std::string_view b) {
  return boost::beast::iequals(boost::beast::string_view(a.data(), a.size()),
                               boost::beast::string_view(b.data(), b.size()));
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsChunked(std::string_view coding) { return IEquals(coding, "chunked"); }

// The codings of every Transfer-Encoding field, in order, judged as RFC 9112 §6 asks.
std::optional<Refusal> CheckTransferCodings(const bhttp::fields& fields) {
  bool chunked_seen = false;
  bool chunked_last = false;
  bool other_seen = false;
  for (const auto& field : fields) {
    if (field.name() != bhttp::field::transfer_encoding) continue;
    std::string_view list = View(field.value());
    while (!list.empty()) {
      size_t comma = std::min(list.find(','), list.size());
      std::string_view coding = TrimSpace(list.substr(0, comma));
      list.remove_prefix(std::min(comma + 1, list.size()));
      if (coding.empty()) continue;  // "a, , b": empty list elements are allowed
      if (IsChunked(coding) && chunked_seen) {
        return Refusal{400, "application/invalid_input", "chunked is applied more than once"};
      }
      chunked_seen = chunked_seen || IsChunked(coding);
      other_seen = other_seen || !IsChunked(coding);
      chunked_last = IsChunked(coding);
    }
  }
  if (!chunked_last) {  // also for a field with no coding at all
    return Refusal{400, "application/invalid_input",
                   "the last transfer coding must be chunked, so that the body's end is known"};
  }
  if (other_seen) {
    return Refusal{501, "application/transfer_coding_not_implemented",
                   "no transfer coding other than chunked is implemented"};
  }
  return std::nullopt;
}

std::optional<Refusal> CheckFraming(const bhttp::fields& fields) {
  bool has_length = fields.find(bhttp::field::content_length) != fields.end();
  bool has_coding = fields.find(bhttp::field::transfer_encoding) != fields.end();
  if (has_length && has_coding) {
    return Refusal{400, "application/invalid_input",
                   "Transfer-Encoding and Content-Length must not be sent together"};
  }
  return has_coding ? CheckTransferCodings(fields) : std::nullopt;
}

// True if a body follows the head: a chunked one, or a Content-Length other than 0.
bool HasBody(const bhttp::fields& fields) {
  if (fields.find(bhttp::field::transfer_encoding) != fields.end()) return true;
  auto length = fields.find(bhttp::field::content_length);
  return length != fields.end() &&
         View(length->value()).find_first_not_of("0 \t") != std::string_view::npos;
}

// Whether an answer may quote a content coding: the registered ones (gzip, br, zstd,
// x-compress...) are short tokens; anything else the client wrote there, a key perhaps, is not
// repeated.
bool Quotable(std::string_view coding) {
  return coding.size() <= 16 && std::all_of(coding.begin(), coding.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_';
         });
}

// No handler undoes a content coding: a compressed body would be read as if it were the JSON
// it holds. "identity" (no coding) is the only one accepted.
std::optional<Refusal> CheckContentCodings(const bhttp::fields& fields) {
  for (const auto& field : fields) {
    if (field.name() != bhttp::field::content_encoding) continue;
    std::string_view list = View(field.value());
    while (!list.empty()) {
      size_t comma = std::min(list.find(','), list.size());
      std::string_view coding = TrimSpace(list.substr(0, comma));
      list.remove_prefix(std::min(comma + 1, list.size()));
      if (coding.empty() || IEquals(coding, "identity")) continue;
      if (!HasBody(fields)) return std::nullopt;  // nothing is coded
      std::string detail = "the request body's Content-Encoding";
      if (Quotable(coding)) {
        detail.push_back(' ');
        detail.append(coding);
      }
      detail.append(" is not supported: send the body uncompressed");
      return Refusal{415, "application/unsupported_content_encoding", std::move(detail)};
    }
  }
  return std::nullopt;
}

bool KnownMethod(std::string_view method) {
  static constexpr std::array<std::string_view, 9> kKnown = {
      "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "LIST"};
  return std::find(kKnown.begin(), kKnown.end(), method) != kKnown.end();
}

// Length of "http://" or "https://" (any case) at the start of `target`, or 0.
size_t SchemePrefix(std::string_view target) {
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (target.size() >= scheme.size() && IEquals(target.substr(0, scheme.size()), scheme)) {
      return scheme.size();
    }
  }
  return 0;
}

std::optional<Refusal> CheckTarget(std::string_view method, std::string_view target) {
  if (target.starts_with('/')) return std::nullopt;
  if (target == "*") {
    if (method == "OPTIONS") return std::nullopt;
    return Refusal{400, "application/invalid_input", "the target * is only for OPTIONS"};
  }
  size_t scheme = SchemePrefix(target);
  if (scheme > 0 && target.size() > scheme && target.find_first_of("/?", scheme) != scheme) {
    return std::nullopt;
  }
  return Refusal{400, "application/invalid_input",
                 "the request target must be a path, an http(s) URL or *"};
}

}  // namespace

std::optional<Refusal> CheckHead(const bhttp::request_header<>& head, size_t max_fields) {
  size_t count = static_cast<size_t>(std::distance(head.begin(), head.end()));
  if (count > max_fields) {
    return Refusal{431, "user/request_header_fields_too_large",
                   "a request may have at most " + std::to_string(max_fields) + " header fields"};
  }
  if (auto refusal = CheckFraming(head)) return refusal;
  std::string_view method = View(head.method_string());
  if (!KnownMethod(method)) {
    return Refusal{501, "application/method_not_implemented",
                   "the method " + std::string(method.substr(0, 32)) + " is not implemented"};
  }
  std::optional<Refusal> refusal = CheckTarget(method, View(head.target()));
  return refusal ? refusal : CheckContentCodings(head);
}

std::string OriginForm(std::string_view target) {
  size_t scheme = SchemePrefix(target);
  if (scheme == 0) return std::string(target);
  size_t path = target.find_first_of("/?", scheme);
  if (path == std::string_view::npos) return "/";
  std::string out(target[path] == '?' ? "/" : "");
  out.append(target.substr(path));
  return out;
}

std::optional<Refusal> CheckLineFolding(std::string_view head) {
  head = head.substr(0, head.find("\r\n\r\n"));
  for (size_t eol = head.find('\n'); eol != std::string_view::npos && eol + 1 < head.size();
       eol = head.find('\n', eol + 1)) {
    if (head[eol + 1] == ' ' || head[eol + 1] == '\t') {
      return Refusal{400, "application/invalid_input",
                     "a header field value is continued on a line of its own (obsolete line "
                     "folding); send each field on one line"};
    }
  }
  return std::nullopt;
}

RequestLine PeekRequestLine(std::string_view bytes, size_t max_target) {
  RequestLine line;
  size_t space = bytes.find(' ');
  if (space == std::string_view::npos || space == 0 || space > 32) return line;
  std::string_view rest = bytes.substr(space + 1);
  size_t end = rest.find_first_of(" \r\n");
  line.method = std::string(bytes.substr(0, space));
  line.target = std::string(rest.substr(0, std::min(end, max_target)));
  line.complete = rest.find('\n') != std::string_view::npos;
  return line;
}

}  // namespace keyhold::http
