// Files, directories and standard input.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <thread>

#include "scan/parallel.h"
#include "scan/sources.h"

namespace keyhold::scan {
namespace {

namespace fs = std::filesystem;

// A file to scan: its path as reported, its directory, and where its name starts, so that it
// can be opened relative to its directory (one path component to resolve instead of all).
struct FileJob {
  std::string path;
  std::shared_ptr<const std::string> dir;
  uint32_t name_at;
};

// Collects files in batches for the workers, while the walk goes on.
class FileBatcher {
 public:
  explicit FileBatcher(BatchQueue<FileJob>& queue) : queue_(queue) {}
  ~FileBatcher() { Flush(); }
  void Add(const std::shared_ptr<const std::string>& dir, std::string path, size_t name_at) {
    batch_.push_back({std::move(path), dir, static_cast<uint32_t>(name_at)});
    if (batch_.size() == kBatch) Flush();
  }
  void Flush() {
    queue_.Push(std::move(batch_));
    batch_.clear();
  }

 private:
  static constexpr size_t kBatch = 64;
  BatchQueue<FileJob>& queue_;
  std::vector<FileJob> batch_;
};

void Walk(const fs::path& dir, FileBatcher& files, ScanStats& stats) {
  std::error_code ec;
  fs::directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) {
    stats.warnings.push_back("cannot read directory " + dir.string() + ": " + ec.message());
    return;
  }
  std::vector<fs::path> subdirs;  // walked after this directory's files, which share its handle
  const std::string dir_text = dir.string();
  auto shared_dir = std::make_shared<const std::string>(dir_text);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      stats.warnings.push_back("cannot read directory " + dir_text + ": " + ec.message());
      break;
    }
    const fs::directory_entry& e = *it;
    // The entry's type comes from the directory listing itself, so these cost no system call.
    std::error_code sec;
    if (e.is_symlink(sec) || sec) continue;
    if (e.is_directory(sec)) {
      if (e.path().filename() != ".git") subdirs.push_back(e.path());
    } else if (e.is_regular_file(sec)) {
      std::string path = e.path().lexically_normal().string();
      size_t name_at = path.size() - e.path().filename().string().size();
      files.Add(shared_dir, std::move(path), name_at);
    }
  }
  for (const fs::path& sub : subdirs) Walk(sub, files, stats);
}

// Per-worker reading state: the open directory of the last file and a reusable buffer.
class Reader {
 public:
  ~Reader() {
    if (dir_fd_ >= 0) ::close(dir_fd_);
  }
  std::string_view data() const { return {buf_.get(), size_}; }

