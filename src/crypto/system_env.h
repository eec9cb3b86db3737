// SystemEnv: the production Env — wall clock and OpenSSL's CSPRNG.
#pragma once

#include "core/env.h"

namespace keyhold::crypto {

class SystemEnv final : public Env {
 public:
  int64_t NowMillis() override;
  void RandomBytes(std::span<uint8_t> out) override;
};

}  // namespace keyhold::crypto
