/* check.c - `--check`: run the probes, decide each backend x overlay mode, print the report. */
#include "check_main.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "hostcaps.h"
#include "probe.h"
#include "proto.h"

enum probe_id {
    P_KERNEL,
    P_USERNS,
    P_IDMAP,
    P_NAMESPACES,
    P_PROC,
    P_NETNS,
    P_OVERLAY,
    P_FUSE,
    P_BWRAP,
    P_CGROUP,
    P_COUNT,
};

/* Names as they appear in both outputs (JSON keys of "probes"). */
static const char *const probe_names[P_COUNT] = {
    [P_KERNEL] = "kernel",         [P_USERNS] = "userns", [P_IDMAP] = "idmap",
    [P_NAMESPACES] = "namespaces", [P_PROC] = "proc",     [P_NETNS] = "netns",
    [P_OVERLAY] = "overlay",       [P_FUSE] = "fuse",     [P_BWRAP] = "bwrap",
    [P_CGROUP] = "cgroup",
};

struct report {
    const char *tmpdir;
    uint32_t hello_backends; /* what hello would announce (cps__host_caps) */
    uint32_t hello_overlays;
    struct cps_kernel_version kernel;
    struct cps_userns_facts userns;
    struct cps_fuse_facts fuse;
    struct cps_bwrap bwrap;
    struct cps_cgroup_facts cgroup;
    struct cps_probe_result r[P_COUNT];
};

/* What each backend and each overlay mode needs, besides one another. */
static const enum probe_id userns_needs[] = {P_USERNS, P_IDMAP, P_NAMESPACES, P_PROC};
static const enum probe_id bubblewrap_needs[] = {P_USERNS, P_IDMAP, P_NAMESPACES, P_PROC, P_BWRAP};

static const enum cps_backend all_backends[] = {CPS_BACKEND_USERNS, CPS_BACKEND_BUBBLEWRAP};
static const enum cps_overlay all_overlays[] = {CPS_OVERLAY_NATIVE, CPS_OVERLAY_FUSE,
                                                CPS_OVERLAY_BIND};

struct combination {
    enum cps_backend backend;
    enum cps_overlay overlay;
    bool works;
    enum probe_id blocker; /* the first failed requirement when !works */
};

#define N_COMBINATIONS 6

static void decide(const struct report *rep, struct combination out[N_COMBINATIONS])
{
    size_t k = 0;

    for (size_t b = 0; b < 2; b++) {
        for (size_t o = 0; o < 3; o++) {
            const enum probe_id *needs = b == 0 ? userns_needs : bubblewrap_needs;
            size_t n = b == 0 ? sizeof(userns_needs) / sizeof(userns_needs[0])
                              : sizeof(bubblewrap_needs) / sizeof(bubblewrap_needs[0]);
            struct combination *c = &out[k++];

            c->backend = all_backends[b];
            c->overlay = all_overlays[o];
            c->works = true;
            for (size_t i = 0; i < n && c->works; i++) {
                if (rep->r[needs[i]].status != CPS_PROBE_OK) {
                    c->works = false;
                    c->blocker = needs[i];
                }
            }
            /* bind needs nothing beyond user + mount namespaces and bind
             * mounts, which the backend's own requirements cover. */
            if (c->works && all_overlays[o] == CPS_OVERLAY_NATIVE &&
                rep->r[P_OVERLAY].status != CPS_PROBE_OK) {
                c->works = false;
                c->blocker = P_OVERLAY;
            }
            if (c->works && all_overlays[o] == CPS_OVERLAY_FUSE &&
                rep->r[P_FUSE].status != CPS_PROBE_OK) {
                c->works = false;
                c->blocker = P_FUSE;
            }
        }
    }
}

/* A probe that cannot be tried because one it builds on failed. */
static void skip(struct report *rep, enum probe_id id, enum probe_id because)
{
    cps__probe_set(&rep->r[id], CPS_PROBE_SKIPPED, 0, NULL, "not tried: the %s probe failed",
                   probe_names[because]);
}

static int make_dir(const char *base, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", base, name);
    return mkdir(out, 0755) < 0 ? -errno : 0;
}

