# KEYHOLD_STATIC_DEPS: link the static archives of the dependencies where Debian ships them
# (libX-dev's libX.a), instead of their shared libraries. Loading and relocating some thirty
# shared libraries (libgit2 alone brings fourteen) was most of what `keyhold scan` of a small tree
# or `keyhold --version` cost: each page the dynamic loader touches is a page fault, and a fault
# costs tens of microseconds on a virtual machine (bench/RESULTS.md). The C and C++ runtimes and
# the libraries without an archive (spdlog, fmt, toml++, and libgit2's Kerberos) stay shared.
#
# Included after the packages are found: it points their imported targets at the archives.

# The archive beside a shared library's path, or nothing.
function(_keyhold_archive_of so out)
  set(${out} "" PARENT_SCOPE)
  if(so MATCHES "^(.*)/lib([^/]+)\\.so(\\.[0-9.]+)?$")
    set(archive "${CMAKE_MATCH_1}/lib${CMAKE_MATCH_2}.a")
    if(CMAKE_MATCH_2 STREQUAL "jemalloc")  # keyhold is position-independent
      set(archive "${CMAKE_MATCH_1}/libjemalloc_pic.a")
    endif()
    if(EXISTS "${archive}")
      set(${out} "${archive}" PARENT_SCOPE)
    endif()
  endif()
endfunction()

# Replaces every shared library named by `target`'s link properties with its archive.
function(_keyhold_prefer_archives target)
  if(NOT TARGET ${target})
    return()
  endif()
  foreach(prop IMPORTED_LOCATION IMPORTED_LOCATION_NONE IMPORTED_LOCATION_RELEASE
               INTERFACE_LINK_LIBRARIES)
    get_target_property(items ${target} ${prop})
    if(NOT items)
      continue()
    endif()
    set(replaced "")
    foreach(item IN LISTS items)
      _keyhold_archive_of("${item}" archive)
      if(archive)
        list(APPEND replaced "${archive}")
      else()
        list(APPEND replaced "${item}")
      endif()
    endforeach()
    set_property(TARGET ${target} PROPERTY ${prop} "${replaced}")
  endforeach()
endfunction()

foreach(target OpenSSL::SSL OpenSSL::Crypto SQLite::SQLite3 ZLIB::ZLIB yaml-cpp PkgConfig::HYPERSCAN
               PkgConfig::RE2 PkgConfig::JEMALLOC)
  _keyhold_prefer_archives(${target})
endforeach()

# libgit2's archive needs its own dependencies (pkg-config --static) and GSSAPI, which its .pc
# file does not list and which has no archive: the runtime library is named by its file.
find_library(KEYHOLD_GSSAPI_LIBRARY NAMES gssapi_krb5 libgssapi_krb5.so.2)
_keyhold_archive_of("${LIBGIT2_LINK_LIBRARIES}" KEYHOLD_LIBGIT2_ARCHIVE)
if(KEYHOLD_LIBGIT2_ARCHIVE AND KEYHOLD_GSSAPI_LIBRARY)
  set(libs "")
  foreach(name IN LISTS LIBGIT2_STATIC_LIBRARIES)
    find_library(KEYHOLD_STATIC_${name} NAMES lib${name}.a ${name})
    if(name STREQUAL "z")
      list(APPEND libs ZLIB::ZLIB)
    elseif(KEYHOLD_STATIC_${name})
      list(APPEND libs "${KEYHOLD_STATIC_${name}}")
    else()
      list(APPEND libs ${name})
    endif()
  endforeach()
  # libssh2's archive calls OpenSSL, so it comes after it on the link line.
  list(APPEND libs "${KEYHOLD_GSSAPI_LIBRARY}" OpenSSL::Crypto)
  set_property(TARGET PkgConfig::LIBGIT2 PROPERTY INTERFACE_LINK_LIBRARIES "${libs}")
  message(STATUS "keyhold: static dependencies, libgit2 from ${KEYHOLD_LIBGIT2_ARCHIVE}")
else()
  message(STATUS "keyhold: static dependencies, but libgit2 shared (no archive or no GSSAPI)")
endif()
