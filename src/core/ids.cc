#include "core/ids.h"

#include <array>
#include <atomic>

#include "core/base62.h"

namespace keyhold {

std::string NewId(Env& env, std::string_view kind) {
  std::string id(kind);
  id.push_back('_');
  id += Base62EncodeUint(static_cast<uint64_t>(env.NowMillis()), 8);
  std::array<uint8_t, 12> rnd;
  env.RandomBytes(rnd);
  for (uint8_t b : rnd) {
    // 248 = 4 * 62; values above are rare, folding them keeps ids uniform enough for uniqueness
    // (they are identifiers, not secrets).
    id.push_back(kBase62Alphabet[b % 62]);
  }
  return id;
}

std::string NewRequestId(Env& env) {
  static const uint64_t process_part = [&env] {
    uint64_t v = 0;
    env.RandomBytes({reinterpret_cast<uint8_t*>(&v), sizeof v});
    return v % 839299365868340224ULL;  // 62^10
  }();
  static std::atomic<uint64_t> counter{0};
  return "req_" + Base62EncodeUint(process_part, 10) +
         Base62EncodeUint(counter.fetch_add(1, std::memory_order_relaxed) % 56800235584ULL, 6);
}

bool LooksLikeId(std::string_view id, std::string_view kind) {
  if (id.size() <= kind.size() + 1 || id.size() > kind.size() + 65) return false;
  if (id.substr(0, kind.size()) != kind || id[kind.size()] != '_') return false;
  return IsBase62(id.substr(kind.size() + 1));
}

}  // namespace keyhold
