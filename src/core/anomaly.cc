#include "core/anomaly.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/ip.h"

namespace keyhold::anomaly {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr size_t kEvidenceCap = 16;
constexpr size_t kMaxStreakMinutes = 60;

bool IsFailure(std::string_view outcome) {
  return outcome == "NOT_FOUND" || outcome == "DISABLED" || outcome == "EXPIRED" ||
         outcome == "FORBIDDEN" || outcome == "INSUFFICIENT_PERMISSIONS";
}

void AddDistinct(std::vector<std::string>& list, std::string_view value) {
  if (value.empty() || list.size() >= kEvidenceCap) return;
  if (std::find(list.begin(), list.end(), value) == list.end()) list.emplace_back(value);
}

// The subject failures from `address` are counted under: the address, or an IPv6 address's /64
// (one host's interfaces and privacy addresses share it).
std::string AddressSubject(std::string_view address) {
  if (address.find(':') == std::string_view::npos) return std::string(address);
  std::string net = NetworkOf(address, 32, 64);
  return net.empty() ? std::string(address) : net;
}

// `text` (a route or tag: the caller's) fit for a one-line summary: control characters become
// '?', so a report cannot forge log lines.
std::string Printable(std::string_view text) {
  std::string out(text.substr(0, 256));
  for (char& ch : out) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  }
  return out;
}

std::string Decimal(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// The last second of `o`'s span: the latest time its verifications may have happened.
int64_t LastSecond(const Observation& o) {
  return o.second_ms + std::max<int64_t>(o.span_ms, 1000) - 1000;
}

}  // namespace

Detector::Detector(Options options)
    : options_(std::move(options)), alpha_(2.0 / (std::max(options_.baseline_minutes, 1) + 1.0)) {}

void Detector::Window::Add(const Observation& o, int64_t window_ms) {
  // Counted conservatively: a span leaves only once its last second is out of the window that
  // ends with this row's first.
  while (!spans.empty() && spans.front().last_ms + window_ms <= o.second_ms) {
    total -= spans.front().count;
    spans.pop_front();
  }
  if (spans.empty()) others.clear();
  const int64_t last = LastSecond(o);
  if (!spans.empty() && spans.back().last_ms >= last) {
    // This second again, or a late row: counted with the last span, which leaves no earlier.
    spans.back().from_ms = std::min(spans.back().from_ms, o.second_ms);
    spans.back().count += o.count;
  } else {
    spans.push_back({o.second_ms, last, o.count});
  }
  total += o.count;
}

int64_t Detector::Window::Start() const {
  int64_t start = spans.empty() ? 0 : spans.front().from_ms;
  for (const Span& s : spans) start = std::min(start, s.from_ms);
  return start;
}

Detector::KeyState* Detector::KeyFor(const Observation& o) {
  if (o.key_id.empty()) return nullptr;
  auto it = keys_.find(o.key_id);
  if (it == keys_.end()) {
    if (keys_.size() >= options_.max_tracked) {
      ++untracked_;
      return nullptr;
    }
    it = keys_.emplace(std::string(o.key_id), KeyState{}).first;
  }
  KeyState& k = it->second;
  if (k.api_id != o.api_id) k.api_id = o.api_id;
  if (k.identity_id != o.identity_id) k.identity_id = o.identity_id;
  k.last_seen_ms = std::max(k.last_seen_ms, LastSecond(o));
  return &k;
}

void Detector::Observe(const Observation& o, std::vector<Detection>* out) {
  KeyState* k = KeyFor(o);
  if (k != nullptr) {
    if (options_.spike) {
      int64_t minute = o.second_ms / kMinuteMs;
      if (k->open_minute >= 0 && minute > k->open_minute) CloseMinute(o.key_id, *k, out);
      CountMinute(*k, o);
    }
    if (options_.new_network) WatchNetwork(o.key_id, *k, o, out);
  }
  WatchFailures(k, o, out);
  if (k != nullptr) WatchSensitive(*k, o, out);
}

