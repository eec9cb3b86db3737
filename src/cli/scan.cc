// `keyhold scan` and `keyhold hook install`: the leak scanner on the command line.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/client.h"
#include "cli/commands.h"
#include "scan/db_cache.h"
#include "scan/gitleaks.h"
#include "scan/report.h"
#include "scan/scanner.h"
#include "scan/sources.h"

namespace keyhold::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kExitClean = 0;
constexpr int kExitFound = 1;
constexpr int kExitError = 2;

struct ScanFlags {
  std::vector<std::string> paths;
  std::string git_range;
  bool git = false;
  bool staged = false;
  bool pre_receive = false;
  std::string repo = ".";
  std::string rules_file;
  std::string format = "text";
  std::string output;
  std::string baseline;
  std::string write_baseline;
  std::string gitleaks_ignore;
  uint64_t max_file_bytes = 10 << 20;
  int threads = 0;
  bool quiet = false;
  bool revoke = false;
};

// While a long scan runs and standard error is a terminal: one line on it, rewritten every 250 ms
// once the scan has taken a second: files, bytes and rate. Erased when the scan ends, so what
// follows (the report, the summary) reads as without it.
class ProgressLine {
 public:
  ProgressLine(const scan::ScanProgress& progress, bool enabled) : progress_(progress) {
    if (enabled) thread_ = std::thread([this] { Run(); });
  }
  ~ProgressLine() { Stop(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (shown_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  void Run() {
    auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; })) return;
    do {
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double mb = static_cast<double>(progress_.bytes.load(std::memory_order_relaxed)) / 1e6;
      std::fprintf(stderr, "\r\033[Kkeyhold scan: %llu files, %.1f MB, %.1f MB/s",
                   static_cast<unsigned long long>(progress_.files.load(std::memory_order_relaxed)),
                   mb, mb / seconds);
      std::fflush(stderr);
      shown_ = true;
    } while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_; }));
  }

  const scan::ScanProgress& progress_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool shown_ = false;     // written by the thread, read after it is joined
  std::thread thread_;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "keyhold scan: %s\n", message.c_str());
  return kExitError;
}

