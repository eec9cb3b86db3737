// NamesMemberTwice: whether a JSON text has an object that names a member twice.
//
// nlohmann's parser keeps the last of two same-named members silently; a request or a file that
// names one twice is refused instead (which of the two a reader meant cannot be known). This is a
// SAX pass, linear in the text: the parser's callback form, which could watch for names as it
// builds, scans each object's members again every time a nested object ends, so a flat object
// of n objects costs n² (40,000 `"a":{}` took seconds).
//
//   if (NamesMemberTwice<nlohmann::json>(text)) return BadRequest(...);
//   json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
//
// Stops at the first repeated name, or at the first syntax error (false then: the parse that
// follows reports it). Thread-safety: none needed (no shared state).
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace keyhold {

template <typename BasicJson>
bool NamesMemberTwice(std::string_view text) {
  struct Watch final : nlohmann::json_sax<BasicJson> {
    std::vector<std::set<std::string, std::less<>>> open;
    bool repeated = false;

    bool null() override { return true; }
    bool boolean(bool /*val*/) override { return true; }
    bool number_integer(typename BasicJson::number_integer_t /*val*/) override { return true; }
    bool number_unsigned(typename BasicJson::number_unsigned_t /*val*/) override { return true; }
    bool number_float(typename BasicJson::number_float_t /*val*/,
                      const typename BasicJson::string_t& /*s*/) override {
      return true;
    }
    bool string(typename BasicJson::string_t& /*val*/) override { return true; }
    bool binary(typename BasicJson::binary_t& /*val*/) override { return true; }
    bool start_object(std::size_t /*elements*/) override {
      open.emplace_back();
      return true;
    }
    bool key(typename BasicJson::string_t& name) override {
      if (open.empty() || open.back().insert(name).second) return true;
      repeated = true;
      return false;  // stop: the answer is known
    }
    bool end_object() override {
      if (!open.empty()) open.pop_back();
      return true;
    }
    bool start_array(std::size_t /*elements*/) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& /*ex*/) override {
      return false;
    }
  } watch;
  (void)BasicJson::sax_parse(text, &watch, nlohmann::detail::input_format_t::json,
                             /*strict=*/true, /*ignore_comments=*/false);
  return watch.repeated;
}

}  // namespace keyhold
