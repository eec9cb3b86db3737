// Metrics: counters, gauges and histograms with fixed label sets, rendered in Prometheus' text
// exposition format 0.0.4.
//
// A family (one metric name, its help, its label names) is registered once at start-up; each
// combination of label values is a child created once and kept for the registry's life, so the
// hot path holds a reference to its child and an update is one relaxed atomic operation: no
// lookup, no lock, no allocation.
//
//   Registry registry;
//   Family<Counter>& requests = registry.AddCounter("keyhold_requests_total", "Requests.",
//   {"code"}); Counter& ok = requests.With({"200"});      // at start-up, or once per new
//   combination ok.Inc();                                  // per request
//   registry.AddCallback("keyhold_keys", "Keys in memory.", Type::kGauge, {},
//                        [&] { return std::vector<Sample>{{{}, double(keys.size())}}; });
//   std::string text = registry.Render();      // GET /metrics
//
// Label values must come from fixed tables (route names, outcome codes), never from what a client
// sent: every value makes a child that lives as long as the registry, and the exposition is
// readable by whoever may scrape it.
//
// Registration errors (an invalid or duplicate name, a reserved label) are programming errors
// and abort. Thread-safety: everything may be called from any thread; Render sees each value at
// some moment during the call (a histogram's buckets, sum and count are not one snapshot).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keyhold::metrics {

using Labels = std::vector<std::string>;

// The Content-Type of Registry::Render's output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class Type { kCounter, kGauge, kHistogram };

// A value that only goes up.
class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  // A cache line of its own: counters of different routes are bumped by different threads.
  alignas(64) std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  alignas(64) std::atomic<double> value_{0};
};

// Observations counted into buckets with fixed upper bounds, with their sum and count.
class Histogram {
 public:
  // REQUIRES: `bounds` strictly ascending and finite (the +Inf bucket is implicit).
  explicit Histogram(std::span<const double> bounds);

  // Counts `v` in the first bucket whose bound is >= v (the +Inf bucket if none); adds it to
  // the sum. A linear scan: bucket lists are short, and it allocates nothing.
  void Observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;
  std::span<const double> bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

// Bucket bounds, in seconds, for request durations from 100 µs to 10 s.
std::vector<double> DurationBuckets();
// Bucket bounds, in bytes, for message sizes from 64 B to 1 MiB (keyhold's body limit).
std::vector<double> SizeBuckets();

// One family as registered: what its HELP and TYPE lines say.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Type type, Labels label_names);
  virtual ~FamilyBase() = default;
  // Appends the HELP and TYPE lines and every sample.
  virtual void Render(std::string& out) const = 0;

  const std::string& name() const { return name_; }
  const Labels& label_names() const { return label_names_; }

 protected:
  void RenderHeader(std::string& out) const;

 private:
  std::string name_;
  std::string help_;
  Type type_;
  Labels label_names_;
};

// The children of one family, one per combination of label values.
template <class T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, Type type, Labels label_names,
         std::function<std::unique_ptr<T>()> make);

  // The child for `values` (in label_names() order), created on first use; the reference stays
  // valid for the family's life. Takes a lock: keep the reference rather than calling this per
  // event. REQUIRES: values.size() == label_names().size() (aborts otherwise).
  T& With(const Labels& values);

  void Render(std::string& out) const override;

 private:
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<T>> children_;  // guarded by mu_; sorted: stable output
};

// A value read when the registry is rendered (sizes of caches, process statistics).
struct Sample {
  Labels label_values;
  double value = 0;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each registers a family; families render in registration order. The returned reference
  // lives as long as the registry. Aborts on an invalid name (Prometheus' [a-zA-Z_:][a-zA-Z0-9_:]*
  // for metrics, [a-zA-Z_][a-zA-Z0-9_]* not starting "__" for labels), a name registered before,
  // or a histogram label named "le".
  Family<Counter>& AddCounter(std::string name, std::string help, Labels label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help, Labels label_names = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help, Labels label_names,
                                  std::vector<double> bounds);
  // `collect` is called by every Render, on the rendering thread, and returns the samples (each
  // with as many label values as `label_names`). Type kHistogram is not allowed here.
  void AddCallback(std::string name, std::string help, Type type, Labels label_names,
                   std::function<std::vector<Sample>()> collect);

  // The whole exposition, text format 0.0.4.
  std::string Render() const;

 private:
  void Add(std::unique_ptr<FamilyBase> family);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;  // guarded by mu_
};

// Text-format pieces, exposed for tests.
// A label value: backslash, double quote and line feed escaped.
std::string EscapeLabelValue(std::string_view value);
// A HELP text: backslash and line feed escaped.
std::string EscapeHelp(std::string_view help);
// A sample value: integers without a fraction, otherwise the shortest form that reads back the
// same double; "+Inf", "-Inf", "NaN".
std::string FormatValue(double v);

}  // namespace keyhold::metrics
