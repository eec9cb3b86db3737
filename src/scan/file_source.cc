// Files, directories and standard input.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <mutex>
#include <thread>

#include "scan/parallel.h"
#include "scan/sources.h"

namespace keyhold::scan {
namespace {

namespace fs = std::filesystem;

struct FileJob {
  std::string path;
};

void Walk(const fs::path& dir, std::vector<FileJob>& jobs, ScanStats& stats) {
  std::error_code ec;
  fs::directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) {
    stats.warnings.push_back("cannot read directory " + dir.string() + ": " + ec.message());
    return;
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      stats.warnings.push_back("cannot read directory " + dir.string() + ": " + ec.message());
      return;
    }
    const fs::directory_entry& e = *it;
    std::error_code sec;
    fs::file_status st = e.symlink_status(sec);
    if (sec || fs::is_symlink(st)) continue;
    if (fs::is_directory(st)) {
      if (e.path().filename() == ".git") continue;
      Walk(e.path(), jobs, stats);
    } else if (fs::is_regular_file(st)) {
      jobs.push_back({e.path().lexically_normal().string()});
    }
  }
}

// Reads a whole file into `buf`. Returns false (with a warning) if it cannot be read; a file
// over the limit is not read (true, with `too_large` set).
bool ReadFile(const std::string& path, uint64_t limit, std::string& buf, bool& too_large,
              std::string& warning) {
  too_large = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    warning = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    warning = "cannot read " + path + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  if (static_cast<uint64_t>(st.st_size) > limit) {
    too_large = true;
    ::close(fd);
    return true;
  }
  buf.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      warning = "cannot read " + path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;  // the file shrank while being read
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  ::close(fd);
  return true;
}

}  // namespace

bool LooksBinary(std::string_view data) {
  return std::memchr(data.data(), '\0', std::min<size_t>(data.size(), 8000)) != nullptr;
}

void SortFindings(std::vector<Finding>& findings) {
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.path, a.line, a.column, a.rule_id) < std::tie(b.path, b.line, b.column, b.rule_id);
  });
}

StatusOr<std::vector<Finding>> ScanPaths(const Scanner& scanner, const std::vector<std::string>& paths,
                                         const ScanOptions& options, ScanStats& stats) {
  std::vector<Finding> found;
  std::vector<FileJob> jobs;
  for (const std::string& p : paths) {
    if (p == "-") {
      std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
      Scanner::Scratch scratch = scanner.NewScratch();
      stats.files++;
      stats.bytes += data.size();
      for (Finding& f : scanner.Scan(data, {.path = "-"}, scratch)) found.push_back(std::move(f));
      continue;
    }
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) return NotFound("no such file or directory: " + p);
    if (fs::is_directory(st)) {
      Walk(p, jobs, stats);
    } else {
      jobs.push_back({p});
    }
  }
  std::mutex mu;
  ForEachParallel(jobs.size(), options.threads, [&](ParallelWorker& w, size_t i) {
    const std::string& path = jobs[i].path;
    if (scanner.PathAllowlisted(path)) return;
    bool too_large = false;
    std::string warning;
    if (!ReadFile(path, options.max_file_bytes, w.buffer, too_large, warning)) {
      std::lock_guard lock(mu);
      stats.warnings.push_back(warning);
      return;
    }
    if (too_large) {
      w.stats.skipped_large++;
      return;
    }
    if (LooksBinary(w.buffer)) {
      w.stats.skipped_binary++;
      return;
    }
    w.stats.files++;
    w.stats.bytes += w.buffer.size();
    for (Finding& f : scanner.Scan(w.buffer, {.path = path}, w.scratch(scanner))) {
      w.found.push_back(std::move(f));
    }
  }, stats, found);
  SortFindings(found);
  return found;
}

}  // namespace keyhold::scan
