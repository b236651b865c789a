/* tree.c - the pump-mode job tree as sandbox inputs. */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#define MAX_DEPTH 64

static int inside(const char *path, const char *tree)
{
    size_t n = strlen(tree);
    return strncmp(path, tree, n) == 0 && path[n] == '/';
}

static int add_link(struct cps_job_spec *job, const char *tree, const char *path,
                    struct cps_error *err)
{
    char real[PATH_MAX];
    struct stat st;

    if (!realpath(path, real) || !inside(real, tree) || stat(real, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    return cps_job_add_input(job, real, path, st.st_mode & 0777, err);
}

static int walk(struct cps_job_spec *job, const char *tree, const char *dir, int depth,
                struct cps_error *err)
{
    DIR *d;
    struct dirent *e;
    int r = 0;

    if (depth > MAX_DEPTH)
        return cpd_fail(err, "inputs", ELOOP, NULL, "pump tree %s is deeper than %d", tree,
                        MAX_DEPTH);
    if (!(d = opendir(dir)))
        return cpd_fail(err, "inputs", errno, NULL, "reading the pump tree at %s", dir);
    while (r == 0 && (e = readdir(d))) {
        char path[PATH_MAX];
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            r = cpd_fail(err, "inputs", ENAMETOOLONG, NULL, "%s/%s", dir, e->d_name);
            break;
        }
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            r = cpd_fail(err, "inputs", errno, NULL, "%s", path);
            break;
        }
        if (S_ISDIR(st.st_mode))
            r = walk(job, tree, path, depth + 1, err);
        else if (S_ISREG(st.st_mode))
            r = cps_job_add_input(job, path, path, st.st_mode & 0777, err);
        else if (S_ISLNK(st.st_mode))
            r = add_link(job, tree, path, err);
    }
    closedir(d);
    return r;
}

int cpd_tree_add_inputs(struct cps_job_spec *job, const char *tree, struct cps_error *err)
{
    return walk(job, tree, tree, 0, err);
}
