// Settings: one table of every configuration setting, resolved in precedence order
// command-line flag > KEYHOLD_* environment variable > TOML file > default.
//
//   Settings s = ServeSettings();
//   s.AddTo(cli_app);               // flags, with help naming the env var and TOML key
//   ... parse ...
//   KH_RETURN_IF_ERROR(s.Resolve(cli_app, toml_path));
//   s.Get("listen");
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace CLI {
class App;
}

namespace keyhold::server {

struct Setting {
  std::string name;  // TOML key, and flag --name with '_' as '-'
  std::string env;   // environment variable
  std::string default_value;
  std::string help;
};

class Settings {
 public:
  explicit Settings(std::vector<Setting> table) : table_(std::move(table)) {}

  // Adds a flag per setting to `app`.
  void AddTo(CLI::App& app);
  // Fills every value not given as a flag from the environment, then from the TOML file at
  // `toml_path` (if non-empty), then the default. Errors: kInvalidArgument naming the file and
  // line of a malformed TOML file or an unknown key in it.
  Status Resolve(const std::string& toml_path);
  // As Resolve, but goes on past a problem: every unknown key and every value of the wrong type in
  // the file, each with its line (a TOML syntax error stops the reading: only it). Values not
  // given well are left at their default. Empty: no problem.
  struct Problem {
    int64_t line;
    std::string message;
  };
  std::vector<Problem> ResolveAll(const std::string& toml_path);
  // Where a problem with `name`'s value should point: "FILE:LINE" when it came from the file,
  // the environment variable or the flag otherwise.
  std::string Origin(const std::string& name) const;
  // A copy in which every setting has its default but `name`, which keeps its value: for checking
  // one setting alone.
  Settings Isolated(const std::string& name) const;
  const std::vector<Setting>& Table() const { return table_; }
  const std::string& Get(const std::string& name) const { return values_.at(name); }
  // Where the value came from: "flag", "env", "file" or "default".
  const std::string& Source(const std::string& name) const { return sources_.at(name); }

 private:
  std::vector<Setting> table_;
  std::map<std::string, std::string> flag_values_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> sources_;
  std::map<std::string, int64_t> lines_;  // file line of each setting read from the file
  std::string toml_path_;
};

// A duration setting: a whole number with the unit ms, s or m ("500ms", "30s", "2m"); a bare
// number is seconds. Errors: kInvalidArgument for anything else (negative, fractional, another
// unit, more than nine digits).
StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

// The settings of `keyhold serve` (and `init`, which uses data_dir and master_key_file).
std::vector<Setting> ServeSettingTable();

}  // namespace keyhold::server
