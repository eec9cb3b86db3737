// ApiClient: calls a keyhold server's `/v2/` operations, for the CLI's client commands.
//
//   KH_ASSIGN_OR_RETURN(ApiClient c, ApiClient::FromEnvironment());   // KEYHOLD_ADDR,
//   KEYHOLD_TOKEN KH_ASSIGN_OR_RETURN(ApiResult r, c.Call("keys.getKey", {{"keyId", id}}));
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace keyhold::cli {

struct ApiResult {  // NOLINT(bugprone-exception-escape): nlohmann::json members
  int http_status = 0;
  nlohmann::json body;  // the whole envelope
};

class ApiClient {
 public:
  // Reads KEYHOLD_ADDR (default http://127.0.0.1:8080), KEYHOLD_TOKEN (required) and
  // KEYHOLD_CACERT (a PEM file of CAs to trust for https, default the system's).
  // Errors: kInvalidArgument for a missing token or an unusable address.
  static StatusOr<ApiClient> FromEnvironment();
  // As FromEnvironment, for calls that need no token (`sys/unseal`): KEYHOLD_TOKEN is not read.
  static StatusOr<ApiClient> WithoutToken();

  // POSTs `body` to /v2/<operation>. Any HTTP status is a result; errors are kUnavailable for a
  // connection or TLS failure, kInternal for a response that is not JSON.
  StatusOr<ApiResult> Call(const std::string& operation, const nlohmann::json& body) const;

  // Sends `method` to `target` (e.g. "/v1/secret/data/app") with the token as X-Vault-Token and
  // `body` as JSON unless it is null. An empty answer (204) is a result with a null body. Errors:
  // as Call.
  StatusOr<ApiResult> Vault(const std::string& method, const std::string& target,
                            const nlohmann::json& body,
                            const std::string& content_type = "application/json") const;

  // Where the client connects, for messages: "http://host:port".
  std::string Address() const;

 private:
  StatusOr<ApiResult> Send(const std::string& method, const std::string& target,
                           const std::string& body, const std::string& content_type,
                           bool vault) const;

  bool tls_ = false;
  std::string host_;
  std::string port_;
  std::string token_;
  std::string ca_file_;
};

// Prints a /v2/ error envelope (or a bare error object) on standard error: title, detail and the
// error's code (the end of its `type`, e.g. data/key_not_found), then each field at fault.
void PrintApiError(const nlohmann::json& body);
// Prints a /v1/ (Vault-format) error answer to standard error: "error: STATUS: the errors".
void PrintVaultError(const ApiResult& r);

}  // namespace keyhold::cli
