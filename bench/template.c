/*
 * template.c - command-line templates: whitespace-separated words with
 * {stem} {seq} {dir} {build} replaced per job. No quoting: every path the
 * bench script builds is free of whitespace, and a shell would cost a process.
 */
#include <stdlib.h>
#include <string.h>

#include "driver.h"

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = (*cap ? *cap * 2 : 64) + n;
        char *p = realloc(*buf, ncap);
        if (!p)
            return -1;
        *buf = p;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* Expand one word [s, s+n). */
static char *expand_word(const char *s, size_t n, const struct bench_job *job)
{
    char *buf = NULL, num[32];
    size_t len = 0, cap = 0;
    size_t i = 0;
    if (append(&buf, &len, &cap, "", 0) < 0)
        return NULL;
    while (i < n) {
        const char *val = NULL;
        size_t skip = 0;
        if (s[i] == '{') {
            static const char *const keys[] = {"{stem}", "{seq}", "{dir}", "{build}"};
            for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                size_t kl = strlen(keys[k]);
                if (n - i >= kl && memcmp(s + i, keys[k], kl) == 0) {
                    skip = kl;
                    if (k == 0)
                        val = job->stem ? job->stem : "";
                    else if (k == 1) {
                        snprintf(num, sizeof(num), "%llu", (unsigned long long)job->seq);
                        val = num;
                    } else if (k == 2)
                        val = job->dir ? job->dir : "";
                    else
                        val = job->build ? job->build : "";
                    break;
                }
            }
        }
        int rc =
            skip ? append(&buf, &len, &cap, val, strlen(val)) : append(&buf, &len, &cap, s + i, 1);
        if (rc < 0) {
            free(buf);
            return NULL;
        }
        i += skip ? skip : 1;
    }
    return buf;
}

char **bench_expand(const char *tpl, const struct bench_job *job)
{
    size_t words = 0, cap = 8;
    char **argv = calloc(cap, sizeof(*argv));
    const char *p = tpl;
    if (!argv)
        return NULL;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
        if (words + 2 > cap) {
            char **na = realloc(argv, cap * 2 * sizeof(*argv));
            if (!na)
                goto fail;
            argv = na;
            cap *= 2;
        }
        argv[words] = expand_word(start, (size_t)(p - start), job);
        if (!argv[words])
            goto fail;
        argv[++words] = NULL;
    }
    if (words == 0)
        goto fail;
    return argv;
fail:
    bench_argv_free(argv);
    return NULL;
}

char *bench_expand1(const char *tpl, const struct bench_job *job)
{
    return expand_word(tpl, strlen(tpl), job);
}

void bench_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}
