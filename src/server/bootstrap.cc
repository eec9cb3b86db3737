#include "server/bootstrap.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>

#include "crypto/crypto.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::server {
namespace {

std::string DatabasePath(const std::string& data_dir) { return data_dir + "/keyhold.db"; }

Status EnsureDirectory(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    std::error_code ec;
    std::filesystem::path parent = std::filesystem::path(dir).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    // Another process starting on the same new directory may create it first: no error.
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Unavailable("cannot create data directory " + dir + ": " + std::strerror(errno));
    }
    if (stat(dir.c_str(), &st) != 0) {
      return Unavailable("cannot read data directory " + dir + ": " + std::strerror(errno));
    }
  }
  if (!S_ISDIR(st.st_mode)) return FailedPrecondition(dir + " exists and is not a directory");
  if ((st.st_mode & 0077) != 0) {
    return FailedPrecondition("data directory " + dir +
                              " is readable by other users; run: chmod 700 " + dir);
  }
  return OkStatus();
}

// Takes an exclusive flock on `path` (opened with `flags`, created 0600 if missing), refused at
// once if held. On success the descriptor stays open, and the lock held, until the process ends.
// `what` names what is served, in the refusal.
Status LockFile(const std::string& path, int flags, const std::string& what, int* fd) {
  int f = open(path.c_str(), flags | O_CREAT | O_CLOEXEC, 0600);
  if (f < 0) return Unavailable("cannot open " + path + ": " + std::strerror(errno));
  if (flock(f, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(f);
    if (err == EWOULDBLOCK) return FailedPrecondition("another keyhold server is serving " + what);
    return Unavailable("cannot lock " + path + ": " + std::strerror(err));
  }
  *fd = f;
  return OkStatus();
}

// Decodes the master key into locked memory, then wipes `text`, wherever it came from.
StatusOr<crypto::SecureBytes> ParseMasterKey(std::span<char> text, const std::string& where) {
  auto key = crypto::SecureBytes::FromHex({text.data(), text.size()}, 32);
  OPENSSL_cleanse(text.data(), text.size());
  if (!key.ok()) return FailedPrecondition("the master key in " + where + " must be 64 hex digits");
  return key;
}

StatusOr<crypto::SecureBytes> ReadMasterKeyFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return FailedPrecondition("cannot open master key file " + path + ": " + std::strerror(errno));
  struct stat st {};
  fstat(fd, &st);
  if ((st.st_mode & 0077) != 0 || st.st_uid != geteuid()) {
    close(fd);
    return FailedPrecondition("master key file " + path +
                              " must have mode 0600 and belong to the user running keyhold");
  }
  std::array<char, 256> text{};
  ssize_t n = read(fd, text.data(), text.size());
  close(fd);
  if (n < 0) return Unavailable("cannot read master key file " + path);
  return ParseMasterKey({text.data(), static_cast<size_t>(n)}, path);
}

Status CreateMasterKeyFile(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return Unavailable("cannot create master key file " + path + ": " + std::strerror(errno));
  std::array<uint8_t, 32> key;
  crypto::RandomBytes(key);
  std::string hex = crypto::HexEncode(key) + "\n";
  bool ok = write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) && fsync(fd) == 0;
  close(fd);
  OPENSSL_cleanse(hex.data(), hex.size());
  OPENSSL_cleanse(key.data(), key.size());
  if (!ok) return Unavailable("cannot write master key file " + path);
  return OkStatus();
}

