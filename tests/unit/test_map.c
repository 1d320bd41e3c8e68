/*
 * test_map.c - the string map: put, get, replace, remove, iterate, grow.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

START_TEST(basic)
{
    struct map m = MAP_INIT;
    int a = 1, b = 2;
    void *old;

    ck_assert_ptr_null(map_get(&m, "x"));
    ck_assert_int_eq(map_put(&m, "x", &a, &old), 0);
    ck_assert_ptr_null(old);
    ck_assert_ptr_eq(map_get(&m, "x"), &a);
    ck_assert_int_eq(map_put(&m, "x", &b, &old), 0);
    ck_assert_ptr_eq(old, &a);
    ck_assert_ptr_eq(map_get(&m, "x"), &b);
    ck_assert_uint_eq(m.len, 1);
    ck_assert_ptr_eq(map_remove(&m, "x"), &b);
    ck_assert_ptr_null(map_get(&m, "x"));
    ck_assert_ptr_null(map_remove(&m, "x"));
    ck_assert_uint_eq(m.len, 0);
    map_free(&m);
}
END_TEST

/* Borrowed keys: the map keeps the caller's pointers (no copy to free;
 * ASan would see a free of a stack or static key), through growth. */
START_TEST(borrowed_keys)
{
    struct map m = MAP_INIT;
    char keys[100][8];
    const char *k;
    size_t pos = 0, seen = 0;
    void *v;
    int i;

    m.borrowed = 1;
    for (i = 0; i < 100; i++) {
        snprintf(keys[i], sizeof(keys[i]), "O%d", i);
        ck_assert_int_eq(map_put(&m, keys[i], keys[i], NULL), 0);
    }
    ck_assert_ptr_eq(map_get(&m, "O42"), keys[42]);
    while (map_next(&m, &pos, &k, &v)) {
        ck_assert_ptr_eq(k, v); /* the very pointer that was put */
        seen++;
    }
    ck_assert_uint_eq(seen, 100);
    ck_assert_ptr_eq(map_remove(&m, "O7"), keys[7]);
    ck_assert_ptr_null(map_get(&m, "O7"));
    map_free(&m);
    ck_assert_int_eq(m.borrowed, 1);
}
END_TEST

START_TEST(many)
{
    struct map m = MAP_INIT;
    static int vals[20000];
    char key[32];
    size_t i, pos = 0, seen = 0;
    const char *k;
    void *v;

    for (i = 0; i < 20000; i++) {
        vals[i] = (int)i;
        snprintf(key, sizeof(key), "task-%zu", i);
        ck_assert_int_eq(map_put(&m, key, &vals[i], NULL), 0);
    }
    /* Remove every other one, then check all. */
    for (i = 0; i < 20000; i += 2) {
        snprintf(key, sizeof(key), "task-%zu", i);
        ck_assert_ptr_eq(map_remove(&m, key), &vals[i]);
    }
    for (i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "task-%zu", i);
        ck_assert_ptr_eq(map_get(&m, key), i % 2 ? &vals[i] : NULL);
    }
    ck_assert_uint_eq(m.len, 10000);
    while (map_next(&m, &pos, &k, &v)) {
        ck_assert_int_eq(*(int *)v % 2, 1);
        snprintf(key, sizeof(key), "task-%d", *(int *)v);
        ck_assert_str_eq(k, key);
        seen++;
    }
    ck_assert_uint_eq(seen, 10000);
    map_free(&m);
}
END_TEST

/*
 * The hash spreads keys that differ only late (ids sharing a long
 * prefix, as task ids do) over the low bits that pick a slot: 4,096
 * such keys fill about as many of 4,096 buckets as random values would
 * (1 - 1/e of them: 2,589), for every tail length 0-7 past a word; and
 * keys that differ in one byte anywhere, or only in length, hash apart.
 */
START_TEST(hash_spread)
{
    static unsigned char seen[4096];
    char key[128], other[128];
    size_t i, pre, used;

    for (pre = 40; pre < 48; pre++) {
        memset(seen, 0, sizeof(seen));
        memset(key, 'p', pre);
        for (i = 0, used = 0; i < 4096; i++) {
            uint32_t h;

            snprintf(key + pre, sizeof(key) - pre, "%zu", i);
            h = map_hash(key) & 4095;
            used += !seen[h];
            seen[h] = 1;
        }
        ck_assert_msg(used > 2400, "prefix %zu: %zu of 4096 buckets", pre,
                      used);
    }
    for (i = 0; i < 70; i++) {
        memset(key, 'a', 70);
        key[70] = '\0';
        memcpy(other, key, sizeof(key));
        other[i] = 'b';
        ck_assert_uint_ne(map_hash(key), map_hash(other));
    }
    /* Runs of one byte, each length apart from the others. */
    for (i = 1; i < 24; i++) {
        size_t j;

        memset(key, 'x', i);
        key[i] = '\0';
        for (j = 1; j < i; j++) {
            memset(other, 'x', j);
            other[j] = '\0';
            ck_assert_uint_ne(map_hash(key), map_hash(other));
        }
    }
}
END_TEST

START_TEST(remove_while_iterating)
{
    struct map m = MAP_INIT;
    static int vals[100];
    char key[16];
    size_t i, pos = 0;
    const char *k;

    for (i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "%zu", i);
        ck_assert_int_eq(map_put(&m, key, &vals[i], NULL), 0);
    }
    while (map_next(&m, &pos, &k, NULL))
        map_remove(&m, k);
    ck_assert_uint_eq(m.len, 0);
    /* Tombstones are reused: the table does not grow without bound. */
    for (i = 0; i < 10000; i++) {
        ck_assert_int_eq(map_put(&m, "churn", &vals[0], NULL), 0);
        map_remove(&m, "churn");
    }
    ck_assert_uint_le(m.cap, 256);
    map_free(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("map");
    TCase *tc = tcase_create("map");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, basic);
    tcase_add_test(tc, hash_spread);
    tcase_add_test(tc, many);
    tcase_add_test(tc, remove_while_iterating);
    tcase_add_test(tc, borrowed_keys);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
