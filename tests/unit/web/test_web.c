/* Unit tests: the embedded assets and ETag matching (web/web.c, the generated asset table). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "web/web.h"

static void test_assets_are_embedded(void **state)
{
    (void)state;
    const tn_web_asset_t *idx = tn_web_asset_find("");
    assert_non_null(idx);
    assert_ptr_equal(idx, tn_web_asset_find("index.html"));
    assert_string_equal(idx->content_type, "text/html; charset=utf-8");
    assert_true(idx->size > 100);
    assert_int_equal(idx->data[idx->size], 0); /* a NUL follows the bytes */
    assert_non_null(strstr((const char *)idx->data, "<script src=\"app.js\""));
    const tn_web_asset_t *js = tn_web_asset_find("app.js");
    assert_non_null(js);
    assert_string_equal(js->content_type, "text/javascript; charset=utf-8");
    assert_string_equal(tn_web_asset_find("style.css")->content_type, "text/css; charset=utf-8");
    assert_string_equal(tn_web_asset_find("favicon.svg")->content_type, "image/svg+xml");
    /* ETags: quoted, 20 hex digits, different for different content */
    assert_int_equal(strlen(js->etag), 22);
    assert_int_equal(js->etag[0], '"');
    assert_int_equal(js->etag[21], '"');
    assert_string_not_equal(js->etag, idx->etag);
    for (size_t i = 0; i < tn_web_assets_count; i++)
        assert_non_null(tn_web_asset_find(tn_web_assets[i].name));
}

static void test_unknown_names(void **state)
{
    (void)state;
    assert_null(tn_web_asset_find(NULL));
    assert_null(tn_web_asset_find("nope.js"));
    assert_null(tn_web_asset_find("../index.html"));
    assert_null(tn_web_asset_find("assets/app.js"));
    assert_null(tn_web_asset_find("app.js/"));
    assert_null(tn_web_asset_find("APP.JS"));
    assert_null(tn_web_asset_find("app.j"));
}

static void test_if_none_match(void **state)
{
    (void)state;
    const char *e = "\"abc\"";
    assert_true(tn_web_etag_matches("\"abc\"", e));
    assert_true(tn_web_etag_matches("W/\"abc\"", e));
    assert_true(tn_web_etag_matches("\"x\", \"abc\"", e));
    assert_true(tn_web_etag_matches(" \"x\" ,W/\"abc\" ", e));
    assert_true(tn_web_etag_matches("*", e));
    assert_true(tn_web_etag_matches("\"x\", *", e));
    assert_false(tn_web_etag_matches(NULL, e));
    assert_false(tn_web_etag_matches("", e));
    assert_false(tn_web_etag_matches(",,, ", e));
    assert_false(tn_web_etag_matches("\"abcd\"", e));
    assert_false(tn_web_etag_matches("\"ab\"", e));
    assert_false(tn_web_etag_matches("abc", e));
    assert_false(tn_web_etag_matches("W/", e));
    assert_false(tn_web_etag_matches("**", e));
    assert_false(tn_web_etag_matches("\"abc\"", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assets_are_embedded),
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_if_none_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
