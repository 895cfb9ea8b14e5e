# The libraries kizuna links, all Debian 12 packages installed by
# scripts/install-deps.sh, found through pkg-config.
find_package(PkgConfig REQUIRED)
pkg_check_modules(KZDEP REQUIRED IMPORTED_TARGET
  jansson sqlite3 libsodium libmicrohttpd libcurl libpq libpcre2-8 inih gnutls zlib
  libidn2 libpsl)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
# libunistring (NFC for patterns) ships no .pc file in Debian 12.
find_path(KZ_UNISTRING_INCLUDE uninorm.h REQUIRED)
find_library(KZ_UNISTRING_LIB unistring REQUIRED)
set(KZ_DEP_LIBS PkgConfig::KZDEP ${KZ_UNISTRING_LIB})
set(KZ_DEP_INCLUDES ${KZ_UNISTRING_INCLUDE})
