// Git sources through libgit2: objects are read from the object database, never checked out.
#include <git2.h>

#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <sstream>
#include <unordered_set>

#include "scan/parallel.h"
#include "scan/sources.h"

namespace keyhold::scan {
namespace {

// libgit2 is initialised once per process.
void InitGit() {
  static const int kInit = git_libgit2_init();
  (void)kInit;
}

std::string GitError(const std::string& what) {
  const git_error* e = git_error_last();
  return what + (e && e->message ? std::string(": ") + e->message : std::string());
}

template <typename T, void (*Free)(T*)>
struct GitPtr {
  T* p = nullptr;
  GitPtr() = default;
  GitPtr(const GitPtr&) = delete;
  GitPtr& operator=(const GitPtr&) = delete;
  ~GitPtr() {
    if (p) Free(p);
  }
  T** out() { return &p; }
  T* get() const { return p; }
};
using Repo = GitPtr<git_repository, git_repository_free>;
using Walk = GitPtr<git_revwalk, git_revwalk_free>;
using Commit = GitPtr<git_commit, git_commit_free>;
using Tree = GitPtr<git_tree, git_tree_free>;
using Diff = GitPtr<git_diff, git_diff_free>;
using Blob = GitPtr<git_blob, git_blob_free>;
using Index = GitPtr<git_index, git_index_free>;
using Object = GitPtr<git_object, git_object_free>;

struct CommitInfo {
  std::string id;
  std::string author;
  std::string email;
  std::string date;
};

// A blob to scan, with where it was first seen.
struct BlobJob {
  git_oid oid;
  std::string path;
  int commit = -1;  // index into the commit list; -1 for the staged index
};

struct OidHash {
  size_t operator()(const git_oid& o) const {
    size_t h;
    std::memcpy(&h, o.id, sizeof h);
    return h;
  }
};
struct OidEq {
  bool operator()(const git_oid& a, const git_oid& b) const { return git_oid_equal(&a, &b); }
};

std::string IsoDate(git_time_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

StatusOr<std::unique_ptr<Repo>> OpenRepo(const std::string& dir) {
  InitGit();
  auto repo = std::make_unique<Repo>();
  if (git_repository_open_ext(repo->out(), dir.c_str(), 0, nullptr) != 0) {
    return NotFound(GitError("no git repository at " + dir));
  }
  return repo;
}

// Adds the blobs that `tree` adds or changes relative to `parent` (null: all of them).
Status CollectChanged(git_repository* repo, git_tree* parent, git_tree* tree, int commit,
                      std::unordered_set<git_oid, OidHash, OidEq>& seen,
                      std::vector<BlobJob>& jobs) {
  Diff diff;
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_SKIP_BINARY_CHECK;
  if (git_diff_tree_to_tree(diff.out(), repo, parent, tree, &opts) != 0) {
    return Internal(GitError("cannot compare trees"));
  }
  size_t n = git_diff_num_deltas(diff.get());
  for (size_t i = 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff.get(), i);
    if (d->status != GIT_DELTA_ADDED && d->status != GIT_DELTA_MODIFIED &&
        d->status != GIT_DELTA_RENAMED && d->status != GIT_DELTA_COPIED) {
      continue;
    }
    if (d->new_file.mode == GIT_FILEMODE_COMMIT || d->new_file.mode == GIT_FILEMODE_LINK) continue;
    if (!seen.insert(d->new_file.id).second) continue;
    jobs.push_back({d->new_file.id, d->new_file.path, commit});
  }
  return OkStatus();
}

// Walks the commits of `walk` oldest first, collecting each new blob with its first commit.
Status CollectHistory(git_repository* repo, git_revwalk* walk, std::vector<CommitInfo>& commits,
                      std::vector<BlobJob>& jobs) {
  git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME | GIT_SORT_REVERSE);
  std::unordered_set<git_oid, OidHash, OidEq> seen;
  git_oid oid;
  int rc;
  while ((rc = git_revwalk_next(&oid, walk)) == 0) {
    Commit c;
    if (git_commit_lookup(c.out(), repo, &oid) != 0)
      return Internal(GitError("cannot read commit " + std::string(git_oid_tostr_s(&oid))));
    Tree tree, parent_tree;
    if (git_commit_tree(tree.out(), c.get()) != 0)
      return Internal(
          GitError("cannot read the tree of commit " + std::string(git_oid_tostr_s(&oid))));
    if (git_commit_parentcount(c.get()) > 0) {
      // A parent that cannot be read would make every file of the commit look new; and it is
      // itself part of the history asked for.
      Commit parent;
      if (git_commit_parent(parent.out(), c.get(), 0) != 0 ||
          git_commit_tree(parent_tree.out(), parent.get()) != 0) {
        return Internal(
            GitError("cannot read the parent of commit " + std::string(git_oid_tostr_s(&oid))));
      }
    }
    const git_signature* author = git_commit_author(c.get());
    commits.push_back({git_oid_tostr_s(&oid), author && author->name ? author->name : "",
                       author && author->email ? author->email : "",
                       author ? IsoDate(author->when.time) : ""});
    KH_RETURN_IF_ERROR(CollectChanged(repo, parent_tree.get(), tree.get(),
                                      static_cast<int>(commits.size() - 1), seen, jobs));
  }
  // The walk ends with GIT_ITEROVER; anything else is history it could not read (a damaged
  // commit, a missing object), which must not pass for a clean scan.
  if (rc != GIT_ITEROVER) return Internal(GitError("cannot walk the history"));
  return OkStatus();
}

// Scans the blobs in parallel, each worker with its own repository handle.
StatusOr<std::vector<Finding>> ScanBlobs(const Scanner& scanner, const std::string& repo_dir,
                                         const std::vector<BlobJob>& jobs,
                                         const std::vector<CommitInfo>& commits,
                                         const ScanOptions& options, ScanStats& stats) {
  std::vector<Finding> found;
  ForEachParallel(
      jobs.size(), options.threads,
      [&](ParallelWorker& w, size_t i) {
        // Each worker reads through its own repository handle.
        if (!w.reader) {
          auto opened = OpenRepo(repo_dir);
          if (!opened.ok()) {
            w.stats.errors.push_back(opened.status().message());
            return;
          }
          w.reader = std::shared_ptr<Repo>(std::move(opened).value());
        }
        git_repository* repo = std::static_pointer_cast<Repo>(w.reader)->get();
        const BlobJob& job = jobs[i];
        if (scanner.PathAllowlisted(job.path)) return;
        const CommitInfo* c = job.commit >= 0 ? &commits[static_cast<size_t>(job.commit)] : nullptr;
        ScanContext ctx{.path = job.path,
                        .commit = c ? std::string_view(c->id) : std::string_view()};
        auto attribute = [&](Finding& f) {
          if (!c) return;
          f.commit = c->id;
          f.author = c->author;
          f.email = c->email;
          f.date = c->date;
        };
        for (Finding& f : scanner.PathFindings(ctx)) {
          attribute(f);
          w.found.push_back(std::move(f));
        }
        Blob blob;
        if (git_blob_lookup(blob.out(), repo, &job.oid) != 0) {
          w.stats.errors.push_back(GitError("cannot read the blob of " + job.path));
          return;
        }
        uint64_t size = static_cast<uint64_t>(git_blob_rawsize(blob.get()));
        if (size > options.max_file_bytes) {
          w.stats.skipped_large++;
          return;
        }
        std::string_view data(static_cast<const char*>(git_blob_rawcontent(blob.get())), size);
        if (LooksBinary(data)) {
          w.stats.skipped_binary++;
          return;
        }
        w.stats.files++;
        w.stats.bytes += size;
        if (options.progress) options.progress->Add(size);
        std::vector<Finding> in_blob = scanner.Scan(data, ctx, w.scratch(scanner));
        for (Finding& f : in_blob) attribute(f);
        AppendFindings(w.found, std::move(in_blob));
      },
      stats, found);
  if (!stats.errors.empty()) {
    std::string more = stats.errors.size() > 1
                           ? " (and " + std::to_string(stats.errors.size() - 1) + " more)"
                           : std::string();
    return Internal(stats.errors.front() + more);
  }
  // A secret that stays in a file across several versions is reported once, for the oldest.
  std::stable_sort(found.begin(), found.end(), [&](const Finding& a, const Finding& b) {
    return std::tie(a.rule_id(), a.path, a.fingerprint) <
           std::tie(b.rule_id(), b.path, b.fingerprint);
  });
  std::vector<Finding> unique;
  std::map<std::string, size_t> commit_rank;
  for (size_t i = 0; i < commits.size(); ++i) commit_rank[commits[i].id] = i;
  for (Finding& f : found) {
    if (!unique.empty() && unique.back().rule_id() == f.rule_id() && unique.back().path == f.path &&
        unique.back().fingerprint == f.fingerprint) {
      if (commit_rank[f.commit] < commit_rank[unique.back().commit]) unique.back() = std::move(f);
      continue;
    }
    unique.push_back(std::move(f));
  }
  SortFindings(unique);
  return unique;
}

}  // namespace

