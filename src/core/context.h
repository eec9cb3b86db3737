// RequestContext: who is asking, from where, as part of which request, and until when.
//
// Every request the server accepts gets one context before any handler runs; every service
// operation takes it, so audit entries, usage records, IP rules and brute-force counters all read
// the same request id, client address and actor.
//
//   RequestContext ctx{.request_id = "req_0Vbh...", .client_ip = "203.0.113.7"};
//   ctx.actor = svc->Authenticate(bearer).value();   // once the root key is known
//   svc->CreateApi(ctx, {.name = "helpdesk"});
//
// Plain data: copying is cheap enough for tests, and the server passes it by reference.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace keyhold {

// An authenticated root key: the actor of a request.
struct Principal {
  std::string key_id;                    // empty: not authenticated
  std::vector<std::string> permissions;  // patterns, see core/permissions.h

  // True if one of the held patterns grants `permission`.
  bool Can(std::string_view permission) const;
};

struct RequestContext {
  // "req_" and 20 base62 characters; returned to the caller and written in the access log.
  std::string request_id;
  // The address the request is attributed to: the socket peer, or the nearest untrusted address
  // in X-Forwarded-For when the peer is a configured trusted proxy (http/client_address.h).
  std::string client_ip;
  // The socket peer, whatever X-Forwarded-For says.
  std::string peer_ip;
  // What the caller of the API being protected asked for, when a proxy says so (e.g.
  // "GET /tickets"): recorded with each verification. Empty for direct API calls.
  std::string route;
  // The root key the request authenticated with; empty key_id before authentication.
  Principal actor;
  // When the server read the first byte of the request, and when it stops waiting for it.
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // False while the request runs on a network I/O thread: an operation that would wait on the
  // disk must not run there (the server re-runs it on a worker thread instead).
  bool may_block = true;

  bool Expired(std::chrono::steady_clock::time_point now) const { return now >= deadline; }
};

}  // namespace keyhold
