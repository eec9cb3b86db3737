#include "crypto/system_env.h"

#include <chrono>

#include "crypto/crypto.h"

namespace keyhold::crypto {

int64_t SystemEnv::NowMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void SystemEnv::RandomBytes(std::span<uint8_t> out) { crypto::RandomBytes(out); }

}  // namespace keyhold::crypto
