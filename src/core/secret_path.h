// Secret paths and the path globs of `secret.<capability>:<glob>` permissions.
//
// A secret lives at `<mount>/<path>`: the mount is one segment of [A-Za-z0-9_-], the path one or
// more `/`-separated segments of [A-Za-z0-9._@=,~:-], none empty, none "." or "..". A glob is a
// path in which a whole segment may be `+` (exactly one segment) and whose last character may be
// `*` (anything, slashes included, even nothing): `secret/helpdesk/*`, `secret/+/smtp`,
// `secret/mail-*`. Globs are matched against `<mount>/<path>`, as Vault's policies are.
//
//   if (!IsValidSecretPath("helpdesk/smtp")) -> 400
//   SecretGlobMatches("secret/+/smtp", "secret/helpdesk/smtp")  // true
//
// Pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace keyhold {

inline constexpr size_t kMaxSecretPathLength = 512;
inline constexpr size_t kMaxMountNameLength = 64;

// True if `name` can name a mount: 1..64 of [A-Za-z0-9_-], and not one of the names the `/v1/`
// surface uses for itself or Vault reserves (sys, auth, identity, cubbyhole, v1, v2), in any case.
bool IsValidMountName(std::string_view name);

// True if `path` is a well-formed secret path (see above), 1..512 characters.
bool IsValidSecretPath(std::string_view path);

// What is wrong with `path` as a secret path, in words a caller can act on ("the segment '..'
// is not allowed"), or "" if IsValidSecretPath(path). Quotes at most one character of `path`.
std::string SecretPathProblem(std::string_view path);

// True if `glob` is a well-formed glob (see above), 1..512 characters.
bool IsValidSecretGlob(std::string_view glob);

// True if `glob` matches the full path `path` ("mount/path", or a folder "mount/dir/").
bool SecretGlobMatches(std::string_view glob, std::string_view path);

// True if `glob` matches some path that begins with `folder` ("mount/dir/"): listing the folder
// can lead to something the glob grants.
bool SecretGlobReachesUnder(std::string_view glob, std::string_view folder);

// True if every path `requested` matches is matched by `held`: a holder of `held` may grant
// `requested` without gaining anything. Wildcards in `requested` count as wildcards.
bool SecretGlobCovers(std::string_view held, std::string_view requested);

// The capabilities of secret permissions.
inline constexpr std::string_view kSecretCapabilities[] = {"read",   "create", "update",  "patch",
                                                           "delete", "list",   "destroy", "rotate"};

// True if `permission` has the secret form `secret.<capability|*>:<glob>`; its parts then go to
// `capability` and `glob` (either may be null).
bool SplitSecretPermission(std::string_view permission, std::string_view* capability,
                           std::string_view* glob);

// True if `permission` is a well-formed secret permission: a capability of kSecretCapabilities or
// `*`, and a valid glob.
bool IsValidSecretPermission(std::string_view permission);

// True if the held permissions grant `capability` on `path` ("mount/path"): a secret permission
// whose capability and glob match, or any other pattern granting `secret.<capability>` (so `*`,
// `secret.*` and `secret.read` grant on every path).
bool SecretAccessGranted(const std::vector<std::string>& held, std::string_view capability,
                         std::string_view path);

// True if listing `folder` ("mount/dir/", or "mount/" for the top) may show the caller anything:
// some held permission grants `list` on a path under it.
bool SecretListReaches(const std::vector<std::string>& held, std::string_view folder);

// True if a LIST may show the sub-folder `folder` ("mount/dir/sub/") by name: a held `list`
// permission reaches under it with a glob that names its last segment (literally or through a
// `*`), not one that only matches it with `+` — so `secret/+/db` does not reveal every folder of
// `secret/`.
bool SecretListNamesFolder(const std::vector<std::string>& held, std::string_view folder);

// True if some held permission, of any capability, reaches under `folder` ("mount/" or
// "mount/dir/"): the caller may learn that the folder's mount exists.
bool SecretAnyAccessReaches(const std::vector<std::string>& held, std::string_view folder);

}  // namespace keyhold
