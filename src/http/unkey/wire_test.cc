#include "http/unkey/wire.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace keyhold::http::unkey