  // Reads a whole file. Returns false (with a warning) if it cannot be read; a file over
  // `limit` bytes is not kept (true, with `too_large` set).
  bool Read(const FileJob& job, uint64_t limit, bool& too_large, std::string& warning) {
    too_large = false;
    size_ = 0;
    int fd = Open(job);
    if (fd < 0) {
      warning = "cannot read " + job.path + ": " + std::strerror(errno);
      return false;
    }
    // A file replaced by a FIFO or a device since it was listed is not read: that could block
    // or never end. (O_NONBLOCK keeps the open itself from waiting for a FIFO's writer.)
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      warning = "not a regular file, skipped: " + job.path;
      ::close(fd);
      return false;
    }
    while (true) {
      if (size_ == cap_) Grow();
      ssize_t n = ::read(fd, buf_.get() + size_, cap_ - size_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        warning = "cannot read " + job.path + ": " + std::strerror(errno);
        ::close(fd);
        return false;
      }
      if (n == 0) break;  // end of file (also if it shrank while being read)
      size_t asked = cap_ - size_;
      size_ += static_cast<size_t>(n);
      if (size_ > limit) {
        too_large = true;
        break;
      }
      // A regular file reads short only at its end: no need for a read that returns nothing.
      if (static_cast<size_t>(n) < asked) break;
    }
    ::close(fd);
    return true;
  }

 private:
  int Open(const FileJob& job) {
    if (job.dir != dir_) {
      if (dir_fd_ >= 0) ::close(dir_fd_);
      dir_ = job.dir;
      dir_fd_ = ::open(job.dir->c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
    if (dir_fd_ < 0) return ::open(job.path.c_str(), kFlags);
    return ::openat(dir_fd_, job.path.c_str() + job.name_at, kFlags);
  }
  void Grow() {
    size_t cap = std::max<size_t>(64 * 1024, cap_ * 2);
    auto bigger = std::make_unique_for_overwrite<char[]>(cap);
    if (size_) std::memcpy(bigger.get(), buf_.get(), size_);
    buf_ = std::move(bigger);
    cap_ = cap;
  }

  std::shared_ptr<const std::string> dir_;
  int dir_fd_ = -1;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t size_ = 0;
};

void ScanFile(const Scanner& scanner, const ScanOptions& options, const FileJob& job,
              Reader& reader, ParallelWorker& w) {
  if (scanner.PathAllowlisted(job.path)) return;
  for (Finding& f : scanner.PathFindings({.path = job.path})) w.found.push_back(std::move(f));
  bool too_large = false;
  std::string warning;
  if (!reader.Read(job, options.max_file_bytes, too_large, warning)) {
    w.stats.warnings.push_back(warning);
    return;
  }
  if (too_large) {
    w.stats.skipped_large++;
    return;
  }
  std::string_view data = reader.data();
  if (LooksBinary(data)) {
    w.stats.skipped_binary++;
    return;
  }
  w.stats.files++;
  w.stats.bytes += data.size();
  if (options.progress) options.progress->Add(data.size());
  AppendFindings(w.found, scanner.Scan(data, {.path = job.path}, w.scratch(scanner)));
}

std::string KindOf(const fs::file_status& st) {
  switch (st.type()) {
    case fs::file_type::fifo:
      return "a FIFO";
    case fs::file_type::socket:
      return "a socket";
    case fs::file_type::character:
      return "a character device";
    case fs::file_type::block:
      return "a block device";
    default:
      return "not a regular file";
  }
}

// Standard input, read as a file is: at most the size limit (what is over it is not read, and
// the input is skipped as too large), and skipped if it looks binary.
Status ScanStandardInput(const Scanner& scanner, const ScanOptions& options, ScanStats& stats,
                         std::vector<Finding>& found) {
  std::string data;
  char chunk[64 * 1024];
  while (true) {
    ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Internal(std::string("cannot read standard input: ") + std::strerror(errno));
    if (n == 0) break;
    data.append(chunk, static_cast<size_t>(n));
    if (data.size() > options.max_file_bytes) {
      stats.skipped_large++;
      stats.warnings.push_back("standard input is larger than the size limit (" +
                               std::to_string(options.max_file_bytes) +
                               " bytes) and was not scanned; raise it with --max-file-size");
      return OkStatus();
    }
  }
  if (LooksBinary(data)) {
    stats.skipped_binary++;
    return OkStatus();
  }
  Scanner::Scratch scratch = scanner.NewScratch();
  stats.files++;
  stats.bytes += data.size();
  AppendFindings(found, scanner.Scan(data, {.path = "-"}, scratch));
  return OkStatus();
}

}  // namespace

bool LooksBinary(std::string_view data) {
  return std::memchr(data.data(), '\0', std::min<size_t>(data.size(), 8000)) != nullptr;
}

void SortFindings(std::vector<Finding>& findings) {
  auto before = [](const Finding& a, const Finding& b) {
    return std::tie(a.path, a.line, a.column, a.rule_id()) <
           std::tie(b.path, b.line, b.column, b.rule_id());
  };
  // Usually in order already (one file, or files that finished in order).
  SortMovingOnce(findings, before);
}

StatusOr<std::vector<Finding>> ScanPaths(const Scanner& scanner,
                                         const std::vector<std::string>& paths,
                                         const ScanOptions& options, ScanStats& stats) {
  std::vector<Finding> found;
  for (const std::string& p : paths) {
    if (p == "-") continue;
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    if (!fs::exists(st)) return NotFound("no such file or directory: " + p);
    // A FIFO or a device would block the scan or never end; what was asked for is not a file.
    if (!fs::is_regular_file(st) && !fs::is_directory(st)) {
      return InvalidArgument("not a regular file or directory: " + p + " (" + KindOf(st) +
                             "); to scan a stream, pipe it to 'keyhold scan -'");
    }
  }
  // Workers scan while this thread walks the directories and hands them files in batches.
  BatchQueue<FileJob> queue;
  auto work = [&](ParallelWorker& w) {
    Reader reader;
    std::vector<FileJob> batch;
    while (queue.Pop(batch)) {
      for (const FileJob& job : batch) ScanFile(scanner, options, job, reader, w);
    }
  };
  auto walk = [&] {
    FileBatcher files(queue);
    for (const std::string& p : paths) {
      if (p == "-") continue;
      std::error_code ec;
      if (fs::is_directory(p, ec)) {
        Walk(p, files, stats);
      } else {
        fs::path fp(p);
        files.Add(std::make_shared<const std::string>(
                      fp.parent_path().empty() ? "." : fp.parent_path().string()),
                  p, p.size() - fp.filename().string().size());
      }
    }
    files.Flush();
    queue.Close();
  };
  RunParallel(WorkerCount(options.threads), work, walk, stats, found);
  // Standard input last: it may be a pipe that stays open long after the files are done.
  if (std::find(paths.begin(), paths.end(), "-") != paths.end()) {
    KH_RETURN_IF_ERROR(ScanStandardInput(scanner, options, stats, found));
  }
  SortFindings(found);
  return found;
}

}  // namespace keyhold::scan
