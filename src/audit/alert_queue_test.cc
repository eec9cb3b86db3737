#include "audit/alert_queue.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <vector>

namespace keyhold::audit {
namespace {

// A sink that waits until released, as one writing to a slow disk would.
class SlowSink final : public AlertSink {
 public:
  StatusOr<RaiseOutcome> Raise(const Alert& alert) override {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return released; });
    raised.push_back(alert.summary);
    return RaiseOutcome{"alert_x", false, 0};
  }
  void Release() {
    {
      std::lock_guard lock(mu);
      released = true;
    }
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  std::vector<std::string> raised;
};

Alert Named(std::string summary) {
  Alert a;
  a.kind = std::string(kAlertFailedBurst);
  a.summary = std::move(summary);
  return a;
}

TEST(AlertQueueTest, PostNeverWaitsForTheSinkAndDropsPastCapacity) {
  SlowSink sink;
  AlertQueue queue(sink, 2);
  queue.Start();
  // The first is taken by the thread (which then waits in the sink), or still queued: either way
  // at most 1 + capacity are accepted while the sink is stuck.
  int accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += queue.Post(Named(std::to_string(i))) ? 1 : 0;
  EXPECT_GE(accepted, 2);
  EXPECT_LE(accepted, 3);
  EXPECT_EQ(queue.Dropped(), static_cast<uint64_t>(10 - accepted));
  sink.Release();
  queue.Stop();
  std::lock_guard lock(sink.mu);
  EXPECT_EQ(sink.raised.size(), static_cast<size_t>(accepted));
  EXPECT_EQ(sink.raised.front(), "0");
}

TEST(AlertQueueTest, StopRaisesWhatIsQueued) {
  SlowSink sink;
  sink.Release();
  AlertQueue queue(sink);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(queue.Post(Named(std::to_string(i))));
  queue.Start();
  queue.Stop();
  EXPECT_EQ(sink.raised.size(), 5u);
}

TEST(AlertQueueTest, APostAfterStopIsDroppedAndCounted) {
  SlowSink sink;
  sink.Release();
  AlertQueue queue(sink);
  queue.Start();
  queue.Stop();
  EXPECT_FALSE(queue.Post(Named("late")));
  EXPECT_EQ(queue.Dropped(), 1u);
  EXPECT_EQ(queue.Depth(), 0u);
  EXPECT_TRUE(sink.raised.empty());
}

}  // namespace
}  // namespace keyhold::audit
