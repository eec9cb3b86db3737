// Logging: the server's lines go to standard error, written by a background thread, so that the
// I/O threads only format a line and queue it.
//
//   ServerLog log(spdlog::level::info);   // after the stop signals are blocked
//   log.access()->info("{} {} ...", ...); // an access-log line
//   spdlog::info("...");                  // any other line, written at once
//
// Ordinary lines are written as soon as the background thread takes them. Access-log lines (one
// per request) are gathered by the thread that logs them, in a buffer of its own, and written by
// the background thread in chunks: when a thread's buffer holds 64 KiB, at the latest a second
// after they were logged, before any ordinary line logged after them, and when the log is
// destroyed. Logging an access line wakes no thread. A `kill -9` (or a crash) loses what is still
// queued or gathered: at most the last second of the access log, and the lines the background
// thread had not yet taken.
// The queue holds 8,192 lines; when it is full a logging thread waits (no line is dropped), so a
// standard error that stops being read stalls the server rather than losing lines.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace spdlog::details {
class thread_pool;
}

namespace keyhold::server {

class ServerLog {
 public:
  // Installs the default logger. REQUIRES: the stop signals are already blocked (the background
  // threads inherit the mask).
  explicit ServerLog(spdlog::level::level_enum level);
  // Writes out everything logged, then leaves a synchronous logger on standard error as the
  // default, for whatever logs after.
  ~ServerLog();
  ServerLog(const ServerLog&) = delete;
  ServerLog& operator=(const ServerLog&) = delete;

  // Lines below `level` are not logged, by either logger.
  void SetLevel(spdlog::level::level_enum level);
  const std::shared_ptr<spdlog::logger>& access() const { return access_; }

 private:
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::logger> main_;
  std::shared_ptr<spdlog::logger> access_;
};

}  // namespace keyhold::server
