// The bytes of an HTTP/1.x response: status line, fields and body, written into one buffer so
// that an answer goes out in one send, without a generic serializer's per-field iteration.
#pragma once

#include <string>

#include "http/message.h"

namespace keyhold::http {

// Whether the body goes out: a HEAD answer is the GET answer's head only (RFC 9110 §9.3.2).
enum class BodyPolicy { kSend, kHeadOnly };

// Appends `r` to `out` as HTTP/1.`minor` (version 10 or 11) would carry it:
// - "Server: keyhold" first, then the handler's fields in order; of fields named alike
//   (case-insensitively) only the last is kept, so a handler may replace "Server";
// - Content-Length always (the body's length, for HEAD too), except for 1xx, 204 and 304, which
//   carry neither length nor body (RFC 9110 §6.4.1) whatever the handler put in the body;
// - Connection: close, or keep-alive for HTTP/1.0, as `keep_alive` says; the handler's own
//   Connection, Content-Length and Transfer-Encoding fields are the server's to write and dropped;
// - a field whose name is not a token is dropped; a control byte in a value (CR, LF, NUL, DEL…)
//   is written percent-encoded, so no value can end its line or start another.
void AppendResponse(std::string& out, const HttpResponse& r, unsigned version, bool keep_alive,
                    BodyPolicy body = BodyPolicy::kSend);

}  // namespace keyhold::http
