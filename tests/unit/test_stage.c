/*
 * test_stage.c - the stage table (common/stage.c) against the lists of stages
 * in the documentation: every list that claims to be complete names exactly
 * the stages of its kind, and no list names a stage that does not exist.
 *
 *   README.md, "Error stages"             every stage the helper reports
 *   docs/HELPER.md, "## Error stages"     the same, first column of the table
 *   docs/PROTOCOL.md, "How a session ends" the stages an error frame can carry
 *   docs/PROTOCOL.md, "### error"          examples: each must exist
 *   cachepot-sandbox.h                     the library's own stages
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "stage.h"
#include "check_run.h"

static char *read_doc(const char *rel)
{
    char path[4096];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/%s", CPS_TEST_SOURCE_DIR, rel);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    ck_assert_int_gt(n, 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The text between the first `from` and the next `to` after it (in place). */
static char *section(char *doc, const char *from, const char *to)
{
    char *s = strstr(doc, from), *e;

    ck_assert_msg(s != NULL, "section \"%s\" not found", from);
    s += strlen(from);
    e = strstr(s, to);
    ck_assert_msg(e != NULL, "end \"%s\" of section \"%s\" not found", to, from);
    *e = '\0';
    return s;
}

/* Stages named between open and close quotes in text[0..len): marked in seen
 * (by enum value); a name that is no stage fails the test. Returns how many. */
static int collect(const char *text, size_t len, char open, char close, bool seen[CPS_STAGE_COUNT],
                   const char *where)
{
    int found = 0;

    for (size_t i = 0; i < len; i++) {
        char name[64];
        size_t n = 0;
        int st;

        if (text[i] != open)
            continue;
        for (i++;
             i < len && n + 1 < sizeof(name) && (islower((unsigned char)text[i]) || text[i] == '_');
             i++)
            name[n++] = text[i];
        name[n] = '\0';
        if (i >= len || text[i] != close || n == 0)
            continue;
        st = cps__stage_from_name(name);
        ck_assert_msg(st >= 0, "%s names stage \"%s\", which does not exist", where, name);
        seen[st] = true;
        found++;
    }
    return found;
}

/* The cell'th cell (0: the first) of each table row in text that starts with "| `" or, when
 * header is not NULL, of each row after the row starting with header. */
static void collect_column(char *text, const char *header, int cell, bool seen[CPS_STAGE_COUNT],
                           const char *where)
{
    char *line = text;
    bool on = header == NULL;

    while (line && *line) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);

        if (header && strncmp(line, header, strlen(header)) == 0) {
            on = true;
        } else if (on && line[0] == '|' && strncmp(line, "|---", 4) != 0 &&
                   (header || strncmp(line, "| `", 3) == 0)) {
            const char *c = line;

            for (int k = 0; k < cell && c; k++)
                c = memchr(c + 1, '|', len - (size_t)(c + 1 - line));
            ck_assert_msg(c != NULL, "%s: a row with fewer than %d cells", where, cell);
            const char *ce = memchr(c + 1, '|', len - (size_t)(c + 1 - line));
            collect(c + 1, ce ? (size_t)(ce - c - 1) : len - (size_t)(c + 1 - line), '`', '`', seen,
                    where);
        } else if (header && on && line[0] != '|') {
            on = false;
        }
        line = end ? end + 1 : NULL;
    }
}

/* The list in `where` names exactly the stages with all of flags set. */
static void assert_complete(const bool seen[CPS_STAGE_COUNT], unsigned flags, const char *where)
{
    for (int i = 0; i < CPS_STAGE_COUNT; i++) {
        bool want = (cps__stage_flags((enum cps_stage)i) & flags) == flags;

        ck_assert_msg(seen[i] == want, "%s %s stage \"%s\"", where,
                      want ? "does not list" : "lists the wrong kind of",
                      cps__stage_name((enum cps_stage)i));
    }
}

START_TEST(table_is_sound)
{
    for (int i = 0; i < CPS_STAGE_COUNT; i++) {
        const char *name = cps__stage_name((enum cps_stage)i);

        ck_assert_msg(name != NULL && name[0] != '\0', "stage %d has no name", i);
        ck_assert_uint_lt(strlen(name), CPS_ERROR_STAGE_MAX);
        ck_assert_int_eq(cps__stage_from_name(name), i);
        ck_assert_msg(cps__stage_flags((enum cps_stage)i) &
                          (CPS_STAGE_BY_HELPER | CPS_STAGE_BY_LIBRARY),
                      "nobody reports stage \"%s\"", name);
    }
    ck_assert_str_eq(cps__stage_name(CPS_STAGE_COUNT), "");
    ck_assert_int_eq(cps__stage_from_name("no_such_stage"), -1);
}
END_TEST

