/* rmtree.c - iterative removal of a directory tree (rmtree.h). */
#include "rmtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One directory on the way down from the top. */
struct level {
    dev_t dev;
    ino_t ino;
    long pos; /* telldir() in the parent's listing just before this one's entry */
};

struct walk {
    struct level *stack;
    size_t depth, cap;
    dev_t fs;  /* the filesystem the walk stays on */
    int first; /* the first -errno met */
};

static void keep(struct walk *w, int rc)
{
    if (rc < 0 && w->first == 0)
        w->first = rc;
}

static bool is_dot(const char *name)
{
    return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* Open the directory name in at, whose lstat is st, for reading; made 0700
 * first when its owner lacks rwx. -ESTALE when it is no longer st. */
static int open_dir(int at, const char *name, const struct stat *st)
{
    struct stat now;
    int fd;

    if ((st->st_mode & 0700) != 0700)
        (void)fchmodat(at, name, 0700, AT_SYMLINK_NOFOLLOW);
    fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
        close(fd);
        return -ESTALE;
    }
    return fd;
}

static int push(struct walk *w, const struct stat *st, long pos)
{
    if (w->depth == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        struct level *s = realloc(w->stack, cap * sizeof(*s));

        if (s == NULL)
            return -ENOMEM;
        w->stack = s;
        w->cap = cap;
    }
    w->stack[w->depth++] = (struct level){st->st_dev, st->st_ino, pos};
    return 0;
}

/* Is the entry name of dir the directory (dev, ino)? */
static bool is_entry(int dir, const char *name, dev_t dev, ino_t ino)
{
    struct stat st;

    return !is_dot(name) && fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISDIR(st.st_mode) && st.st_dev == dev && st.st_ino == ino;
}

/*
 * Back in dir (listed by d) from its emptied child c: find c's entry where it
 * was (seekdir; filesystems keep positions across removals of other entries,
 * and where one does not, a scan from the start finds it) and remove it. The
 * listing then goes on after it. When c is gone, the listing starts over.
 */
static void remove_child(struct walk *w, DIR *d, int dir, const struct level *c)
{
    struct dirent *e;

    seekdir(d, c->pos);
    e = readdir(d);
    if (e == NULL || !is_entry(dir, e->d_name, c->dev, c->ino)) {
        rewinddir(d);
        while ((e = readdir(d)) != NULL && !is_entry(dir, e->d_name, c->dev, c->ino))
            ;
    }
    if (e == NULL) {
        rewinddir(d);
        return;
    }
    if (unlinkat(dir, e->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        keep(w, -errno);
}

/*
 * List the directory cur, removing files, links and empty directories. Returns
 * the fd of the first non-empty subdirectory (pushed on the stack; cur stays
 * open for the caller to close), 0 when cur has been listed to the end, or
 * -errno for a failure that stops the walk. back: the child just emptied, or
 * NULL.
 */
static int list_dir(struct walk *w, int cur, const struct level *back)
{
    struct dirent *e;
    struct stat st;
    int dfd, fd, rc = 0;
    DIR *d;

    dfd = fcntl(cur, F_DUPFD_CLOEXEC, 0);
    d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        rc = -errno;
        if (dfd >= 0)
            close(dfd);
        return rc;
    }
    if (back != NULL)
        remove_child(w, d, cur, back);
    for (;;) {
        long pos = telldir(d);

        errno = 0;
        e = readdir(d);
        if (e == NULL) {
            keep(w, -errno);
            break;
        }
        if (is_dot(e->d_name))
            continue;
        if (fstatat(cur, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno != ENOENT)
                keep(w, -errno);
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (unlinkat(cur, e->d_name, 0) < 0 && errno != ENOENT)
                keep(w, -errno);
            continue;
        }
        if (st.st_dev != w->fs) {
            keep(w, -EBUSY);
            continue;
        }
        /* An empty directory goes without being entered. */
        if (unlinkat(cur, e->d_name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            continue;
        if (errno != ENOTEMPTY && errno != EEXIST) {
            keep(w, -errno);
            continue;
        }
        fd = open_dir(cur, e->d_name, &st);
        if (fd == -ESTALE) {
            rc = fd;
            break;
        }
        if (fd < 0) {
            keep(w, fd);
            continue;
        }
        rc = push(w, &st, pos);
        if (rc < 0) {
            close(fd);
            break;
        }
        rc = fd;
        break;
    }
    closedir(d);
    return rc;
}

/* From cur (closed here) to its parent, which must be up. */
static int climb(int cur, const struct level *up)
{
    struct stat st;
    int fd;

    /* ".." is never a symlink; it is checked against where we came from. */
    fd = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(cur);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || st.st_dev != up->dev || st.st_ino != up->ino) {
        close(fd);
        return -ESTALE;
    }
    return fd;
}

int cps__rmtree_at(int dirfd, const char *name)
{
    struct walk w = {0};
    struct level back;
    struct stat top, st;
    bool returning = false;
    int cur, next;

    if (fstat(dirfd, &top) < 0)
        return -errno;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
    if (st.st_dev != top.st_dev)
        return -EBUSY;
    w.fs = top.st_dev;
    cur = open_dir(dirfd, name, &st);
    if (cur < 0)
        return cur;
    if (push(&w, &st, 0) < 0) {
        close(cur);
        return -ENOMEM;
    }
    for (;;) {
        next = list_dir(&w, cur, returning ? &back : NULL);
        returning = false;
        if (next > 0) {
            close(cur);
            cur = next;
            continue;
        }
        if (next < 0) {
            /* Out of memory, or the tree moved: stop, leave the rest. */
            keep(&w, next);
            close(cur);
            free(w.stack);
            return w.first;
        }
        if (w.depth == 1)
            break;
        back = w.stack[w.depth - 1];
        cur = climb(cur, &w.stack[w.depth - 2]);
        w.depth--;
        if (cur < 0) {
            keep(&w, cur);
            free(w.stack);
            return w.first;
        }
        returning = true;
    }
    close(cur);
    free(w.stack);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        keep(&w, -errno);
    return w.first;
}
