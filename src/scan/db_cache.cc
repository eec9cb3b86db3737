// The compiled-database cache: <dir>/scan-<key>.hsdb holds "KHDB3\n", a 128-bit digest of the
// rest, the length and bytes of the key's material (what the database was built from), the count
// and positions of dropped expressions (uint32, little-endian) and the serialized database.
#include "scan/db_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>

namespace keyhold::scan {
namespace {

constexpr std::string_view kMagic = "KHDB3\n";
constexpr size_t kDigestBytes = 16;
constexpr size_t kMaxEntryBytes = 256 << 20;

// A 128-bit digest: FNV-1a and the standard library's hash (MurmurHash2), side by side. The cache
// only has to tell damaged or different entries from its own, in a directory only this user can
// write; a cryptographic hash would cost a scan more in loading OpenSSL (several milliseconds)
// than it takes to run on an empty directory.
std::string Digest128(std::string_view data) {
  uint64_t fnv = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) fnv = (fnv ^ c) * 0x100000001b3ULL;
  const uint64_t murmur = std::hash<std::string_view>{}(data);
  std::string out(kDigestBytes, '\0');
  for (size_t i = 0; i < 8; ++i) {
    out[i] = static_cast<char>((fnv >> (8 * i)) & 0xff);
    out[8 + i] = static_cast<char>((murmur >> (8 * i)) & 0xff);
  }
  return out;
}

std::string Hex(std::string_view bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string PathOf(const std::string& dir, const std::string& key) {
  return dir + "/scan-" + key + ".hsdb";
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool GetU32(std::string_view& in, uint32_t& v) {
  if (in.size() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(4);
  return true;
}

// Asks the kernel to back [p, p + size) with memory now, in one call: touching a fresh page costs
// a page fault each, which is most of what loading a database of 100-400 kilobytes costs
// (tens of microseconds each on a virtual machine). Only whole pages inside the range are
// populated; without MADV_POPULATE_WRITE (Linux before 5.14) this does nothing.
void Populate(void* p, size_t size) {
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;  // NOLINT(readability-identifier-naming): the kernel's
#endif
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t skip = (page - reinterpret_cast<uintptr_t>(p) % page) % page;  // to a page start
  if (size <= skip) return;
  const size_t whole = (size - skip) / page * page;
  if (whole > 0) ::madvise(static_cast<char*>(p) + skip, whole, MADV_POPULATE_WRITE);
}

// A cache entry, mapped read-only: its pages come from the page cache, read ahead in one call,
// instead of being copied into a buffer that would first have to be zeroed.
class OwnedFile {
 public:
  // Maps `path` if it is a regular file owned by this user and writable by no one else.
  explicit OwnedFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
              (st.st_mode & 022) == 0 && st.st_size > 0 &&
              static_cast<size_t>(st.st_size) <= kMaxEntryBytes;
    if (ok) {
      void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                       MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const char*>(p);
        size_ = static_cast<size_t>(st.st_size);
      }
    }
    ::close(fd);
  }
  ~OwnedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }
  OwnedFile(const OwnedFile&) = delete;
  OwnedFile& operator=(const OwnedFile&) = delete;

  bool ok() const { return data_ != nullptr; }
  std::string_view view() const { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

std::string DefaultCacheDir() {
  if (const char* d = std::getenv("KEYHOLD_CACHE_DIR"); d && *d) {
    return std::string(d) == "off" ? "" : d;
  }
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/keyhold";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/keyhold";
  return "";
}

CacheKey DatabaseCacheKey(const std::vector<std::string>& exprs,
                          const std::vector<unsigned>& flags) {
  // The database is compiled for this machine's CPU; a cache shared by several (a network home
  // directory) keeps one entry per CPU.
  std::string all = hs_version();
  all.push_back('\0');
  hs_platform_info_t platform{};
  if (hs_populate_platform(&platform) == HS_SUCCESS) {
    PutU32(all, platform.tune);
    for (int i = 0; i < 8; ++i)
      all.push_back(static_cast<char>((platform.cpu_features >> (8 * i)) & 0xff));
  }
  PutU32(all, static_cast<uint32_t>(exprs.size()));
  for (size_t i = 0; i < exprs.size(); ++i) {
    PutU32(all, flags[i]);
    PutU32(all, static_cast<uint32_t>(exprs[i].size()));
    all += exprs[i];
  }
  std::string id = Hex(Digest128(all));
  return {std::move(id), std::move(all)};
}

hs_database_t* LoadCachedDatabase(const std::string& dir, const CacheKey& key,
                                  std::vector<uint32_t>& dropped) {
  if (dir.empty()) return nullptr;
  const OwnedFile file(PathOf(dir, key.id));
  if (!file.ok()) return nullptr;
  std::string_view in = file.view();
  if (!in.starts_with(kMagic) || in.size() < kMagic.size() + kDigestBytes) return nullptr;
  in.remove_prefix(kMagic.size());
  std::string_view sum = in.substr(0, kDigestBytes);
  in.remove_prefix(kDigestBytes);
  if (Digest128(in) != sum) return nullptr;
  uint32_t material = 0;
  if (!GetU32(in, material) || material != key.material.size() || in.size() < material ||
      in.substr(0, material) != key.material) {
    return nullptr;  // built from other expressions, whatever its name
  }
  in.remove_prefix(material);
  uint32_t n = 0;
  if (!GetU32(in, n) || n > in.size() / 4) return nullptr;
  dropped.clear();
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t v = 0;
    GetU32(in, v);
    dropped.push_back(v);
  }
  // Deserialized into memory populated up front (see Populate). hs_free_database frees it with
  // Vectorscan's default allocator, free().
  size_t size = 0;
  if (hs_serialized_database_size(in.data(), in.size(), &size) != HS_SUCCESS) return nullptr;
  auto* db = static_cast<hs_database_t*>(std::malloc(size));
  if (!db) return nullptr;
  Populate(db, size);
  if (hs_deserialize_database_at(in.data(), in.size(), db) != HS_SUCCESS) {
    std::free(db);
    return nullptr;
  }
  hs_scratch_t* scratch = nullptr;  // a database this CPU cannot run is a miss, not an abort
  if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) {
    hs_free_database(db);
    return nullptr;
  }
  hs_free_scratch(scratch);
  return db;
}

void StoreCachedDatabase(const std::string& dir, const CacheKey& key, const hs_database_t* db,
                         const std::vector<uint32_t>& dropped) {
  if (dir.empty() || !db || key.material.size() > UINT32_MAX) return;
  char* bytes = nullptr;
  size_t length = 0;
  if (hs_serialize_database(db, &bytes, &length) != HS_SUCCESS) return;
  std::string body;
  PutU32(body, static_cast<uint32_t>(key.material.size()));
  body += key.material;
  PutU32(body, static_cast<uint32_t>(dropped.size()));
  for (uint32_t v : dropped) PutU32(body, v);
  body.append(bytes, length);
  std::free(bytes);
  std::string file(kMagic);
  file += Digest128(body);
  file += body;

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  std::string tmp = PathOf(dir, key.id) + ".XXXXXX";
  int fd = ::mkstemp(tmp.data());  // mode 0600
  if (fd < 0) return;
  size_t put = 0;
  while (put < file.size()) {
    ssize_t n = ::write(fd, file.data() + put, file.size() - put);
    if (n <= 0) break;
    put += static_cast<size_t>(n);
  }
  bool closed = ::close(fd) == 0;
  bool ok = put == file.size() && closed;
  if (!ok || std::rename(tmp.c_str(), PathOf(dir, key.id).c_str()) != 0) ::unlink(tmp.c_str());
}

}  // namespace keyhold::scan