static void run_probes(struct report *rep, const char *base)
{
    char dir[PATH_MAX];
    int ret;

    ret = cps__kernel_version(&rep->kernel);
    if (ret < 0)
        cps__probe_set(&rep->r[P_KERNEL], CPS_PROBE_FAILED, -ret, NULL,
                       "cannot read the kernel version (uname): %s", strerror(-ret));
    else
        cps__probe_set(&rep->r[P_KERNEL], CPS_PROBE_OK, 0, NULL,
                       "Linux %s; overlayfs in a user namespace needs 5.11: %s",
                       rep->kernel.release,
                       cps__kernel_at_least(&rep->kernel, 5, 11) ? "yes" : "no");

    cps__probe_userns_facts(&rep->userns);
    cps__probe_userns(&rep->userns, &rep->r[P_USERNS]);
    if (rep->r[P_USERNS].status != CPS_PROBE_OK) {
        for (int id = P_IDMAP; id <= P_FUSE; id++)
            skip(rep, (enum probe_id)id, P_USERNS);
    } else {
        cps__probe_idmap(&rep->userns, &rep->r[P_IDMAP]);
        if (rep->r[P_IDMAP].status != CPS_PROBE_OK) {
            for (int id = P_NAMESPACES; id <= P_FUSE; id++)
                skip(rep, (enum probe_id)id, P_IDMAP);
        } else {
            cps__probe_namespaces(&rep->r[P_NAMESPACES]);
            ret = make_dir(base, "proc", dir, sizeof(dir));
            if (ret < 0)
                cps__probe_set(&rep->r[P_PROC], CPS_PROBE_FAILED, -ret, NULL, "mkdir %s: %s", dir,
                               strerror(-ret));
            else
                cps__probe_proc(dir, &rep->r[P_PROC]);
            cps__probe_netns(&rep->r[P_NETNS]);
            ret = make_dir(base, "overlay", dir, sizeof(dir));
            if (ret < 0)
                cps__probe_set(&rep->r[P_OVERLAY], CPS_PROBE_FAILED, -ret, NULL, "mkdir %s: %s",
                               dir, strerror(-ret));
            else
                cps__probe_overlay_native(dir, &rep->kernel, &rep->r[P_OVERLAY]);
            ret = make_dir(base, "fuse", dir, sizeof(dir));
            if (ret < 0)
                cps__probe_set(&rep->r[P_FUSE], CPS_PROBE_FAILED, -ret, NULL, "mkdir %s: %s", dir,
                               strerror(-ret));
            else
                cps__probe_fuse(dir, &rep->fuse, &rep->r[P_FUSE]);
        }
    }
    /* bwrap runs nested in a user namespace; without one it cannot work, but
     * finding it and its version still tells the operator something. */
    if (rep->r[P_IDMAP].status == CPS_PROBE_OK) {
        cps__probe_bwrap(&rep->bwrap, &rep->r[P_BWRAP]);
    } else {
        struct cps_error err = {0};

        if (cps__bwrap_probe(&rep->bwrap, &err) < 0) {
            cps__probe_set(&rep->r[P_BWRAP], CPS_PROBE_FAILED, err.errnum, err.hint, "%s",
                           err.message);
        } else {
            skip(rep, P_BWRAP, rep->r[P_USERNS].status != CPS_PROBE_OK ? P_USERNS : P_IDMAP);
            cps__probe_append(&rep->r[P_BWRAP], " (found bubblewrap %u.%u.%u at %s)",
                              rep->bwrap.version.major, rep->bwrap.version.minor,
                              rep->bwrap.version.micro, rep->bwrap.path);
        }
    }
    cps__probe_cgroup(&rep->cgroup, &rep->r[P_CGROUP]);
}

/* ---- output ------------------------------------------------------------- */

static const char *status_name(int status)
{
    switch (status) {
    case CPS_PROBE_OK:
        return "ok";
    case CPS_PROBE_SKIPPED:
        return "skipped";
    default:
        return "failed";
    }
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch == '\t')
            fputs("\\t", f);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_kv_string(FILE *f, const char *key, const char *value, bool comma)
{
    fprintf(f, "\"%s\": ", key);
    if (value)
        json_string(f, value);
    else
        fputs("null", f);
    if (comma)
        fputs(", ", f);
}

