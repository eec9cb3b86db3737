#include "metrics/process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace keyhold::metrics {
namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// /proc/stat's "btime N": when the system booted, in seconds since the epoch.
std::optional<int64_t> BootTime() {
  auto stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  size_t at = stat->find("\nbtime ");
  if (at == std::string::npos) return std::nullopt;
  int64_t v = 0;
  const char* begin = stat->data() + at + 7;
  if (std::from_chars(begin, stat->data() + stat->size(), v).ec != std::errc()) return std::nullopt;
  return v;
}

// Open descriptors: the entries of /proc/self/fd, less the one reading it.
std::optional<int64_t> OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  int64_t n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;
}

std::vector<Sample> One(std::optional<double> v) {
  if (!v) return {};
  return {Sample{{}, *v}};
}

std::optional<ProcessStat> ReadProcessStat() {
  auto stat = ReadFile("/proc/self/stat");
  auto boot = BootTime();
  if (!stat || !boot) return std::nullopt;
  return ParseProcStat(*stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), *boot);
}

}  // namespace

std::optional<ProcessStat> ParseProcStat(std::string_view stat, int64_t ticks_per_second,
                                         int64_t page_size, int64_t boot_time) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. Field 3 (state) is the first after it.
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::vector<std::string_view> fields;
  std::string_view rest = stat.substr(close + 1);
  while (!rest.empty()) {
    size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    size_t end = std::min(rest.find_first_of(" \n"), rest.size());
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  auto field = [&](size_t n) -> std::optional<double> {  // n: 1-based, as in proc(5)
    if (n < 3 || n - 3 >= fields.size()) return std::nullopt;
    int64_t v = 0;
    std::string_view f = fields[n - 3];
    if (std::from_chars(f.data(), f.data() + f.size(), v).ec != std::errc()) return std::nullopt;
    return static_cast<double>(v);
  };
  auto utime = field(14), stime = field(15), start = field(22), vsize = field(23), rss = field(24);
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  double hz = static_cast<double>(ticks_per_second);
  return ProcessStat{.cpu_seconds = (*utime + *stime) / hz,
                     .start_time_seconds = static_cast<double>(boot_time) + *start / hz,
                     .resident_bytes = *rss * static_cast<double>(page_size),
                     .virtual_bytes = *vsize};
}

void AddProcessMetrics(Registry& registry) {
  auto from_stat = [](double ProcessStat::*member) {
    return [member] {
      auto s = ReadProcessStat();
      return One(s ? std::optional<double>((*s).*member) : std::nullopt);
    };
  };
  registry.AddCallback("process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.", Type::kCounter, {},
                       from_stat(&ProcessStat::cpu_seconds));
  registry.AddCallback("process_resident_memory_bytes", "Resident memory size in bytes.",
                       Type::kGauge, {}, from_stat(&ProcessStat::resident_bytes));
  registry.AddCallback("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       Type::kGauge, {}, from_stat(&ProcessStat::virtual_bytes));
  registry.AddCallback("process_start_time_seconds",
                       "Start time of the process since unix epoch in seconds.", Type::kGauge, {},
                       from_stat(&ProcessStat::start_time_seconds));
  registry.AddCallback(
      "process_open_fds", "Number of open file descriptors.", Type::kGauge, {}, [] {
        auto n = OpenFds();
        return One(n ? std::optional<double>(static_cast<double>(*n)) : std::nullopt);
      });
  registry.AddCallback("process_max_fds", "Maximum number of open file descriptors.", Type::kGauge,
                       {}, [] {
                         rlimit limit{};
                         if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return One(std::nullopt);
                         return One(static_cast<double>(limit.rlim_cur));
                       });
}

}  // namespace keyhold::metrics
