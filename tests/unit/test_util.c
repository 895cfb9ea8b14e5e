/*
 * The util module: strict STIX timestamps, TAXII timestamp formatting,
 * UUID v4/v5 and SHA-1 against published vectors, bounded buffers, errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/file.h"
#include "util/ip.h"
#include "util/kztime.h"
#include "util/uuid.h"

struct ts_case {
    const char *text;
    long long micros; /* expected when valid */
    const char *why;  /* substring of the reason when invalid, NULL when valid */
};

static void test_timestamps(void **state)
{
    static const struct ts_case cases[] = {
            {"1970-01-01T00:00:00Z", 0, NULL},
            {"1970-01-01T00:00:00.000001Z", 1, NULL},
            {"2016-04-06T20:03:48.123Z", 1459973028123000LL, NULL},
            {"2000-02-29T23:59:59.999999999Z", 951868799999999LL, NULL},
            {"1969-12-31T23:59:59.5Z", -500000LL, NULL},
            {"0001-01-01T00:00:00Z", -62135596800000000LL, NULL},
            {"9999-12-31T23:59:59.999Z", 253402300799999000LL, NULL},
            {"2016-12-31T23:59:60Z", 1483228800000000LL, NULL}, /* leap second */
            {"2016-04-06T20:03:48", 0, "UTC"},
            {"2016-04-06T20:03:48z", 0, "UTC"},
            {"2016-04-06T20:03:48+00:00", 0, "UTC"},
            {"2016-04-06 20:03:48Z", 0, "RFC 3339"},
            {"2016-04-06T20:03:48.Z", 0, "fractional"},
            {"2016-4-06T20:03:48Z", 0, "RFC 3339"},
            {"2015-02-29T00:00:00Z", 0, "does not exist"},
            {"2016-13-01T00:00:00Z", 0, "does not exist"},
            {"2016-04-31T00:00:00Z", 0, "does not exist"},
            {"2016-04-06T24:00:00Z", 0, "out of range"},
            {"2016-04-06T20:60:00Z", 0, "out of range"},
            {"", 0, "RFC 3339"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kz_ts t;
        const char *why;
        int rc = kz_ts_parse(cases[i].text, strlen(cases[i].text), &t, &why);
        if (!cases[i].why) {
            if (rc != 0)
                fail_msg("%s refused: %s", cases[i].text, why);
            if (kz_ts_micros(&t) != cases[i].micros)
                fail_msg("%s: %lld, want %lld", cases[i].text, (long long)kz_ts_micros(&t),
                         cases[i].micros);
        } else {
            if (rc == 0)
                fail_msg("%s accepted", cases[i].text);
            if (!strstr(why, cases[i].why))
                fail_msg("%s: wanted \"%s\" in \"%s\"", cases[i].text, cases[i].why, why);
        }
    }
}

static void test_format(void **state)
{
    char us[KZ_TS_MICROS_LEN], ms[KZ_TS_MILLIS_LEN];
    struct kz_ts t;
    const char *why;

    (void)state;
    kz_ts_format_micros(0, us);
    assert_string_equal(us, "1970-01-01T00:00:00.000000Z");
    kz_ts_format_micros(1459973028123456LL, us);
    assert_string_equal(us, "2016-04-06T20:03:48.123456Z");
    kz_ts_format_millis(1459973028123456LL, ms);
    assert_string_equal(ms, "2016-04-06T20:03:48.123Z");
    kz_ts_format_micros(-500000LL, us);
    assert_string_equal(us, "1969-12-31T23:59:59.500000Z");
    /* round trip through the parser across leap years and centuries */
    for (long long x = -2000000000000000LL; x < 4000000000000000LL; x += 37123456789011LL) {
        kz_ts_format_micros(x, us);
        assert_int_equal(kz_ts_parse(us, strlen(us), &t, &why), 0);
        assert_true(kz_ts_micros(&t) == x);
    }
}

static void test_uuid(void **state)
{
    char out[KZ_UUID_LEN];

    (void)state;
    /* vectors computed with Python's uuid.uuid5 */
    assert_int_equal(kz_uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", 10, out), 0);
    assert_string_equal(out, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
    assert_int_equal(
            kz_uuid_v5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "http://www.example.com/", 23, out),
            0);
    assert_string_equal(out, "fcde3c85-2270-590f-9e7c-ee003d65e0e2");
    assert_int_equal(kz_uuid_v5("not-a-uuid", "x", 1, out), -1);
    for (int i = 0; i < 100; i++) {
        kz_uuid_v4(out);
        assert_true(kz_uuid_valid(out, strlen(out)));
        assert_int_equal(kz_uuid_version(out), 4);
    }
    assert_true(kz_uuid_valid("8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F", 36));
    assert_false(kz_uuid_valid("8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f", 36)); /* variant */
    assert_false(kz_uuid_valid("8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f", 36)); /* version 0 */
    assert_false(kz_uuid_valid("8e2e2d2b17d4-4cbf-938f-98ee46b3cd3f0", 36));
    assert_false(kz_uuid_valid("8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3", 35));
    assert_false(kz_uuid_valid("8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3g", 36));
}

static void test_sha1(void **state)
{
    /* FIPS 180-2 examples, and a message that needs two padding blocks */
    static const struct {
        const char *msg;
        const char *hex;
    } v[] = {
            {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
            {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
            {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
             "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    };
    uint8_t h[20];
    char hex[41];

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        kz_sha1(v[i].msg, strlen(v[i].msg), h);
        for (int j = 0; j < 20; j++)
            snprintf(hex + 2 * j, 3, "%02x", h[j]);
        assert_string_equal(hex, v[i].hex);
    }
}

static void test_buf_limits(void **state)
{
    struct kz_buf b;

    (void)state;
    kz_buf_init(&b, 10);
    assert_int_equal(kz_buf_addstr(&b, "0123456789"), 0);
    assert_int_equal(b.len, 10);
    assert_int_equal(kz_buf_addc(&b, 'x'), -1);
    assert_true(b.failed);
    assert_int_equal(kz_buf_addstr(&b, ""), -1); /* stays failed */
    kz_buf_reset(&b);
    assert_int_equal(kz_buf_printf(&b, "%d-%s", 42, "ab"), 0);
    assert_string_equal(b.data, "42-ab");
    assert_int_equal(kz_buf_printf(&b, "%s", "toolongforit"), -1);
    kz_buf_free(&b);

    kz_buf_init(&b, 100);
    assert_int_equal(kz_buf_add_json_escaped(&b, "a\"\\\n\x01z", 6), 0);
    assert_string_equal(b.data, "a\\\"\\\\\\n\\u0001z");
    kz_buf_free(&b);
}

/* The one IP parser: the forms RFC 4291 allows, and the near misses. */
static void test_ip_parse(void **state)
{
    static const struct {
        const char *text;
        int ok;
        uint8_t last; /* the address's last byte when ok */
    } v6[] = {
            {"::", 1, 0},
            {"::1", 1, 1},
            {"1::", 1, 0},
            {"2001:db8::ff00:42:8329", 1, 0x29},
            {"2001:0db8:0000:0000:0000:ff00:0042:8329", 1, 0x29},
            {"1:2:3:4:5:6:7::", 1, 0},
            {"::ffff:192.0.2.128", 1, 128},
            {"1:2:3:4:5:6:192.0.2.7", 1, 7},
            {"ABCD:EF01::9", 1, 9},
            {":", 0, 0},
            {":1::", 0, 0},
            {"1:::2", 0, 0},
            {"1::2::3", 0, 0},
            {"1:2:3:4:5:6:7:8:9", 0, 0},
            {"1:2:3:4:5:6:7", 0, 0},
            {"12345::", 0, 0},
            {"1:", 0, 0},
            {"::ffff:192.0.2.01", 0, 0},
            {"::ffff:192.0.2", 0, 0},
            {"1:2:3:4:5:6:7:192.0.2.1", 0, 0},
            {"fe80::1%eth0", 0, 0},
            {"[::1]", 0, 0},
            {"::g", 0, 0},
    };
    static const struct {
        const char *text;
        int ok;
    } v4[] = {{"192.0.2.1", 1}, {"0.0.0.0", 1},  {"255.255.255.255", 1}, {"256.0.0.1", 0},
              {"01.2.3.4", 0},  {"1.2.3", 0},    {"1.2.3.4.5", 0},       {"1.2.3.", 0},
              {"1..2.3", 0},    {"1.2.3.4 ", 0}, {"1234.1.1.1", 0},      {"", 0}};
    uint8_t a[16];

    (void)state;
    for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
        int rc = kz_ipv6_parse(v6[i].text, strlen(v6[i].text), a);
        if ((rc == 0) != v6[i].ok || (rc == 0 && a[15] != v6[i].last))
            fail_msg("kz_ipv6_parse(\"%s\") = %d", v6[i].text, rc);
    }
    assert_int_equal(kz_ipv6_parse("2001:db8::1", 11, a), 0);
    assert_true(a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8 && a[15] == 1);
    for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
        int rc = kz_ipv4_parse(v4[i].text, strlen(v4[i].text), a);
        if ((rc == 0) != v4[i].ok)
            fail_msg("kz_ipv4_parse(\"%s\") = %d", v4[i].text, rc);
    }
}

static void test_error_format(void **state)
{
    struct kz_error e;
    char msg[1400];

    (void)state;
    kz_error_clear(&e);
    kz_error_file(&e, "bundle.json");
    kz_error_object(&e, "objects[%d] %s", 41, "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
    kz_error_property(&e, "valid_until");
    assert_int_equal(kz_error_set(&e, KZ_EINVALID, "must be later than valid_from"), -1);
    assert_string_equal(kz_error_format(&e, msg, sizeof(msg)),
                        "bundle.json: objects[41] indicator--8e2e2d2b-17d4-4cbf-938f-"
                        "98ee46b3cd3f: valid_until: must be later than valid_from");
    assert_int_equal(kz_error_exit_status(&e), 1);
    kz_error_clear(&e);
    kz_error_set(&e, KZ_EIO, "disk on fire");
    assert_string_equal(kz_error_format(&e, msg, sizeof(msg)), "disk on fire");
    assert_int_equal(kz_error_exit_status(&e), 2);
}

/* An export to a device or a FIFO writes into it: the temporary file and
 * rename used for regular files would replace the device with a plain file
 * (run as root, /dev/null of the whole machine). */
static void test_out_to_devices(void **state)
{
    char dir[] = "/tmp/kz-test-out-XXXXXX", fifo[64], file[64], got[16] = {0};
    struct kz_error e;
    struct kz_out *o;
    struct stat sb;
    pid_t pid;
    int fd, status;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    snprintf(file, sizeof(file), "%s/file", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* the reader first, without blocking, so that the writer's open of the
     * FIFO returns at once and a writer that renamed a file over it instead
     * shows up as nothing to read, not as a hang */
    fd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(fd >= 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        o = kz_out_open(fifo, &e);
        _exit(o && kz_out_write(o, "hello", 5, &e) == 0 && kz_out_commit(o, &e) == 0 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(read(fd, got, sizeof(got) - 1), 5);
    close(fd);
    assert_string_equal(got, "hello");
    assert_int_equal(stat(fifo, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
    /* /dev/null stays the device, aborted or committed */
    o = kz_out_open("/dev/null", &e);
    assert_non_null(o);
    assert_int_equal(kz_out_write(o, "x", 1, &e), 0);
    kz_out_abort(o);
    o = kz_out_open("/dev/null", &e);
    assert_non_null(o);
    assert_int_equal(kz_out_write(o, "x", 1, &e), 0);
    assert_int_equal(kz_out_commit(o, &e), 0);
    assert_int_equal(stat("/dev/null", &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));
    /* a regular file still goes through a temporary file and a rename */
    o = kz_out_open(file, &e);
    assert_non_null(o);
    assert_int_equal(kz_out_write(o, "abc", 3, &e), 0);
    assert_int_equal(kz_out_commit(o, &e), 0);
    assert_int_equal(stat(file, &sb), 0);
    assert_true(S_ISREG(sb.st_mode) && sb.st_size == 3);
    unlink(file);
    unlink(fifo);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_timestamps), cmocka_unit_test(test_format),
            cmocka_unit_test(test_uuid),       cmocka_unit_test(test_sha1),
            cmocka_unit_test(test_buf_limits), cmocka_unit_test(test_error_format),
            cmocka_unit_test(test_ip_parse),   cmocka_unit_test(test_out_to_devices),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
