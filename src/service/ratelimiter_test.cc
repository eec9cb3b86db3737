#include "service/ratelimiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace keyhold::service {
namespace {

constexpr int64_t kNow = 1'764'921'600'000;

TEST(RateLimiter, AllOrNothingAcrossSubjects) {
  RateLimiter limiter;
  std::vector<RateLimiter::Check> checks = {{"k:a:burst", {1, 60'000}, 1},
                                            {"k:a:hourly", {5, 3'600'000}, 1}};
  std::vector<RateLimiter::Outcome> out;
  EXPECT_TRUE(limiter.Apply(checks, kNow, &out));
  EXPECT_EQ(out[1].remaining, 4);
  EXPECT_FALSE(limiter.Apply(checks, kNow, &out));
  EXPECT_FALSE(out[0].allowed);
  EXPECT_TRUE(out[1].allowed);
  EXPECT_EQ(out[1].remaining, 4) << "untouched";
  EXPECT_EQ(out[0].retry_after_ms, 60'000);
}

TEST(RateLimiter, RefundGivesTheTokensBack) {
  RateLimiter limiter;
  std::vector<RateLimiter::Check> checks = {{"k:a:r", {2, 60'000}, 2}};
  std::vector<RateLimiter::Outcome> out;
  EXPECT_TRUE(limiter.Apply(checks, kNow, &out));
  limiter.Refund(checks, kNow);
  EXPECT_TRUE(limiter.Apply(checks, kNow, &out));
  EXPECT_FALSE(limiter.Apply(checks, kNow, &out));
}

TEST(RateLimiter, FullBucketsAreForgotten) {
  RateLimiter limiter;
  std::vector<RateLimiter::Outcome> out;
  for (int i = 0; i < 5000; ++i) {
    std::vector<RateLimiter::Check> c = {{"k:" + std::to_string(i) + ":r", {10, 1'000}, 1}};
    limiter.Apply(c, kNow + i * 10, &out);
  }
  EXPECT_LT(limiter.size(), 5000u) << "subjects whose window passed were swept";
}

TEST(RateLimiter, ThreadsSharingSubjectsAdmitExactlyTheLimit) {
  RateLimiter limiter;
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::vector<RateLimiter::Outcome> out;
      for (int i = 0; i < 1000; ++i) {
        // Two shared subjects, named in either order: locks are taken in one order, no deadlock.
        std::vector<RateLimiter::Check> c = {{"i:x:shared", {3000, 60'000}, 1},
                                             {"k:y:other", {5000, 60'000}, 1}};
        if (t % 2) std::swap(c[0], c[1]);
        if (limiter.Apply(c, kNow, &out)) ++admitted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 3000);
}

TEST(RateLimiter, AFloodOfSubjectsIsBoundedAndNewOnesWaitForRoom) {
  RateLimiter limiter(/*max_states=*/64);  // one subject per shard
  std::vector<RateLimiter::Outcome> out;
  int admitted = 0;
  for (int i = 0; i < 1000; ++i) {
    std::vector<RateLimiter::Check> c = {{"n:" + std::to_string(i), {1, 60'000}, 1}};
    admitted += limiter.Apply(c, kNow, &out);
  }
  EXPECT_LE(limiter.size(), 128u);
  EXPECT_GT(limiter.refused_for_space(), 0u);
  EXPECT_LT(admitted, 1000);
  // Once the buckets refill there is room again.
  std::vector<RateLimiter::Check> later = {{"n:fresh", {1, 60'000}, 1}};
  EXPECT_TRUE(limiter.Apply(later, kNow + 60'000, &out));
  // Reading (cost 0) never needs room.
  std::vector<RateLimiter::Check> read = {{"n:other", {1, 60'000}, 0}};
  EXPECT_TRUE(limiter.Apply(read, kNow, &out));
}

}  // namespace
}  // namespace keyhold::service
