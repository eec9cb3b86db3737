// Request checks: what the listener verifies in a request head before it reads the body or calls
// a handler — framing (RFC 9112 §6), the method (RFC 9110 §9) and the form of the request-target
// (RFC 9112 §3.2) — and what it can tell of a request that never finished arriving.
//
// Pure functions of the head's text, kept apart from the session loop in server.cc:
//
//   if (auto refusal = CheckHead(parser.get(), kMaxHeaderFields)) return Reject(*refusal);
//   request.target = OriginForm(parser.get().target());
//
// Thread-safety: stateless; safe to call from any thread.
#pragma once

#include <boost/beast/http/message.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace keyhold::http {

// Why the listener refuses a request itself, in the terms of Handler::Reject.
struct Refusal {
  int status = 400;
  std::string reason;  // "category/name", e.g. "application/invalid_input"
  std::string detail;  // shown to the client
};

// More header fields than this are refused with 431 (RFC 6585 §5), as Apache does by default;
// the byte limit on the head alone would let through a thousand short fields.
inline constexpr size_t kMaxHeaderFields = 100;

// Checks a request head whose fields have all been read, before any of its body is. Returns:
// - 431 if it has more than `max_fields` fields;
// - 400 if Transfer-Encoding comes with Content-Length, or chunked is not its final coding, or
//   is given twice: the body's length cannot be known, so the connection must close after the
//   answer (RFC 9112 §6.1, §6.3) — a second request hidden in the body must never run;
// - 501 if it names a transfer coding other than chunked (RFC 9112 §6.1: none is implemented);
// - 501 if its method is not one keyhold knows (GET HEAD POST PUT PATCH DELETE OPTIONS TRACE,
//   and Vault's LIST); a known method that a path does not serve is the surface's 405;
// - 400 if its target is not in origin form ("/path?query"), absolute form
//   ("http://host/path"), or asterisk form ("*", OPTIONS only);
// - 415 if a body follows and Content-Encoding names a coding other than identity: no body is
//   decoded, so a compressed one would be read as plain (RFC 9110 §8.4.1, §15.5.16).
// nullopt when none applies.
std::optional<Refusal> CheckHead(const boost::beast::http::request_header<>& head,
                                 size_t max_fields);

// The origin form ("/path?query") of a target that passed CheckHead: an absolute-form target
// loses its scheme and authority ("http://h:1/v2/x?y" -> "/v2/x?y", "http://h" -> "/"); other
// targets (origin form, "*") are returned unchanged.
std::string OriginForm(std::string_view target);

// Checks a request head as it was received: all of it, or one of the parts the parser takes in
// turn (the request line, whole fields, the empty line), given in order. Returns 400 if a field
// value is continued on a line that starts with a space or a tab (obsolete line folding, RFC 9112
// §5.2): the parser would join the lines, where a proxy in front may have read them otherwise.
// nullopt when it has none. Nothing after the empty line ending the head is looked at. Call it
// on the bytes as sent: the parsed fields no longer show where a value was folded.
std::optional<Refusal> CheckLineFolding(std::string_view head);

// As much of a request line as `bytes` (the start of a request) holds: the method, and the
// target up to its end or up to `max_target` bytes. Both empty if no method followed by a space
// has arrived. `complete` is true once the line's end has arrived.
struct RequestLine {
  std::string method;
  std::string target;
  bool complete = false;
};
RequestLine PeekRequestLine(std::string_view bytes, size_t max_target);

}  // namespace keyhold::http
