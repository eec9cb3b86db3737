// FaultyVfs: an SQLite VFS that hands everything to the default one and, when told, fails the
// writes or syncs of a database's write-ahead log, as a full or failing disk would. In WAL mode
// those happen at COMMIT, so this is how tests make a COMMIT fail: with SQLITE_FULL or
// SQLITE_IOERR SQLite ends the transaction itself; with SQLITE_BUSY (as when another connection
// holds a lock the commit needs) it leaves the transaction open for the caller to end.
//
//   testing::FaultyVfs& vfs = testing::FaultyVfs::Get();
//   auto store = SqliteStore::Open(path, {.vfs = vfs.name()});
//   vfs.FailWal(testing::FaultyVfs::Fault::kSync);  // the next COMMITs fail with SQLITE_IOERR
//
// Registered once per process; faults apply to every database opened through it, so tests that
// arm it must not run in parallel within one process (gtest runs a binary's tests one by one).
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <ostream>
#include <string_view>

namespace keyhold::testing {

class FaultyVfs {
 public:
  enum class Fault { kNone, kWrite, kSync, kBusy };

  static FaultyVfs& Get() {
    static FaultyVfs* vfs = new FaultyVfs();  // registered with SQLite for the process's life
    return *vfs;
  }
  const char* name() const { return "keyhold-faulty"; }
  // kWrite: writes to a WAL fail with SQLITE_FULL. kSync: syncs of a WAL fail with SQLITE_IOERR.
  // kBusy: writes to a WAL fail with SQLITE_BUSY.
  void FailWal(Fault fault) { fault_ = fault; }
  friend void PrintTo(Fault f, std::ostream* os) {
    static const char* const kNames[] = {"kNone", "kWrite", "kSync", "kBusy"};
    *os << kNames[static_cast<int>(f)];
  }

 private:
  // Our file handle: SQLite allocates szOsFile bytes; the real file's handle follows ours.
  struct File {
    sqlite3_file base;
    bool is_wal;
    sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  };

  FaultyVfs() {
    real_ = sqlite3_vfs_find(nullptr);
    vfs_ = *real_;
    vfs_.zName = name();
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.xOpen = &Open;
    vfs_.pAppData = this;
    InitMethods();
    sqlite3_vfs_register(&vfs_, /*makeDflt=*/0);
  }

  static FaultyVfs& Of(sqlite3_vfs* v) { return *static_cast<FaultyVfs*>(v->pAppData); }
  static sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real(); }

  static int Open(sqlite3_vfs* v, const char* name, sqlite3_file* f, int flags, int* out_flags) {
    FaultyVfs& self = Of(v);
    File* file = reinterpret_cast<File*>(f);
    file->base.pMethods = nullptr;
    file->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = self.real_->xOpen(self.real_, name, file->real(), flags, out_flags);
    if (file->real()->pMethods) file->base.pMethods = &self.methods_;
    return rc;
  }

  void InitMethods() {
    std::memset(&methods_, 0, sizeof methods_);
    methods_.iVersion = 3;
    methods_.xClose = [](sqlite3_file* f) {
      sqlite3_file* r = Real(f);
      return r->pMethods->xClose(r);
    };
    methods_.xRead = [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
      return Real(f)->pMethods->xRead(Real(f), b, n, o);
    };
    methods_.xWrite = [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
      if (reinterpret_cast<File*>(f)->is_wal) {
        if (Get().fault_ == Fault::kWrite) return SQLITE_FULL;
        if (Get().fault_ == Fault::kBusy) return SQLITE_BUSY;
      }
      return Real(f)->pMethods->xWrite(Real(f), b, n, o);
    };
    methods_.xTruncate = [](sqlite3_file* f, sqlite3_int64 s) {
      return Real(f)->pMethods->xTruncate(Real(f), s);
    };
    methods_.xSync = [](sqlite3_file* f, int flags) {
      if (reinterpret_cast<File*>(f)->is_wal && Get().fault_ == Fault::kSync) {
        return SQLITE_IOERR_FSYNC;
      }
      return Real(f)->pMethods->xSync(Real(f), flags);
    };
    methods_.xFileSize = [](sqlite3_file* f, sqlite3_int64* s) {
      return Real(f)->pMethods->xFileSize(Real(f), s);
    };
    methods_.xLock = [](sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); };
    methods_.xUnlock = [](sqlite3_file* f, int l) {
      return Real(f)->pMethods->xUnlock(Real(f), l);
    };
    methods_.xCheckReservedLock = [](sqlite3_file* f, int* out) {
      return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
    };
    methods_.xFileControl = [](sqlite3_file* f, int op, void* arg) {
      return Real(f)->pMethods->xFileControl(Real(f), op, arg);
    };
    methods_.xSectorSize = [](sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); };
    methods_.xDeviceCharacteristics = [](sqlite3_file* f) {
      return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
    };
    methods_.xShmMap = [](sqlite3_file* f, int page, int size, int extend, void volatile** out) {
      return Real(f)->pMethods->xShmMap(Real(f), page, size, extend, out);
    };
    methods_.xShmLock = [](sqlite3_file* f, int offset, int n, int flags) {
      return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
    };
    methods_.xShmBarrier = [](sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); };
    methods_.xShmUnmap = [](sqlite3_file* f, int del) {
      return Real(f)->pMethods->xShmUnmap(Real(f), del);
    };
    methods_.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** out) {
      return Real(f)->pMethods->xFetch(Real(f), o, n, out);
    };
    methods_.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) {
      return Real(f)->pMethods->xUnfetch(Real(f), o, p);
    };
  }

  sqlite3_vfs* real_;
  sqlite3_vfs vfs_;
  sqlite3_io_methods methods_;
  std::atomic<Fault> fault_{Fault::kNone};
};

}  // namespace keyhold::testing
