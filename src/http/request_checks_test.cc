#include "http/request_checks.h"

#include <gtest/gtest.h>

#include <boost/beast/http/empty_body.hpp>
#include <initializer_list>
#include <utility>

namespace keyhold::http {
namespace {

namespace bhttp = boost::beast::http;
using Fields = std::initializer_list<std::pair<const char*, const char*>>;

bhttp::request<bhttp::empty_body> Head(const char* method, const char* target, Fields fields) {
  bhttp::request<bhttp::empty_body> req;
  req.method_string(method);
  req.target(target);
  for (const auto& [name, value] : fields) req.insert(name, value);
  return req;
}

// The status CheckHead refuses with, or 0.
int Verdict(const char* method, const char* target, Fields fields = {}) {
  auto refusal = CheckHead(Head(method, target, fields), kMaxHeaderFields);
  return refusal ? refusal->status : 0;
}

TEST(CheckHead, ChunkedMustBeTheOnlyOrFinalCodingAndNeverBesideContentLength) {
  EXPECT_EQ(Verdict("POST", "/x", {{"Transfer-Encoding", "chunked"}}), 0);
  EXPECT_EQ(Verdict("POST", "/x", {{"Transfer-Encoding", " Chunked "}}), 0);
  // No length can be known: 400, and the listener closes the connection.
  EXPECT_EQ(Verdict("POST", "/x", {{"Transfer-Encoding", "gzip"}}), 400);
  EXPECT_EQ(Verdict("POST", "/x", {{"Transfer-Encoding", "chunked, gzip"}}), 400);
  EXPECT_EQ(Verdict("POST", "/x", {{"Transfer-Encoding", "chunked, chunked"}}), 400);
  EXPECT_EQ(Verdict("POST", "/x", {{"Transfer-Encoding", "chunked;x=1"}}), 400);
  EXPECT_EQ(Verdict("POST", "/x", {{"Transfer-Encoding", ","}}), 400);
  EXPECT_EQ(Verdict("POST", "/x", {{"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}),
            400);
  EXPECT_EQ(Verdict("POST", "/x", {{"Content-Length", "5"}, {"Transfer-Encoding", "gzip"}}), 400);
  // Well framed, but a coding keyhold does not decode: 501.
  EXPECT_EQ(Verdict("POST", "/x", {{"Transfer-Encoding", "gzip, chunked"}}), 501);
  EXPECT_EQ(
      Verdict("POST", "/x", {{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}}),
      501);
  auto refusal = CheckHead(Head("POST", "/x", {{"Transfer-Encoding", "gzip"}}), kMaxHeaderFields);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->reason, "application/invalid_input");
}

TEST(CheckHead, UnknownMethodsAre501KnownOnesPass) {
  for (const char* m :
       {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "LIST"}) {
    EXPECT_EQ(Verdict(m, "/x"), 0) << m;
  }
  for (const char* m : {"FOO", "get", "CONNECT", "PROPFIND"}) EXPECT_EQ(Verdict(m, "/x"), 501) << m;
  auto refusal = CheckHead(Head("FOO", "/x", {}), kMaxHeaderFields);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->reason, "application/method_not_implemented");
  EXPECT_EQ(refusal->detail, "the method FOO is not implemented");
}

TEST(CheckHead, TargetsInOriginAbsoluteOrAsteriskForm) {
  EXPECT_EQ(Verdict("GET", "/v2/liveness?x=1"), 0);
  EXPECT_EQ(Verdict("GET", "http://127.0.0.1:8080/v2/liveness"), 0);
  EXPECT_EQ(Verdict("GET", "HTTPS://h"), 0);
  EXPECT_EQ(Verdict("GET", "http://h?q"), 0);
  EXPECT_EQ(Verdict("OPTIONS", "*"), 0);
  EXPECT_EQ(Verdict("GET", "*"), 400);
  EXPECT_EQ(Verdict("GET", "http://"), 400);
  EXPECT_EQ(Verdict("GET", "http:///x"), 400);
  EXPECT_EQ(Verdict("GET", "ftp://h/x"), 400);
  EXPECT_EQ(Verdict("GET", "h:443"), 400);
  EXPECT_EQ(Verdict("GET", "v2/liveness"), 400);
}

TEST(CheckHead, ABodyInAContentCodingIs415) {
  EXPECT_EQ(Verdict("POST", "/x", {{"Content-Length", "5"}, {"Content-Encoding", "gzip"}}), 415);
  EXPECT_EQ(Verdict("POST", "/x", {{"Transfer-Encoding", "chunked"}, {"Content-Encoding", "br"}}),
            415);
  EXPECT_EQ(
      Verdict("PUT", "/x", {{"Content-Length", "5"}, {"Content-Encoding", "identity, deflate"}}),
      415);
  EXPECT_EQ(Verdict("POST", "/x", {{"Content-Length", "5"}, {"Content-Encoding", "Identity"}}), 0);
  EXPECT_EQ(Verdict("POST", "/x", {{"Content-Length", "5"}, {"Content-Encoding", ""}}), 0);
  // No body, nothing coded: a forwarded request's fields, say.
  EXPECT_EQ(Verdict("GET", "/x", {{"Content-Encoding", "gzip"}}), 0);
  EXPECT_EQ(Verdict("POST", "/x", {{"Content-Length", "0"}, {"Content-Encoding", "gzip"}}), 0);
  auto refusal =
      CheckHead(Head("POST", "/x", {{"Content-Length", "5"}, {"Content-Encoding", " zstd "}}),
                kMaxHeaderFields);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->reason, "application/unsupported_content_encoding");
  EXPECT_EQ(refusal->detail,
            "the request body's Content-Encoding zstd is not supported: send the body "
            "uncompressed");
  // What is not a coding's name is not repeated.
  const char* key = "sk_3ZkQ9xWmT4pLr8VbN2cYhJ6dF1gA";
  refusal = CheckHead(Head("POST", "/x", {{"Content-Length", "5"}, {"Content-Encoding", key}}),
                      kMaxHeaderFields);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->detail,
            "the request body's Content-Encoding is not supported: send the body uncompressed");
}

TEST(CheckHead, MoreThanTheFieldLimitIs431) {
  auto req = Head("GET", "/x", {});
  for (size_t i = 0; i < kMaxHeaderFields; ++i) req.insert("X-" + std::to_string(i), "v");
  EXPECT_FALSE(CheckHead(req, kMaxHeaderFields));
  req.insert("X-One-More", "v");
  auto refusal = CheckHead(req, kMaxHeaderFields);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 431);
  EXPECT_EQ(refusal->reason, "user/request_header_fields_too_large");
}