StatusOr<Opened> Open(const std::string& data_dir, const std::string& master_key_file, Env& env,
                      DataDirLock lock, const std::function<Status()>& before_load) {
  KH_RETURN_IF_ERROR(EnsureDirectory(data_dir));
  // Before anything in the directory is read or created: a server that starts beside another
  // on a new directory must not see the master key file half written, nor race to create it.
  if (lock == DataDirLock::kServing) KH_RETURN_IF_ERROR(LockDataDir(data_dir));
  Opened o;
  KH_ASSIGN_OR_RETURN(o.seal, LoadSealConfig(data_dir));
  if (!master_key_file.empty()) {
    KH_ASSIGN_OR_RETURN(o.master_key, ReadMasterKeyFile(master_key_file));
  } else if (char* env_key = std::getenv("KEYHOLD_MASTER_KEY"); env_key && *env_key) {
    // Wiped in place (which also clears /proc/PID/environ) and removed, so neither child
    // processes nor a later getenv see it.
    auto key = ParseMasterKey({env_key, std::strlen(env_key)}, "KEYHOLD_MASTER_KEY");
    unsetenv("KEYHOLD_MASTER_KEY");
    KH_ASSIGN_OR_RETURN(o.master_key, std::move(key));
  } else if (std::string path = data_dir + "/master.key";
             !o.seal || access(path.c_str(), F_OK) == 0) {
    if (access(path.c_str(), F_OK) != 0) KH_RETURN_IF_ERROR(CreateMasterKeyFile(path));
    KH_ASSIGN_OR_RETURN(o.master_key, ReadMasterKeyFile(path));
  }  // else sealed: the key comes from shares
  if (o.seal && !o.master_key.empty() && !KeyMatches(*o.seal, o.master_key.view())) {
    return FailedPrecondition("the master key given is not the one " + SealConfigPath(data_dir) +
                              " was made for");
  }
  if (before_load) KH_RETURN_IF_ERROR(before_load());
  // A serving server holds the lock: no other keyhold writes the database meanwhile.
  store::SqliteOptions options;
  options.sole_writer = lock == DataDirLock::kServing;
  KH_ASSIGN_OR_RETURN(auto sqlite, store::SqliteStore::Open(DatabasePath(data_dir), options));
  o.store = std::move(sqlite);
  KH_ASSIGN_OR_RETURN(o.service, service::KeyService::Open(*o.store, env));
  if (!o.service->HasRootKeys()) {
    KH_ASSIGN_OR_RETURN(service::CreatedKey k, o.service->Bootstrap("bootstrap"));
    o.created_root_key = std::move(k);
  }
  return o;
}

// Only the operator reads a start-up error, so it may say what the store's engine reported.
Status ForOperator(const Status& st) {
  if (st.log_detail().empty()) return st;
  return Status(st.code(), st.reason(), st.message() + " (" + st.log_detail() + ")");
}

}  // namespace

Status LockDataDir(const std::string& dir) {
  int dir_lock = -1;
  KH_RETURN_IF_ERROR(LockFile(dir + "/serve.lock", O_RDWR | O_NOFOLLOW, dir, &dir_lock));
  // The database may be a link to another directory's (symbolic, or even hard): the file itself
  // is locked too, through the link, so that no two directories serve one database. Read-only
  // is all a flock needs. SQLite's own locks are POSIX record locks, which a flock neither takes
  // nor releases; but closing any descriptor of the file drops those of the whole process, so
  // this one is never closed once SQLite may have the file open.
  const std::string db = DatabasePath(dir);
  std::error_code ec;
  std::string real = std::filesystem::weakly_canonical(db, ec).string();
  if (ec || real.empty()) real = db;
  int db_lock = -1;
  Status st = LockFile(db, O_RDONLY, "the database " + real + (real == db ? "" : " (" + db + ")"),
                       &db_lock);
  if (!st.ok()) close(dir_lock);  // the directory may be tried again, by this process too
  return st;
}

StatusOr<Opened> OpenDataDir(const std::string& data_dir, const std::string& master_key_file,
                             Env& env, DataDirLock lock,
                             const std::function<Status()>& before_load) {
  StatusOr<Opened> o = Open(data_dir, master_key_file, env, lock, before_load);
  if (!o.ok()) return ForOperator(o.status());
  return o;
}

}  // namespace keyhold::server