static void json_optional_long(FILE *f, const char *key, bool has, long value)
{
    if (has)
        fprintf(f, ", \"%s\": %ld", key, value);
    else
        fprintf(f, ", \"%s\": null", key);
}

/* Probe-specific facts, appended inside the probe's object. */
static void json_facts(FILE *f, const struct report *rep, enum probe_id id)
{
    char version[48];

    switch (id) {
    case P_KERNEL:
        fputs(", \"release\": ", f);
        json_string(f, rep->kernel.release);
        fprintf(f, ", \"major\": %u, \"minor\": %u, \"patch\": %u", rep->kernel.major,
                rep->kernel.minor, rep->kernel.patch);
        break;
    case P_USERNS:
        fprintf(f, ", \"running_as_root\": %s, \"in_user_namespace\": %s",
                rep->userns.root ? "true" : "false",
                rep->userns.in_user_namespace ? "true" : "false");
        json_optional_long(f, "max_user_namespaces", rep->userns.has_max_user_namespaces,
                           rep->userns.max_user_namespaces);
        json_optional_long(f, "unprivileged_userns_clone", rep->userns.has_unprivileged_clone,
                           rep->userns.unprivileged_clone);
        json_optional_long(f, "apparmor_restrict_unprivileged_userns",
                           rep->userns.has_apparmor_restrict, rep->userns.apparmor_restrict);
        break;
    case P_NETNS:
        if (rep->r[id].status == CPS_PROBE_OK)
            fprintf(f, ", \"usec\": %lld", (long long)rep->r[id].value);
        else
            fputs(", \"usec\": null", f);
        break;
    case P_FUSE:
        fputs(", ", f);
        json_kv_string(f, "binary", rep->fuse.found ? rep->fuse.path : NULL, true);
        fprintf(f, "\"dev_fuse_exists\": %s, \"dev_fuse_usable\": %s",
                rep->fuse.dev_exists ? "true" : "false", rep->fuse.dev_usable ? "true" : "false");
        if (rep->fuse.dev_exists)
            fprintf(f, ", \"dev_fuse_mode\": \"%04o\", \"dev_fuse_uid\": %u", rep->fuse.dev_mode,
                    rep->fuse.dev_uid);
        break;
    case P_BWRAP:
        fputs(", ", f);
        json_kv_string(f, "path", rep->bwrap.path[0] ? rep->bwrap.path : NULL, true);
        if (rep->bwrap.version.major || rep->bwrap.version.minor || rep->bwrap.version.micro) {
            snprintf(version, sizeof(version), "%u.%u.%u", rep->bwrap.version.major,
                     rep->bwrap.version.minor, rep->bwrap.version.micro);
            json_kv_string(f, "version", version, false);
        } else {
            json_kv_string(f, "version", NULL, false);
        }
        break;
    case P_CGROUP:
        fputs(", ", f);
        json_kv_string(f, "layout", rep->cgroup.layout, true);
        json_kv_string(f, "path", rep->cgroup.dir[0] ? rep->cgroup.dir : NULL, true);
        json_kv_string(f, "controllers", rep->cgroup.controllers, true);
        fprintf(f, "\"writable\": %s", rep->cgroup.writable ? "true" : "false");
        break;
    default:
        break;
    }
}

/* The names of the backends (overlays false) or overlay modes (true) whose
 * bits are set in caps, as a JSON array or a comma list. */
static void print_caps(FILE *f, uint32_t caps, bool overlays, bool json)
{
    size_t n = overlays ? sizeof(all_overlays) / sizeof(all_overlays[0])
                        : sizeof(all_backends) / sizeof(all_backends[0]);
    bool first = true;

    fputs(json ? "[" : "", f);
    for (size_t i = 0; i < n; i++) {
        uint32_t bit = overlays ? (uint32_t)all_overlays[i] : (uint32_t)all_backends[i];

        if (!(caps & bit))
            continue;
        fprintf(f, json ? "%s\"%s\"" : "%s%s", first ? "" : ", ",
                overlays ? cps__overlay_name(all_overlays[i]) : cps__backend_name(all_backends[i]));
        first = false;
    }
    fputs(json ? "]" : "", f);
}

