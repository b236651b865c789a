/*
 * overlay_bind.c - the mode that needs neither overlayfs nor FUSE.
 *
 * The toolchain dir itself cannot be the root: the mount points the job needs
 * (its cwd, its output dirs, /proc, /dev, /tmp) usually do not exist in it,
 * and nothing may be created in a read-only toolchain. So BUILD/target gets:
 *
 *   a small tmpfs as "/", holding
 *     each top-level entry of the toolchain: directories and regular files
 *       bind-mounted read-only (nosuid, nodev), symlinks copied as symlinks;
 *     empty /proc, /dev and /tmp mount points when the toolchain has none;
 *     the job's writable dirs (its cwd and every output's parent dir, the
 *       ones below another one left out, and an output's dir that is "/" or
 *       inside a toolchain entry too: that output will be "missing"), each a
 *       bind mount of a fresh directory BUILD/upper/N;
 *   then "/" remounted read-only.
 *
 * BUILD/upper lies on the scratch tmpfs (scratch_dirs.h), so all writable dirs
 * share the one bound of limits.scratch_bytes (size and inodes), as the
 * upper layer of native and fuse does. A tmpfs per dir would give a job with
 * N output dirs N times the bound (issue 12: 20 output dirs, 5.6 GiB).
 *
 * The job sees the toolchain read-only, and may write only in its cwd, its
 * output dirs and /tmp. That gives two rules, checked before anything is
 * created: the cwd must sit below a top-level name the toolchain does
 * not have (a directory inside a read-only toolchain dir cannot be created,
 * and mounting over an existing one would hide its contents), and every input
 * must be inside a writable dir (O writes it there before the job starts).
 */
#include "overlay.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "log.h"
#include "tmpfs.h"

/* The root tmpfs holds mount points and symlinks only. */
#define ROOT_TMPFS_BYTES 1048576u

#define HINT_MODE "or use overlay mode native or fuse"

/* A sandbox directory as a prefix of a job path: p[0..len); len 0 is "/". */
struct span {
    const char *p;
    size_t len;
};

/* Is a equal to or below dir? */
static bool under(struct span a, struct span dir)
{
    if (dir.len == 0)
        return true;
    return a.len >= dir.len && memcmp(a.p, dir.p, dir.len) == 0 &&
           (a.len == dir.len || a.p[dir.len] == '/');
}

static struct span parent_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    return (struct span){path, slash ? (size_t)(slash - path) : 0};
}

/* The first component of a non-root span, into name (NAME_MAX + 1 bytes). */
static void first_component(struct span s, char *name)
{
    const char *start = s.p + 1;
    const char *end = memchr(start, '/', s.len - 1);
    size_t len = end ? (size_t)(end - start) : s.len - 1;

    if (len > NAME_MAX)
        len = NAME_MAX;
    memcpy(name, start, len);
    name[len] = '\0';
}

/* Is s "/" or below a top-level name the toolchain (tc_fd) has, i.e. a
 * directory this mode cannot make writable? */