void Detector::CountMinute(KeyState& k, const Observation& o) {
  if (k.open_minute < 0) {
    // A late row for a minute already judged is counted in the next one.
    k.open_minute = std::max(o.second_ms / kMinuteMs, k.last_closed_minute + 1);
    if (k.first_minute < 0) k.first_minute = k.open_minute;
    open_minutes_.emplace_back(k.open_minute, std::string(o.key_id));
  }
  k.open_count += o.count;
  AddDistinct(k.minute_addresses, o.client_ip);
}

void Detector::CloseMinute(std::string_view key_id, KeyState& k, std::vector<Detection>* out) {
  const int64_t minute = k.open_minute;
  const auto x = static_cast<double>(k.open_count);
  k.open_minute = -1;
  k.open_count = 0;
  if (k.last_closed_minute >= 0 && minute > k.last_closed_minute + 1) {
    // Minutes without a verification count as zero; past eight spans they no longer matter.
    int64_t idle = std::min<int64_t>(minute - k.last_closed_minute - 1,
                                     8LL * std::max(options_.baseline_minutes, 1));
    for (int64_t i = 0; i < idle; ++i) {
      k.variance = (1 - alpha_) * (k.variance + k.mean * alpha_ * k.mean);
      k.mean -= alpha_ * k.mean;
    }
    k.streak = 0;
  }
  if (k.last_closed_minute < 0) {  // the first minute starts the baseline
    k.last_closed_minute = minute;
    k.mean = x;
    k.minute_addresses.clear();
    return;
  }
  k.last_closed_minute = minute;
  const double deviation = std::max({std::sqrt(k.variance), std::sqrt(k.mean), 1.0});
  const bool warm = minute - k.first_minute >= options_.warmup_minutes;
  const bool hot = warm && x >= static_cast<double>(options_.spike_min_per_minute) &&
                   (x - k.mean) / deviation >= options_.spike_z;
  if (!hot) {
    k.streak = 0;
  } else {
    if (k.streak == 0) {
      k.streak_baseline = k.mean;
      k.streak_deviation = deviation;
      k.streak_counts.clear();
    }
    ++k.streak;
    if (k.streak_counts.size() < kMaxStreakMinutes) {
      k.streak_counts.push_back(static_cast<int64_t>(x));
    }
  }
  std::vector<std::string> addresses = std::move(k.minute_addresses);
  k.minute_addresses.clear();
  // The baseline learns from every minute, a hot one only up to the spike threshold, so a spike
  // does not hide itself while a lasting change of level becomes the new normal within minutes.
  const double learned = std::min(x, k.mean + options_.spike_z * deviation);
  const double diff = learned - k.mean;
  k.mean += alpha_ * diff;
  k.variance = (1 - alpha_) * (k.variance + diff * alpha_ * diff);
  if (!hot || k.streak < options_.spike_sustain) return;

  Detection d;
  d.kind = kSpike;
  d.key_id = key_id;
  d.api_id = k.api_id;
  d.identity_id = k.identity_id;
  d.window_start_ms = (minute - k.streak + 1) * kMinuteMs;
  d.window_end_ms = (minute + 1) * kMinuteMs;
  d.per_minute = k.streak_counts;
  for (int64_t n : d.per_minute) d.count += n;
  d.baseline = k.streak_baseline;
  d.deviation = k.streak_deviation;
  d.threshold = static_cast<int64_t>(
      std::ceil(std::max(static_cast<double>(options_.spike_min_per_minute),
                         k.streak_baseline + options_.spike_z * k.streak_deviation)));
  d.addresses = std::move(addresses);
  d.summary = "key " + d.key_id + " verified " + std::to_string(d.count) + " times in " +
              std::to_string(k.streak) + " minutes against a baseline of " + Decimal(d.baseline) +
              " per minute";
  d.dedupe_key = std::string(kSpike) + ":" + d.key_id;
  Emit(std::move(d), (minute + 1) * kMinuteMs, out);
}

