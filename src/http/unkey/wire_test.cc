#include "http/unkey/wire.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <random>
#include <set>

#include "http/auth.h"
#include "service/secrets.h"

namespace keyhold::http::unkey {
namespace {

TEST(BodyReader, ReadsTypedFieldsAndReportsUnknownOnes) {
  json body = json::parse(R"({"apiId":"api_1","limit":5,"flag":true,"extra":1})");
  std::vector<FieldError> errors;
  BodyReader r(body, "body", &errors);
  EXPECT_EQ(r.String("apiId", {.required = true}), "api_1");
  EXPECT_EQ(r.Int("limit", {.min = 1, .max = 100}), 5);
  EXPECT_EQ(r.Bool("flag"), true);
  EXPECT_TRUE(errors.empty());
  r.Finish();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].location, "body.extra");
}

TEST(BodyReader, WrongTypesRangesAndMissingFields) {
  json body = json::parse(R"({"a":1,"b":"x","c":1e300,"d":2.5,"e":-1,"f":"toolong"})");
  std::vector<FieldError> errors;
  BodyReader r(body, "body", &errors);
  EXPECT_FALSE(r.String("a", {}));
  EXPECT_FALSE(r.Int("b", {}));
  EXPECT_FALSE(r.Int("c", {}));
  EXPECT_FALSE(r.Int("d", {}));
  EXPECT_FALSE(r.Int("e", {.min = 0, .max = 10}));
  EXPECT_FALSE(r.String("f", {.max = 3}));
  EXPECT_FALSE(r.String("missing", {.required = true}));
  std::vector<std::string> locations;
  for (const auto& e : errors) locations.push_back(e.location);
  EXPECT_EQ(locations, (std::vector<std::string>{"body.a", "body.b", "body.c", "body.d", "body.e",
                                                 "body.f", "body.missing"}));
}

TEST(BodyReader, NestedCreditsAndRatelimits) {
  json body = json::parse(
      R"({"credits":{"remaining":5,"refill":{"interval":"weekly","amount":1,"bogus":1}},
          "ratelimits":[{"name":"r","limit":0,"duration":10}]})");
  std::vector<FieldError> errors;
  BodyReader r(body, "body", &errors);
  ReadCredits(r, "credits");
  ReadRatelimits(r, "ratelimits");
  std::vector<std::string> locations;
  for (const auto& e : errors) locations.push_back(e.location);
  EXPECT_EQ(locations,
            (std::vector<std::string>{"body.credits.refill.interval", "body.credits.refill.bogus",
                                      "body.ratelimits[0].limit", "body.ratelimits[0].duration"}));
}

TEST(Envelope, ErrorShape) {
  HttpResponse r = ErrorWith("req_1", 404, "data/key_not_found", "key 'key_1' was not found");
  EXPECT_EQ(r.status, 404);
  json j = json::parse(r.body);
  EXPECT_EQ(j["meta"]["requestId"], "req_1");
  EXPECT_EQ(j["error"]["status"], 404);
  EXPECT_EQ(j["error"]["title"], "Not Found");
  EXPECT_TRUE(j["error"]["type"].get<std::string>().ends_with("data/key_not_found"));
  EXPECT_FALSE(j["error"].contains("errors"));
  HttpResponse bad = BadRequest("req_2", {{"body.x", "is required", ""}});
  json b = json::parse(bad.body);
  EXPECT_EQ(b["error"]["errors"][0]["location"], "body.x");
}

TEST(Envelope, EngineTextIsLoggedUnderTheRequestIdAndNeverSent) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  Status st = Unavailable("the store could not be written")
                  .WithLogDetail("commit: database or disk is full");
  HttpResponse r = Error("req_abc", st);
  spdlog::set_default_logger(previous);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.find("disk is full"), std::string::npos) << r.body;
  json b = json::parse(r.body);
  EXPECT_EQ(b["meta"]["requestId"], "req_abc");
  EXPECT_EQ(b["error"]["detail"], "the store could not be written");
  auto logged = sink->last_formatted();
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("req_abc"), std::string::npos);
  EXPECT_NE(logged[0].find("disk is full"), std::string::npos);
}

