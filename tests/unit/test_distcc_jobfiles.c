/* test_distcc_jobfiles.c - the distcc shim's reading of distccd's argv
 * (cpd_args_scan) and its choice of host files and sandbox paths
 * (cpd_jobfiles_plan), on files laid out as distccd 3.4 lays them out. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "check_run.h"
#include "config.h"
#include "jobfiles.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))
/* A writable copy of a literal (argv elements are char *). */
#define S(x) ((char[]){x})

START_TEST(args_one_output)
{
    char *argv[] = {S("gcc"), S("-O2"), S("-c"), S("/t/distccd_1.i"), S("-o"), S("/t/distccd_1.o")};
    char *joined[] = {S("gcc"), S("-c"), S("-o/t/distccd_2.o"), S("/t/distccd_2.ii")};
    struct cpd_args a;
    struct cps_error err;

    ck_assert_int_eq(cpd_args_scan(ARGC(argv), argv, &a, &err), 0);
    ck_assert_str_eq(cpd_arg_path(argv, a.object), "/t/distccd_1.o");
    ck_assert_str_eq(cpd_arg_path(argv, a.input), "/t/distccd_1.i");
    ck_assert_int_eq(a.deps.index, -1);
    ck_assert_int_eq(cpd_args_scan(ARGC(joined), joined, &a, &err), 0);
    ck_assert_str_eq(cpd_arg_path(joined, a.object), "/t/distccd_2.o");
    ck_assert_int_eq(a.object.offset, 2);
    ck_assert_str_eq(cpd_arg_path(joined, a.input), "/t/distccd_2.ii");
}
END_TEST

START_TEST(args_refused)
{
    char *two_out[] = {S("gcc"), S("-c"), S("a.i"), S("-o"), S("x.o"), S("-oy.o")};
    char *no_out[] = {S("gcc"), S("-c"), S("a.i")};
    char *two_in[] = {S("gcc"), S("-c"), S("a.i"), S("b.i"), S("-o"), S("x.o")};
    char *dangling[] = {S("gcc"), S("-c"), S("a.i"), S("-o")};
    struct cpd_args a;
    struct cps_error err;

    ck_assert_int_eq(cpd_args_scan(ARGC(two_out), two_out, &a, &err), -EINVAL);
    ck_assert_str_eq(err.stage, "args");
    ck_assert_int_eq(cpd_args_scan(ARGC(no_out), no_out, &a, &err), -EINVAL);
    ck_assert_int_eq(cpd_args_scan(ARGC(two_in), two_in, &a, &err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "two input files"));
    ck_assert_int_eq(cpd_args_scan(ARGC(dangling), dangling, &a, &err), -EINVAL);
}
END_TEST

START_TEST(args_deps_and_option_values)
{
    /* -MF/-MT/-MQ take the next argument (distcc's arg.c); the last -MF wins,
     * as it does for gcc; a value that looks like a source is not an input. */
    char *argv[] = {S("gcc"), S("-MF"),           S("/evil.deps"), S("-MT"), S("x.c"),
                    S("-c"),  S("p.c"),           S("-MMD"),       S("-MF"), S("/t/distcc_1.deps"),
                    S("-o"),  S("/t/distccd_1.o")};
    char *joined[] = {S("gcc"),           S("-c"), S("p.c"), S("-MF/t/distcc_2.deps"), S("-o"),
                      S("/t/distccd_2.o")};
    struct cpd_args a;
    struct cps_error err;

    ck_assert_int_eq(cpd_args_scan(ARGC(argv), argv, &a, &err), 0);
    ck_assert_str_eq(cpd_arg_path(argv, a.deps), "/t/distcc_1.deps");
    ck_assert_str_eq(cpd_arg_path(argv, a.input), "p.c");
    ck_assert_int_eq(cpd_args_scan(ARGC(joined), joined, &a, &err), 0);
    ck_assert_str_eq(cpd_arg_path(joined, a.deps), "/t/distcc_2.deps");
}
END_TEST

/* A fake distccd temp dir: TOP/distccd_<name> files of ours. */
static char top[256];

static void make_top(const char *under)
{
    snprintf(top, sizeof top, "%s/cpd-unit-XXXXXX", under);
    ck_assert_ptr_nonnull(mkdtemp(top));
}

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void load_config(struct cpd_config *cfg)
{
    struct cps_error err;

    setenv("TMPDIR", top, 1);
    ck_assert_int_eq(cpd_config_load(cfg, &err), 0);
}