// Where a finding was, for the server's record of the leak: "path:line", and the commit in a
// history scan. Never the key itself: a file named after one is only "a scanned file".
std::string LeakSource(const scan::Finding& f) {
  // A path may itself hold a key (a file named after one): any run long enough to be a key's body
  // keeps the path out of what the server records.
  size_t run = 0, longest = 0;
  for (unsigned char c : f.path) {
    run = (std::isalnum(c) != 0 || c == '_' || c == '-') ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string file = longest >= 22 ? std::string("a scanned file") : f.path;
  std::string where = file + ":" + std::to_string(f.line);
  if (!f.commit.empty()) where += "@" + f.commit.substr(0, 12);
  where = "keyhold scan: " + where;
  if (where.size() > 1024 || where.find(f.secret) != std::string::npos) {
    where = "keyhold scan: a scanned file";
  }
  return where;
}

// --revoke: reports every keyhold key found through keys.reportLeak, once per key, and records on
// each finding what the server did. Returns false if any report did not reach the server.
bool ReportLeakedKeys(const ApiClient& client, std::vector<scan::Finding>& found, bool quiet) {
  std::map<std::string, std::string> done;  // secret → action
  size_t revoked = 0, disabled = 0, none = 0, failed = 0;
  for (scan::Finding& f : found) {
    if (f.kind != scan::FindingKind::kKeyholdKey) continue;
    auto it = done.find(f.secret);
    if (it == done.end()) {
      std::string action = "failed";
      auto r = client.Call("keys.reportLeak", {{"key", f.secret}, {"source", LeakSource(f)}});
      if (!r.ok()) {
        std::fprintf(stderr, "keyhold scan: cannot report %s: %s\n", f.key_start.c_str(),
                     r.status().message().c_str());
      } else if (r->http_status != 200) {
        std::string message;
        if (r->body.is_object() && r->body.contains("error") && r->body["error"].is_object() &&
            r->body["error"].contains("detail") && r->body["error"]["detail"].is_string()) {
          message = r->body["error"]["detail"].get<std::string>();
        }
        std::fprintf(stderr, "keyhold scan: the server refused the report of %s: HTTP %d %s\n",
                     f.key_start.c_str(), r->http_status, message.c_str());
      } else {
        action = "none";
        if (r->body.is_object() && r->body.contains("data") && r->body["data"].is_object() &&
            r->body["data"].contains("action") && r->body["data"]["action"].is_string()) {
          action = r->body["data"]["action"].get<std::string>();
        }
        if (action != "revoked" && action != "disabled") action = "none";
      }
      it = done.emplace(f.secret, action).first;
      (action == "revoked"    ? revoked
       : action == "disabled" ? disabled
       : action == "none"     ? none
                              : failed)++;
    }
    f.leak_action = it->second;
  }
  if (!quiet) {
    std::fprintf(stderr,
                 "keyhold scan: reported %zu keyhold key(s) to %s: %zu revoked, %zu disabled, %zu "
                 "not acted on%s\n",
                 done.size(), client.Address().c_str(), revoked, disabled, none,
                 failed ? (", " + std::to_string(failed) + " not reported").c_str() : "");
  }
  return failed == 0;
}

int RunScan(ScanFlags& f) {
  int modes =
      (f.git ? 1 : 0) + (f.staged ? 1 : 0) + (f.pre_receive ? 1 : 0) + (f.paths.empty() ? 0 : 1);
  if (modes != 1)
    return Fail("give paths to scan, or exactly one of --git, --staged, --pre-receive");
  if (f.max_file_bytes == 0 || f.max_file_bytes > (uint64_t{1} << 30)) {
    return Fail("--max-file-size must be between 1 byte and 1 GiB");
  }
  auto format = scan::ParseReportFormat(f.format);
  if (!format.ok()) return Fail(format.status().message());
  // --revoke needs a server to report to: checked before the scan, not after it.
  std::optional<ApiClient> client;
  if (f.revoke) {
    if (!f.write_baseline.empty()) return Fail("--revoke and --write-baseline do not go together");
    auto c = ApiClient::FromEnvironment();
    if (!c.ok()) return Fail("--revoke: " + c.status().message());
    client = std::move(c).value();
  }
  // Without --rules, the scanned repository's own rules apply: .keyhold-rules.toml, else the
  // .gitleaks.toml a team brings from gitleaks.
  const std::string config_dir = f.paths.empty() ? f.repo : ".";
  std::string rules_file = f.rules_file;
  if (rules_file.empty()) {
    for (const char* name : {".keyhold-rules.toml", ".gitleaks.toml"}) {
      std::error_code ec;
      if (fs::is_regular_file(fs::path(config_dir) / name, ec)) {
        rules_file = (fs::path(config_dir) / name).string();
        if (!f.quiet) std::fprintf(stderr, "keyhold scan: rules from %s\n", rules_file.c_str());
        break;
      }
    }
  }
  auto rules = scan::LoadRules(rules_file.empty() ? std::nullopt : std::optional(rules_file));
  if (!rules.ok()) return Fail(rules.status().message());
  for (const std::string& w : rules->warnings)
    std::fprintf(stderr, "keyhold scan: warning: %s\n", w.c_str());
  auto scanner = scan::Scanner::Create(std::move(rules).value(), scan::DefaultCacheDir());
  if (!scanner.ok()) return Fail(scanner.status().message());
  scan::ScanProgress progress;
  scan::ScanOptions options{
      .max_file_bytes = f.max_file_bytes, .threads = f.threads, .progress = &progress};
  ProgressLine progress_line(progress, !f.quiet && isatty(STDERR_FILENO) == 1);
  scan::ScanStats stats;
  auto started = std::chrono::steady_clock::now();
  StatusOr<std::vector<scan::Finding>> found = std::vector<scan::Finding>{};
  if (f.git) {
    found = scan::ScanGitHistory(**scanner, f.repo, f.git_range, options, stats);
  } else if (f.staged) {
    found = scan::ScanGitStaged(**scanner, f.repo, options, stats);
  } else if (f.pre_receive) {
    std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    found = scan::ScanGitPush(**scanner, f.repo, input, options, stats);
  } else {
    found = scan::ScanPaths(**scanner, f.paths, options, stats);
  }
  progress_line.Stop();
  if (!found.ok()) return Fail(found.status().message());
  for (const std::string& w : stats.warnings)
    std::fprintf(stderr, "keyhold scan: warning: %s\n", w.c_str());
  size_t accepted = 0;
  if (!f.baseline.empty()) {
    auto baseline = scan::ReadBaseline(f.baseline);
    if (!baseline.ok()) return Fail(baseline.status().message());
    accepted = scan::ApplyBaseline(*baseline, *found);
  }
  std::string ignore_file = f.gitleaks_ignore;
  std::error_code ec;
  if (ignore_file.empty() && fs::is_regular_file(fs::path(config_dir) / ".gitleaksignore", ec)) {
    ignore_file = (fs::path(config_dir) / ".gitleaksignore").string();
  }
  if (!ignore_file.empty()) {
    std::vector<std::string> warnings;
    auto ignore = scan::ReadGitleaksIgnore(ignore_file, warnings);
    if (!ignore.ok()) return Fail(ignore.status().message());
    for (const std::string& w : warnings)
      std::fprintf(stderr, "keyhold scan: warning: %s\n", w.c_str());
    accepted += ignore->Apply(*found);
  }
  if (!f.write_baseline.empty()) {
    Status st = scan::WriteBaseline(f.write_baseline, *found);
    if (!st.ok()) return Fail(st.message());
    std::fprintf(stderr, "keyhold scan: wrote %zu accepted findings to %s\n", found->size(),
                 f.write_baseline.c_str());
    return kExitClean;
  }
  bool reported = true;
  if (client) reported = ReportLeakedKeys(*client, *found, f.quiet);
  std::string report = *format == scan::ReportFormat::kJson ? scan::RenderJson(*found)
                       : *format == scan::ReportFormat::kSarif
                           ? scan::RenderSarif(*found, (*scanner)->rules().rules, KEYHOLD_VERSION)
                       : *format == scan::ReportFormat::kGitleaksJson
                           ? scan::RenderGitleaksJson(*found)
                           : scan::RenderText(*found);
  if (f.output.empty()) {
    std::fwrite(report.data(), 1, report.size(), stdout);
  } else {
    std::ofstream out(f.output, std::ios::trunc);
    out << report;
    out.close();
    if (!out) return Fail("cannot write " + f.output);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!f.quiet) {
    std::fprintf(stderr,
                 "keyhold scan: %zu finding(s) in %llu file(s), %.1f MB%s in %.2f s; skipped %llu "
                 "binary, %llu too large%s\n",
                 found->size(), static_cast<unsigned long long>(stats.files), stats.bytes / 1e6,
                 stats.commits ? (", " + std::to_string(stats.commits) + " commits").c_str() : "",
                 secs, static_cast<unsigned long long>(stats.skipped_binary),
                 static_cast<unsigned long long>(stats.skipped_large),
                 accepted ? (", " + std::to_string(accepted) +
                             " accepted by the baseline or .gitleaksignore")
                                .c_str()
                          : "");
  }
  if (!found->empty() && f.staged) {
    std::fprintf(
        stderr,
        "\nkeyhold: this commit adds what looks like a secret, so it was stopped.\n"
        "  - If it is a real secret: remove it, rotate it, and load it from the environment.\n"
        "  - If it is not: add the comment 'keyhold:allow' on its line, or accept the current\n"
        "    findings with 'keyhold scan --staged --write-baseline .keyhold-baseline.json'\n"
        "    (the hook honours that file), or commit once with 'git commit --no-verify'.\n");
  }
  if (!reported) return kExitError;
  return found->empty() ? kExitClean : kExitFound;
}

constexpr const char* kHookMarker = "# keyhold pre-commit hook";

std::string SelfPath() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("keyhold") : p.string();
}