static void print_json(FILE *f, const struct report *rep, const struct combination *c, bool usable)
{
    fprintf(f, "{\n  \"check_version\": %d,\n  \"helper_version\": ", CPS_CHECK_JSON_VERSION);
    json_string(f, CPS_VERSION);
    fprintf(f, ",\n  \"uid\": %u,\n  \"gid\": %u,\n  \"tmpdir\": ", (unsigned)geteuid(),
            (unsigned)getegid());
    json_string(f, rep->tmpdir);
    fputs(",\n  \"probes\": {\n", f);
    for (int id = 0; id < P_COUNT; id++) {
        const struct cps_probe_result *r = &rep->r[id];

        fprintf(f, "    \"%s\": {\"status\": \"%s\", \"errno\": %d, ", probe_names[id],
                status_name(r->status), r->errnum);
        json_kv_string(f, "detail", r->detail, true);
        json_kv_string(f, "hint", r->hint, false);
        json_facts(f, rep, (enum probe_id)id);
        fprintf(f, "}%s\n", id + 1 < P_COUNT ? "," : "");
    }
    fputs("  },\n  \"combinations\": [\n", f);
    for (int i = 0; i < N_COMBINATIONS; i++) {
        const struct cps_probe_result *b = c[i].works ? NULL : &rep->r[c[i].blocker];

        fprintf(f, "    {\"backend\": \"%s\", \"overlay\": \"%s\", \"works\": %s, ",
                cps__backend_name(c[i].backend), cps__overlay_name(c[i].overlay),
                c[i].works ? "true" : "false");
        json_kv_string(f, "blocked_by", b ? probe_names[c[i].blocker] : NULL, true);
        json_kv_string(f, "reason", b ? b->detail : "", true);
        json_kv_string(f, "hint", b ? b->hint : "", false);
        fprintf(f, "}%s\n", i + 1 < N_COMBINATIONS ? "," : "");
    }
    fputs("  ],\n  \"hello\": {\"backends\": ", f);
    print_caps(f, rep->hello_backends, false, true);
    fputs(", \"overlay_modes\": ", f);
    print_caps(f, rep->hello_overlays, true, true);
    fprintf(f, "},\n  \"usable\": %s\n}\n", usable ? "true" : "false");
}

static void print_human(FILE *f, const struct report *rep, const struct combination *c, bool usable)
{
    int works = 0;

    fprintf(f, "cachepot-dist-sandbox %s host check (uid %u, gid %u, temporary files in %s)\n\n",
            CPS_VERSION, (unsigned)geteuid(), (unsigned)getegid(), rep->tmpdir);
    fprintf(f, "Probes\n");
    for (int id = 0; id < P_COUNT; id++) {
        const struct cps_probe_result *r = &rep->r[id];

        fprintf(f, "  %-11s %-8s %s\n", probe_names[id], status_name(r->status), r->detail);
        if (r->hint[0])
            fprintf(f, "  %-11s %-8s fix: %s\n", "", "", r->hint);
    }
    fprintf(f, "\nBackend x overlay mode\n");
    for (int i = 0; i < N_COMBINATIONS; i++) {
        const struct cps_probe_result *b = &rep->r[c[i].blocker];

        if (c[i].works) {
            works++;
            fprintf(f, "  %-11s %-8s works\n", cps__backend_name(c[i].backend),
                    cps__overlay_name(c[i].overlay));
            continue;
        }
        /* One blocker usually stops several combinations: say it once. */
        if (i > 0 && !c[i - 1].works && c[i - 1].blocker == c[i].blocker) {
            fprintf(f, "  %-11s %-8s does not work: %s, as above\n",
                    cps__backend_name(c[i].backend), cps__overlay_name(c[i].overlay),
                    probe_names[c[i].blocker]);
            continue;
        }
        fprintf(f, "  %-11s %-8s does not work: %s: %s\n", cps__backend_name(c[i].backend),
                cps__overlay_name(c[i].overlay), probe_names[c[i].blocker], b->detail);
        if (b->hint[0])
            fprintf(f, "  %-11s %-8s fix: %s\n", "", "", b->hint);
    }
    fprintf(f, "\n%d of %d combinations work%s\n", works, N_COMBINATIONS,
            usable ? "" : ": this host cannot run jobs");
    fputs("hello announces backends: ", f);
    print_caps(f, rep->hello_backends, false, false);
    fputs("; overlay modes: ", f);
    print_caps(f, rep->hello_overlays, true, false);
    fputs(" (static checks; the probes above are what works)\n", f);
}