const std::string& Detector::NetworkOfCached(std::string_view address) {
  if (address != last_address_ || last_address_.empty()) {
    last_network_ = NetworkOf(address, options_.v4_prefix, options_.v6_prefix);
    last_address_ = address;
  }
  return last_network_;
}

void Detector::WatchNetwork(std::string_view key_id, KeyState& k, const Observation& o,
                            std::vector<Detection>* out) {
  if (o.client_ip.empty() || o.outcome == "NOT_FOUND" || k.anywhere) return;
  const std::string& net = NetworkOfCached(o.client_ip);
  if (net.empty()) return;
  // A key in the stored usage was in use before this start: past its learning period.
  if (k.first_seen_ms < 0) {
    k.first_seen_ms = seeding_ ? o.second_ms - options_.network_learning_ms : o.second_ms;
  }
  if (std::find(k.networks.begin(), k.networks.end(), net) != k.networks.end()) return;
  const size_t known = k.networks.size();
  const bool learning = o.second_ms - k.first_seen_ms < options_.network_learning_ms;
  if (known >= options_.max_networks_per_key) {
    k.anywhere = true;  // used from too many networks for a new one to mean anything
    k.networks.clear();
    k.networks.shrink_to_fit();
  } else {
    k.networks.push_back(net);
  }
  if (learning || known == 0) return;  // a key's first network is where it lives

  Detection d;
  d.kind = kNewNetwork;
  d.key_id = key_id;
  d.api_id = k.api_id;
  d.identity_id = k.identity_id;
  d.client_ip = o.client_ip;
  d.network = net;
  d.known_networks = known;
  d.window_start_ms = o.second_ms;
  d.window_end_ms = o.second_ms + 1000;
  d.count = o.count;
  d.addresses = {std::string(o.client_ip)};
  d.summary = "key " + d.key_id + " used from " + d.client_ip + ", in network " + net +
              " it was never used from (" + std::to_string(known) + " known)";
  d.dedupe_key = std::string(kNewNetwork) + ":" + d.key_id + ":" + net;
  Emit(std::move(d), o.second_ms, out);
}

void Detector::WatchFailures(KeyState* k, const Observation& o, std::vector<Detection>* out) {
  if (!IsFailure(o.outcome)) return;
  const int64_t window = options_.failed_window_ms;
  if (k != nullptr && options_.failed_per_key > 0) {
    k->failures.Add(o, window);
    AddDistinct(k->failures.others, o.client_ip);
    if (k->failures.total >= options_.failed_per_key) {
      Detection d;
      d.kind = kFailedBurst;
      d.key_id = o.key_id;
      d.api_id = k->api_id;
      d.identity_id = k->identity_id;
      d.window_start_ms = k->failures.Start();
      d.window_end_ms = LastSecond(o) + 1000;
      d.count = k->failures.total;
      d.threshold = options_.failed_per_key;
      d.addresses = k->failures.others;
      d.summary = std::to_string(d.count) + " failed verifications of key " + d.key_id +
                  " within " + std::to_string(window / 1000) + " s";
      d.dedupe_key = std::string(kFailedBurst) + ":key:" + d.key_id;
      Emit(std::move(d), o.second_ms, out);
    }
  }
  if (o.client_ip.empty() || options_.failed_per_address <= 0) return;
  std::string subject = AddressSubject(o.client_ip);
  auto it = addresses_.find(subject);
  if (it == addresses_.end()) {
    if (addresses_.size() >= options_.max_tracked) {
      ++untracked_;
      return;
    }
    it = addresses_.emplace(subject, AddressState{}).first;
  }
  AddressState& a = it->second;
  a.last_seen_ms = std::max(a.last_seen_ms, LastSecond(o));
  a.failures.Add(o, window);
  AddDistinct(a.failures.others, o.key_id);
  if (a.failures.total < options_.failed_per_address) return;
  Detection d;
  d.kind = kFailedBurst;
  d.client_ip = subject;
  d.window_start_ms = a.failures.Start();
  d.window_end_ms = LastSecond(o) + 1000;
  d.count = a.failures.total;
  d.threshold = options_.failed_per_address;
  d.addresses = {subject};
  d.key_ids = a.failures.others;
  d.summary = std::to_string(d.count) + " failed verifications from " + subject + " within " +
              std::to_string(window / 1000) + " s";
  d.dedupe_key = std::string(kFailedBurst) + ":address:" + subject;
  Emit(std::move(d), o.second_ms, out);
}

