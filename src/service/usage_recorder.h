// UsageRecorder: every verification counted, off the hot path.
//
// Verify() hands each verification to Record(), which only appends it to an in-memory buffer (a
// short critical section on one of several shards, no I/O, no allocation beyond the event's own
// strings). A background thread flushes every `flush_interval`: it aggregates the buffer into
// per-second rows of identical attributes (store::UsageRow), shows them to the observer, adds them
// to the counts of their minute kept in memory, and makes them durable in the store's usage
// journal with one write. Once a minute has ended (plus a margin for late verifications), its rows
// are written to the usage log, one row per attribute set, with the minute, hour and day rollups,
// in the transaction that removes them from the journal. Stop() writes everything, the current
// minute included. A restart reads the journal back, so nothing flushed is lost or counted twice;
// if it cannot be read, Start() fails rather than count what could not be kept.
//
// What a crash can lose: the verifications of the last flush interval (1 s by default) — they are
// usage, not acknowledged writes. If the store cannot keep up, at most `max_buffered`
// verifications wait; past that new ones are counted in dropped() and not recorded, so the verify
// path never blocks and memory stays bounded. At most `max_open_rows` rows of open minutes are
// kept: past that, every open minute is written at once (a minute may then have several rows).
//
//   UsageRecorder usage(store, env, {});
//   keys->SetUsageRecorder(&usage);
//   usage.Start();  ...  usage.Stop();
//
// Thread-safety: Record, Flush, ReadWithUnwritten and the counters may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "store/store.h"

namespace keyhold::service {

// One verification, as recorded. Holds ids only: never key text.
struct Verification {
  int64_t time_ms = 0;
  std::string key_id;  // empty: no key matched
  std::string identity_id;
  std::string api_id;
  const char* outcome = "NOT_FOUND";  // a VerifyCodeName
  std::string client_ip;
  std::string route;
  std::vector<std::string> tags;
};

// Sees every batch of usage rows the recorder aggregates (e.g. the anomaly detectors), on the
// flushing thread, just before the batch is written (so the store holds none of it yet).
// `rows` is empty when nothing was verified since the last flush: time still passed.
class UsageObserver {
 public:
  virtual ~UsageObserver() = default;
  // Called once, before any OnUsage, when the journal has been read back: `journaled` holds the
  // rows of the minutes an earlier run journaled but did not write to the usage log (second_ms
  // is their minute; empty if there are none). They are in neither the usage log nor any later
  // batch: the usage log and these rows count each earlier verification once.
  virtual void OnReplay(std::span<const store::UsageRow> journaled, int64_t now_ms) = 0;
  virtual void OnUsage(std::span<const store::UsageRow> rows, int64_t now_ms) = 0;
};

struct UsageOptions {
  std::chrono::milliseconds flush_interval{1000};
  size_t max_buffered = 1'000'000;
  size_t max_open_rows = 200'000;
  // How long usage rows and minute rollups are kept; hour rollups are kept 90 days and day
  // rollups 2 years, or this long if it is longer.
  std::chrono::milliseconds retention = std::chrono::hours(24 * 7);
};

class UsageRecorder {
 public:
  static constexpr size_t kMaxRoute = 256;

  UsageRecorder(store::Store& store, Env& env, UsageOptions options);
  ~UsageRecorder();
  UsageRecorder(const UsageRecorder&) = delete;
  UsageRecorder& operator=(const UsageRecorder&) = delete;

  // Buffers `v` (a route longer than kMaxRoute bytes is cut there; one that matched no key is
  // recorded without its route); never waits on I/O.
  void Record(Verification&& v);

  // Journals everything buffered now and writes the minutes that have ended (every open minute
  // if `close_all`); reads the journal back first if Start() has not. Errors: the store's (the
  // rows are then kept for the next flush, within max_buffered).
  Status Flush(bool close_all = false);

  // Calls `read` with the rows counted but not yet in the usage log (their second_ms is their
  // minute), while no minute is being written: what `read` reads from the store's usage log and
  // these rows together count each flushed verification once.
  void ReadWithUnwritten(const std::function<void(std::span<const store::UsageRow>)>& read) const;

  // Hands every flush's rows to `observer` (not owned; must outlive the recorder's last flush).
  // Call before Start().
  void SetObserver(UsageObserver* observer) { observer_ = observer; }

  // Reads the journal back (showing its rows to the observer) and starts the flushing thread;
  // Stop() ends it and writes everything (Flush(true)). Both idempotent. Errors: the store's if
  // the journal cannot be read; nothing is started then. Nothing can be journaled before the
  // journal is read back (writing a minute removes its entries, read or not), so a server must
  // not run without it: what it counted would wait in memory and be lost at its stop.
  Status Start();
  void Stop();

  // Verifications waiting to be written, and those never to be (over max_buffered).
  size_t buffered() const { return buffered_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Flushes that journaled their rows (flushes with nothing to journal are not counted), and
  // those that could not (the store refused the journal write, or the journal could not be read
  // back first): their rows wait for the next one.
  uint64_t flushes() const { return flushes_.load(std::memory_order_relaxed); }
  uint64_t failed_flushes() const { return failed_flushes_.load(std::memory_order_relaxed); }
  // Writes of ended minutes from the journal to the usage log, and those the store refused (the
  // minutes stay journaled and open, for a later flush).
  uint64_t minute_writes() const { return minute_writes_.load(std::memory_order_relaxed); }
  uint64_t failed_minute_writes() const {
    return failed_minute_writes_.load(std::memory_order_relaxed);
  }

 private:
  static constexpr size_t kShards = 8;
  struct alignas(64) Shard {
    std::mutex mu;
    std::vector<Verification> events;  // guarded by mu
  };
  // What a row counts, but its time.
  struct Attributes {
    std::string key_id, identity_id, api_id, outcome, client_ip, route, tags_json;
    auto operator<=>(const Attributes&) const = default;
  };
  // Ordered, not hashed: a route is the caller's text, and colliding strings could be chosen.
  using Counts = std::map<Attributes, int64_t>;
  static Attributes TakeAttributes(store::UsageRow& r);
  static store::UsageRow RowOf(int64_t time_ms, const Attributes& a, int64_t count);
  void Run();
  Status Replay();
  Status CloseMinutes(bool close_all);
  void PruneIfDue(int64_t now_ms);

  store::Store& store_;
  Env& env_;
  const UsageOptions options_;
  UsageObserver* observer_ = nullptr;
  Shard shards_[kShards];
  std::atomic<size_t> buffered_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> flushes_{0};
  std::atomic<uint64_t> failed_flushes_{0};
  std::atomic<uint64_t> minute_writes_{0};
  std::atomic<uint64_t> failed_minute_writes_{0};
  std::mutex flush_mu_;                       // one flush at a time
  std::vector<Verification> spare_[kShards];  // guarded by flush_mu_: emptied buffers
  bool replayed_ = false;      // guarded by flush_mu_: the journal has been read back
  int64_t last_prune_ms_ = 0;  // guarded by flush_mu_
  // Held by readers of the unwritten rows, and by a flush while it moves rows between them or
  // writes a minute to the usage log.
  mutable std::mutex open_mu_;
  // Guarded by open_mu_: journaled, minute not written; by minute, then attributes.
  std::map<int64_t, Counts> open_;
  size_t open_rows_ = 0;                      // guarded by open_mu_: rows in open_
  std::vector<store::UsageRow> unjournaled_;  // guarded by open_mu_: minute rows not yet journaled
  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool running_ = false;   // guarded by run_mu_
  bool stopping_ = false;  // guarded by run_mu_
  std::thread thread_;
};

}  // namespace keyhold::service
