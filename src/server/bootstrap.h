// Data directory set-up: creating it (0700), the master key file (0600), the store, and the
// first root key.
//
//   KH_ASSIGN_OR_RETURN(Opened o, OpenDataDir(dir, master_key_file, env));
//   if (o.created_root_key) print it once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/env.h"
#include "core/status.h"
#include "crypto/secure_bytes.h"
#include "server/seal.h"
#include "service/key_service.h"
#include "store/store.h"

namespace keyhold::server {

struct Opened {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<service::KeyService> service;
  // In locked memory when the secure heap is set up; empty if sealed.
  crypto::SecureBytes master_key;
  // The seal configuration when the master key is split into shares (server/seal.h). With it and
  // an empty master_key the directory is sealed: the key comes from shares at run time.
  std::optional<SealConfig> seal;
  // Set when this call created the first root key: the only time it is ever visible.
  std::optional<service::CreatedKey> created_root_key;
};

// Whether OpenDataDir takes the one-server lock of the data directory (LockDataDir).
enum class DataDirLock { kNone, kServing };

// Creates `data_dir` if missing (mode 0700), loads or creates the master key, opens the store and
// the key service, and creates the first root key when none exists.
// Master key: `master_key_file` if given (must exist, be mode 0600 and owned by this user),
// else the KEYHOLD_MASTER_KEY environment variable (64 hex digits; wiped and removed from the
// environment once read; REQUIRES: no other thread running), else DATA_DIR/master.key
// (created with mode 0600 when the directory is new), else, when DATA_DIR/seal.json exists,
// none: sealed. A key given while seal.json exists must match its key check value.
// Errors: kFailedPrecondition for unsafe permissions or a malformed key; kUnavailable for I/O.
// The message is for the operator: it includes the store's log detail (the engine's own words).
// With DataDirLock::kServing the lock is taken as soon as the directory exists, before anything
// in it is read or created: a server starting beside another on a new directory is refused (the
// lock's kFailedPrecondition), never shown the other's master key file half written.
// `before_load`, if set, is called once the master key is read (and KEYHOLD_MASTER_KEY wiped),
// before the store is opened and its keys loaded, which may take long: it may start threads (the
// server answers health checks meanwhile). An error from it is returned as is.
StatusOr<Opened> OpenDataDir(const std::string& data_dir, const std::string& master_key_file,
                             Env& env, DataDirLock lock = DataDirLock::kNone,
                             const std::function<Status()>& before_load = nullptr);

// One server per data directory, and per database. SQLite lets several processes share the file,
// but what a server keeps beside it (the usage journal's open minutes, credits reserved ahead,
// rate-limit buckets) assumes it is the only one; several nodes share a PostgreSQL database
// instead. Takes exclusive flock locks on DIR/serve.lock and on the database file DIR/keyhold.db
// itself (created empty if missing; through a symbolic link, the file it leads to), so that a
// directory whose database is a link to another's is refused while that one is served. The locks
// are the kernel's, so a killed server releases them; they are held until the process ends
// (their descriptors are never closed: closing one of the database's would drop SQLite's own
// locks on it). Either lock is an flock, which does not conflict with SQLite's POSIX locks.
// REQUIRES: `dir` exists; this process has not opened the database yet.
// Errors: kFailedPrecondition "another keyhold server is serving DIR" or "... serving the database
// PATH" while another process holds either lock; kUnavailable if a file cannot be opened or
// locked.
Status LockDataDir(const std::string& dir);

}  // namespace keyhold::server