int InstallHook(const std::string& repo, bool force) {
  fs::path git_dir = fs::path(repo) / ".git";
  std::error_code ec;
  if (!fs::is_directory(git_dir, ec)) {
    std::fprintf(stderr, "keyhold hook install: %s is not the top of a git work tree\n",
                 repo.c_str());
    return kExitError;
  }
  fs::path hooks = git_dir / "hooks";
  fs::create_directories(hooks, ec);
  fs::path hook = hooks / "pre-commit";
  fs::path chained = hooks / "pre-commit.keyhold-chained";
  if (fs::exists(hook)) {
    std::ifstream in(hook);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find(kHookMarker) != std::string::npos && !force) {
      std::printf("the keyhold pre-commit hook is already installed in %s\n", hook.c_str());
      return kExitClean;
    }
    if (text.find(kHookMarker) == std::string::npos) {
      if (fs::exists(chained)) {
        std::fprintf(stderr, "keyhold hook install: %s already exists; move it away first\n",
                     chained.c_str());
        return kExitError;
      }
      fs::rename(hook, chained, ec);  // the existing hook keeps running, before the scan
      if (ec) {
        std::fprintf(stderr, "keyhold hook install: cannot move the existing hook: %s\n",
                     ec.message().c_str());
        return kExitError;
      }
    }
  }
  std::ofstream out(hook, std::ios::trunc);
  out << "#!/bin/sh\n"
      << kHookMarker << " (keyhold hook install). Stops commits that add secrets.\n"
      << "hooks_dir=$(dirname \"$0\")\n"
      << "if [ -x \"$hooks_dir/pre-commit.keyhold-chained\" ]; then\n"
      << "  \"$hooks_dir/pre-commit.keyhold-chained\" \"$@\" || exit $?\n"
      << "fi\n"
      << "keyhold=\"" << SelfPath() << "\"\n"
      << "[ -x \"$keyhold\" ] || keyhold=keyhold\n"
      << "baseline=\n"
      << "[ -f .keyhold-baseline.json ] && baseline=\"--baseline .keyhold-baseline.json\"\n"
      << "rules=\n"
      << "[ -f .keyhold-rules.toml ] && rules=\"--rules .keyhold-rules.toml\"\n"
      << "exec \"$keyhold\" scan --staged --quiet $baseline $rules\n";
  out.close();
  if (!out) {
    std::fprintf(stderr, "keyhold hook install: cannot write %s\n", hook.c_str());
    return kExitError;
  }
  fs::permissions(hook,
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                      fs::perms::others_read | fs::perms::others_exec,
                  ec);
  std::printf("installed the keyhold pre-commit hook in %s%s\n", hook.c_str(),
              fs::exists(chained) ? " (the previous hook runs first)" : "");
  return kExitClean;
}

}  // namespace

