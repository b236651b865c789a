/* words.c - splitting one line of a --batch file into words. */
#include "words.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void words_free(char **words)
{
    if (!words)
        return;
    for (char **w = words; *w; w++)
        free(*w);
    free(words);
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Copy one word starting at *pp into out (room for strlen(line) + 1); move *pp
 * past it. Returns NULL or why it is malformed. */
static const char *one_word(const char **pp, char *out)
{
    const char *p = *pp;
    size_t n = 0;

    while (*p && !blank(*p)) {
        if (*p == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (!end)
                return "unterminated ' quote";
            memcpy(out + n, p + 1, (size_t)(end - p - 1));
            n += (size_t)(end - p - 1);
            p = end + 1;
        } else if (*p == '"') {
            for (p++; *p != '"'; p++) {
                if (!*p)
                    return "unterminated \" quote";
                if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
                    p++;
                out[n++] = *p;
            }
            p++;
        } else if (*p == '\\') {
            if (!p[1])
                return "backslash at the end of the line";
            out[n++] = p[1];
            p += 2;
        } else
            out[n++] = *p++;
    }
    out[n] = '\0';
    *pp = p;
    return NULL;
}

int words_split(const char *line, char ***words, const char **why)
{
    size_t len = strlen(line), n = 0;
    const char *p = line;
    /* A line of len bytes holds at most len / 2 + 1 words. */
    char **w = calloc(len / 2 + 2, sizeof(*w));

    *words = NULL;
    *why = "out of memory";
    if (!w)
        return -1;
    while (blank(*p))
        p++;
    if (*p == '#') {
        *words = w;
        return 0;
    }
    while (*p) {
        char *word = malloc(len + 1);
        if (!word) {
            words_free(w);
            return -1;
        }
        w[n++] = word;
        if ((*why = one_word(&p, word)) != NULL) {
            words_free(w);
            return -1;
        }
        while (blank(*p))
            p++;
    }
    *words = w;
    return (int)n;
}