static void usage(FILE *f)
{
    fputs("usage: cachepot-dist-sandbox --check [--json] [--tmpdir DIR]\n"
          "\n"
          "Probe this host without running a job: kernel version, user namespaces and\n"
          "their sysctl knobs, uid/gid maps, the other namespaces, a fresh /proc, the\n"
          "time a network namespace takes, overlayfs and fuse-overlayfs mounted for real\n"
          "in a user namespace, bubblewrap (found, version, a real run), cgroup v2\n"
          "delegation. Then, for each backend (userns, bubblewrap) and overlay mode\n"
          "(native, fuse, bind): works or not, why, and what to change.\n"
          "\n"
          "  --json        print one JSON object instead of the table (docs/CHECK.md)\n"
          "  --tmpdir DIR  make the probes' temporary directories in DIR (default:\n"
          "                $TMPDIR, else /tmp); pass the worker's build directory to\n"
          "                test the filesystem jobs will use\n"
          "  --help        print this text\n"
          "\n"
          "Environment: CACHEPOT_BWRAP (the bwrap to check), PATH (bwrap and\n"
          "fuse-overlayfs are searched there), TMPDIR.\n"
          "\n"
          "Exit status: 0 when at least one combination works, 1 when none does,\n"
          "2 on a usage error. Nothing is left behind: every mount lives in a probe\n"
          "process's own mount namespace, every process is reaped, the temporary\n"
          "directory is removed.\n",
          f);
}

int cps__check_main(int argc, char **argv)
{
    struct report *rep;
    struct combination comb[N_COMBINATIONS];
    const char *tmpdir = NULL;
    bool json = false;
    bool usable = false;
    char *base;
    int i = 0;
    int ret;

    if (argc > 0 && strcmp(argv[0], "--check") == 0)
        i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--tmpdir") == 0 && i + 1 < argc) {
            tmpdir = argv[++i];
        } else if (strncmp(argv[i], "--tmpdir=", 9) == 0) {
            tmpdir = argv[i] + 9;
        } else {
            fprintf(stderr,
                    "cachepot-dist-sandbox --check: unknown or incomplete argument "
                    "\"%s\"\n\n",
                    argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!tmpdir || !*tmpdir)
        tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";

    if (asprintf(&base, "%s/cachepot-check-XXXXXX", tmpdir) < 0) {
        fprintf(stderr, "cachepot-dist-sandbox --check: out of memory\n");
        return 1;
    }
    if (!mkdtemp(base)) {
        fprintf(stderr, "cachepot-dist-sandbox --check: cannot create a directory in %s: %s\n",
                tmpdir, strerror(errno));
        free(base);
        return 1;
    }
    rep = calloc(1, sizeof(*rep));
    if (!rep) {
        rmdir(base);
        free(base);
        fprintf(stderr, "cachepot-dist-sandbox --check: out of memory\n");
        return 1;
    }
    rep->tmpdir = tmpdir;
    cps__host_caps(&rep->hello_backends, &rep->hello_overlays);
    run_probes(rep, base);
    ret = cps__probe_remove_tree(base);
    if (ret < 0)
        fprintf(stderr, "cachepot-dist-sandbox --check: could not remove %s: %s\n", base,
                strerror(-ret));

    decide(rep, comb);
    for (int k = 0; k < N_COMBINATIONS; k++)
        usable = usable || comb[k].works;
    if (json)
        print_json(stdout, rep, comb, usable);
    else
        print_human(stdout, rep, comb, usable);
    fflush(stdout);
    free(rep);
    free(base);
    return usable ? 0 : 1;
}