TEST(OriginForm, DropsSchemeAndAuthority) {
  EXPECT_EQ(OriginForm("/v2/x?y"), "/v2/x?y");
  EXPECT_EQ(OriginForm("http://h:1/v2/x?y"), "/v2/x?y");
  EXPECT_EQ(OriginForm("HTTPS://h"), "/");
  EXPECT_EQ(OriginForm("http://h?y=1"), "/?y=1");
  EXPECT_EQ(OriginForm("*"), "*");
}

TEST(CheckLineFolding, AValueContinuedOnTheNextLineIs400) {
  EXPECT_FALSE(CheckLineFolding("GET / HTTP/1.1\r\nHost: x\r\nA: b  c\r\n\r\n"));
  for (const char* head : {"GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n",
                           "GET / HTTP/1.1\r\nA: b\r\n\tc\r\nHost: x\r\n\r\n",
                           "GET / HTTP/1.1\r\nA: b\r\n \r\n\r\n"}) {
    auto refusal = CheckLineFolding(head);
    ASSERT_TRUE(refusal) << head;
    EXPECT_EQ(refusal->status, 400);
    EXPECT_EQ(refusal->reason, "application/invalid_input");
    EXPECT_NE(refusal->detail.find("folding"), std::string::npos) << refusal->detail;
  }
  // A part of a head, as the parser takes them in turn.
  EXPECT_TRUE(CheckLineFolding("A: b\r\n c\r\n"));
  EXPECT_FALSE(CheckLineFolding("A: b\r\n"));
  // What follows the head is the body's: a space after a line break there is no fold.
  EXPECT_FALSE(CheckLineFolding("POST / HTTP/1.1\r\nHost: x\r\n\r\n{\r\n \"a\": 1}"));
}

TEST(PeekRequestLine, TakesWhatHasArrived) {
  RequestLine l = PeekRequestLine("POST /v2/keys.verifyKey HTTP/1.1\r\nHost", 256);
  EXPECT_EQ(l.method, "POST");
  EXPECT_EQ(l.target, "/v2/keys.verifyKey");
  EXPECT_TRUE(l.complete);
  l = PeekRequestLine("GET /v1/sys/he", 256);
  EXPECT_EQ(l.method, "GET");
  EXPECT_EQ(l.target, "/v1/sys/he");
  EXPECT_FALSE(l.complete);
  l = PeekRequestLine("GET /" + std::string(1000, 'a'), 8);
  EXPECT_EQ(l.target, "/aaaaaaa");
  EXPECT_TRUE(PeekRequestLine("GE", 256).method.empty());
  EXPECT_TRUE(PeekRequestLine(" /x HTTP/1.1\r\n", 256).method.empty());
  EXPECT_TRUE(PeekRequestLine("", 256).method.empty());
}

}  // namespace
}  // namespace keyhold::http