static bool read_only_here(int tc_fd, struct span s)
{
    char name[NAME_MAX + 1];
    struct stat st;

    if (s.len == 0)
        return true;
    first_component(s, name);
    return fstatat(tc_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * The writable dirs of job: its cwd and the parent of each output, without
 * those equal to or below another. Fills out (room for 1 + job->outputc) and
 * returns how many. An output whose dir cannot be writable here ("/", or
 * inside a toolchain entry) is left out: it is only a request, so the job
 * runs and that output is "missing" (docs/PROTOCOL.md, outputs); the cwd
 * stays and check_dirs refuses it.
 */
static size_t writable_dirs(const struct cps_job *job, int tc_fd, struct span *out)
{
    size_t n = 0, kept = 0;

    out[n++] = (struct span){job->cwd, strcmp(job->cwd, "/") == 0 ? 0 : strlen(job->cwd)};
    for (size_t i = 0; i < job->outputc; i++) {
        struct span p = parent_of(job->outputs[i]);

        if (read_only_here(tc_fd, p))
            cps__log_debug("bind overlay mode: output %s is in the read-only toolchain or in /: "
                           "it will be missing",
                           job->outputs[i]);
        else
            out[n++] = p;
    }
    for (size_t i = 0; i < n; i++) {
        bool covered = false;

        for (size_t j = 0; j < n && !covered; j++)
            if (j != i && under(out[i], out[j]) && (out[i].len != out[j].len || j < i))
                covered = true;
        if (!covered)
            out[kept++] = out[i];
    }
    return kept;
}

static int check_dirs(const struct cps_overlay_state *o, int tc_fd, const struct span *w, size_t n,
                      struct cps_error *err)
{
    char name[NAME_MAX + 1];
    struct stat st;

    for (size_t i = 0; i < n; i++) {
        if (w[i].len == 0)
            return cps__error_set(err, CPS_STAGE_OVERLAY, EINVAL,
                                  "use a cwd below a top-level directory (e.g. /work), " HINT_MODE,
                                  "bind overlay mode cannot make / writable (the cwd is %s)",
                                  o->job->cwd);
        if (strlen(o->paths.target) + w[i].len >= PATH_MAX)
            return cps__error_set(err, CPS_STAGE_OVERLAY, ENAMETOOLONG, NULL,
                                  "bind overlay mode: %s plus %.*s is too long", o->paths.target,
                                  (int)w[i].len, w[i].p);
        first_component(w[i], name);
        if (fstatat(tc_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            return cps__error_set(err, CPS_STAGE_OVERLAY, EROFS,
                                  "use a cwd under a top-level directory the toolchain does "
                                  "not have (e.g. /work), " HINT_MODE,
                                  "bind overlay mode: the cwd %.*s is inside /%s, which the "
                                  "toolchain has and which is read-only in this mode",
                                  (int)w[i].len, w[i].p, name);
    }
    return 0;
}

static int check_inputs(const struct cps_overlay_state *o, const struct span *w, size_t n,
                        struct cps_error *err)
{
    const struct cps_job *job = o->job;

    for (size_t i = 0; i < job->inputc; i++) {
        struct span in = {job->inputs[i].path, strlen(job->inputs[i].path)};
        bool ok = false;

        for (size_t j = 0; j < n && !ok; j++)
            ok = in.len > w[j].len && under(in, w[j]);
        if (!ok)
            return cps__error_set(err, CPS_STAGE_OVERLAY, EROFS,
                                  "put inputs under the job's cwd or an output dir, " HINT_MODE,
                                  "bind overlay mode: input %s is outside the writable dirs (the "
                                  "cwd %s and the output dirs); the rest of the root is the "
                                  "read-only toolchain",
                                  job->inputs[i].path, job->cwd);
    }
    return 0;
}

/*
 * What both the check and the mount start from: the toolchain dir (*tc_fd,
 * O_PATH, new) and the job's writable dirs (*w, new, *n of them). Returns 0
 * or -errno with err; on error nothing is left open.
 */
static int open_toolchain_and_dirs(const struct cps_overlay_state *o, int *tc_fd, struct span **w,
                                   size_t *n, struct cps_error *err)
{
    cps_cleanup_close int fd = -1;

    if (o->job == NULL)
        return cps__error_set(err, CPS_STAGE_OVERLAY, EINVAL, NULL,
                              "bind overlay mode needs the job");
    fd = open(o->paths.toolchain, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno,
                              "the worker must unpack the toolchain first", "toolchain dir %s: %s",
                              o->paths.toolchain, strerror(errno));
    *w = calloc(1 + o->job->outputc, sizeof(**w));
    if (*w == NULL)
        return cps__error_set(err, CPS_STAGE_OVERLAY, ENOMEM, NULL,
                              "bind overlay mode: writable dirs");
    *n = writable_dirs(o->job, fd, *w);
    *tc_fd = cps_steal_fd(&fd);
    return 0;
}

int cps__overlay_bind_check(const struct cps_overlay_state *o, struct cps_error *err)
{
    cps_cleanup_free struct span *w = NULL;
    cps_cleanup_close int tc_fd = -1;
    size_t n;
    int rc;

    rc = open_toolchain_and_dirs(o, &tc_fd, &w, &n, err);
    if (rc == 0)
        rc = check_dirs(o, tc_fd, w, n, err);
    if (rc == 0)
        rc = check_inputs(o, w, n, err);
    return rc;
}

/* Keep what a user namespace may not clear on a mount it did not create
 * (mount_namespaces(7), "locked" flags): noexec and the atime flags. */
static unsigned long locked_flags(const char *path)
{
    unsigned long keep = 0;
    struct statvfs s;

    if (statvfs(path, &s) < 0)
        return 0;
    if (s.f_flag & ST_NOEXEC)
        keep |= MS_NOEXEC;
    if (s.f_flag & ST_NOATIME)
        keep |= MS_NOATIME;
    if (s.f_flag & ST_NODIRATIME)
        keep |= MS_NODIRATIME;
    if (s.f_flag & ST_RELATIME)
        keep |= MS_RELATIME;
    return keep;
}

/* Bind toolchain entry name (in tc_fd) read-only onto the existing dst. */
static int bind_ro(int tc_fd, const char *name, const char *dst, struct cps_error *err)
{
    char src[32];
    int fd, rc = 0;

    /* Through an O_PATH fd opened without following links: what is bound is
     * the entry that was inspected, never where a swapped-in link points. */
    fd = openat(tc_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "open toolchain entry %s", name);
    snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
    if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
        rc = cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL,
                            "bind mount of toolchain entry /%s", name);
    else if (mount(NULL, dst, NULL,
                   MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | locked_flags(dst),
                   NULL) < 0)
        rc = cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL,
                            "remounting toolchain entry /%s read-only", name);
    close(fd);
    return rc;
}

static int add_entry(int tc_fd, int root_fd, const char *target, const char *name,
                     struct cps_error *err)
{
    char dst[PATH_MAX], link[PATH_MAX];
    struct stat st;
    ssize_t n;
    int fd;

    if (fstatat(tc_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "stat toolchain entry %s", name);
    if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", target, name) >= sizeof(dst))
        return cps__error_set(err, CPS_STAGE_OVERLAY, ENAMETOOLONG, NULL, "%s/%s", target, name);
    if (S_ISLNK(st.st_mode)) {
        n = readlinkat(tc_fd, name, link, sizeof(link) - 1);
        if (n < 0)
            return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL,
                                  "readlink toolchain entry %s", name);
        link[n] = '\0';
        if (symlinkat(link, root_fd, name) < 0)
            return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "symlink /%s", name);
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        if (mkdirat(root_fd, name, 0755) < 0)
            return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "mkdir mount point /%s",
                                  name);
        return bind_ro(tc_fd, name, dst, err);
    }
    if (S_ISREG(st.st_mode)) {
        fd = openat(root_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
            return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "create mount point /%s",
                                  name);
        close(fd);
        return bind_ro(tc_fd, name, dst, err);
    }
    /* Device nodes, fifos, sockets: nothing a compiler needs at the top level. */
    cps__log_debug("bind overlay mode: skipping toolchain entry /%s (mode 0%o)", name,
                   (unsigned)st.st_mode);
    return 0;
}

