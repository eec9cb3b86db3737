#include "cli/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <cstdlib>

namespace keyhold::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

StatusOr<ApiClient> ApiClient::FromEnvironment() {
  const char* token = std::getenv("KEYHOLD_TOKEN");
  if (!token || !*token) return InvalidArgument("set KEYHOLD_TOKEN to a root key");
  KH_ASSIGN_OR_RETURN(ApiClient c, WithoutToken());
  c.token_ = token;
  return c;
}

StatusOr<ApiClient> ApiClient::WithoutToken() {
  ApiClient c;
  const char* addr_env = std::getenv("KEYHOLD_ADDR");
  std::string addr = addr_env && *addr_env ? addr_env : "http://127.0.0.1:8080";
  if (addr.starts_with("https://")) {
    c.tls_ = true;
    addr = addr.substr(8);
  } else if (addr.starts_with("http://")) {
    addr = addr.substr(7);
  } else {
    return InvalidArgument("KEYHOLD_ADDR must start with http:// or https://");
  }
  while (!addr.empty() && addr.back() == '/') addr.pop_back();
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || addr.back() == ']') {
    c.host_ = addr;
    c.port_ = c.tls_ ? "443" : "80";
  } else {
    c.host_ = addr.substr(0, colon);
    c.port_ = addr.substr(colon + 1);
  }
  if (c.host_.size() > 2 && c.host_.front() == '[') c.host_ = c.host_.substr(1, c.host_.size() - 2);
  if (const char* ca = std::getenv("KEYHOLD_CACERT")) c.ca_file_ = ca;
  return c;
}

StatusOr<ApiResult> ApiClient::Call(const std::string& operation,
                                    const nlohmann::json& body) const {
  auto r = Send("POST", "/v2/" + operation, body.dump(), "application/json", /*vault=*/false);
  if (r.ok() && r->body.is_null()) return Internal("the server's answer is not JSON");
  return r;
}

StatusOr<ApiResult> ApiClient::Vault(const std::string& method, const std::string& target,
                                     const nlohmann::json& body,
                                     const std::string& content_type) const {
  return Send(method, target, body.is_null() ? "" : body.dump(), content_type, /*vault=*/true);
}

void PrintApiError(const nlohmann::json& body) {
  if (!body.is_object()) {
    std::fprintf(stderr, "error: %s\n", body.dump().c_str());
    return;
  }
  const nlohmann::json& err = body.contains("error") ? body["error"] : body;
  if (!err.is_object()) {
    std::fprintf(stderr, "error: %s\n", err.dump().c_str());
    return;
  }
  std::string code = err.value("type", "");
  // The type is a URL naming the error; its path after /errors/ is the code clients match on.
  if (size_t at = code.find("/errors/"); at != std::string::npos) code = code.substr(at + 8);
  std::fprintf(stderr, "error: %s: %s%s\n", err.value("title", "error").c_str(),
               err.value("detail", "").c_str(), code.empty() ? "" : (" (" + code + ")").c_str());
  if (err.contains("errors") && err["errors"].is_array()) {
    for (const auto& e : err["errors"]) {
      std::fprintf(stderr, "  %s: %s\n", e.value("location", "").c_str(),
                   e.value("message", "").c_str());
    }
  }
}

void PrintVaultError(const ApiResult& r) {
  std::string detail;
  if (r.body.is_object() && r.body.contains("errors") && r.body["errors"].is_array()) {
    for (const auto& e : r.body["errors"]) {
      if (e.is_string()) detail += (detail.empty() ? "" : "; ") + e.get<std::string>();
    }
  }
  if (detail.empty() && r.body.is_object() && r.body.contains("data") &&
      r.body["data"].is_object() && r.body["data"].contains("metadata")) {
    const nlohmann::json& m = r.body["data"]["metadata"];
    detail = "version " + std::to_string(m.value("version", 0)) +
             (m.value("destroyed", false) ? " is destroyed"
                                          : " is deleted (since " + m.value("deletion_time", "") +
                                                "; undelete restores it)");
  }
  if (detail.empty()) detail = r.http_status == 404 ? "not found" : "request failed";
  std::fprintf(stderr, "error: %d: %s\n", r.http_status, detail.c_str());
}

std::string ApiClient::Address() const {
  bool v6 = host_.find(':') != std::string::npos;
  return std::string(tls_ ? "https://" : "http://") + (v6 ? "[" + host_ + "]" : host_) + ":" +
         port_;
}

StatusOr<ApiResult> ApiClient::Send(const std::string& method, const std::string& target,
                                    const std::string& body, const std::string& content_type,
                                    bool vault) const {
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host_, port_);
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, host_);
    if (token_.empty()) {
      // no credential: a call that needs none
    } else if (vault) {
      req.set("X-Vault-Token", token_);
    } else {
      req.set(bhttp::field::authorization, "Bearer " + token_);
    }
    req.set(bhttp::field::user_agent, "keyhold-cli");
    if (!body.empty()) {
      req.set(bhttp::field::content_type, content_type);
      req.body() = body;
    }
    req.prepare_payload();
    bhttp::response<bhttp::string_body> resp;
    beast::flat_buffer buffer;
    if (tls_) {
      asio::ssl::context ctx(asio::ssl::context::tls_client);
      ctx.set_verify_mode(asio::ssl::verify_peer);
      if (ca_file_.empty()) {
        ctx.set_default_verify_paths();
      } else {
        ctx.load_verify_file(ca_file_);
      }
      beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
      // SNI; the OpenSSL macro for this uses a C-style cast.
      SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(host_.c_str()));
      stream.set_verify_callback(asio::ssl::host_name_verification(host_));
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
      beast::get_lowest_layer(stream).connect(endpoints);
      stream.handshake(asio::ssl::stream_base::client);
      bhttp::write(stream, req);
      bhttp::read(stream, buffer, resp);
    } else {
      beast::tcp_stream stream(io);
      stream.expires_after(std::chrono::seconds(30));
      stream.connect(endpoints);
      bhttp::write(stream, req);
      bhttp::read(stream, buffer, resp);
    }
    ApiResult out;
    out.http_status = static_cast<int>(resp.result_int());
    if (resp.body().empty()) return out;
    out.body = nlohmann::json::parse(resp.body(), nullptr, false);
    if (out.body.is_discarded()) return Internal("the server's answer is not JSON");
    return out;
  } catch (const std::exception& e) {
    return Unavailable("cannot reach the keyhold server at " + Address() + ": " + e.what());
  }
}

}  // namespace keyhold::cli
