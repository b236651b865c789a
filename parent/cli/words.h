/* words.h - splitting one line of a --batch file into words. */
#ifndef CPS_RUN_WORDS_H
#define CPS_RUN_WORDS_H

#include <stddef.h>

/*
 * Split line (borrowed, no newline) into words the way a POSIX shell splits a
 * simple command, without any expansion: blanks separate words; '...' is
 * literal; inside "..." a backslash escapes only " \ $ ` (else it stays); a
 * backslash outside quotes takes the next character literally. Returns the
 * number of words (0: empty line or a comment starting with #) with *words
 * new (free with words_free), or -1 with *why set to a static message
 * (unterminated quote, trailing backslash, out of memory).
 */
int words_split(const char *line, char ***words, const char **why);
void words_free(char **words);

#endif
