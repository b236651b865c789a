/*
 * test_overlay.c - planning the overlay mode of a job (cps__overlay_plan):
 * the checks each mode makes before anything is created, auto's choice, the
 * bind mode's rules, and the test hook. Nothing here mounts: the integration
 * tests (tests/integration/test_backends.c) mount every mode for real.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "overlay.h"
#include "proto.h"
#include "check_run.h"

static char base[] = "/tmp/cps-overlay-XXXXXX";
static char toolchain[256], upper[256], work[256], target[256];
static char cwd[] = "/work";
static const char *outputs[2];
static struct cps_input_decl inputs[1];
static struct cps_job job;
static struct cps_overlay_state ov;
static char slots[3][128];

/* A writable copy of a job path (the job's strings are not const). */
static char *jp(int slot, const char *text)
{
    snprintf(slots[slot], sizeof(slots[slot]), "%s", text);
    return slots[slot];
}

static void make_tree(const char *tc_name)
{
    char cmd[1024];

    snprintf(toolchain, sizeof(toolchain), "%s/%s", base, tc_name);
    snprintf(upper, sizeof(upper), "%s/upper", base);
    snprintf(work, sizeof(work), "%s/work", base);
    snprintf(target, sizeof(target), "%s/target", base);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/usr/bin' '%s/bin' && echo x > '%s/etc-file'",
             toolchain, toolchain, toolchain);
    ck_assert_int_eq(system(cmd), 0);
    ov.paths.toolchain = toolchain;
}

/* The scratch dir is made and removed by an unchecked fixture, in the runner
 * process: a failed assertion ends the forked test before a checked teardown
 * could remove it. */
static void make_base(void)
{
    snprintf(base, sizeof(base), "/tmp/cps-overlay-XXXXXX");
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
}

static void remove_base(void)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", base);
}

static void setup(void)
{
    memset(&job, 0, sizeof(job));
    memset(&ov, 0, sizeof(ov));
    make_tree("toolchain");
    ov.paths.upper = upper;
    ov.paths.work = work;
    ov.paths.target = target;
    job.toolchain = toolchain;
    job.cwd = cwd;
    outputs[0] = jp(0, "/work/out/a.o");
    outputs[1] = jp(1, "/results/b.o");
    job.outputs = outputs;
    job.outputc = 2;
    inputs[0].path = jp(2, "/work/src/a.c");
    inputs[0].mode = 0644;
    job.inputs = inputs;
    job.inputc = 1;
    ov.job = &job;
    unsetenv(CPS_ENV_FUSE_OVERLAYFS);
    unsetenv(CPS_ENV_TEST_FAIL_OVERLAY);
}

static int plan(uint32_t mode, struct cps_error *e)
{
    memset(e, 0, sizeof(*e));
    ov.requested = mode;
    return cps__overlay_plan(&ov, e);
}

START_TEST(auto_plans_what_can_be_tried)
{
    struct cps_error e;

    ck_assert_int_eq(plan(CPS_OVERLAY_AUTO, &e), 0);
    ck_assert(ov.planned & CPS_OVERLAY_NATIVE);
    ck_assert(ov.planned & CPS_OVERLAY_BIND);
    /* fuse needs /dev/fuse openable: root on these hosts. */
    ck_assert_uint_eq(!!(ov.planned & CPS_OVERLAY_FUSE), access("/dev/fuse", R_OK | W_OK) == 0);
    ck_assert_uint_eq(ov.mode, 0);
}
END_TEST

START_TEST(forced_mode_is_the_only_one_planned)
{
    struct cps_error e;

    ck_assert_int_eq(plan(CPS_OVERLAY_BIND, &e), 0);
    ck_assert_uint_eq(ov.planned, CPS_OVERLAY_BIND);
    ck_assert_int_eq(plan(CPS_OVERLAY_NATIVE, &e), 0);
    ck_assert_uint_eq(ov.planned, CPS_OVERLAY_NATIVE);
    ck_assert_int_eq(plan(1u << 7, &e), -ENOTSUP);
    ck_assert_str_eq(e.stage, "overlay");
}
END_TEST

START_TEST(missing_toolchain)
{
    char missing[300];
    struct cps_error e;

    snprintf(missing, sizeof(missing), "%s/none", base);
    ov.paths.toolchain = missing;
    ck_assert_int_eq(plan(CPS_OVERLAY_AUTO, &e), -ENOENT);
    ck_assert_str_eq(e.stage, "overlay");
    ck_assert_ptr_nonnull(strstr(e.message, missing));
}
END_TEST

/* ',' cannot be carried in overlayfs or fuse-overlayfs options; bind has none. */
START_TEST(comma_leaves_bind)
{
    struct cps_error e;

    make_tree("tool,chain");
    ck_assert_int_eq(plan(CPS_OVERLAY_AUTO, &e), 0);
    ck_assert_uint_eq(ov.planned, CPS_OVERLAY_BIND);
    ck_assert_int_eq(plan(CPS_OVERLAY_NATIVE, &e), -EINVAL);
    ck_assert_ptr_nonnull(strstr(e.message, "','"));
    ck_assert(e.hint[0] != '\0');
}
END_TEST

