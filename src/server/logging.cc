// ServerLog: asynchronous loggers sharing one buffered sink on standard error.
#include "server/logging.h"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace keyhold::server {

constexpr size_t kChunk = 64 * 1024;
constexpr size_t kQueueLines = 8192;

// Access-log lines are gathered per thread: an I/O thread formats its line into a buffer of its
// own under a lock nobody else takes but the writer, a few times a second. Handing each line to
// the background thread through spdlog's queue woke that thread for every request, a futex call
// and a context switch per line that cost about a quarter of verifyKey's throughput.
class AccessGatherSink final : public spdlog::sinks::sink {
 public:
  AccessGatherSink() : id_(next_id_.fetch_add(1) + 1) {}

  // `on_full` is called (from a logging thread) when that thread's buffer holds a chunk, and on
  // flush. REQUIRES: set before anything is logged.
  void SetOnFull(std::function<void()> on_full) { on_full_ = std::move(on_full); }

  void log(const spdlog::details::log_msg& msg) override {
    Slot& slot = MySlot();
    spdlog::memory_buf_t line;
    slot.formatter->format(msg, line);
    bool full = false;
    {
      std::lock_guard lock(slot.mu);
      slot.lines.append(line.data(), line.size());
      full = slot.lines.size() >= kChunk;
    }
    if (full && on_full_) on_full_();
  }
  void flush() override {
    if (on_full_) on_full_();
  }
  void set_pattern(const std::string& pattern) override {
    set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
  }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    std::lock_guard lock(slots_mu_);
    formatter_ = std::move(formatter);
    for (auto& slot : slots_) slot->formatter = formatter_->clone();
  }

  // Appends every line gathered so far to `out`, thread by thread.
  void TakeInto(std::string& out) {
    std::lock_guard lock(slots_mu_);
    for (auto& slot : slots_) {
      std::lock_guard slot_lock(slot->mu);
      out += slot->lines;
      slot->lines.clear();
    }
  }

 private:
  struct Slot {
    std::mutex mu;
    std::string lines;                             // guarded by mu
    std::unique_ptr<spdlog::formatter> formatter;  // the owning thread's own (formatters cache)
  };

  Slot& MySlot() {
    // One slot per thread and sink; the id tells a sink from a later one at the same address.
    thread_local uint64_t owner = 0;
    thread_local Slot* mine = nullptr;
    if (owner != id_) {
      std::lock_guard lock(slots_mu_);
      auto slot = std::make_unique<Slot>();
      slot->formatter =
          formatter_ ? formatter_->clone() : std::make_unique<spdlog::pattern_formatter>();
      slot->lines.reserve(kChunk + 1024);
      mine = slot.get();
      slots_.push_back(std::move(slot));
      owner = id_;
    }
    return *mine;
  }

  static inline std::atomic<uint64_t> next_id_{0};
  const uint64_t id_;
  std::function<void()> on_full_;
  std::mutex slots_mu_;
  std::vector<std::unique_ptr<Slot>> slots_;      // guarded by slots_mu_; live as long as the sink
  std::unique_ptr<spdlog::formatter> formatter_;  // guarded by slots_mu_
};

namespace {

// Formats lines into a buffer and writes it to `fd` when it holds a chunk, and on flush. Used
// from the logging thread (and the destructor). Before each ordinary line, and on each flush, it
// takes the access-log lines gathered so far, so that they come out before the lines logged after
// them.
class BufferedFdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  BufferedFdSink(int fd, std::shared_ptr<AccessGatherSink> access)
      : fd_(fd), access_(std::move(access)) {
    buffer_.reserve(kChunk * 2);
  }
  ~BufferedFdSink() override {
    access_->TakeInto(buffer_);
    WriteOut();
  }
  BufferedFdSink(const BufferedFdSink&) = delete;
  BufferedFdSink& operator=(const BufferedFdSink&) = delete;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    access_->TakeInto(buffer_);
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    buffer_.append(line.data(), line.size());
    if (buffer_.size() >= kChunk) WriteOut();
  }
  void flush_() override {
    access_->TakeInto(buffer_);
    WriteOut();
  }

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
  std::shared_ptr<AccessGatherSink> access_;
  std::string buffer_;
};

}  // namespace

ServerLog::ServerLog(spdlog::level::level_enum level)
    : pool_(std::make_shared<spdlog::details::thread_pool>(kQueueLines, 1)) {
  auto gather = std::make_shared<AccessGatherSink>();
  auto sink = std::make_shared<BufferedFdSink>(STDERR_FILENO, gather);
  main_ = std::make_shared<spdlog::async_logger>("keyhold", sink, pool_,
                                                 spdlog::async_overflow_policy::block);
  // A full access buffer asks the background thread for a flush: one queued message a chunk,
  // not one a line.
  gather->SetOnFull([main = std::weak_ptr<spdlog::logger>(main_)] {
    if (auto logger = main.lock()) logger->flush();
  });
  main_->set_level(level);
  main_->flush_on(spdlog::level::trace);  // every ordinary line is written at once
  access_ = std::make_shared<spdlog::logger>("access", gather);
  access_->set_level(level);
  access_->flush_on(spdlog::level::off);  // in chunks, or by the periodic flush
  spdlog::set_default_logger(main_);
  spdlog::flush_every(std::chrono::seconds(1));  // the main logger's flush takes access lines
}

void ServerLog::SetLevel(spdlog::level::level_enum level) {
  main_->set_level(level);
  access_->set_level(level);
}

ServerLog::~ServerLog() {
  main_->flush();  // queued behind every line logged so far; takes the access lines too
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "keyhold", std::make_shared<spdlog::sinks::stderr_sink_mt>()));
  access_.reset();
  // The thread takes every queued line, then stops; joining it makes everything it did (the
  // messages it held references to the logger through, among others) happen before what follows.
  pool_.reset();
  main_.reset();  // the sink writes what is left
}

}  // namespace keyhold::server
