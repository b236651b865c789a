/* jobfiles.c - distccd's temp files of one job and their sandbox paths. */
#include "jobfiles.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "error.h"

static const char *const run_by_distccd = "this program is run by distccd, on the files it "
                                          "receives (docs/DISTCC.md)";

static int under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* The sandbox path of a host path (new; NULL on ENOMEM). */
static char *sandbox_path(const char *host)
{
    char *s;

    if (!under(host, "/tmp"))
        return strdup(host);
    if (asprintf(&s, "%s%s", CPD_TMP_PREFIX, host) < 0)
        return NULL;
    return s;
}

/* Is path T/<prefix>...<suffix>, directly in distccd's temp dir T? */
static int is_temp_file(const struct cpd_config *cfg, const char *path, const char *prefix,
                        const char *suffix)
{
    size_t t = strlen(cfg->tmp_top), n = strlen(path), s = strlen(suffix);
    const char *base = path + t + 1;

    if (strcmp(cfg->tmp_top, "/") == 0)
        base = path + 1, t = 0;
    if (n <= t + 1 || strncmp(path, cfg->tmp_top, t) != 0 || path[t] != '/')
        return 0;
    return strchr(base, '/') == NULL && strncmp(base, prefix, strlen(prefix)) == 0 &&
           strlen(base) > strlen(prefix) + s && strcmp(path + n - s, suffix) == 0;
}

/* A file distccd made for this job: regular, ours, not a symlink. */
static int check_own_file(const char *path, const char *what, struct cps_error *err)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return cpd_fail(err, "args", errno, run_by_distccd, "%s %s", what, path);
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
        return cpd_fail(err, "args", EPERM, run_by_distccd, "%s %s is not a regular file of uid %u",
                        what, path, (unsigned)geteuid());
    return 0;
}

/* Pump mode: distccd chdir()s into T/distccd_XXXXXX/<client cwd> (serve.c,
 * make_temp_dir_and_chdir_for_cpp). Returns the tree (new), NULL if not. */
static char *pump_tree(const struct cpd_config *cfg, const char *cwd)
{
    char prefix[4200];
    const char *rest;
    size_t len;

    snprintf(prefix, sizeof prefix, "%s/distccd_", strcmp(cfg->tmp_top, "/") ? cfg->tmp_top : "");
    if (strncmp(cwd, prefix, strlen(prefix)) != 0)
        return NULL;
    rest = cwd + strlen(prefix);
    len = strcspn(rest, "/");
    if (len == 0)
        return NULL;
    return strndup(cwd, (size_t)(rest - cwd) + len);
}

static int set_pair(struct cpd_path_pair *p, const char *host, struct cps_error *err)
{
    p->host = strdup(host);
    p->sandbox = sandbox_path(host);
    if (!p->host || !p->sandbox)
        return cpd_fail(err, "args", ENOMEM, NULL, "copying %s", host);
    return 0;
}

/* argv[ref] with its path replaced by the sandbox path. */
static int rewrite_arg(struct cpd_jobfiles *jf, char *const *argv, struct cpd_arg_ref ref,
                       const char *sandbox, struct cps_error *err)
{
    char *s;

    if (asprintf(&s, "%.*s%s", ref.offset, argv[ref.index], sandbox) < 0)
        return cpd_fail(err, "args", ENOMEM, NULL, "rewriting %s", argv[ref.index]);
    free(jf->argv[ref.index]);
    jf->argv[ref.index] = s;
    return 0;
}

static int plan_files(const struct cpd_config *cfg, char *const *argv, const struct cpd_args *a,
                      struct cpd_jobfiles *jf, struct cps_error *err)
{
    const char *obj = cpd_arg_path(argv, a->object), *in = cpd_arg_path(argv, a->input);
    const char *deps = cpd_arg_path(argv, a->deps);
    int r;

    if (!is_temp_file(cfg, obj, "distccd_", ".o"))
        return cpd_fail(err, "args", EINVAL, run_by_distccd,
                        "the output %s is not distccd's temp object %s/distccd_*.o", obj,
                        cfg->tmp_top);
    if ((r = check_own_file(obj, "the output", err)) < 0 || (r = set_pair(&jf->object, obj, err)))
        return r;
    if (jf->tree) {
        /* Only distccd's own deps file is collected (serve.c, dcc_cleanup_dotd). */
        if (deps && is_temp_file(cfg, deps, "distcc_", ".deps") &&
            (r = set_pair(&jf->deps, deps, err)) < 0)
            return r;
        return 0;
    }
    if (!in || !is_temp_file(cfg, in, "distccd_", ""))
        return cpd_fail(err, "args", EINVAL, run_by_distccd,
                        "no input in distccd's temp dir %s (input: %s)", cfg->tmp_top,
                        in ? in : "none");
    if ((r = check_own_file(in, "the input", err)) < 0 || (r = set_pair(&jf->input, in, err)) < 0)
        return r;
    if ((r = rewrite_arg(jf, argv, a->input, jf->input.sandbox, err)) < 0)
        return r;
    return rewrite_arg(jf, argv, a->object, jf->object.sandbox, err);
}

int cpd_jobfiles_plan(const struct cpd_config *cfg, int argc, char *const *argv,
                      struct cpd_jobfiles *jf, struct cps_error *err)
{
    struct cpd_args a;
    char cwd[4096];
    int r;

    memset(jf, 0, sizeof *jf);
    if (!getcwd(cwd, sizeof cwd))
        return cpd_fail(err, "args", errno, NULL, "getcwd");
    if ((r = cpd_args_scan(argc, argv, &a, err)) < 0)
        return r;
    jf->argv = calloc((size_t)argc + 1, sizeof *jf->argv);
    if (!jf->argv)
        return cpd_fail(err, "args", ENOMEM, NULL, "copying argv");
    jf->argc = argc;
    for (int i = 1; i < argc; i++)
        if (!(jf->argv[i] = strdup(argv[i])))
            return cpd_fail(err, "args", ENOMEM, NULL, "copying argv");
    if ((r = set_pair(&jf->cwd, cwd, err)) < 0)
        return r;
    jf->tree = pump_tree(cfg, cwd);
    if (jf->tree && under(jf->tree, "/tmp"))
        return cpd_fail(err, "tmpdir", EINVAL,
                        "start distccd with TMPDIR outside /tmp (e.g. /var/tmp/distccd) for "
                        "pump mode",
                        "pump mode: distccd's tree %s is under /tmp, which the sandbox replaces "
                        "with its own, and distccd needs the tree at the same path in the "
                        "object's debug info",
                        jf->tree);
    return plan_files(cfg, argv, &a, jf, err);
}

static void free_pair(struct cpd_path_pair *p)
{
    free(p->host);
    free(p->sandbox);
}

void cpd_jobfiles_free(struct cpd_jobfiles *jf)
{
    free_pair(&jf->cwd);
    free_pair(&jf->input);
    free_pair(&jf->object);
    free_pair(&jf->deps);
    free(jf->tree);
    if (jf->argv)
        for (int i = 0; i < jf->argc; i++)
            free(jf->argv[i]);
    free(jf->argv);
    memset(jf, 0, sizeof *jf);
}
