# The libraries kizuna links, all Debian 12 packages installed by
# scripts/install-deps.sh, found through pkg-config.
find_package(PkgConfig REQUIRED)
pkg_check_modules(KZDEP REQUIRED IMPORTED_TARGET
  jansson sqlite3 libsodium libmicrohttpd libcurl libpq libpcre2-8 inih gnutls zlib)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
set(KZ_DEP_LIBS PkgConfig::KZDEP)
set(KZ_DEP_INCLUDES "")
