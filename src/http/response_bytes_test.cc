#include "http/response_bytes.h"

#include <gtest/gtest.h>

namespace keyhold::http {
namespace {

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

std::string Bytes(const HttpResponse& r, unsigned version, bool keep_alive,
                  BodyPolicy body = BodyPolicy::kSend) {
  std::string out;
  AppendResponse(out, r, version, keep_alive, body);
  return out;
}

TEST(ResponseBytes, StatusLineFieldsLengthAndBody) {
  EXPECT_EQ(Bytes(Json(200, R"({"a":1})"), 11, true),
            "HTTP/1.1 200 OK\r\nServer: keyhold\r\nContent-Type: application/json\r\n"
            "Content-Length: 7\r\n\r\n{\"a\":1}");
  EXPECT_EQ(Bytes(Json(404, ""), 11, false),
            "HTTP/1.1 404 Not Found\r\nServer: keyhold\r\nContent-Type: application/json\r\n"
            "Connection: close\r\nContent-Length: 0\r\n\r\n");
}

TEST(ResponseBytes, Http10SaysKeepAliveWhenKept) {
  EXPECT_EQ(Bytes(Json(200, "x"), 10, true),
            "HTTP/1.0 200 OK\r\nServer: keyhold\r\nContent-Type: application/json\r\n"
            "Connection: keep-alive\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_EQ(Bytes(Json(200, "x"), 10, false),
            "HTTP/1.0 200 OK\r\nServer: keyhold\r\nContent-Type: application/json\r\n"
            "Content-Length: 1\r\n\r\nx");
}

TEST(ResponseBytes, HeadGetsTheLengthWithoutTheBody) {
  EXPECT_EQ(Bytes(Json(200, "hello"), 11, true, BodyPolicy::kHeadOnly),
            "HTTP/1.1 200 OK\r\nServer: keyhold\r\nContent-Type: application/json\r\n"
            "Content-Length: 5\r\n\r\n");
}

TEST(ResponseBytes, NoContentStatusesCarryNeitherLengthNorBody) {
  for (int status : {101, 204, 304}) {
    std::string bytes = Bytes(Json(status, "dropped"), 11, true);
    EXPECT_EQ(bytes.find("Content-Length"), std::string::npos) << status;
    EXPECT_EQ(bytes.find("dropped"), std::string::npos) << status;
    EXPECT_EQ(bytes.substr(bytes.size() - 4), "\r\n\r\n") << status;
  }
}

TEST(ResponseBytes, TheLastOfFieldsNamedAlikeIsKeptAndMayReplaceServer) {
  HttpResponse r;
  r.headers = {{"X-A", "1"}, {"server", "other"}, {"x-a", "2"}, {"X-B", "3"}};
  EXPECT_EQ(Bytes(r, 11, true),
            "HTTP/1.1 200 OK\r\nserver: other\r\nx-a: 2\r\nX-B: 3\r\nContent-Length: 0\r\n\r\n");
}

TEST(ResponseBytes, FramingFieldsAreTheServersOwn) {
  HttpResponse r = Json(200, "abc");
  r.headers.emplace_back("Content-Length", "999");
  r.headers.emplace_back("Transfer-Encoding", "chunked");
  r.headers.emplace_back("Connection", "upgrade");
  EXPECT_EQ(Bytes(r, 11, true),
            "HTTP/1.1 200 OK\r\nServer: keyhold\r\nContent-Type: application/json\r\n"
            "Content-Length: 3\r\n\r\nabc");
}

TEST(ResponseBytes, NoValueEndsItsLineAndNoBadNameIsWritten) {
  HttpResponse r;
  r.status = 302;
  r.headers = {{"Location", "/a\r\nSet-Cookie: x=1\x7f\x01\tb"},
               {"Bad Name", "v"},
               {"", "v"},
               {"X-Ok", "caf\xc3\xa9"}};
  EXPECT_EQ(Bytes(r, 11, true),
            "HTTP/1.1 302 Found\r\nServer: keyhold\r\n"
            "Location: /a%0D%0ASet-Cookie: x=1%7F%01\tb\r\nX-Ok: caf\xc3\xa9\r\n"
            "Content-Length: 0\r\n\r\n");
}

}  // namespace
}  // namespace keyhold::http
