// Anomaly detectors over usage: pure and clock-free (every call is given the time), so tests
// drive them with synthetic traffic on a made-up timeline.
//
// The usage recorder hands each flush's per-second rows to Observe() and then calls Advance()
// with the current time; both append what they detect to `out`:
//
//   anomaly::Detector detector(options);
//   std::vector<anomaly::Detection> found;
//   for (const anomaly::Observation& o : rows) detector.Observe(o, &found);
//   detector.Advance(now_ms, &found);
//
// The detectors (docs/anomalies.md gives every threshold and its setting):
//  - spike: a key's verifications per minute against its own baseline, an exponentially weighted
//    mean and variance over `baseline_minutes`. A minute is hot when its count is at least
//    `spike_min_per_minute` and at least `spike_z` deviations above the mean (the deviation is
//    never taken below the square root of the mean, the noise of a steady rate). `spike_sustain`
//    hot minutes in a row are a spike. A key is judged only after `warmup_minutes` of history.
//  - new network: a key used from a network (IPv4 /`v4_prefix`, IPv6 /`v6_prefix`) it was never
//    used from. Networks seen in a key's first `network_learning_ms` are learned silently; a key
//    seen from more than `max_networks_per_key` networks is taken to be used from anywhere.
//  - failed burst: at least `failed_per_key` failed verifications (NOT_FOUND, DISABLED, EXPIRED,
//    FORBIDDEN, INSUFFICIENT_PERMISSIONS) of one key, or `failed_per_address` from one client
//    address (IPv6 by its /64), within `failed_window_ms`. A row covering a span (a stored
//    minute) may have happened at any time in it: it stays in the window until the window has
//    passed the span's last second, so a burst is never forgotten for where in its minute it
//    fell (it may then be reported spread over up to a window plus the span).
//  - sensitive: a valid verification whose route or one of whose tags matches a pattern of
//    `sensitive_routes` / `sensitive_tags` ('*' matches any run of characters).
// One subject (a key, an address, a key and network, a key and route) gives one detection of a
// kind per `cooldown_ms`. State is kept for at most `max_tracked` keys and as many addresses; keys
// idle for `idle_eviction_ms` are forgotten.
//
// Thread-safety: none; one thread owns a Detector.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/glob.h"

namespace keyhold::anomaly {

inline constexpr std::string_view kSpike = "anomaly.spike";
inline constexpr std::string_view kNewNetwork = "anomaly.new_network";
inline constexpr std::string_view kFailedBurst = "anomaly.failed_burst";
inline constexpr std::string_view kSensitiveRoute = "anomaly.sensitive_route";

struct Options {
  bool spike = true;
  double spike_z = 4.0;
  int64_t spike_min_per_minute = 60;
  int spike_sustain = 3;  // minutes
  int baseline_minutes = 60;
  int warmup_minutes = 30;

  bool new_network = true;
  int64_t network_learning_ms = 24LL * 3'600'000;
  int v4_prefix = 24;
  int v6_prefix = 48;
  size_t max_networks_per_key = 32;

  int64_t failed_window_ms = 60'000;
  int64_t failed_per_key = 20;      // 0: not watched
  int64_t failed_per_address = 20;  // 0: not watched

  std::vector<std::string> sensitive_routes;  // e.g. "DELETE /admin/*"
  std::vector<std::string> sensitive_tags;    // e.g. "path=/admin*"

  int64_t cooldown_ms = 15LL * 60'000;
  // How long after a minute ends its rows may still arrive (the usage flush interval and more).
  int64_t grace_ms = 2'000;
  size_t max_tracked = 200'000;
  int64_t idle_eviction_ms = 7LL * 24 * 3'600'000;
};

// Verifications sharing their attributes (one usage row): of one second, or of a longer span.
struct Observation {
  int64_t second_ms = 0;  // the start of the span
  // The verifications happened within [second_ms, second_ms + span_ms): a second for the rows of
  // a flush, a minute for the stored rows of a minute (usage_events, the usage journal).
  int64_t span_ms = 1000;
  std::string_view key_id;  // empty: no key matched
  std::string_view identity_id;
  std::string_view api_id;
  std::string_view outcome;  // VALID, NOT_FOUND, ...
  std::string_view client_ip;
  std::string_view route;
  std::vector<std::string> tags;  // needed only when sensitive_tags is set
  int64_t count = 1;
};

// What a detector found, with its evidence. Holds ids and addresses only, never key text.
struct Detection {
  std::string kind;  // one of the k* constants
  std::string summary;
  std::string dedupe_key;  // kind and subject
  std::string key_id;
  std::string api_id;
  std::string identity_id;
  std::string client_ip;  // failed burst by address: the address (IPv6: its /64)
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  int64_t count = 0;                   // verifications in the window
  int64_t threshold = 0;               // the count the detector needed
  std::vector<std::string> addresses;  // client addresses seen in the window (at most 16)
  std::vector<std::string> key_ids;    // failed burst by address: keys tried (at most 16)
  std::vector<int64_t> per_minute;     // spike: the hot minutes' counts
  double baseline = 0;                 // spike: mean per minute before the window
  double deviation = 0;                // spike: the deviation the z-scores were taken against
  std::string network;                 // new network: the network first used
  size_t known_networks = 0;           // new network: networks the key was used from before
  std::string matched;                 // sensitive: the route or tag, and the pattern it matched
};

class Detector {
 public:
  explicit Detector(Options options);

