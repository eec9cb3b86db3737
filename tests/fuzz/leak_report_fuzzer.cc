// Fuzzes what POST /leak-reports reads from outside (http/leak_report.h): a report body and the
// operator's public keys file.
//
// Input: one selector byte, then the text (at most 64 KiB). Selector even: a report body, to
// ParseLeakReport; odd: a keys file, to LeakReportKeys::Parse. Beyond "no crash" it checks:
//   - a refused report is kInvalidArgument, or kResourceExhausted past kMaxLeakReportTokens;
//   - an accepted report holds at most kMaxLeakReportTokens matches, each with a 1..512-byte token;
//   - the source recorded for each match never holds its token, is printable ASCII and at most
//     1024 bytes;
//   - a refused keys file is kInvalidArgument.
#include <string>
#include <string_view>

#include "fuzz/property.h"
#include "http/leak_report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using keyhold::StatusCode;
  using keyhold::fuzz::Require;
  if (size < 1 || size > 65536) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 1) {
    auto keys = keyhold::http::LeakReportKeys::Parse(text);
    if (!keys.ok()) {
      Require(keys.status().code() == StatusCode::kInvalidArgument,
              "a refused keys file is not kInvalidArgument");
    }
    return 0;
  }
  auto items = keyhold::http::ParseLeakReport(text);
  if (!items.ok()) {
    Require(items.status().code() == StatusCode::kInvalidArgument ||
                items.status().code() == StatusCode::kResourceExhausted,
            "a refused report is neither kInvalidArgument nor kResourceExhausted");
    return 0;
  }
  Require(items->size() <= keyhold::http::kMaxLeakReportTokens, "too many matches accepted");
  for (const auto& item : *items) {
    Require(!item.token.empty() && item.token.size() <= 512, "a token out of bounds accepted");
    std::string source = keyhold::http::LeakReportSource(item);
    Require(source.find(item.token) == std::string::npos, "a recorded source holds its token");
    Require(source.size() <= 1024, "a recorded source is over 1024 bytes");
    for (unsigned char c : source) {
      Require(c >= 0x20 && c < 0x7f, "a recorded source holds a non-printable byte");
    }
  }
  return 0;
}
