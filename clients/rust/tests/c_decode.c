/*
 * c_decode.c - the C decoder as a filter, for the Rust crate's differential
 * test (tests/differential.rs): reads frames from stdin (4-byte big-endian
 * length, payload; as on the socket) and prints one line per frame:
 *   ok <hex of cps__msg_encode's re-encoding>
 *   err <errno> <message>
 */
#include <stdio.h>
#include <stdlib.h>

#include "proto.h"

int main(void)
{
    unsigned char head[4];

    while (fread(head, 1, 4, stdin) == 4) {
        size_t len = (size_t)head[0] << 24 | (size_t)head[1] << 16 | (size_t)head[2] << 8 | head[3];
        uint8_t *buf = malloc(len ? len : 1), *out = NULL;
        struct cps_error err = {0};
        struct cps_msg msg;
        size_t out_len = 0;

        if (!buf || fread(buf, 1, len, stdin) != len)
            return 1;
        if (cps__msg_decode(buf, len, &msg, &err) < 0) {
            printf("err %d %s\n", err.errnum, err.message);
        } else {
            if (cps__msg_encode(&msg, &out, &out_len, &err) < 0) {
                printf("reencode-failed %d %s\n", err.errnum, err.message);
            } else {
                printf("ok ");
                for (size_t i = 0; i < out_len; i++)
                    printf("%02x", out[i]);
                printf("\n");
            }
            free(out);
            cps__msg_free(&msg);
        }
        free(buf);
    }
    return 0;
}