START_TEST(error_set_names_the_stage)
{
    struct cps_error err;

    cps__error_set(&err, CPS_STAGE_UID_MAP, EPERM, NULL, "write");
    ck_assert_str_eq(err.stage, "uid_map");
    ck_assert(cps__error_is(&err, CPS_STAGE_UID_MAP));
    ck_assert(!cps__error_is(&err, CPS_STAGE_GID_MAP));
}
END_TEST

START_TEST(readme_lists_every_helper_stage)
{
    char *doc = read_doc("README.md");
    char *s = section(doc, "(docs/HELPER.md)):", "For example");
    bool seen[CPS_STAGE_COUNT] = {false};

    collect(s, strlen(s), '`', '`', seen, "README.md, Error stages,");
    assert_complete(seen, CPS_STAGE_BY_HELPER, "README.md, Error stages,");
    free(doc);
}
END_TEST

START_TEST(helper_md_lists_every_helper_stage)
{
    char *doc = read_doc("docs/HELPER.md");
    char *s = section(doc, "\n## Error stages\n", "\n## ");
    bool seen[CPS_STAGE_COUNT] = {false};

    collect_column(s, NULL, 0, seen, "docs/HELPER.md, Error stages,");
    assert_complete(seen, CPS_STAGE_BY_HELPER, "docs/HELPER.md, Error stages,");
    free(doc);
}
END_TEST

START_TEST(protocol_md_lists_every_stage_of_an_error_frame)
{
    char *doc = read_doc("docs/PROTOCOL.md");
    char *s = section(doc, "\n## How a session ends\n", "\n## ");
    bool seen[CPS_STAGE_COUNT] = {false};

    collect_column(s, "| point of the session |", 1, seen, "docs/PROTOCOL.md, How a session ends,");
    assert_complete(seen, CPS_STAGE_BY_HELPER | CPS_STAGE_IN_FRAME,
                    "docs/PROTOCOL.md, How a session ends,");
    free(doc);
}
END_TEST

START_TEST(protocol_md_error_examples_exist)
{
    char *doc = read_doc("docs/PROTOCOL.md");
    char *s = section(doc, "\n### error (helper", "\n## ");
    char *row = strstr(s, "\n| stage |");
    bool seen[CPS_STAGE_COUNT] = {false};

    ck_assert_ptr_nonnull(row);
    row = section(row, "| stage |", "\n");
    ck_assert_int_gt(collect(row, strlen(row), '"', '"', seen, "docs/PROTOCOL.md, error.stage,"),
                     5);
    free(doc);
}
END_TEST

START_TEST(public_header_lists_every_library_stage)
{
    char *doc = read_doc("parent/include/cachepot-sandbox.h");
    char *s = section(doc, "Stages the library itself reports", "*/");
    bool seen[CPS_STAGE_COUNT] = {false};
    char *line = strchr(s, '\n');

    /* One stage per line: ` *   "name"   what it means`. */
    while (line && *line) {
        char *q = strstr(line, " *   \"");
        char *end = strchr(line + 1, '\n');

        if (q && (!end || q < end))
            collect(q, (size_t)(strchr(q + 6, '"') + 1 - q), '"', '"', seen, "cachepot-sandbox.h");
        line = end;
    }
    assert_complete(seen, CPS_STAGE_BY_LIBRARY, "cachepot-sandbox.h, the library's stages,");
    free(doc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stage");
    TCase *tc = tcase_create("stage");

    tcase_add_test(tc, table_is_sound);
    tcase_add_test(tc, error_set_names_the_stage);
    tcase_add_test(tc, readme_lists_every_helper_stage);
    tcase_add_test(tc, helper_md_lists_every_helper_stage);
    tcase_add_test(tc, protocol_md_lists_every_stage_of_an_error_frame);
    tcase_add_test(tc, protocol_md_error_examples_exist);
    tcase_add_test(tc, public_header_lists_every_library_stage);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