static int add_toolchain(int root_fd, const char *toolchain, const char *target,
                         struct cps_error *err)
{
    cps_cleanup_close int tc_fd = open(toolchain, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent *e;
    int rc = 0;
    DIR *d;

    if (tc_fd < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "open toolchain dir %s",
                              toolchain);
    d = fdopendir(dup(tc_fd));
    if (d == NULL)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "read toolchain dir %s",
                              toolchain);
    while (rc == 0 && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = add_entry(tc_fd, root_fd, target, e->d_name, err);
    closedir(d);
    return rc;
}

/* mkdir -p target + w (all of it new: its first component is not in the
 * toolchain), then bind the fresh scratch dir upper/n onto it. */
static int add_writable(const char *target, const char *upper, size_t n, struct span w,
                        struct cps_error *err)
{
    char path[PATH_MAX], src[PATH_MAX], c;
    size_t base = strlen(target);

    snprintf(path, sizeof(path), "%s%.*s", target, (int)w.len, w.p);
    for (char *p = path + base + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        c = *p;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL,
                                  "bind overlay mode: mkdir %s", path + base);
        *p = c;
        if (c == '\0')
            break;
    }
    if ((size_t)snprintf(src, sizeof(src), "%s/%zu", upper, n) >= sizeof(src))
        return cps__error_set(err, CPS_STAGE_OVERLAY, ENAMETOOLONG, NULL, "%s/%zu", upper, n);
    if (mkdir(src, 0755) < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "bind overlay mode: mkdir %s",
                              src);
    if (mount(src, path, NULL, MS_BIND, NULL) < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL,
                              "bind overlay mode: bind mount of %s on %.*s", src, (int)w.len, w.p);
    /* With CACHEPOT_SCRATCH=disk the source is the build dir's filesystem:
     * no set-uid or device files from there either. */
    if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | locked_flags(path),
              NULL) < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL,
                              "bind overlay mode: remounting %.*s nosuid,nodev", (int)w.len, w.p);
    return 0;
}

static int build(struct cps_overlay_state *o, struct span *w, size_t n, struct cps_error *err)
{
    static const char *const points[] = {"proc", "dev", "tmp"};
    const char *target = o->paths.target;
    char opts[96];
    int root_fd, rc;

    cps__tmpfs_options(opts, sizeof(opts), "0755", ROOT_TMPFS_BYTES);
    if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL,
                              "bind overlay mode: mount tmpfs (%s) on %s", opts, target);
    root_fd = open(target, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root_fd < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "open %s", target);
    rc = add_toolchain(root_fd, o->paths.toolchain, target, err);
    /* I (or bwrap) mounts /proc, /dev and /tmp later; their mount points
     * must exist before "/" becomes read-only. */
    for (size_t i = 0; rc == 0 && i < sizeof(points) / sizeof(points[0]); i++)
        if (mkdirat(root_fd, points[i], 0755) < 0 && errno != EEXIST)
            rc = cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "mkdir mount point /%s",
                                points[i]);
    close(root_fd);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = add_writable(target, o->paths.upper, i, w[i], err);
    if (rc == 0 && mount(NULL, target, NULL,
                         MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        rc = cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL,
                            "remounting the root tmpfs read-only");
    return rc;
}

int cps__overlay_bind_mount(struct cps_overlay_state *o, struct cps_error *err)
{
    cps_cleanup_free struct span *w = NULL;
    int tc_fd, rc;
    size_t n;

    rc = open_toolchain_and_dirs(o, &tc_fd, &w, &n, err);
    if (rc < 0)
        return rc;
    close(tc_fd);
    rc = build(o, w, n, err);
    /* MNT_DETACH takes every mount below target with it. */
    if (rc < 0)
        umount2(o->paths.target, MNT_DETACH);
    return rc;
}

int cps__overlay_bind_unmount(struct cps_overlay_state *o, struct cps_error *err)
{
    if (umount2(o->paths.target, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return cps__error_set(err, CPS_STAGE_CLEANUP, errno, NULL, "umount %s", o->paths.target);
    return 0;
}