StatusOr<std::vector<Finding>> ScanGitHistory(const Scanner& scanner, const std::string& repo_dir,
                                              const std::string& range, const ScanOptions& options,
                                              ScanStats& stats) {
  KH_ASSIGN_OR_RETURN(auto repo, OpenRepo(repo_dir));
  Walk walk;
  if (git_revwalk_new(walk.out(), repo->get()) != 0)
    return Internal(GitError("cannot walk history"));
  if (range.empty()) {
    if (git_revwalk_push_glob(walk.get(), "refs/*") != 0)
      return Internal(GitError("cannot read the repository's refs"));
    // A detached HEAD; already pushed otherwise. A repository without commits has none.
    if (git_repository_head_unborn(repo->get()) != 1 && git_revwalk_push_head(walk.get()) != 0)
      return Internal(GitError("cannot read HEAD"));
  } else if (range.find("..") != std::string::npos) {
    if (git_revwalk_push_range(walk.get(), range.c_str()) != 0) {
      return InvalidArgument(GitError("cannot resolve the range '" + range + "'"));
    }
  } else {
    Object obj;
    if (git_revparse_single(obj.out(), repo->get(), range.c_str()) != 0 ||
        git_revwalk_push(walk.get(), git_object_id(obj.get())) != 0) {
      return InvalidArgument(GitError("cannot resolve the revision '" + range + "'"));
    }
  }
  std::vector<CommitInfo> commits;
  std::vector<BlobJob> jobs;
  KH_RETURN_IF_ERROR(CollectHistory(repo->get(), walk.get(), commits, jobs));
  stats.commits += commits.size();
  return ScanBlobs(scanner, repo_dir, jobs, commits, options, stats);
}