void AddScan(CLI::App& app, int& code) {
  static ScanFlags f;
  auto* scan = app.add_subcommand(
      "scan",
      "find secrets in files, directories, stdin ('-'), git history (--git), the staged index "
      "(--staged) or a push (--pre-receive). Exit codes: 0 clean, 1 found, 2 error. The compiled "
      "rules are cached in $KEYHOLD_CACHE_DIR (default ~/.cache/keyhold; 'off' disables it).");
  scan->add_option("paths", f.paths, "files or directories to scan; '-' reads standard input");
  scan->add_option("--git", f.git_range,
                   "scan the history of every ref, or only REV-RANGE (a revision or A..B)")
      ->expected(0, 1);
  scan->add_flag("--staged", f.staged, "scan what the next commit adds (for a pre-commit hook)");
  scan->add_flag("--pre-receive", f.pre_receive,
                 "scan the commits of a push, reading '<old> <new> <ref>' lines on stdin");
  scan->add_option("--repo", f.repo,
                   "repository for --git, --staged and --pre-receive (default .)");
  scan->add_option(
      "--rules", f.rules_file,
      "rules file (gitleaks schema; [extend] useDefault = true adds the built-in rules). "
      "Default: .keyhold-rules.toml, else .gitleaks.toml, at the top of the repository (--git, "
      "--staged, --pre-receive) or in the current directory, else the built-in rules");
  scan->add_option("--format,--report-format", f.format,
                   "report format: text, json, sarif or gitleaks-json (gitleaks' JSON report, "
                   "redacted; default text)");
  scan->add_option("--output,-o,--report-path", f.output,
                   "write the report to this file instead of stdout");
  scan->add_option("--baseline", f.baseline, "ignore the findings accepted in this baseline file");
  scan->add_option("--gitleaks-ignore-path", f.gitleaks_ignore,
                   "a .gitleaksignore file of finding fingerprints to ignore (default: the one at "
                   "the top of the repository or current directory, if any)");
  scan->add_option("--write-baseline", f.write_baseline,
                   "accept every current finding: write them to this baseline file and exit 0");
  scan->add_option("--max-file-size", f.max_file_bytes,
                   "skip files larger than this many bytes (default 10 MiB)");
  scan->add_option("--threads", f.threads, "scanning threads (default: one per core)");
  scan->add_flag("--quiet,-q", f.quiet, "no summary or progress line on stderr");
  scan->add_flag("--revoke", f.revoke,
                 "report every keyhold key found to the server at KEYHOLD_ADDR (keys.reportLeak, "
                 "with KEYHOLD_TOKEN), which revokes or disables it; the report says which. Exit 2 "
                 "if a report did not reach the server");
  scan->callback([&code, scan] {
    f.git = scan->count("--git") > 0;
    code = RunScan(f);
  });

  static std::string repo = ".";
  static bool force = false;
  auto* hook = app.add_subcommand("hook", "git hooks");
  hook->require_subcommand(1);
  auto* install = hook->add_subcommand("install",
                                       "install a pre-commit hook that stops commits adding "
                                       "secrets (an existing hook is kept and run first)");
  install->add_option("--repo", repo, "top of the git work tree (default .)");
  install->add_flag("--force", force, "rewrite the hook even if it is already installed");
  install->callback([&code] { code = InstallHook(repo, force); });
}

}  // namespace keyhold::cli
