/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_schema: the decisions behind the shadow's foreign keys and indexes (which masking
 * rules keep equality or uniqueness), and the rewrites of the source's definitions
 * (pg_get_constraintdef made deferrable, pg_get_indexdef onto the shadow's table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "datashadow/schema.h"
#include "testlib.h"

#define OID_INT4 23
#define OID_INT8 20
#define OID_TEXT 25
#define OID_VARCHAR 1043

static struct relation_column col(const char *name, uint32_t type_oid, enum mask_type t,
                                  enum mask_kind kind)
{
    struct relation_column c = {.name = (char *)name, .type_oid = type_oid, .mtype = t};
    c.rule.kind = kind;
    return c;
}

static void test_schema_fk_pair_ok_keep_and_same_hash_only(void **state)
{
    (void)state;
    struct relation_column keep = col("a", OID_INT4, MASK_T_INT, MASK_KEEP);
    struct relation_column hash = col("b", OID_INT4, MASK_T_INT, MASK_HASH);
    struct relation_column hash2 = col("c", OID_INT4, MASK_T_INT, MASK_HASH);
    struct relation_column hash8 = col("d", OID_INT8, MASK_T_INT8, MASK_HASH);
    struct relation_column redact = col("e", OID_TEXT, MASK_T_TEXT, MASK_REDACT);
    struct relation_column keep8 = col("f", OID_INT8, MASK_T_INT8, MASK_KEEP);
    assert_true(schema_fk_pair_ok(&keep, &keep8));
    assert_true(schema_fk_pair_ok(&hash, &hash2));
    assert_false(schema_fk_pair_ok(&hash, &hash8)); /* int4 and int8 hash differently */
    assert_false(schema_fk_pair_ok(&keep, &hash));
    assert_false(schema_fk_pair_ok(&hash, &keep));
    assert_false(schema_fk_pair_ok(&redact, &redact));
}

static void test_schema_fk_pair_ok_hash_parameters_must_match(void **state)
{
    (void)state;
    struct relation_column a = col("a", OID_TEXT, MASK_T_TEXT, MASK_HASH);
    struct relation_column b = col("b", OID_TEXT, MASK_T_TEXT, MASK_HASH);
    struct relation_column vc = col("v", OID_VARCHAR, MASK_T_TEXT, MASK_HASH);
    assert_true(schema_fk_pair_ok(&a, &b));
    assert_true(schema_fk_pair_ok(&vc, &a)); /* varchar and text hash alike */
    b.rule.email = true;
    assert_false(schema_fk_pair_ok(&a, &b));
    assert_string_equal(schema_rule_name(&b.rule), "hash:email");
    a.rule.email = true;
    assert_true(schema_fk_pair_ok(&a, &b));
}

static void test_schema_fk_def_becomes_deferred(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"FOREIGN KEY (a) REFERENCES public.t(id)",
         "FOREIGN KEY (a) REFERENCES public.t(id) DEFERRABLE INITIALLY DEFERRED"},
        {"FOREIGN KEY (a) REFERENCES public.t(id) ON DELETE CASCADE DEFERRABLE",
         "FOREIGN KEY (a) REFERENCES public.t(id) ON DELETE CASCADE DEFERRABLE INITIALLY "
         "DEFERRED"},
        {"FOREIGN KEY (a) REFERENCES public.t(id) DEFERRABLE INITIALLY DEFERRED NOT VALID",
         "FOREIGN KEY (a) REFERENCES public.t(id) DEFERRABLE INITIALLY DEFERRED NOT VALID"},
        {"FOREIGN KEY (\"x DEFERRABLE\") REFERENCES public.t(id) MATCH FULL NOT VALID",
         "FOREIGN KEY (\"x DEFERRABLE\") REFERENCES public.t(id) MATCH FULL DEFERRABLE "
         "INITIALLY DEFERRED NOT VALID"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = schema_fk_def(cases[i][0]);
        assert_string_equal(s, cases[i][1]);
        free(s);
    }
}

