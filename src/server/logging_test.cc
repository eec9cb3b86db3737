#include "server/logging.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fakes/temp_dir.h"

namespace keyhold::server {
namespace {

// Standard error goes to a file for the life of this object.
class CapturedStderr {
 public:
  explicit CapturedStderr(const std::string& path) : saved_(::dup(STDERR_FILENO)) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CapturedStderr() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

 private:
  int saved_;
};

// Access lines are gathered per thread and written in chunks: none is lost or doubled, and the
// ones logged before an ordinary line come out before it.
TEST(ServerLog, AccessLinesFromManyThreadsAreAllWrittenOnceAndBeforeLaterLines) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/stderr";
  constexpr int kThreads = 4;
  constexpr int kLines = 20000;  // several chunks a thread
  {
    CapturedStderr capture(path);
    ServerLog log(spdlog::level::info);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kLines; ++i) log.access()->info("req t{}-{} 200", t, i);
      });
    }
    for (auto& th : threads) th.join();
    spdlog::info("after the requests");
    log.access()->info("req last 200");
  }
  std::ifstream in(path);
  std::set<std::string> seen;
  std::string line;
  bool marker = false;
  int before_marker = 0;
  while (std::getline(in, line)) {
    if (line.find("after the requests") != std::string::npos) {
      marker = true;
      continue;
    }
    auto at = line.find("req ");
    ASSERT_NE(at, std::string::npos) << line;
    EXPECT_NE(line.find("[access]"), std::string::npos) << line;
    EXPECT_TRUE(seen.insert(line.substr(at)).second) << "twice: " << line;
    if (!marker) ++before_marker;
  }
  EXPECT_TRUE(marker);
  // Every line logged before the ordinary line is written before it (a line logged after it may
  // come out before it too: the ordinary line is written by the background thread, later).
  EXPECT_GE(before_marker, kThreads * kLines);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kLines + 1));
  EXPECT_EQ(seen.count("req last 200"), 1u);
}

}  // namespace
}  // namespace keyhold::server
