// Sources: what the scanner reads — files and directories, standard input, and git objects
// (history, the staged index, pushed commits) — scanned in parallel, each unique blob once.
//
//   ScanStats stats;
//   auto found = ScanPaths(*scanner, {"src", "config/.env"}, {}, stats);
//   KH_ASSIGN_OR_RETURN(auto history, ScanGitHistory(*scanner, ".", "", {}, stats));
//
// Files that vanish, unreadable files and unreadable directories are skipped with a warning in
// `stats.warnings`; binaries (a NUL byte in the first 8000 bytes) and files over the size limit
// are skipped and counted. Findings come back ordered by path, line and column.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "scan/scanner.h"

namespace keyhold::scan {

// What a scan has done so far, for a progress display to read from another thread while it runs.
struct ScanProgress {
  std::atomic<uint64_t> files{0};  // files or blobs scanned
  std::atomic<uint64_t> bytes{0};
  void Add(uint64_t n) {
    files.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(n, std::memory_order_relaxed);
  }
};

struct ScanOptions {
  uint64_t max_file_bytes = 10 << 20;
  int threads = 0;                   // 0: one per core
  ScanProgress* progress = nullptr;  // counted as files are scanned, if set
};

struct ScanStats {
  uint64_t files = 0;  // files or blobs scanned
  uint64_t bytes = 0;
  uint64_t skipped_binary = 0;
  uint64_t skipped_large = 0;
  uint64_t commits = 0;  // history scans
  std::vector<std::string> warnings;
  // What could not be read although it had to be (git objects): the scan fails with these.
  std::vector<std::string> errors;
};

// Scans files, directories (recursively; `.git` directories and symbolic links are not followed)
// and "-" (standard input, read like a file: up to the size limit, skipped if binary). Errors:
// kNotFound if an operand does not exist; kInvalidArgument if one is neither a regular file nor a
// directory (a FIFO or a device, which could block or never end).
StatusOr<std::vector<Finding>> ScanPaths(const Scanner& scanner,
                                         const std::vector<std::string>& paths,
                                         const ScanOptions& options, ScanStats& stats);

// Scans the history of every ref of the repository at `repo_dir` (or only `range`, a revision
// or "A..B"), each unique blob once; a secret is reported once per rule and path, with the
// oldest commit that carries it. Errors: kNotFound if there is no repository; kInvalidArgument
// for a range git cannot resolve; kInternal if a commit, tree or blob it had to read cannot be
// read (a damaged repository never looks clean).
StatusOr<std::vector<Finding>> ScanGitHistory(const Scanner& scanner, const std::string& repo_dir,
                                              const std::string& range, const ScanOptions& options,
                                              ScanStats& stats);

// Scans exactly what the next commit would add: staged files that differ from HEAD.
StatusOr<std::vector<Finding>> ScanGitStaged(const Scanner& scanner, const std::string& repo_dir,
                                             const ScanOptions& options, ScanStats& stats);

// Scans the commits a push brings, given the pre-receive hook's input ("<old> <new> <ref>"
// lines): commits reachable from each new tip and from no existing ref.
StatusOr<std::vector<Finding>> ScanGitPush(const Scanner& scanner, const std::string& repo_dir,
                                           const std::string& hook_input,
                                           const ScanOptions& options, ScanStats& stats);

// Sorts findings by path, line, column and rule.
void SortFindings(std::vector<Finding>& findings);

}  // namespace keyhold::scan
