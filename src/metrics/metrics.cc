#include "metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace keyhold::metrics {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "metrics registration: %s\n", what.c_str());
  std::abort();
}

bool ValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `name{a="x",b="y"}` (or just `name` without labels), with `extra` as one more label (le).
void AppendSeries(std::string& out, std::string_view name, const Labels& names,
                  const Labels& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  out += name;
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void AppendLine(std::string& out, std::string_view name, const Labels& names, const Labels& values,
                std::string_view value) {
  AppendSeries(out, name, names, values);
  out += ' ';
  out += value;
  out += '\n';
}

void RenderChild(std::string& out, const FamilyBase& f, const Labels& values, const Counter& c) {
  AppendLine(out, f.name(), f.label_names(), values, std::to_string(c.Value()));
}

void RenderChild(std::string& out, const FamilyBase& f, const Labels& values, const Gauge& g) {
  AppendLine(out, f.name(), f.label_names(), values, FormatValue(g.Value()));
}

void RenderChild(std::string& out, const FamilyBase& f, const Labels& values, const Histogram& h) {
  Histogram::Snapshot s = h.Read();
  std::string bucket = f.name() + "_bucket";
  std::span<const double> bounds = h.bounds();
  for (size_t i = 0; i <= bounds.size(); ++i) {
    std::string le = i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
    AppendSeries(out, bucket, f.label_names(), values, "le", le);
    out += ' ';
    out += std::to_string(s.cumulative[i]);
    out += '\n';
  }
  AppendLine(out, f.name() + "_sum", f.label_names(), values, FormatValue(s.sum));
  AppendLine(out, f.name() + "_count", f.label_names(), values, std::to_string(s.count));
}

class CallbackFamily final : public FamilyBase {
 public:
  CallbackFamily(std::string name, std::string help, Type type, Labels label_names,
                 std::function<std::vector<Sample>()> collect)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
        collect_(std::move(collect)) {}

  void Render(std::string& out) const override {
    RenderHeader(out);
    for (const Sample& s : collect_()) {
      if (s.label_values.size() != label_names().size()) Fail(name() + ": wrong label count");
      AppendLine(out, name(), label_names(), s.label_values, FormatValue(s.value));
    }
  }

 private:
  std::function<std::vector<Sample>()> collect_;
};

}  // namespace

// --- values ------------------------------------------------------------------------------

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      Fail("histogram bounds must be finite and strictly ascending");
    }
  }
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.cumulative.reserve(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> DurationBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

std::vector<double> SizeBuckets() { return {64, 256, 1024, 4096, 16384, 65536, 262144, 1048576}; }

// --- families ----------------------------------------------------------------------------

FamilyBase::FamilyBase(std::string name, std::string help, Type type, Labels label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {
  if (!ValidName(name_, /*allow_colon=*/true)) Fail("invalid metric name '" + name_ + "'");
  std::set<std::string_view> seen;
  for (const std::string& l : label_names_) {
    if (!ValidName(l, /*allow_colon=*/false) || l.starts_with("__")) {
      Fail(name_ + ": invalid label name '" + l + "'");
    }
    if (type_ == Type::kHistogram && l == "le") Fail(name_ + ": a histogram cannot have 'le'");
    if (!seen.insert(l).second) Fail(name_ + ": label '" + l + "' given twice");
  }
}

void FamilyBase::RenderHeader(std::string& out) const {
  out += "# HELP " + name_ + ' ' + EscapeHelp(help_) + '\n';
  out += "# TYPE " + name_ + ' ' + TypeName(type_) + '\n';
}

template <class T>
Family<T>::Family(std::string name, std::string help, Type type, Labels label_names,
                  std::function<std::unique_ptr<T>()> make)
    : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
      make_(std::move(make)) {}

template <class T>
T& Family<T>::With(const Labels& values) {
  if (values.size() != label_names().size()) Fail(name() + ": wrong label count");
  std::lock_guard lock(mu_);
  std::unique_ptr<T>& child = children_[values];
  if (!child) child = make_();
  return *child;
}

template <class T>
void Family<T>::Render(std::string& out) const {
  RenderHeader(out);
  std::lock_guard lock(mu_);
  for (const auto& [values, child] : children_) RenderChild(out, *this, values, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- registry ----------------------------------------------------------------------------

Family<Counter>& Registry::AddCounter(std::string name, std::string help, Labels label_names) {
  auto f = std::make_unique<Family<Counter>>(std::move(name), std::move(help), Type::kCounter,
                                             std::move(label_names),
                                             [] { return std::make_unique<Counter>(); });
  Family<Counter>& ref = *f;
  Add(std::move(f));
  return ref;
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help, Labels label_names) {
  auto f = std::make_unique<Family<Gauge>>(std::move(name), std::move(help), Type::kGauge,
                                           std::move(label_names),
                                           [] { return std::make_unique<Gauge>(); });
  Family<Gauge>& ref = *f;
  Add(std::move(f));
  return ref;
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help, Labels label_names,
                                          std::vector<double> bounds) {
  Histogram check(bounds);  // aborts on bad bounds at registration, not at first use
  auto f = std::make_unique<Family<Histogram>>(
      std::move(name), std::move(help), Type::kHistogram, std::move(label_names),
      [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
  Family<Histogram>& ref = *f;
  Add(std::move(f));
  return ref;
}

void Registry::AddCallback(std::string name, std::string help, Type type, Labels label_names,
                           std::function<std::vector<Sample>()> collect) {
  if (type == Type::kHistogram) Fail(name + ": a callback cannot be a histogram");
  Add(std::make_unique<CallbackFamily>(std::move(name), std::move(help), type,
                                       std::move(label_names), std::move(collect)));
}

void Registry::Add(std::unique_ptr<FamilyBase> family) {
  std::lock_guard lock(mu_);
  for (const auto& f : families_) {
    if (f->name() == family->name()) Fail("metric '" + family->name() + "' registered twice");
  }
  families_.push_back(std::move(family));
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& f : families_) f->Render(out);
  return out;
}

// --- text format -------------------------------------------------------------------------

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  if (v == std::floor(v) && std::fabs(v) < kExactIntegers) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  char* end = std::to_chars(buf, buf + sizeof buf, v).ptr;  // 32 bytes hold any double
  return std::string(buf, end);
}

}  // namespace keyhold::metrics
