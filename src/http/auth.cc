#include "http/auth.h"

#include <algorithm>
#include <cctype>

namespace keyhold::http {

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  // RFC 9110 §11.1: the scheme is case-insensitive; one or more spaces before the token.
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() + 1) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return std::nullopt;
    }
  }
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ') return std::nullopt;
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (rest.empty()) return std::nullopt;
  for (char c : rest) {
    if (c == ' ' || c == '\t' || c == ',') return std::nullopt;
  }
  return rest;
}

StatusOr<Principal> AuthenticateRootKey(service::KeyService& keys, const HttpRequest& req) {
  size_t given = std::count_if(req.headers.begin(), req.headers.end(),
                               [](const auto& h) { return h.first == "authorization"; });
  if (given > 1) {
    return Unauthenticated("send exactly one Authorization header", "authentication/malformed");
  }
  std::string_view auth = req.Header("authorization");
  if (auth.empty()) {
    return Unauthenticated("send a root key as 'Authorization: Bearer <root key>'",
                           "authentication/missing");
  }
  auto token = BearerToken(auth);
  if (!token) {
    return Unauthenticated("the Authorization header must be 'Bearer <root key>'",
                           "authentication/malformed");
  }
  return keys.Authenticate(*token);
}

}  // namespace keyhold::http
