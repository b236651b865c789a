/* test_rlimits.c - job limit defaults (helper/rlimits.c). */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "rlimits.h"
#include "check_run.h"

START_TEST(defaults)
{
    struct cps_job_limits in, out;

    memset(&in, 0, sizeof(in));
    cps__limits_resolve(&in, &out);
    ck_assert_uint_eq(out.timeout_ms, CPS_DEFAULT_TIMEOUT_MS);
    ck_assert_uint_eq(out.max_output_bytes, CPS_DEFAULT_MAX_OUTPUT_BYTES);
    ck_assert_uint_eq(out.cpu_seconds, CPS_DEFAULT_TIMEOUT_MS / 1000);
    ck_assert_uint_eq(out.address_space, 0); /* unlimited */
    ck_assert_uint_eq(out.file_size, CPS_DEFAULT_FILE_SIZE);
    ck_assert_uint_eq(out.open_files, CPS_DEFAULT_OPEN_FILES);
    ck_assert_uint_eq(out.processes, CPS_DEFAULT_PROCESSES);
    ck_assert_uint_eq(out.tmp_bytes, CPS_DEFAULT_TMP_BYTES);
}
END_TEST

START_TEST(given_values_kept)
{
    struct cps_job_limits in = {.timeout_ms = 1500,
                                .max_output_bytes = 7,
                                .cpu_seconds = 0,
                                .address_space = 1u << 30,
                                .file_size = 9,
                                .open_files = 10,
                                .processes = 11,
                                .tmp_bytes = 12};
    struct cps_job_limits out;

    cps__limits_resolve(&in, &out);
    ck_assert_uint_eq(out.timeout_ms, 1500);
    ck_assert_uint_eq(out.cpu_seconds, 2); /* the timeout rounded up */
    ck_assert_uint_eq(out.address_space, 1u << 30);
    ck_assert_uint_eq(out.max_output_bytes, 7);
    ck_assert_uint_eq(out.tmp_bytes, 12);
}
END_TEST

START_TEST(huge_timeout_does_not_wrap)
{
    struct cps_job_limits in = {.timeout_ms = UINT64_MAX};
    struct cps_job_limits out;

    cps__limits_resolve(&in, &out);
    ck_assert_uint_eq(out.cpu_seconds, UINT64_MAX / 1000 + 1);
}
END_TEST

/* Above what the kernel takes: lowered to the documented maxima (issue 12,
 * item 17: processes 2^64-1 made pids.max fail with ERANGE); the others
 * keep 2^64-1, which the kernel takes. */
START_TEST(maxima_clamp)
{
    struct cps_job_limits in, out;

    memset(&in, 0xff, sizeof(in));
    cps__limits_resolve(&in, &out);
    ck_assert_uint_eq(out.processes, CPS_MAX_PROCESSES);
    ck_assert_uint_eq(out.tmp_bytes, CPS_MAX_TMPFS_BYTES);
    ck_assert_uint_eq(out.scratch_bytes, CPS_MAX_TMPFS_BYTES);
    ck_assert_uint_eq(out.timeout_ms, UINT64_MAX);
    ck_assert_uint_eq(out.max_output_bytes, UINT64_MAX);
    ck_assert_uint_eq(out.cpu_seconds, UINT64_MAX);
    ck_assert_uint_eq(out.address_space, UINT64_MAX);
    ck_assert_uint_eq(out.file_size, UINT64_MAX);
    ck_assert_uint_eq(out.open_files, UINT64_MAX);
    in.processes = CPS_MAX_PROCESSES;
    in.tmp_bytes = in.scratch_bytes = CPS_MAX_TMPFS_BYTES;
    cps__limits_resolve(&in, &out);
    ck_assert_uint_eq(out.processes, CPS_MAX_PROCESSES);
    ck_assert_uint_eq(out.tmp_bytes, CPS_MAX_TMPFS_BYTES);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rlimits");
    TCase *tc = tcase_create("rlimits");

    tcase_add_test(tc, defaults);
    tcase_add_test(tc, given_values_kept);
    tcase_add_test(tc, huge_timeout_does_not_wrap);
    tcase_add_test(tc, maxima_clamp);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
