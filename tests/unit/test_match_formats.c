/*
 * The log readers, one format at a time: the fields each yields for sample
 * lines (names, decoded values, hints), format detection, the fallback of
 * malformed lines to text, and the JSON scanner cross-checked against the
 * strict tape parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "match/logread.h"
#include "match/logread_int.h"
#include "util/buf.h"

static const char *const hint_names[] = {"text", "addr", "url", "skip"};

static void on_field(void *ctx, const struct logread_field *f)
{
    struct kz_buf *b = ctx;

    kz_buf_printf(b, "%llu|%.*s|%s=%.*s\n", (unsigned long long)f->line, (int)f->name_len, f->name,
                  hint_names[f->hint], (int)f->value_len, f->value);
}

/* The fields of text in format fmt, one "line|name|hint=value" per line. */
static char *fields(const char *text, enum logread_format fmt, enum logread_format *detected)
{
    struct kz_error e = {0};
    struct logread *r = logread_open_mem("t", text, strlen(text), fmt, &e);
    struct kz_buf b;

    assert_non_null(r);
    if (detected)
        *detected = logread_format(r);
    kz_buf_init(&b, 1 << 20);
    kz_buf_addstr(&b, "");
    assert_int_equal(logread_foreach_field(r, on_field, &b, &e), 0);
    logread_close(r);
    return kz_buf_steal(&b, NULL);
}

static void expect_fields(const char *text, enum logread_format fmt, const char *want)
{
    char *got = fields(text, fmt, NULL);

    if (strcmp(got, want) != 0)
        fail_msg("input:\n%s\ngot:\n%s\nwant:\n%s", text, got, want);
    free(got);
}

static void test_zeek_tsv(void **state)
{
    (void)state;
    expect_fields("#separator \\x09\n"
                  "#set_separator\t,\n"
                  "#empty_field\t(empty)\n"
                  "#unset_field\t-\n"
                  "#fields\tts\tid.orig_h\tquery\tanswers\tport\thost\turi\n"
                  "#types\ttime\taddr\tstring\tvector[string]\tport\tstring\tstring\n"
                  "1.5\t192.0.2.1\tevil.com\t1.2.3.4,5.6.7.8\t53\tev.com\t/a?b\n"
                  "2.5\t-\t(empty)\t-\t53\ta\\x09b.com\t-\n"
                  "3.5\t::1\tx\\x5cy\n",
                  LOGREAD_ZEEK,
                  "7|id.orig_h|addr=192.0.2.1\n"
                  "7|query|text=evil.com\n"
                  "7|answers|text=1.2.3.4,5.6.7.8\n"
                  "7|host|text=ev.com\n"
                  "7|uri|text=/a?b\n"
                  "7|host+uri|url=http://ev.com/a?b\n"
                  "8|host|text=a\tb.com\n"
                  "9|id.orig_h|addr=::1\n"
                  "9|query|text=x\\y\n");
    /* another separator and markers; no #types; extra columns */
    expect_fields("#separator |\n"
                  "#empty_field|EMPTY\n"
                  "#unset_field|NONE\n"
                  "#fields|a|b\n"
                  "x.org|NONE|EMPTY|extra.net\n",
                  LOGREAD_ZEEK,
                  "5|a|text=x.org\n"
                  "5|col4|text=extra.net\n");
}

static void test_zeek_json(void **state)
{
    enum logread_format f;
    char *got;

    (void)state;
    got = fields("{\"ts\":1.5,\"uid\":\"C1\",\"id.orig_h\":\"192.0.2.1\",\"host\":\"Ev.com\","
                 "\"uri\":\"/x\",\"tags\":[\"a\",\"b\"],\"n\":null,\"ok\":true}\n",
                 LOGREAD_AUTO, &f);
    assert_int_equal(f, LOGREAD_ZEEK_JSON);
    assert_string_equal(got, "1|uid|text=C1\n"
                             "1|id.orig_h|text=192.0.2.1\n"
                             "1|host|text=Ev.com\n"
                             "1|uri|text=/x\n"
                             "1|tags|text=a\n"
                             "1|tags|text=b\n"
                             "1|host+uri|url=http://Ev.com/x\n");
    free(got);
}

