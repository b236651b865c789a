/* toolchain.c - operator roots and the first-use toolchain cache. */
#include "toolchain.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler.h"
#include "error.h"
#include "package.h"
#include "rmtree.h"

/* Format a path into buf; -ENAMETOOLONG when it does not fit. */
__attribute__((format(printf, 3, 4))) static int path_fmt(char *buf, size_t size, const char *fmt,
                                                          ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static const char *const cache_hint =
    "create the cache dir for distccd's user (install -d -o USER -m 755 "
    "/var/cache/cachepot-distcc) or set CACHEPOT_DISTCC_CACHE";

/* The compiler's path inside root: the first search dir where root has it. */
static int find_in_root(const struct cpd_config *cfg, const char *name, struct cpd_toolchain *tc)
{
    const char *p = cfg->search_path;
    struct stat st;
    char full[PATH_MAX];

    while (*p) {
        size_t len = strcspn(p, ":");

        if (len > 0 && p[0] == '/') {
            if (path_fmt(tc->exe, sizeof tc->exe, "%.*s/%s", (int)len, p, name) == 0 &&
                path_fmt(full, sizeof full, "%s%s", tc->root, tc->exe) == 0 &&
                lstat(full, &st) == 0)
                return 0;
        }
        p += len;
        if (*p == ':')
            p++;
    }
    return -ENOENT;
}

static int operator_root(const struct cpd_config *cfg, const char *name, struct cpd_toolchain *tc,
                         struct cps_error *err)
{
    char link[PATH_MAX];
    struct stat st;

    if (path_fmt(link, sizeof link, "%s/%s", cfg->roots_dir, name) < 0)
        return cpd_fail(err, "toolchain", ENAMETOOLONG, "shorten CACHEPOT_DISTCC_TOOLCHAINS",
                        "%s/%s", cfg->roots_dir, name);
    if (stat(link, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return cpd_fail(err, "toolchain", errno, "make it a toolchain root or remove it",
                        "operator toolchain %s", link);
    }
    if (!S_ISDIR(st.st_mode) || !realpath(link, tc->root))
        return cpd_fail(err, "toolchain", ENOTDIR, "make it a toolchain root or remove it",
                        "operator toolchain %s is not a directory", link);
    if (find_in_root(cfg, name, tc) < 0)
        return cpd_fail(err, "toolchain", ENOENT,
                        "package the compiler with cachepot-dist-toolchain into that root",
                        "operator toolchain %s has no %s in %s", tc->root, name, cfg->search_path);
    snprintf(tc->how, sizeof tc->how, "operator");
    return 1;
}

/* mkdir that accepts an existing directory of ours (not a link). */
static int own_dir(const char *path, mode_t mode, struct cps_error *err)
{
    struct stat st;

    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return cpd_fail(err, "cache", errno, cache_hint, "creating %s", path);
    if (lstat(path, &st) < 0)
        return cpd_fail(err, "cache", errno, cache_hint, "%s", path);
    if (!S_ISDIR(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022))
        return cpd_fail(err, "cache", EPERM, cache_hint,
                        "%s is not a directory owned by uid %u (or root) and writable only by "
                        "its owner",
                        path, (unsigned)geteuid());
    return 0;
}

static int cache_dir(const struct cpd_config *cfg, char *dir, size_t size, struct cps_error *err)
{
    int r;

    if (cfg->cache_dir)
        r = path_fmt(dir, size, "%s", cfg->cache_dir);
    else if (access("/var/cache/cachepot-distcc", W_OK | X_OK) == 0)
        r = path_fmt(dir, size, "/var/cache/cachepot-distcc");
    else
        r = path_fmt(dir, size, "%s/cachepot-distcc-%u", cfg->tmp_top, (unsigned)geteuid());
    if (r < 0)
        return cpd_fail(err, "cache", ENAMETOOLONG, cache_hint, "the cache dir's path");
    return own_dir(dir, 0755, err);
}

/* FNV-1a, 64 bits: names the cache entry of one compiler file, not a secret. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int compiler_key(const struct cpd_compiler *cc, char *key, size_t size,
                        struct cps_error *err)
{
    char real[PATH_MAX];
    struct stat st;
    uint64_t h = 0xcbf29ce484222325ULL;
    uint64_t facts[7];

    if (!realpath(cc->path, real) || stat(real, &st) < 0)
        return cpd_fail(err, "compiler", errno, NULL, "resolving %s", cc->path);
    facts[0] = st.st_dev;
    facts[1] = st.st_ino;
    facts[2] = (uint64_t)st.st_size;
    facts[3] = (uint64_t)st.st_mtim.tv_sec;
    facts[4] = (uint64_t)st.st_mtim.tv_nsec;
    facts[5] = (uint64_t)st.st_ctim.tv_sec;
    facts[6] = (uint64_t)st.st_ctim.tv_nsec;
    h = fnv1a(h, cc->path, strlen(cc->path) + 1);
    h = fnv1a(h, real, strlen(real) + 1);
    h = fnv1a(h, facts, sizeof facts);
    snprintf(key, size, "%s-%016llx", cc->name, (unsigned long long)h);
    return 0;
}

/* The root the compilers/<key> link names, if it is there. */
static int lookup(const char *cache, const char *key, struct cpd_toolchain *tc)
{
    char link[PATH_MAX], target[512];
    ssize_t n;
    struct stat st;

    if (path_fmt(link, sizeof link, "%s/compilers/%s", cache, key) < 0)
        return 0;
    n = readlink(link, target, sizeof target - 1);
    if (n < 0)
        return 0;
    target[n] = '\0';
    if (strncmp(target, "../roots/", 9) != 0 || strchr(target + 9, '/'))
        return 0;
    return path_fmt(tc->root, sizeof tc->root, "%s/roots/%s", cache, target + 9) == 0 &&
           stat(tc->root, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Build the root (we hold the key's lock) and publish it. */
static int build(const struct cpd_config *cfg, const char *cache, const char *key,
                 const struct cpd_compiler *cc, struct cpd_toolchain *tc, struct cps_error *err)
{
    char tmp[PATH_MAX], out[PATH_MAX], log[PATH_MAX], link[PATH_MAX], newlink[PATH_MAX];
    char target[128], id[65];
    int r;

    if (path_fmt(tmp, sizeof tmp, "%s/tmp", cache) < 0 ||
        path_fmt(out, sizeof out, "%s/%s.%ld", tmp, key, (long)getpid()) < 0 ||
        path_fmt(log, sizeof log, "%s/%s.%ld.log", tmp, key, (long)getpid()) < 0 ||
        path_fmt(link, sizeof link, "%s/compilers/%s", cache, key) < 0 ||
        path_fmt(newlink, sizeof newlink, "%s.%ld.new", link, (long)getpid()) < 0)
        return cpd_fail(err, "cache", ENAMETOOLONG, cache_hint, "paths under %s", cache);
    /* A packager killed half-way left its dir; with the lock held none is live. */
    cpd_rmtree(out);
    r = cpd_package(cfg->packager, cc->path, out, tmp, log, id, err);
    unlink(log);
    if (r < 0) {
        cpd_rmtree(out);
        return r;
    }
    if (path_fmt(tc->root, sizeof tc->root, "%s/roots/%s", cache, id) < 0) {
        cpd_rmtree(out);
        return cpd_fail(err, "cache", ENAMETOOLONG, cache_hint, "paths under %s", cache);
    }
    if (rename(out, tc->root) < 0) {
        int e = errno;

        cpd_rmtree(out);
        /* Another compiler name gave the same files: the root is already there. */
        if (e != EEXIST && e != ENOTEMPTY)
            return cpd_fail(err, "cache", e, cache_hint, "renaming %s to %s", out, tc->root);
    }
    snprintf(target, sizeof target, "../roots/%s", id);
    unlink(newlink);
    if (symlink(target, newlink) < 0 || rename(newlink, link) < 0) {
        r = cpd_fail(err, "cache", errno, cache_hint, "publishing %s", link);
        unlink(newlink);
        return r;
    }
    return 0;
}

static int cached_root(const struct cpd_config *cfg, const struct cpd_compiler *cc,
                       struct cpd_toolchain *tc, struct cps_error *err)
{
    char cache[PATH_MAX], key[300], sub[PATH_MAX], lockpath[PATH_MAX];
    static const char *const subdirs[] = {"roots", "compilers", "locks", "tmp"};
    int r, fd;

    if ((r = cache_dir(cfg, cache, sizeof cache, err)) < 0 ||
        (r = compiler_key(cc, key, sizeof key, err)) < 0)
        return r;
    snprintf(tc->how, sizeof tc->how, "cache");
    if (lookup(cache, key, tc))
        return 0;
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        if (path_fmt(sub, sizeof sub, "%s/%s", cache, subdirs[i]) < 0)
            return cpd_fail(err, "cache", ENAMETOOLONG, cache_hint, "paths under %s", cache);
        if ((r = own_dir(sub, 0755, err)) < 0)
            return r;
    }
    if (path_fmt(lockpath, sizeof lockpath, "%s/locks/%s.lock", cache, key) < 0)
        return cpd_fail(err, "cache", ENAMETOOLONG, cache_hint, "paths under %s", cache);
    fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return cpd_fail(err, "cache", errno, cache_hint, "opening %s", lockpath);
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            r = cpd_fail(err, "cache", errno, cache_hint, "locking %s", lockpath);
            close(fd);
            return r;
        }
    r = 0;
    if (!lookup(cache, key, tc)) {
        r = build(cfg, cache, key, cc, tc, err);
        snprintf(tc->how, sizeof tc->how, "packaged");
    }
    close(fd); /* releases the lock */
    return r;
}

int cpd_toolchain_resolve(const struct cpd_config *cfg, const char *argv0, struct cpd_toolchain *tc,
                          struct cps_error *err)
{
    struct cpd_compiler cc;
    const char *base = strrchr(argv0, '/');
    int r;

    base = base ? base + 1 : argv0;
    if (!cpd_compiler_name_ok(base))
        return cpd_fail(err, "compiler", EINVAL, "link the shim under the compiler's name",
                        "compiler name \"%s\" (from %s) is not a plain name", base, argv0);
    if ((r = operator_root(cfg, base, tc, err)) != 0)
        return r < 0 ? r : 0;
    if ((r = cpd_compiler_find(cfg, argv0, &cc, err)) < 0 ||
        (r = cached_root(cfg, &cc, tc, err)) < 0)
        return r;
    /* The packager keeps every file at its host path (docs/TOOLCHAIN.md). */
    snprintf(tc->exe, sizeof tc->exe, "%s", cc.path);
    return 0;
}
