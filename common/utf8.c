/* utf8.c - UTF-8 validation (RFC 3629). */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

/* Length of the well-formed character at s[0..len), or 0 when there is none.
 * The ranges are Table 3-7 of the Unicode Standard ("Well-Formed UTF-8 Byte
 * Sequences"), which excludes overlongs, surrogates and code points above
 * U+10FFFF by restricting the second byte. */
static size_t char_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (len < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

bool cps__utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n;

        if (p[i] < 0x80) {
            i++;
            continue;
        }
        n = char_len(p + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t cps__utf8_truncate(const char *s, size_t len, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (max >= len)
        return len;
    while (i < max) {
        size_t n = p[i] < 0x80 ? 1 : char_len(p + i, len - i);

        if (n == 0) {
            /* Not a well-formed character: cut it like single bytes, unless
             * it only looks broken because s itself was cut short. */
            unsigned char c = p[i];
            size_t want = c >= 0xC2 && c <= 0xDF   ? 2
                          : c >= 0xE0 && c <= 0xEF ? 3
                          : c >= 0xF0 && c <= 0xF4 ? 4
                                                   : 1;
            n = i + want > len ? want : 1;
        }
        if (i + n > max)
            break;
        i += n;
    }
    return i;
}

void cps__utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t len = strlen(s);
    size_t i = 0;

    while (i < len) {
        size_t n = p[i] < 0x80 ? 1 : char_len(p + i, len - i);

        if (n == 0) {
            p[i] = '?';
            n = 1;
        }
        i += n;
    }
}
