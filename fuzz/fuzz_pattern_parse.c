/*
 * Fuzz harness for the STIX pattern parser: any input is a pattern. Valid
 * patterns must also print (kzp_format) to a text that parses back to the
 * same canonical form, dump, deliver their index conditions, and evaluate
 * against a small fixed observation set without error other than the
 * documented limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pattern/pattern.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char observations[] =
        "{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":["
        "{\"type\":\"observed-data\",\"id\":\"observed-data--1\",\"first_observed\":"
        "\"2024-01-01T00:00:00Z\",\"last_observed\":\"2024-01-01T00:00:01Z\",\"number_observed\":"
        "3,\"object_refs\":[\"file--1\",\"ipv4-addr--1\",\"network-traffic--1\"]},"
        "{\"type\":\"observed-data\",\"id\":\"observed-data--2\",\"first_observed\":"
        "\"2024-01-01T00:00:05Z\",\"last_observed\":\"2024-01-01T00:00:05Z\",\"number_observed\":"
        "1,\"objects\":{\"0\":{\"type\":\"file\",\"name\":\"a\\u00e9b\",\"size\":5,"
        "\"parent_directory_ref\":\"1\"},\"1\":{\"type\":\"directory\",\"path\":\"C:\\\\x\"}}},"
        "{\"type\":\"file\",\"id\":\"file--1\",\"name\":\"x.exe\",\"size\":1024,"
        "\"hashes\":{\"MD5\":\"cead3f77f6cda6ec00f57d76c9a6879f\"},\"magic_number_hex\":\"ffd8\","
        "\"x_list\":[1,\"two\",3.5,true,null,{\"k\":\"v\"}],\"ctime\":\"2014-01-13T07:03:17Z\"},"
        "{\"type\":\"ipv4-addr\",\"id\":\"ipv4-addr--1\",\"value\":\"198.51.100.7\"},"
        "{\"type\":\"network-traffic\",\"id\":\"network-traffic--1\",\"src_ref\":\"ipv4-addr--1\","
        "\"x_refs\":[\"file--1\",\"nothing--1\"],\"payload_bin\":\"AAEC\"}]}";

static struct kzp_obs *obs;

static int count(void *ctx, const struct kzp_cond *c)
{
    (*(size_t *)ctx) += c->len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kzp_pattern *p = NULL, *q = NULL;
    struct kz_error err;
    struct kz_buf a, b;
    struct kzp_result res;
    size_t sum = 0;
    int complete;

    if (!obs) {
        obs = kzp_obs_new();
        if (!obs || kzp_obs_add(obs, observations, sizeof(observations) - 1, &err) < 0)
            abort();
    }
    kz_error_clear(&err);
    if (kzp_check((const char *)data, size, &err) == 0 &&
        kzp_parse((const char *)data, size, &p, &err) != 0)
        abort(); /* check and parse must agree */
    if (!p)
        return 0;
    kz_buf_init(&a, (size_t)1 << 24);
    kz_buf_init(&b, (size_t)1 << 24);
    if (kzp_format(p, &a) == 0) {
        if (kzp_parse(a.data, a.len, &q, &err) != 0)
            abort(); /* the canonical form must parse */
        kzp_format(q, &b);
        if (b.failed || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            abort(); /* and be a fixed point */
    }
    kz_buf_reset(&b);
    kzp_dump(p, &b);
    kzp_extract(p, count, &sum, &complete);
    if (kzp_match(p, obs, &res, &err) == 0)
        kzp_result_free(&res);
    else if (err.code != KZ_ELIMIT)
        abort(); /* only the documented limits may stop an evaluation */
    kz_buf_free(&a);
    kz_buf_free(&b);
    kzp_free(p);
    kzp_free(q);
    return 0;
}