  // Adds one usage row; appends detections that need no closed minute (new network, failed
  // burst, sensitive) to `out`.
  void Observe(const Observation& o, std::vector<Detection>* out);
  // Closes the minutes that ended `grace_ms` before `now_ms`, judging spikes,
  // and forgets idle state. Call after each batch of Observe().
  void Advance(int64_t now_ms, std::vector<Detection>* out);
  // Learns from past usage (rows in time order) without detecting anything: the networks keys
  // were used from (such a key is past its learning period) and their per-minute baselines.
  void Seed(const Observation& o);

  size_t tracked_keys() const { return keys_.size(); }
  size_t tracked_addresses() const { return addresses_.size(); }
  // Rows not judged because max_tracked keys or addresses already had state.
  uint64_t untracked() const { return untracked_; }
  // Detections withheld because their subject was in its cooldown.
  uint64_t suppressed() const { return suppressed_; }

 private:
  // Failed verifications over failed_window_ms, by the span they happened in. A span leaves the
  // window once its last second has: spans are kept in the order of their last second.
  struct Window {
    struct Span {
      int64_t from_ms;
      int64_t last_ms;  // the span's last second
      int64_t count;
    };
    std::deque<Span> spans;
    int64_t total = 0;
    std::vector<std::string> others;  // addresses (by key) or key ids (by address)
    void Add(const Observation& o, int64_t window_ms);
    int64_t Start() const;  // the earliest time the counted failures may have happened
  };
  struct KeyState {
    std::string api_id;
    std::string identity_id;
    int64_t last_seen_ms = 0;
    // spike
    int64_t open_minute = -1;
    int64_t open_count = 0;
    int64_t first_minute = -1;
    int64_t last_closed_minute = -1;
    double mean = 0;
    double variance = 0;
    int streak = 0;
    double streak_baseline = 0;
    double streak_deviation = 0;
    std::vector<int64_t> streak_counts;
    std::vector<std::string> minute_addresses;
    // new network
    int64_t first_seen_ms = -1;
    std::vector<std::string> networks;
    bool anywhere = false;
    // failed burst
    Window failures;
  };
  struct AddressState {
    Window failures;
    int64_t last_seen_ms = 0;
  };

  KeyState* KeyFor(const Observation& o);
  void CountMinute(KeyState& k, const Observation& o);
  void CloseMinute(std::string_view key_id, KeyState& k, std::vector<Detection>* out);
  void WatchNetwork(std::string_view key_id, KeyState& k, const Observation& o,
                    std::vector<Detection>* out);
  void WatchFailures(KeyState* k, const Observation& o, std::vector<Detection>* out);
  void WatchSensitive(const KeyState& k, const Observation& o, std::vector<Detection>* out);
  void Evict(int64_t now_ms);
  void Emit(Detection d, int64_t at_ms, std::vector<Detection>* out);

  // Looks up by string_view without building a string: ids arrive as views into usage rows.
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  // NetworkOf(address) for the last address seen: a batch holds many rows from one address.
  const std::string& NetworkOfCached(std::string_view address);

  const Options options_;
  const double alpha_;
  std::unordered_map<std::string, KeyState, IdHash, std::equal_to<>> keys_;
  std::unordered_map<std::string, AddressState> addresses_;
  std::deque<std::pair<int64_t, std::string>> open_minutes_;  // (minute, key id), minute order
  std::unordered_map<std::string, int64_t> quiet_until_;      // dedupe key -> end of cooldown
  int64_t last_eviction_ms_ = 0;
  bool seeding_ = false;
  uint64_t untracked_ = 0;
  uint64_t suppressed_ = 0;
  std::string last_address_, last_network_;
};

}  // namespace keyhold::anomaly