static void test_jsonl(void **state)
{
    enum logread_format f;
    char *got;

    (void)state;
    got = fields("{\"a\":{\"b\":{\"c\":\"deep\"}},\"arr\":[{\"k\":\"v\"},[\"x\"],\"y\"],"
                 "\"esc\":\"http:\\/\\/evil.com\\/\\u0041\\ud83d\\ude00\\u0000\",\"e\":\"\"}\n"
                 "  { \"sp\" : \"x\" }  \n"
                 "{\"broken\": \"yes\", \"next\": 1.2.3.4 }\n"
                 "not json at all 10.0.0.1\n",
                 LOGREAD_JSONL, &f);
    assert_int_equal(f, LOGREAD_JSONL);
    assert_string_equal(got, "1|a.b.c|text=deep\n"
                             "1|arr.k|text=v\n"
                             "1|arr|text=x\n"
                             "1|arr|text=y\n"
                             "1|esc|text=http://evil.com/A\xf0\x9f\x98\x80 \n"
                             "2|sp|text=x\n"
                             "3|broken|text=yes\n"
                             "3|text|text=1.2.3.4 }\n"
                             "4|text|text=not json at all 10.0.0.1\n");
    free(got);
}

/* The fast scanner and the tape parser agree on valid lines. */
struct seq {
    struct kz_buf b;
};

static void seq_field(void *ctx, const char *name, size_t nlen, const char *v, size_t vn,
                      enum logread_hint hint)
{
    struct seq *s = ctx;

    (void)hint;
    kz_buf_printf(&s->b, "%.*s=%.*s\n", (int)nlen, name, (int)vn, v);
}

static void test_json_fast_vs_tape(void **state)
{
    static const char *const lines[] = {
            "{}",
            "{\"a\":\"1\"}",
            "{\"a\":[],\"b\":{},\"c\":[[[\"z\"]]]}",
            "{\"k\\\"q\":\"v\\\\\",\"u\":\"\\u00e9\\n\"}",
            "{\"x\":{\"y\":[{\"z\":\"1\"},{\"z\":\"2\",\"w\":[\"3\"]}]},\"n\":-1.5e3,\"t\":false}",
            "{\"long_key_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":{\"next_key_bbbbbbbbbbbbbbbbbbbbbbbbbbbb\":"
            "\"v\"}}",
    };
    struct lr_scratch sc;

    (void)state;
    assert_int_equal(lr_scratch_init(&sc), 0);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct seq a, b;
        struct lr_sink sa = {seq_field, &a, NULL}, sb = {seq_field, &b, NULL};
        struct lr_state st;
        size_t resume = 0;
        kz_buf_init(&a.b, 1 << 20);
        kz_buf_init(&b.b, 1 << 20);
        kz_buf_addstr(&a.b, "");
        kz_buf_addstr(&b.b, "");
        lr_state_init(&st, LOGREAD_JSONL);
        sc.used = 0;
        assert_int_equal(lr_json_line(&st, &sc, lines[i], strlen(lines[i]), &sa, &resume, 0), 0);
        sc.used = 0;
        assert_int_equal(lr_json_line_ref(&sc, lines[i], strlen(lines[i]), &sb), 0);
        if (strcmp(a.b.data, b.b.data) != 0)
            fail_msg("%s\nfast:\n%s\ntape:\n%s", lines[i], a.b.data, b.b.data);
        kz_buf_free(&a.b);
        kz_buf_free(&b.b);
    }
    lr_scratch_free(&sc);
}

static void test_clf(void **state)
{
    enum logread_format f;
    char *got;

    (void)state;
    got = fields("192.0.2.1 - alice@evil.com [10/Oct/2000:13:55:36 -0700] \"GET /a?x=1 HTTP/1.0\" "
                 "200 2326 \"http://ref.com/\" \"Mozilla \\\"q\\\" \\x22z\\x22\"\n"
                 "host.example - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 304 -\n"
                 "::1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" "
                 "\"10.0.0.9\" 0.005 up.example:80\n"
                 "garbage line with 1.2.3.4\n",
                 LOGREAD_AUTO, &f);
    assert_int_equal(f, LOGREAD_CLF);
    assert_string_equal(got, "1|client|addr=192.0.2.1\n"
                             "1|user|text=alice@evil.com\n"
                             "1|request|text=GET /a?x=1 HTTP/1.0\n"
                             "1|referer|text=http://ref.com/\n"
                             "1|user_agent|text=Mozilla \"q\" \"z\"\n"
                             "2|client|addr=host.example\n"
                             "2|request|text=GET / HTTP/1.1\n"
                             "3|client|addr=::1\n"
                             "3|request|text=GET / HTTP/1.1\n"
                             "3|user_agent|text=ua\n"
                             "3|extra1|text=10.0.0.9\n"
                             "3|extra2|text=0.005\n"
                             "3|extra3|text=up.example:80\n"
                             "4|text|text=garbage line with 1.2.3.4\n");
    free(got);
}

