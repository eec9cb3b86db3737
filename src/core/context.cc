#include "core/context.h"

#include "core/permissions.h"

namespace keyhold {

bool Principal::Can(std::string_view permission) const {
  return AnyPermissionMatches(permissions, permission);
}

}  // namespace keyhold
