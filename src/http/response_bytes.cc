#include "http/response_bytes.h"

#include <boost/beast/http/status.hpp>
#include <string_view>

namespace keyhold::http {
namespace {

bool SameName(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x != y && (x | 0x20) != (y | 0x20)) return false;
    if (x != y && ((x | 0x20) < 'a' || (x | 0x20) > 'z')) return false;
  }
  return true;
}

// RFC 9110 §5.6.2 tchar.
bool IsToken(std::string_view name) {
  if (name.empty()) return false;
  for (char ch : name) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool ServerWritten(std::string_view name) {
  return SameName(name, "connection") || SameName(name, "content-length") ||
         SameName(name, "transfer-encoding");
}

void AppendValue(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : value) {
    unsigned char c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
}

void AppendField(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  AppendValue(out, value);
  out += "\r\n";
}

}  // namespace

void AppendResponse(std::string& out, const HttpResponse& r, unsigned version, bool keep_alive,
                    BodyPolicy body) {
  namespace bhttp = boost::beast::http;
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(r.status));
  out.append(reason.data(), reason.size());
  out += "\r\n";

  const auto& fields = r.headers;
  auto replaced_later = [&](size_t i) {
    for (size_t j = i + 1; j < fields.size(); ++j) {
      if (SameName(fields[i].first, fields[j].first)) return true;
    }
    return false;
  };
  bool handler_server = false;
  for (const auto& [name, value] : fields)
    handler_server = handler_server || SameName(name, "server");
  if (!handler_server) out += "Server: keyhold\r\n";
  for (size_t i = 0; i < fields.size(); ++i) {
    const auto& [name, value] = fields[i];
    if (!IsToken(name) || ServerWritten(name) || replaced_later(i)) continue;
    AppendField(out, name, value);
  }

  if (version == 10 && keep_alive) out += "Connection: keep-alive\r\n";
  if (version != 10 && !keep_alive) out += "Connection: close\r\n";

  bool no_content = r.status < 200 || r.status == 204 || r.status == 304;
  if (!no_content) {
    out += "Content-Length: ";
    out += std::to_string(r.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  if (!no_content && body == BodyPolicy::kSend) out += r.body;
}

}  // namespace keyhold::http