void Detector::WatchSensitive(const KeyState& k, const Observation& o,
                              std::vector<Detection>* out) {
  if (o.outcome != "VALID") return;
  std::string matched;
  std::string pattern;
  for (const std::string& p : options_.sensitive_routes) {
    if (!o.route.empty() && GlobMatch(p, o.route)) {
      matched = "route " + Printable(o.route) + " (" + p + ")";
      pattern = "route " + p;
      break;
    }
  }
  for (size_t i = 0; matched.empty() && i < o.tags.size(); ++i) {
    for (const std::string& p : options_.sensitive_tags) {
      if (GlobMatch(p, o.tags[i])) {
        matched = "tag " + Printable(o.tags[i]) + " (" + p + ")";
        pattern = "tag " + p;
        break;
      }
    }
  }
  if (matched.empty()) return;
  Detection d;
  d.kind = kSensitiveRoute;
  d.key_id = o.key_id;
  d.api_id = k.api_id;
  d.identity_id = k.identity_id;
  d.client_ip = o.client_ip;
  d.window_start_ms = o.second_ms;
  d.window_end_ms = o.second_ms + 1000;
  d.count = o.count;
  if (!o.client_ip.empty()) d.addresses = {std::string(o.client_ip)};
  d.matched = matched;
  d.summary = "key " + d.key_id + " used for sensitive " + matched;
  // One report per key and pattern: the concrete route or tag (often the caller's) is evidence.
  d.dedupe_key = std::string(kSensitiveRoute) + ":" + d.key_id + ":" + pattern;
  Emit(std::move(d), o.second_ms, out);
}

void Detector::Advance(int64_t now_ms, std::vector<Detection>* out) {
  while (!open_minutes_.empty() &&
         (open_minutes_.front().first + 1) * kMinuteMs + options_.grace_ms <= now_ms) {
    auto [minute, key_id] = std::move(open_minutes_.front());
    open_minutes_.pop_front();
    auto it = keys_.find(key_id);
    if (it != keys_.end() && it->second.open_minute == minute) CloseMinute(key_id, it->second, out);
  }
  if (now_ms - last_eviction_ms_ >= kMinuteMs) Evict(now_ms);
}

void Detector::Evict(int64_t now_ms) {
  last_eviction_ms_ = now_ms;
  std::erase_if(keys_, [&](const auto& e) {
    return e.second.open_minute < 0 && e.second.last_seen_ms + options_.idle_eviction_ms <= now_ms;
  });
  std::erase_if(addresses_, [&](const auto& e) {
    return e.second.last_seen_ms + options_.failed_window_ms <= now_ms;
  });
  std::erase_if(quiet_until_, [&](const auto& e) { return e.second <= now_ms; });
}

void Detector::Seed(const Observation& o) {
  seeding_ = true;
  std::vector<Detection> ignored;
  Observe(o, &ignored);
  Advance(o.second_ms, &ignored);
  seeding_ = false;
}

void Detector::Emit(Detection d, int64_t at_ms, std::vector<Detection>* out) {
  if (seeding_) return;
  if (quiet_until_.size() >= options_.max_tracked && !quiet_until_.contains(d.dedupe_key)) {
    std::erase_if(quiet_until_, [&](const auto& e) { return e.second <= at_ms; });
    if (quiet_until_.size() >= options_.max_tracked) {  // bounded: fewer reports, not more
      ++suppressed_;
      return;
    }
  }
  int64_t& until = quiet_until_[d.dedupe_key];
  if (until > at_ms) {
    ++suppressed_;
    return;
  }
  until = at_ms + options_.cooldown_ms;
  out->push_back(std::move(d));
}

}  // namespace keyhold::anomaly
