// Fuzzes HTTP request parsing as the server does it (src/http/server.cc): a Boost.Beast
// request_parser<string_body> with a 16 KiB header limit and the server's body limit, reading
// the raw input bytes from a stream the way the server's sessions read a socket.
//
// Beyond "no crash" it checks that:
//   - the outcome does not depend on how the bytes arrive: read all at once and read in small
//     pieces (1 to 64 bytes, from the first input byte), the server answers the same way (the
//     same request, or 413, or 400, or closing) as a TCP connection may split a request anywhere.
//     Beast may name a different error (a bad target it saw early, a message cut short: the
//     server answers both with 400). And a header block longer than the limit may pass or not
//     depending on the reads: Beast applies the limit to what each parsing step sees, so one
//     large read lets through up to about a start line more than 16 KiB, and 1-byte reads none.
//     Such inputs are not compared; the rest must agree;
//   - an accepted request's body is within the limit, and as long as its Content-Length says
//     when it is not chunked;
//   - the request as handlers see it (http/message.h) has lower-case header names and a path
//     without its query;
//   - the refusal of obsolete line folding (CheckLineFolding on each part of the head the parser
//     takes, as the session does) does not depend on how the bytes arrive either.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/property.h"
#include "http/message.h"
#include "http/request_checks.h"
#include "http/server.h"

namespace keyhold {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using fuzz::Require;

// The limits of src/http/server.cc's sessions.
constexpr size_t kHeaderLimit = 16 * 1024;
const size_t kBodyLimit = http::ServerOptions{}.max_body_bytes;

// What the server's session does with the result of a read (Session::OnReadError).
enum class Answer { kHandle, kTooLarge, kMalformed, kClose };

Answer AnswerFor(const beast::error_code& ec) {
  if (!ec) return Answer::kHandle;
  if (ec == bhttp::error::body_limit) return Answer::kTooLarge;
  if (ec == bhttp::error::end_of_stream) return Answer::kClose;
  if (ec.category() == beast::error_code(bhttp::error::bad_target).category()) {
    return Answer::kMalformed;
  }
  return Answer::kClose;
}

struct Outcome {
  beast::error_code ec;
  http::HttpRequest request;
  bool chunked = false;
  std::optional<uint64_t> content_length;
};

// What the server's ToRequest makes of a parsed request.
http::HttpRequest ToRequest(bhttp::request<bhttp::string_body>& in) {
  http::HttpRequest out;
  out.method = std::string(in.method_string());
  out.target = std::string(in.target());
  for (const auto& field : in) {
    std::string name(field.name_string());
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  out.body = std::move(in.body());
  return out;
}

Outcome Read(std::string_view bytes, size_t piece) {
  static boost::asio::io_context io;
  beast::test::stream stream(io, beast::string_view(bytes.data(), bytes.size()));
  stream.read_size(piece);
  stream.close_remote();  // end of stream after the input
  beast::flat_buffer buffer;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(kBodyLimit);
  parser.header_limit(kHeaderLimit);
  Outcome out;
  bhttp::read(stream, buffer, parser, out.ec);
  if (!out.ec) {
    out.chunked = parser.chunked();
    if (parser.content_length()) out.content_length = *parser.content_length();
    out.request = ToRequest(parser.get());
  }
  return out;
}

// Feeds `bytes` to a parser `piece` bytes at a time as Session::Parse does, checking each part
// of the head the parser takes for line folding. Empty if the head was never whole.
std::optional<bool> FoldingRefused(std::string_view bytes, size_t piece) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(kBodyLimit);
  parser.header_limit(kHeaderLimit);
  beast::flat_buffer buffer;
  bool refused = false;
  size_t at = 0;
  while (at < bytes.size()) {
    size_t n = std::min(piece, bytes.size() - at);
    auto room = buffer.prepare(n);
    std::memcpy(room.data(), bytes.data() + at, n);
    buffer.commit(n);
    at += n;
    while (buffer.size() > 0) {
      beast::error_code ec;
      bool in_head = !parser.is_header_done();
      auto data = buffer.data();
      size_t used = parser.put(data, ec);
      if (in_head && !refused) {
        refused = http::CheckLineFolding({static_cast<const char*>(data.data()), used}).has_value();
      }
      buffer.consume(used);
      if (parser.is_header_done()) return refused;
      if (ec == bhttp::error::need_more) break;
      if (ec) return std::nullopt;
    }
  }
  return std::nullopt;
}

// True if the header block (through the first empty line, or all of the input without one) is
// longer than the limit: whether Beast refuses it depends on how the bytes arrive.
bool OverHeaderLimit(std::string_view bytes) {
  size_t end = bytes.find("\r\n\r\n");
  return (end == std::string_view::npos ? bytes.size() : end + 4) > kHeaderLimit;
}

bool Same(const http::HttpRequest& a, const http::HttpRequest& b) {
  return a.method == b.method && a.target == b.target && a.headers == b.headers && a.body == b.body;
}

void CheckAccepted(const Outcome& o) {
  const http::HttpRequest& r = o.request;
  Require(r.body.size() <= kBodyLimit, "a body over the limit was accepted");
  if (!o.chunked && o.content_length) {
    Require(r.body.size() == *o.content_length, "the body is not as long as Content-Length");
  }
  for (const auto& [name, value] : r.headers) {
    for (char c : name) Require(!std::isupper(static_cast<unsigned char>(c)), "header name case");
  }
  Require(r.Path().find('?') == std::string_view::npos, "the path holds the query");
  Require(r.target.starts_with(r.Path()), "the path is not the start of the target");
}

}  // namespace
}  // namespace keyhold

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyhold;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Outcome whole = Read(bytes, size + 1);
  Outcome pieces = Read(bytes, size == 0 ? 1 : 1 + data[0] % 64);
  for (const Outcome* o : {&whole, &pieces}) {
    if (!o->ec) CheckAccepted(*o);
  }
  if (OverHeaderLimit(bytes)) return 0;
  if (AnswerFor(whole.ec) != AnswerFor(pieces.ec)) {
    std::fprintf(stderr, "all at once: %s; in pieces: %s\n", whole.ec.message().c_str(),
                 pieces.ec.message().c_str());
  }
  fuzz::Require(AnswerFor(whole.ec) == AnswerFor(pieces.ec),
                "the server's answer depends on how the bytes arrive");
  if (!whole.ec) {
    fuzz::Require(Same(whole.request, pieces.request),
                  "the request depends on how the bytes arrive");
  }
  std::optional<bool> fold_whole = FoldingRefused(bytes, size + 1);
  std::optional<bool> fold_pieces = FoldingRefused(bytes, size == 0 ? 1 : 1 + data[0] % 64);
  if (fold_whole && fold_pieces) {
    fuzz::Require(*fold_whole == *fold_pieces,
                  "refusing a folded field depends on how the bytes arrive");
  }
  return 0;
}