TEST(RequestFraming, DepthIsMeasuredWithoutRecursionAndStringsDoNotCount) {
  EXPECT_FALSE(JsonDepthExceeds(R"({"a":[[1]]})", 3));
  EXPECT_TRUE(JsonDepthExceeds(R"({"a":[[[1]]]})", 3));
  EXPECT_FALSE(JsonDepthExceeds(R"({"a":"[[[[[[\"[[["})", 1));
  EXPECT_TRUE(JsonDepthExceeds(std::string(100000, '['), 64));
  EXPECT_FALSE(JsonDepthExceeds(std::string(100000, ']'), 64));
}

TEST(RequestFraming, BearerSchemeIsCaseInsensitive) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("BEARER   abc  "), "abc");
  EXPECT_EQ(BearerToken("Bearerabc"), std::nullopt);
  EXPECT_EQ(BearerToken("Basic abc"), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer a b"), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer "), std::nullopt);
}

TEST(ParseJsonStrict, RefusesAKeyNamedTwiceInOneObject) {
  bool dup = true;
  EXPECT_FALSE(ParseJsonStrict(R"({"key":"a","tags":["x"]})", &dup).is_discarded());
  EXPECT_FALSE(dup);
  EXPECT_TRUE(ParseJsonStrict(R"({"key":"a","key":"b"})", &dup).is_discarded());
  EXPECT_TRUE(dup);
  EXPECT_TRUE(ParseJsonStrict(R"({"credits":{"cost":1,"cost":2}})", &dup).is_discarded());
  EXPECT_TRUE(dup);
  EXPECT_TRUE(ParseJsonStrict(R"({"":1,"":2})", &dup).is_discarded());
  EXPECT_TRUE(dup) << "the empty name too";
  // The same name in sibling or nested objects is fine.
  EXPECT_FALSE(
      ParseJsonStrict(R"({"a":{"n":1},"b":{"n":2},"c":[{"n":1},{"n":2}]})", &dup).is_discarded());
  EXPECT_FALSE(dup);
  EXPECT_TRUE(ParseJsonStrict(R"({"a":1)", &dup).is_discarded()) << "malformed";
  EXPECT_FALSE(dup);
}

// What the general parser makes of `text`, duplicate names refused: the reference for the path
// that reads flat objects of plain strings without it.
json ReferenceParse(std::string_view text, bool* duplicate) {
  std::vector<std::set<std::string>> open;
  *duplicate = false;
  auto watch = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) open.emplace_back();
    if (event == json::parse_event_t::object_end && !open.empty()) open.pop_back();
    if (event == json::parse_event_t::key && !open.empty() &&
        !open.back().insert(parsed.get<std::string>()).second) {
      *duplicate = true;
    }
    return true;
  };
  json v = json::parse(text, watch, /*allow_exceptions=*/false);
  return *duplicate ? json(json::value_t::discarded) : v;
}

TEST(ParseJsonStrict, PlainStringObjectsReadAsTheGeneralParserReadsThem) {
  // Pieces of JSON, valid and not: names, plain and escaped strings, non-ASCII, control
  // characters, numbers, nesting, every kind of white space, stray punctuation.
  const std::vector<std::string> pieces = {"{",
                                           "}",
                                           "\"key\"",
                                           "\"sk_1AbC\"",
                                           "\"a b\"",
                                           "\"\"",
                                           ":",
                                           ",",
                                           " ",
                                           "\t",
                                           "\n",
                                           "\r",
                                           "\"x\\\"y\"",
                                           "\"\\u0041\"",
                                           "\"\xc3\xa9\"",
                                           "\"\xff\"",
                                           std::string("\"a\x01\""),
                                           "1",
                                           "[",
                                           "]",
                                           "\"tags\"",
                                           "null",
                                           "\"~!@#$%^&*()\"",
                                           "\v",
                                           "\"open"};
  std::mt19937 rng(7);
  int plain = 0;
  for (int n = 0; n < 200000; ++n) {
    std::string text;
    if (n % 2 == 0) {
      // Well-formed flat objects, some with a name twice.
      text = "{";
      const int fields = static_cast<int>(rng() % 4);
      for (int f = 0; f < fields; ++f) {
        if (f > 0) text += pieces[7 + rng() % 5];  // "," or white space (some malformed)
        text += pieces[2 + rng() % 4] + pieces[8 + rng() % 4] + ":" + pieces[2 + rng() % 20];
      }
      text += rng() % 8 == 0 ? pieces[rng() % pieces.size()] : "}";
      if (rng() % 4 == 0) text += pieces[8 + rng() % 4];
    } else {
      for (int k = 1 + static_cast<int>(rng() % 12); k > 0; --k) {
        text += pieces[rng() % pieces.size()];
      }
    }
    bool dup_fast = false;
    bool dup_ref = false;
    json fast = ParseJsonStrict(text, &dup_fast);
    json ref = ReferenceParse(text, &dup_ref);
    ASSERT_EQ(dup_fast, dup_ref) << text;
    ASSERT_EQ(fast.is_discarded(), ref.is_discarded()) << text;
    if (!ref.is_discarded()) {
      ASSERT_EQ(fast, ref) << text;
      plain += ref.is_object() ? 1 : 0;
    }
  }
  EXPECT_GT(plain, 10000) << "the generator must reach the objects it is about";
}

// CPU time of this thread, in seconds.
double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// A flat object of n objects, each member named once.
std::string ObjectOfObjects(int n) {
  std::string text = "{";
  for (int i = 0; i < n; ++i) {
    if (i > 0) text += ',';
    text += "\"m" + std::to_string(i) + "\":{}";
  }
  return text + "}";
}

// The parser's callback form rescanned an object's members at the end of every nested object:
// 40,000 members took seconds (n²). Four times the members must cost about four times the time.
TEST(ParseJsonStrict, TimeGrowsWithTheMembersNotTheirSquare) {
  auto best_of_three = [](const std::string& text) {
    double best = 1e9;
    for (int round = 0; round < 3; ++round) {
      bool dup = true;
      const double start = ThreadCpuSeconds();
      json v = ParseJsonStrict(text, &dup);
      best = std::min(best, ThreadCpuSeconds() - start);
      EXPECT_FALSE(dup);
      EXPECT_TRUE(v.is_object());
    }
    return best;
  };
  const double small = best_of_three(ObjectOfObjects(10'000));
  const double large = best_of_three(ObjectOfObjects(40'000));
  EXPECT_LT(large, 10 * std::max(small, 1e-3))
      << small << " s for 10,000, " << large << " s for 40,000";
  std::string repeated = ObjectOfObjects(40'000);
  repeated.pop_back();
  repeated += R"(,"m7":{}})";
  bool dup = false;
  EXPECT_TRUE(ParseJsonStrict(repeated, &dup).is_discarded());
  EXPECT_TRUE(dup);
}

TEST(UnkeyError, ABadRequestListsAtMostTwentyProblems) {
  std::vector<FieldError> errors;
  for (int i = 0; i < 1000; ++i) {
    errors.push_back({"body.f" + std::to_string(i), "is not a known field", ""});
  }
  HttpResponse r = BadRequest("req_1", errors);
  EXPECT_EQ(r.status, 400);
  json body = json::parse(r.body);
  const json& listed = body["error"]["errors"];
  ASSERT_EQ(listed.size(), 21u) << r.body.substr(0, 300);
  EXPECT_EQ(listed[0]["location"], "body.f0");
  EXPECT_EQ(listed[20]["message"], "and 980 more problems, not listed");
  EXPECT_LT(r.body.size(), 4096u);
}

TEST(UnkeyError, BackloggedSecretReadsAre503WithRetryAfter) {
  HttpResponse busy = Error("req_1", Unavailable("too many secret reads are waiting",
                                                 std::string(service::kReadsBackloggedReason)));
  EXPECT_EQ(busy.status, 503);
  auto retry = std::find_if(busy.headers.begin(), busy.headers.end(),
                            [](const auto& h) { return h.first == "Retry-After"; });
  ASSERT_NE(retry, busy.headers.end());
  EXPECT_EQ(retry->second, "1");
  HttpResponse failing = Error("req_2", Unavailable("the store could not be written"));
  EXPECT_EQ(failing.status, 503);
  EXPECT_TRUE(std::none_of(failing.headers.begin(), failing.headers.end(),
                           [](const auto& h) { return h.first == "Retry-After"; }));
}

TEST(JsonWriter, WritesWhatJsonWritesForTheSameMembers) {
  static constexpr char kControls[] = "nul \0 and\tcontrols\x01\x1f\x7f";
  const std::vector<std::string> strings = {
      "",
      "plain text",
      "quote \" and backslash \\",
      std::string(kControls, sizeof(kControls) - 1),
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91",
      "invalid \xff\xfe bytes \xc3",
      "\xed\xa0\x80 surrogate",
  };
  for (const std::string& s : strings) {
    std::string text;
    JsonWriter w(text);
    w.Bool("a", true).Int("b", -42).String("c", s).Strings("d", {s, "x", s});
    w.Value("e", json{{"k", s}, {"n", nullptr}});
    w.Bool("f", false);
    w.End();
    json expected = {
        {"a", true}, {"b", -42}, {"c", s}, {"d", {s, "x", s}}, {"e", {{"k", s}, {"n", nullptr}}},
        {"f", false}};
    EXPECT_EQ(text, expected.dump(-1, ' ', false, json::error_handler_t::replace))
        << "for a string of " << s.size() << " bytes";
  }
}

TEST(JsonWriter, AnEmptyObject) {
  std::string text;
  JsonWriter(text).End();
  EXPECT_EQ(text, "{}");
}

}  // namespace
}  // namespace keyhold::http::unkey
