# The libraries kizuna links, all Debian 12 packages installed by
# scripts/install-deps.sh, found through pkg-config.
find_package(PkgConfig REQUIRED)
pkg_check_modules(KZDEP REQUIRED IMPORTED_TARGET
  jansson sqlite3 libsodium libmicrohttpd libcurl libpcre2-8 inih gnutls zlib
  libidn2 libpsl)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
# libunistring (NFC for patterns) ships no .pc file in Debian 12.
find_path(KZ_UNISTRING_INCLUDE uninorm.h REQUIRED)
find_library(KZ_UNISTRING_LIB unistring REQUIRED)
set(KZ_DEP_LIBS PkgConfig::KZDEP ${KZ_UNISTRING_LIB})
set(KZ_DEP_INCLUDES ${KZ_UNISTRING_INCLUDE})
# libpq (Debian's libpq-dev) for the PostgreSQL store backend, src/store/pg/:
# built when found, unless KZ_WITH_POSTGRESQL is turned off. SQLite stays the
# default backend either way.
pkg_check_modules(KZPQ IMPORTED_TARGET libpq)
if(KZPQ_FOUND)
  option(KZ_WITH_POSTGRESQL "Build the PostgreSQL store backend" ON)
else()
  set(KZ_WITH_POSTGRESQL OFF CACHE BOOL "Build the PostgreSQL store backend (libpq not found)" FORCE)
endif()