static void test_schema_index_decide_by_rule(void **state)
{
    (void)state;
    struct relation_column keep = col("k", OID_TEXT, MASK_T_TEXT, MASK_KEEP);
    struct relation_column hash = col("h", OID_TEXT, MASK_T_TEXT, MASK_HASH);
    struct relation_column red = col("r", OID_TEXT, MASK_T_TEXT, MASK_REDACT);
    const struct relation_column *kh[] = {&keep, &hash}, *kr[] = {&keep, &red}, *k[] = {&keep};
    const struct relation_column *b = NULL;
    assert_int_equal(schema_index_decide(kh, 2, 2, true, false, &b), SCHEMA_INDEX_CREATE);
    assert_null(b);
    assert_int_equal(schema_index_decide(kr, 2, 2, true, false, &b), SCHEMA_INDEX_NOT_UNIQUE);
    assert_ptr_equal(b, &red);
    assert_int_equal(schema_index_decide(kr, 2, 2, false, false, &b), SCHEMA_INDEX_CREATE);
    assert_int_equal(schema_index_decide(kh, 2, 2, false, true, &b), SCHEMA_INDEX_SKIP);
    assert_ptr_equal(b, &hash);
    assert_int_equal(schema_index_decide(k, 1, 1, true, true, &b), SCHEMA_INDEX_CREATE);
}

static void test_schema_index_decide_include_columns_do_not_break_unique(void **state)
{
    (void)state;
    struct relation_column keep = col("k", OID_TEXT, MASK_T_TEXT, MASK_KEEP);
    struct relation_column red = col("r", OID_TEXT, MASK_T_TEXT, MASK_REDACT);
    const struct relation_column *kr[] = {&keep, &red}, *b = NULL;
    /* UNIQUE (k) INCLUDE (r): only k is a key column */
    assert_int_equal(schema_index_decide(kr, 2, 1, true, false, &b), SCHEMA_INDEX_CREATE);
    /* UNIQUE (k) WHERE r IS NOT NULL: a predicate over a masked column */
    assert_int_equal(schema_index_decide(kr, 2, 1, true, true, &b), SCHEMA_INDEX_SKIP);
    assert_ptr_equal(b, &red);
}

static void test_schema_index_sql_rewrites_onto_the_shadow_table(void **state)
{
    (void)state;
    struct relation r = {.qname = "\"app\".\"Orders\""};
    char *s = schema_index_sql("CREATE UNIQUE INDEX \"o USING x\" ON app.\"Orders\" USING btree "
                               "(lower(email)) WHERE (id > 0)",
                               "o USING x", &r, true);
    assert_string_equal(s, "CREATE UNIQUE INDEX IF NOT EXISTS \"o USING x\" ON \"app\".\"Orders\" "
                           "USING btree (lower(email)) WHERE (id > 0)");
    free(s);
    s = schema_index_sql("CREATE UNIQUE INDEX o_key ON ONLY app.\"Orders\" USING btree (a, b)",
                         "o_key", &r, false);
    assert_string_equal(s, "CREATE INDEX IF NOT EXISTS \"o_key\" ON \"app\".\"Orders\" USING "
                           "btree (a, b)");
    free(s);
    assert_null(schema_index_sql("ALTER TABLE x", "i", &r, false));
    assert_null(schema_index_sql("CREATE INDEX i ON t", "i", &r, false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_fk_pair_ok_keep_and_same_hash_only),
        cmocka_unit_test(test_schema_fk_pair_ok_hash_parameters_must_match),
        cmocka_unit_test(test_schema_fk_def_becomes_deferred),
        cmocka_unit_test(test_schema_index_decide_by_rule),
        cmocka_unit_test(test_schema_index_decide_include_columns_do_not_break_unique),
        cmocka_unit_test(test_schema_index_sql_rewrites_onto_the_shadow_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
