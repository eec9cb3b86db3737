// ServerLog: asynchronous loggers sharing one buffered sink on standard error.
#include "server/logging.h"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <string>

namespace keyhold::server {
namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr size_t kQueueLines = 8192;

// Formats lines into a buffer and writes it to `fd` when it holds a chunk, and on flush. Used
// only from the logging thread (and the destructor); base_sink's mutex is uncontended.
class BufferedFdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit BufferedFdSink(int fd) : fd_(fd) { buffer_.reserve(kChunk * 2); }
  ~BufferedFdSink() override { WriteOut(); }
  BufferedFdSink(const BufferedFdSink&) = delete;
  BufferedFdSink& operator=(const BufferedFdSink&) = delete;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    buffer_.append(line.data(), line.size());
    if (buffer_.size() >= kChunk) WriteOut();
  }
  void flush_() override { WriteOut(); }

 private:
  // A log that cannot be written (standard error closed) loses its lines; the server goes on.
  void WriteOut() {
    size_t put = 0;
    while (put < buffer_.size()) {
      ssize_t n = ::write(fd_, buffer_.data() + put, buffer_.size() - put);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      put += static_cast<size_t>(n);
    }
    buffer_.clear();
  }

  int fd_;
  std::string buffer_;
};

}  // namespace

ServerLog::ServerLog(spdlog::level::level_enum level)
    : pool_(std::make_shared<spdlog::details::thread_pool>(kQueueLines, 1)) {
  auto sink = std::make_shared<BufferedFdSink>(STDERR_FILENO);
  main_ = std::make_shared<spdlog::async_logger>("keyhold", sink, pool_,
                                                 spdlog::async_overflow_policy::block);
  main_->set_level(level);
  main_->flush_on(spdlog::level::trace);  // every ordinary line is written at once
  access_ = std::make_shared<spdlog::async_logger>("access", sink, pool_,
                                                   spdlog::async_overflow_policy::block);
  access_->set_level(level);
  access_->flush_on(spdlog::level::off);  // in chunks, or by the periodic flush
  spdlog::set_default_logger(main_);
  spdlog::register_logger(access_);
  spdlog::flush_every(std::chrono::seconds(1));
}

void ServerLog::SetLevel(spdlog::level::level_enum level) {
  main_->set_level(level);
  access_->set_level(level);
}

ServerLog::~ServerLog() {
  access_->flush();  // queued behind every line logged so far
  spdlog::drop("access");
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "keyhold", std::make_shared<spdlog::sinks::stderr_sink_mt>()));
  access_.reset();
  main_.reset();
  pool_.reset();  // the thread takes every queued line, then stops
}

}  // namespace keyhold::server
