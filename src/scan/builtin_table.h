// The built-in rules as a table, generated at build time from builtin_rules.toml by
// keyhold_rules_gen (rules_gen.cc), so that starting a scan parses no TOML. The table holds no
// pointers: every string is an offset into one block of text, so loading it relocates nothing.
//
//   RuleSet rules = MakeBuiltinRules();   // rules.h; builds the RuleSet from BuiltinTable()
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace keyhold::scan::builtin {

// A string of the table: `size` bytes at `offset` in Table::text.
struct Text {
  uint32_t offset;
  uint32_t size;
};

// One allowlist. Its regexes, paths, stopwords and commits are consecutive entries of
// Table::lists, from `first`, in that order.
struct AllowlistRow {
  Text description;
  uint8_t condition;  // Allowlist::Condition
  uint8_t target;     // Allowlist::Target
  uint32_t first;
  uint32_t regexes;
  uint32_t paths;
  uint32_t stopwords;
  uint32_t commits;
};

struct RuleRow {
  Text id;
  Text description;
  Text regex;  // empty: a path rule
  Text prefilter;
  Text path;
  Text severity;
  Text revoke;
  bool has_path;
  bool multiline;
  uint8_t validator;  // Validator
  int32_t secret_group;
  double entropy;
  uint32_t first_keyword;  // in Table::lists
  uint32_t keywords;
  uint32_t first_allowlist;  // in Table::allowlists
  uint32_t allowlists;
};

struct Table {
  std::string_view text;
  std::span<const Text> lists;
  std::span<const AllowlistRow> allowlists;
  std::span<const RuleRow> rules;
  // The global allowlists: Table::allowlists from `first_global`, `globals` of them.
  uint32_t first_global;
  uint32_t globals;
};

// Defined in the generated builtin_rules_table.cc.
Table BuiltinTable();

}  // namespace keyhold::scan::builtin
