/*
 * fuzz_frames.c - libFuzzer target: a byte stream as it arrives on the
 * socket, through both frame readers and into the decoder.
 *
 * The first input byte picks how the stream is delivered to the incremental
 * reader (chunks of 1..16 bytes, so headers and payloads arrive split at
 * every position); the rest is the stream. The same stream then goes through
 * the blocking reader, which must agree frame for frame. Seeds: the vectors
 * of tests/vectors/ with a length header (scripts/fuzz.sh makes them).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "frame.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 64

struct seen {
    size_t count;
    size_t len[MAX_FRAMES];
    uint8_t *payload[MAX_FRAMES];
    int end; /* the error that ended the stream */
};

static void pipe_or_die(int p[2], size_t room)
{
    if (pipe2(p, O_CLOEXEC) < 0)
        abort();
    /* Room for the whole input: the default pipe holds 64 KiB, enough for
     * scripts/fuzz.sh's -max_len=65536; growing it costs, so only when needed. */
    if (room > 65536)
        fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
}

static void write_or_die(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            abort();
        p += w;
        n -= (size_t)w;
    }
}

static void incremental(const uint8_t *s, size_t n, unsigned chunk, struct seen *out)
{
    struct cps_frame_reader r = {.max_frame = CPS_MAX_FRAME};
    struct cps_error err;
    size_t off = 0;
    int p[2];
    bool closed = false;

    pipe_or_die(p, n);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    for (;;) {
        int ret = cps__frame_reader_feed(&r, p[0], &err);

        if (ret == 1) {
            if (out->count == MAX_FRAMES)
                break;
            cps__frame_reader_take(&r, &out->payload[out->count], &out->len[out->count]);
            out->count++;
            continue;
        }
        if (ret < 0) {
            out->end = ret;
            break;
        }
        /* Nothing more to read yet: deliver the next chunk, or EOF. Past
         * the first 4 KiB (where headers and small frames split in every
         * place) chunks grow to 4 KiB to keep the target fast. */
        if (off < n) {
            size_t step = off < 4096 ? chunk : 4096;
            size_t k = n - off < step ? n - off : step;
            write_or_die(p[1], s + off, k);
            off += k;
        } else if (!closed) {
            close(p[1]);
            closed = true;
        } else {
            abort(); /* EOF must end the stream with an error */
        }
    }
    cps__frame_reader_reset(&r);
    if (!closed)
        close(p[1]);
    close(p[0]);
}

static void blocking(const uint8_t *s, size_t n, struct seen *out)
{
    struct cps_error err;
    int p[2];

    pipe_or_die(p, n);
    if ((size_t)fcntl(p[1], F_GETPIPE_SZ) < n)
        n = (size_t)fcntl(p[1], F_GETPIPE_SZ);
    write_or_die(p[1], s, n);
    close(p[1]);
    while (out->count < MAX_FRAMES) {
        int ret = cps__frame_read(p[0], CPS_MAX_FRAME, &out->payload[out->count],
                                  &out->len[out->count], &err);
        if (ret < 0) {
            out->end = ret;
            break;
        }
        out->count++;
    }
    close(p[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen a = {0}, b = {0};
    unsigned chunk;

    if (size < 1)
        return 0;
    chunk = 1u + data[0] % 16u;
    data++;
    size--;
    if (size > (1u << 20))
        size = 1u << 20;
    incremental(data, size, chunk, &a);
    blocking(data, size, &b);
    /* Both readers see the same frames and the same ending. */
    if (a.count != b.count || (a.count < MAX_FRAMES && a.end != b.end))
        abort();
    if (a.count < MAX_FRAMES && a.end != -ECONNRESET && a.end != -EPROTO && a.end != -EMSGSIZE)
        abort();
    for (size_t i = 0; i < a.count; i++) {
        if (a.len[i] != b.len[i] || memcmp(a.payload[i], b.payload[i], a.len[i]) != 0)
            abort();
        fuzz_check_payload(a.payload[i], a.len[i]);
        free(a.payload[i]);
        free(b.payload[i]);
    }
    return 0;
}
