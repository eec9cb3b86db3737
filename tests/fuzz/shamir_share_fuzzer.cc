// Fuzzes unseal shares (crypto/shamir.h): the text an operator sends to PUT /v1/sys/unseal.
//
// Each input is used two ways:
//   1. as share text for ParseShare: a share it accepts has a threshold and an index from 1 to
//      255 and 1 to 64 bytes, and encodes back to text that parses to the same share; an error
//      is kInvalidArgument with one of a few fixed messages (nothing of the input quoted);
//   2. first byte: the threshold, second: the number of shares, the rest (up to 64 bytes): a
//      secret to Split. With allowed parameters every share encodes and parses back, the first
//      `threshold` shares combine to the secret and the last `threshold` do too.
// Valid shares are made here at run time, so the corpus holds nothing key-shaped.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/shamir.h"
#include "fuzz/property.h"

namespace keyhold {
namespace {

using fuzz::Require;
namespace shamir = crypto::shamir;

bool Same(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

void ParseText(std::string_view text) {
  auto parsed = shamir::ParseShare(text);
  if (!parsed.ok()) {
    Require(parsed.status().code() == StatusCode::kInvalidArgument,
            "a refused share is not kInvalidArgument");
    // Fixed messages only: nothing of the input is quoted back.
    static constexpr std::string_view kMessages[] = {
        "not an unseal share: wrong length", "not an unseal share: neither base64 nor hex",
        "not an unseal share: unknown version", "not an unseal share: bad threshold or index",
        "the share's checksum does not match: it was mistyped or cut short"};
    Require(std::find(std::begin(kMessages), std::end(kMessages), parsed.status().message()) !=
                std::end(kMessages),
            "a refused share's error is not one of the fixed messages");
    return;
  }
  Require(parsed->threshold >= 1 && parsed->threshold <= 255, "threshold out of range");
  Require(parsed->share.x != 0, "a share of index 0 was accepted");
  Require(!parsed->share.y.empty() && parsed->share.y.size() <= shamir::kMaxSecretSize,
          "a share of a size out of range was accepted");
  std::string again = shamir::EncodeShare(parsed->set_id, parsed->threshold, parsed->share);
  auto reparsed = shamir::ParseShare(again);
  Require(reparsed.ok(), "an accepted share does not parse once encoded again");
  Require(reparsed->set_id == parsed->set_id && reparsed->threshold == parsed->threshold &&
              reparsed->share.x == parsed->share.x &&
              Same(reparsed->share.y.view(), parsed->share.y.view()),
          "an accepted share encodes to another share");
}

void SplitAndCombine(std::span<const uint8_t> data) {
  if (data.size() < 3) return;
  int threshold = data[0];
  int shares = data[1];
  std::span<const uint8_t> secret = data.subspan(2, std::min<size_t>(data.size() - 2, 64));
  auto split = shamir::Split(secret, threshold, shares);
  if (threshold < 1 || threshold > shares) {
    Require(!split.ok(), "a split with threshold out of 1..shares was made");
    return;
  }
  Require(split.ok(), "a split with allowed parameters failed");
  Require(split->size() == static_cast<size_t>(shares), "a split made the wrong number of shares");
  shamir::SetId id{data[0], data[1], data[2], 0};
  std::vector<shamir::Share> first;
  std::vector<shamir::Share> last;
  for (size_t i = 0; i < split->size(); ++i) {
    const shamir::Share& s = (*split)[i];
    Require(static_cast<size_t>(s.x) == i + 1, "shares are not numbered from 1");
    auto parsed = shamir::ParseShare(shamir::EncodeShare(id, threshold, s));
    Require(parsed.ok() && parsed->share.x == s.x && Same(parsed->share.y.view(), s.y.view()),
            "a share does not survive its text form");
    if (i < static_cast<size_t>(threshold)) first.push_back(std::move(parsed->share));
    if (i >= split->size() - static_cast<size_t>(threshold)) {
      auto copy = shamir::ParseShare(shamir::EncodeShare(id, threshold, s));
      last.push_back(std::move(copy->share));
    }
  }
  for (const auto* set : {&first, &last}) {
    auto got = shamir::Combine(*set);
    Require(got.ok() && Same(got->view(), secret), "threshold shares do not give the secret");
  }
}

}  // namespace
}  // namespace keyhold

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  keyhold::ParseText({reinterpret_cast<const char*>(data), size});
  keyhold::SplitAndCombine({data, size});
  return 0;
}
