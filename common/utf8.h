/* utf8.h - UTF-8 checks for protocol text (RFC 3629). */
#ifndef CPS_COMMON_UTF8_H
#define CPS_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence (RFC 3629
 * section 4). NUL bytes are valid UTF-8; callers check them separately. */
bool cps__utf8_valid(const char *s, size_t len);

/* The largest n <= max such that cutting s[0..len) to s[0..n) does not split
 * a multi-byte character (a sequence that runs past len counts as one that
 * was split). Returns len when len <= max. */
size_t cps__utf8_truncate(const char *s, size_t len, size_t max);

/* Replace every byte of the NUL-terminated s that is not part of a well-formed
 * UTF-8 character with '?', in place. Used before text from the host (paths,
 * strerror) is put on the wire. */
void cps__utf8_sanitize(char *s);

#endif