StatusOr<std::vector<Finding>> ScanGitStaged(const Scanner& scanner, const std::string& repo_dir,
                                             const ScanOptions& options, ScanStats& stats) {
  KH_ASSIGN_OR_RETURN(auto repo, OpenRepo(repo_dir));
  Index index;
  if (git_repository_index(index.out(), repo->get()) != 0)
    return Internal(GitError("cannot read the index"));
  Tree head_tree;
  Object head;
  int head_rc = git_revparse_single(head.out(), repo->get(), "HEAD^{tree}");
  if (head_rc == 0) {
    if (git_tree_lookup(head_tree.out(), repo->get(), git_object_id(head.get())) != 0)
      return Internal(GitError("cannot read the tree of HEAD"));
  } else if (head_rc != GIT_ENOTFOUND && head_rc != GIT_EUNBORNBRANCH) {
    return Internal(GitError("cannot read HEAD"));
  }  // else: the first commit; everything staged is new
  Diff diff;
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  if (git_diff_tree_to_index(diff.out(), repo->get(), head_tree.get(), index.get(), &opts) != 0) {
    return Internal(GitError("cannot compare the index with HEAD"));
  }
  std::vector<BlobJob> jobs;
  size_t n = git_diff_num_deltas(diff.get());
  for (size_t i = 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff.get(), i);
    if (d->status == GIT_DELTA_DELETED || d->new_file.mode == GIT_FILEMODE_COMMIT ||
        d->new_file.mode == GIT_FILEMODE_LINK) {
      continue;
    }
    jobs.push_back({d->new_file.id, d->new_file.path, -1});
  }
  return ScanBlobs(scanner, repo_dir, jobs, {}, options, stats);
}

StatusOr<std::vector<Finding>> ScanGitPush(const Scanner& scanner, const std::string& repo_dir,
                                           const std::string& hook_input,
                                           const ScanOptions& options, ScanStats& stats) {
  KH_ASSIGN_OR_RETURN(auto repo, OpenRepo(repo_dir));
  Walk walk;
  if (git_revwalk_new(walk.out(), repo->get()) != 0)
    return Internal(GitError("cannot walk history"));
  std::istringstream in(hook_input);
  std::string line;
  bool any = false;
  bool hid_refs = false;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream fields(line);
    std::string old_id, new_id, ref, extra;
    git_oid old_oid, new_oid;
    // A hook fails closed: input it cannot read rejects the push rather than letting it through.
    if (!(fields >> old_id >> new_id >> ref) || (fields >> extra) ||
        git_oid_fromstr(&old_oid, old_id.c_str()) != 0 ||
        git_oid_fromstr(&new_oid, new_id.c_str()) != 0) {
      return InvalidArgument("malformed pre-receive input: expected '<old> <new> <ref>' lines");
    }
    if (git_oid_is_zero(&new_oid)) continue;  // a deleted ref brings nothing
    if (git_revwalk_push(walk.get(), &new_oid) != 0) {
      return InvalidArgument(GitError("unknown pushed commit " + new_id));
    }
    any = true;
    if (!git_oid_is_zero(&old_oid)) {
      git_revwalk_hide(walk.get(), &old_oid);
    } else if (!hid_refs) {  // a new ref: only what no existing ref already has
      git_revwalk_hide_glob(walk.get(), "refs/*");
      hid_refs = true;
    }
  }
  if (!any) return std::vector<Finding>{};
  std::vector<CommitInfo> commits;
  std::vector<BlobJob> jobs;
  KH_RETURN_IF_ERROR(CollectHistory(repo->get(), walk.get(), commits, jobs));
  stats.commits += commits.size();
  return ScanBlobs(scanner, repo_dir, jobs, commits, options, stats);
}

}  // namespace keyhold::scan
