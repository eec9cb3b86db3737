// Versioned schema migrations for the SQLite store. Migration N brings the schema from version
// N-1 to N; each runs in its own transaction together with the version bump. Never edit a
// migration that has shipped: add the next one. The schema is described in docs/storage-schema.md.
#pragma once

#include <string_view>
#include <vector>

namespace keyhold::store {

const std::vector<std::string_view>& SqliteMigrations();

}  // namespace keyhold::store