START_TEST(fuse_binary_override)
{
    struct cps_error e;

    setenv(CPS_ENV_FUSE_OVERLAYFS, "/nonexistent/fuse-overlayfs", 1);
    ck_assert_int_eq(plan(CPS_OVERLAY_FUSE, &e), -ENOENT);
    ck_assert_ptr_nonnull(strstr(e.message, "CACHEPOT_FUSE_OVERLAYFS=/nonexistent"));
    ck_assert_ptr_nonnull(strstr(e.hint, "native or bind"));
    ck_assert_int_eq(plan(CPS_OVERLAY_AUTO, &e), 0);
    ck_assert(!(ov.planned & CPS_OVERLAY_FUSE));
}
END_TEST

START_TEST(bind_inputs_must_be_writable)
{
    struct cps_error e;

    inputs[0].path = jp(2, "/results/in.c"); /* an output dir of its own: writable */
    ck_assert_int_eq(plan(CPS_OVERLAY_BIND, &e), 0);
    inputs[0].path = jp(2, "/elsewhere/in.c");
    ck_assert_int_eq(plan(CPS_OVERLAY_BIND, &e), -EROFS);
    ck_assert_ptr_nonnull(strstr(e.message, "/elsewhere/in.c"));
    ck_assert_ptr_nonnull(strstr(e.hint, "cwd"));
    /* "/workshop" is not below "/work". */
    inputs[0].path = jp(2, "/workshop/in.c");
    ck_assert_int_eq(plan(CPS_OVERLAY_BIND, &e), -EROFS);
    /* auto leaves bind out and still plans the others. */
    ck_assert_int_eq(plan(CPS_OVERLAY_AUTO, &e), 0);
    ck_assert(!(ov.planned & CPS_OVERLAY_BIND));
}
END_TEST

START_TEST(bind_writable_dirs_outside_toolchain)
{
    char in_usr[] = "/usr/src", root[] = "/";
    struct cps_error e;

    job.inputc = 0;
    job.cwd = in_usr;
    ck_assert_int_eq(plan(CPS_OVERLAY_BIND, &e), -EROFS);
    ck_assert_ptr_nonnull(strstr(e.message, "inside /usr"));
    /* An output's dir inside the toolchain (a top-level file counts too) or
     * "/" is not refused: it is not made writable and the output will be
     * missing (issue 12, item 15). An input there has no writable dir. */
    job.cwd = cwd;
    outputs[1] = jp(1, "/etc-file/x.o");
    ck_assert_int_eq(plan(CPS_OVERLAY_BIND, &e), 0);
    outputs[1] = jp(1, "/usr/obj/x.o");
    ck_assert_int_eq(plan(CPS_OVERLAY_BIND, &e), 0);
    outputs[1] = jp(1, "/b.o");
    ck_assert_int_eq(plan(CPS_OVERLAY_BIND, &e), 0);
    job.inputc = 1;
    inputs[0].path = jp(2, "/usr/obj/in.c");
    outputs[1] = jp(1, "/usr/obj/x.o");
    ck_assert_int_eq(plan(CPS_OVERLAY_BIND, &e), -EROFS);
    ck_assert_ptr_nonnull(strstr(e.message, "/usr/obj/in.c"));
    job.inputc = 0;
    outputs[1] = jp(1, "/results/b.o");
    job.cwd = root;
    ck_assert_int_eq(plan(CPS_OVERLAY_BIND, &e), -EINVAL);
    ck_assert_ptr_nonnull(strstr(e.message, "cannot make / writable"));
}
END_TEST

START_TEST(test_hook_refuses_listed_modes)
{
    struct cps_error e;

    setenv(CPS_ENV_TEST_FAIL_OVERLAY, "bind,native", 1);
    ck_assert_int_eq(plan(CPS_OVERLAY_NATIVE, &e), 0);
    ck_assert_int_eq(cps__overlay_mount(&ov, &e), -EPERM);
    ck_assert_ptr_nonnull(strstr(e.message, "test hook"));
    ck_assert_uint_eq(ov.mode, 0);
    /* auto with every planned mode refused names each one. */
    setenv(CPS_ENV_TEST_FAIL_OVERLAY, "native,fuse,bind", 1);
    ck_assert_int_eq(plan(CPS_OVERLAY_AUTO, &e), 0);
    ck_assert_int_eq(cps__overlay_mount(&ov, &e), -EPERM);
    ck_assert_ptr_nonnull(strstr(e.message, "native: "));
    ck_assert_ptr_nonnull(strstr(e.message, "bind: "));
    ck_assert_uint_eq(ov.mode, 0);
    /* Nothing mounted: unmount has nothing to do. */
    ck_assert_int_eq(cps__overlay_unmount(&ov, &e), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("overlay");
    TCase *tc = tcase_create("plan");

    tcase_add_unchecked_fixture(tc, make_base, remove_base);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, auto_plans_what_can_be_tried);
    tcase_add_test(tc, forced_mode_is_the_only_one_planned);
    tcase_add_test(tc, missing_toolchain);
    tcase_add_test(tc, comma_leaves_bind);
    tcase_add_test(tc, fuse_binary_override);
    tcase_add_test(tc, bind_inputs_must_be_writable);
    tcase_add_test(tc, bind_writable_dirs_outside_toolchain);
    tcase_add_test(tc, test_hook_refuses_listed_modes);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