static void remove_top(void)
{
    char cmd[400];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(plan_plain_job)
{
    struct cpd_config cfg;
    struct cpd_jobfiles jf;
    struct cps_error err;
    char in[300], out[300];

    make_top("/var/tmp");
    load_config(&cfg);
    snprintf(in, sizeof in, "%s/distccd_0a1b2c3d.i", top);
    snprintf(out, sizeof out, "%s/distccd_4e5f6a7b.o", top);
    touch(in);
    touch(out);
    ck_assert_int_eq(chdir(top), 0);
    char *argv[] = {S("x86_64-linux-gnu-gcc"), S("-O2"), S("-c"), in, S("-o"), out};
    ck_assert_int_eq(cpd_jobfiles_plan(&cfg, ARGC(argv), argv, &jf, &err), 0);
    /* Outside /tmp every path is the host's. */
    ck_assert_str_eq(jf.input.host, in);
    ck_assert_str_eq(jf.input.sandbox, in);
    ck_assert_str_eq(jf.object.sandbox, out);
    ck_assert_str_eq(jf.cwd.sandbox, top);
    ck_assert_ptr_null(jf.tree);
    ck_assert_ptr_null(jf.deps.host);
    ck_assert_str_eq(jf.argv[3], in);
    ck_assert_str_eq(jf.argv[5], out);
    cpd_jobfiles_free(&jf);
    remove_top();
}
END_TEST

START_TEST(plan_under_tmp_is_remapped)
{
    struct cpd_config cfg;
    struct cpd_jobfiles jf;
    struct cps_error err;
    char in[300], out[300], joined[310], want[400];

    make_top("/tmp");
    load_config(&cfg);
    snprintf(in, sizeof in, "%s/distccd_0a1b2c3d.ii", top);
    snprintf(out, sizeof out, "%s/distccd_4e5f6a7b.o", top);
    snprintf(joined, sizeof joined, "-o%s", out);
    touch(in);
    touch(out);
    ck_assert_int_eq(chdir(top), 0);
    char *argv[] = {S("g++"), in, S("-c"), joined};
    ck_assert_int_eq(cpd_jobfiles_plan(&cfg, ARGC(argv), argv, &jf, &err), 0);
    snprintf(want, sizeof want, "%s%s", CPD_TMP_PREFIX, in);
    ck_assert_str_eq(jf.input.sandbox, want);
    ck_assert_str_eq(jf.argv[1], want);
    snprintf(want, sizeof want, "-o%s%s", CPD_TMP_PREFIX, out);
    ck_assert_str_eq(jf.argv[3], want);
    ck_assert_str_eq(jf.object.host, out);
    snprintf(want, sizeof want, "%s%s", CPD_TMP_PREFIX, top);
    ck_assert_str_eq(jf.cwd.sandbox, want);
    cpd_jobfiles_free(&jf);
    remove_top();
}
END_TEST

START_TEST(plan_refuses_foreign_files)
{
    struct cpd_config cfg;
    struct cpd_jobfiles jf;
    struct cps_error err;
    char in[300], out[300], link[300], sub[300];

    make_top("/var/tmp");
    load_config(&cfg);
    snprintf(in, sizeof in, "%s/distccd_0a1b2c3d.i", top);
    snprintf(out, sizeof out, "%s/distccd_4e5f6a7b.o", top);
    snprintf(link, sizeof link, "%s/distccd_11111111.o", top);
    snprintf(sub, sizeof sub, "%s/sub", top);
    touch(in);
    ck_assert_int_eq(chdir(top), 0);
    /* The object must be distccd's temp object, already created. */
    char *elsewhere[] = {S("gcc"), S("-c"), in, S("-o"), S("/var/tmp/x.o")};
    ck_assert_int_eq(cpd_jobfiles_plan(&cfg, ARGC(elsewhere), elsewhere, &jf, &err), -EINVAL);
    ck_assert_str_eq(err.stage, "args");
    cpd_jobfiles_free(&jf);
    char *missing[] = {S("gcc"), S("-c"), in, S("-o"), out};
    ck_assert_int_eq(cpd_jobfiles_plan(&cfg, ARGC(missing), missing, &jf, &err), -ENOENT);
    cpd_jobfiles_free(&jf);
    /* A symlink named like distccd's object is not followed. */
    ck_assert_int_eq(symlink("/etc/passwd", link), 0);
    char *linked[] = {S("gcc"), S("-c"), in, S("-o"), link};
    ck_assert_int_eq(cpd_jobfiles_plan(&cfg, ARGC(linked), linked, &jf, &err), -EPERM);
    cpd_jobfiles_free(&jf);
    /* The input must be in distccd's temp dir, not below it or elsewhere. */
    touch(out);
    char *input_elsewhere[] = {S("gcc"), S("-c"), S("/etc/x.i"), S("-o"), out};
    ck_assert_int_eq(cpd_jobfiles_plan(&cfg, ARGC(input_elsewhere), input_elsewhere, &jf, &err),
                     -EINVAL);
    cpd_jobfiles_free(&jf);
    remove_top();
}
END_TEST

START_TEST(plan_pump_tree)
{
    struct cpd_config cfg;
    struct cpd_jobfiles jf;
    struct cps_error err;
    char tree[300], cwd[400], out[300], deps[300], other_deps[300];

    make_top("/var/tmp");
    load_config(&cfg);
    snprintf(tree, sizeof tree, "%s/distccd_Ab3dEf", top);
    snprintf(cwd, sizeof cwd, "%s/home/dev", tree);
    snprintf(out, sizeof out, "%s/distccd_4e5f6a7b.o", top);
    snprintf(deps, sizeof deps, "%s/distcc_4e5f6a7b.deps", top);
    snprintf(other_deps, sizeof other_deps, "%s/elsewhere.deps", top);
    ck_assert_int_eq(mkdir(tree, 0700), 0);
    *strrchr(cwd, '/') = '\0';
    ck_assert_int_eq(mkdir(cwd, 0700), 0);
    strcat(cwd, "/dev");
    ck_assert_int_eq(mkdir(cwd, 0700), 0);
    touch(out);
    ck_assert_int_eq(chdir(cwd), 0);
    char *argv[] = {S("gcc"), S("-c"), S("p.c"), S("-o"), out, S("-MMD"), S("-MF"), deps};
    ck_assert_int_eq(cpd_jobfiles_plan(&cfg, ARGC(argv), argv, &jf, &err), 0);
    ck_assert_str_eq(jf.tree, tree);
    ck_assert_str_eq(jf.cwd.sandbox, cwd);
    ck_assert_str_eq(jf.deps.host, deps);
    cpd_jobfiles_free(&jf);
    /* Only distccd's own deps file is written back. */
    char *other[] = {S("gcc"), S("-c"), S("p.c"), S("-o"), out, S("-MMD"), S("-MF"), other_deps};
    ck_assert_int_eq(cpd_jobfiles_plan(&cfg, ARGC(other), other, &jf, &err), 0);
    ck_assert_ptr_null(jf.deps.host);
    cpd_jobfiles_free(&jf);
    remove_top();
}
END_TEST

START_TEST(plan_pump_under_tmp_refused)
{
    struct cpd_config cfg;
    struct cpd_jobfiles jf;
    struct cps_error err;
    char tree[300], out[300];

    make_top("/tmp");
    load_config(&cfg);
    snprintf(tree, sizeof tree, "%s/distccd_Ab3dEf", top);
    snprintf(out, sizeof out, "%s/distccd_4e5f6a7b.o", top);
    ck_assert_int_eq(mkdir(tree, 0700), 0);
    touch(out);
    ck_assert_int_eq(chdir(tree), 0);
    char *argv[] = {S("gcc"), S("-c"), S("p.c"), S("-o"), out};
    ck_assert_int_eq(cpd_jobfiles_plan(&cfg, ARGC(argv), argv, &jf, &err), -EINVAL);
    ck_assert_str_eq(err.stage, "tmpdir");
    ck_assert_ptr_nonnull(strstr(err.hint, "TMPDIR"));
    cpd_jobfiles_free(&jf);
    remove_top();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("distcc_jobfiles");
    TCase *tc = tcase_create("distcc_jobfiles");

    /* A hang guard, not a timing requirement: the machine may be shared. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, args_one_output);
    tcase_add_test(tc, args_refused);
    tcase_add_test(tc, args_deps_and_option_values);
    tcase_add_test(tc, plan_plain_job);
    tcase_add_test(tc, plan_under_tmp_is_remapped);
    tcase_add_test(tc, plan_refuses_foreign_files);
    tcase_add_test(tc, plan_pump_tree);
    tcase_add_test(tc, plan_pump_under_tmp_refused);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