static void test_syslog(void **state)
{
    enum logread_format f;
    char *got;

    (void)state;
    got = fields("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
                 "[exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"x\\]\"][b c=\"1.2.3.4\"] "
                 "\xef\xbb\xbf"
                 "An application event\n"
                 "<34>1 2003-10-11T22:14:15.003Z 192.0.2.5 su - - - no sd here\n"
                 "<13>Oct 11 22:14:15 mymachine su[42]: 'su root' failed on /dev/pts/8\n"
                 "Feb  5 17:32:18 10.0.0.99 sshd: Accepted from 1.2.3.4\n"
                 "2024-05-01T12:00:00.123456+00:00 gw kernel: [123.4] DROP SRC=1.2.3.4\n"
                 "Jan  1 00:00:00 sshd[1]: no host here\n",
                 LOGREAD_AUTO, &f);
    assert_int_equal(f, LOGREAD_SYSLOG);
    assert_string_equal(got, "1|host|addr=mymachine.example.com\n"
                             "1|app|text=evntslog\n"
                             "1|msgid|text=ID47\n"
                             "1|sd.exampleSDID@32473.iut|text=3\n"
                             "1|sd.exampleSDID@32473.eventSource|text=App\"x]\n"
                             "1|sd.b.c|text=1.2.3.4\n"
                             "1|msg|text=An application event\n"
                             "2|host|addr=192.0.2.5\n"
                             "2|app|text=su\n"
                             "2|msg|text=no sd here\n"
                             "3|host|addr=mymachine\n"
                             "3|app|text=su\n"
                             "3|msg|text='su root' failed on /dev/pts/8\n"
                             "4|host|addr=10.0.0.99\n"
                             "4|app|text=sshd\n"
                             "4|msg|text=Accepted from 1.2.3.4\n"
                             "5|host|addr=gw\n"
                             "5|app|text=kernel\n"
                             "5|msg|text=[123.4] DROP SRC=1.2.3.4\n"
                             "6|app|text=sshd\n"
                             "6|msg|text=no host here\n");
    free(got);
}

static void test_text_and_detection(void **state)
{
    static const struct {
        const char *text;
        enum logread_format want;
    } cases[] = {
            {"", LOGREAD_TEXT},
            {"just some words\nand more\n", LOGREAD_TEXT},
            {"{\"a\":1}\n{\"b\":2}\nnot json\n", LOGREAD_JSONL},
            {"{\"a\":1}\nnot json\nnot json\n", LOGREAD_TEXT},
            {"#separator \\x09\n#fields\ta\n", LOGREAD_ZEEK},
            {"{\"_path\":\"conn\",\"ts\":1}\n", LOGREAD_ZEEK_JSON},
            {"<13>Oct 11 22:14:15 host app: m\n", LOGREAD_SYSLOG},
            {"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1\n", LOGREAD_CLF},
            {"line without newline", LOGREAD_TEXT},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum logread_format f;
        char *got = fields(cases[i].text, LOGREAD_AUTO, &f);
        if (f != cases[i].want)
            fail_msg("'%s': detected %s, want %s", cases[i].text, logread_format_name(f),
                     logread_format_name(cases[i].want));
        free(got);
    }
    expect_fields("a 1.2.3.4\r\n\nb\n", LOGREAD_TEXT,
                  "1|text|text=a 1.2.3.4\n"
                  "2|text|text=\n"
                  "3|text|text=b\n");
    for (int i = 0; i < LOGREAD_FORMAT_COUNT; i++) {
        enum logread_format f;
        assert_int_equal(logread_format_parse(logread_format_name((enum logread_format)i), &f), 0);
        assert_int_equal(f, i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_zeek_tsv),
            cmocka_unit_test(test_zeek_json),
            cmocka_unit_test(test_jsonl),
            cmocka_unit_test(test_json_fast_vs_tape),
            cmocka_unit_test(test_clf),
            cmocka_unit_test(test_syslog),
            cmocka_unit_test(test_text_and_detection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
