/* test_frame.c - the length-prefixed transport over real sockets and pipes. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "cps_limits.h"
#include "check_run.h"

static int sv[2];

static void setup(void)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void teardown(void)
{
    close(sv[0]);
    close(sv[1]);
}

static void write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        ck_assert_int_gt(w, 0);
        p += w;
        len -= (size_t)w;
    }
}

static void set_nonblock(int fd)
{
    ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static uint8_t *pattern(size_t len)
{
    uint8_t *p = malloc(len);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 7 + i / 251);
    return p;
}

START_TEST(write_then_read)
{
    struct cps_error err = {0};
    const uint8_t msg[] = {0xa1, 0x61, 'a', 0x01};
    uint8_t raw[8];
    uint8_t *got;
    size_t len;

    ck_assert_int_eq(cps__frame_write(sv[0], msg, sizeof(msg), &err), 0);
    /* The header is 4 bytes big-endian. */
    ck_assert_int_eq(recv(sv[1], raw, 4, MSG_PEEK | MSG_WAITALL), 4);
    ck_assert(raw[0] == 0 && raw[1] == 0 && raw[2] == 0 && raw[3] == 4);
    ck_assert_int_eq(cps__frame_read(sv[1], 0, &got, &len, &err), 0);
    ck_assert_uint_eq(len, sizeof(msg));
    ck_assert(memcmp(got, msg, len) == 0);
    free(got);
}
END_TEST

struct pump {
    int fd;
    const uint8_t *data;
    size_t len;
    size_t chunk;      /* write this many bytes at a time (0: frame_write) */
    unsigned delay_us; /* between chunks */
    int ret;
};

static void *pump_thread(void *arg)
{
    struct pump *p = arg;
    struct cps_error err;

    if (p->chunk == 0) {
        p->ret = cps__frame_write(p->fd, p->data, p->len, &err);
        return NULL;
    }
    for (size_t off = 0; off < p->len; off += p->chunk) {
        size_t n = p->len - off < p->chunk ? p->len - off : p->chunk;
        if (p->delay_us)
            usleep(p->delay_us);
        if (write(p->fd, p->data + off, n) != (ssize_t)n) {
            p->ret = -errno;
            return NULL;
        }
    }
    p->ret = 0;
    return NULL;
}

START_TEST(a_max_size_frame_through_a_tiny_send_buffer)
{
    /* SO_SNDBUF of 4 KiB makes the kernel take the 1 MiB frame in many short
     * writes; the reader sees it whole. */
    int small = 4096;
    struct cps_error err = {0};
    uint8_t *data = pattern(CPS_MAX_FRAME), *got;
    size_t len;
    struct pump p = {.fd = sv[0], .data = data, .len = CPS_MAX_FRAME};
    pthread_t t;

    ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, pump_thread, &p), 0);
    ck_assert_int_eq(cps__frame_read(sv[1], CPS_MAX_FRAME, &got, &len, &err), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(p.ret, 0);
    ck_assert_uint_eq(len, CPS_MAX_FRAME);
    ck_assert(memcmp(got, data, len) == 0);
    free(got);
    free(data);
}
END_TEST

START_TEST(nonblocking_fds_still_block_in_the_blocking_calls)
{
    /* Both ends O_NONBLOCK and a small buffer: the writer hits EAGAIN and
     * must poll; the reader hits EAGAIN and must poll. */
    int small = 4096;
    struct cps_error err = {0};
    size_t size = 300 * 1024;
    uint8_t *data = pattern(size), *got;
    size_t len;
    struct pump p = {.fd = sv[0], .data = data, .len = size};
    pthread_t t;

    ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    ck_assert_int_eq(pthread_create(&t, NULL, pump_thread, &p), 0);
    ck_assert_int_eq(cps__frame_read(sv[1], 0, &got, &len, &err), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(p.ret, 0);
    ck_assert_uint_eq(len, size);
    ck_assert(memcmp(got, data, len) == 0);
    free(got);
    free(data);
}
END_TEST

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    alarms++;
}

START_TEST(reads_survive_eintr)
{
    /* A 1 ms interval timer whose handler is installed without SA_RESTART
     * interrupts the blocking read(2)/poll(2) calls while the writer trickles
     * the frame in; the read must retry and return the frame intact. */
    struct sigaction sa = {.sa_handler = on_alarm};
    struct itimerval it = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
    struct cps_error err = {0};
    uint8_t frame[4 + 64];
    uint8_t *got;
    size_t len;
    struct pump p = {
        .fd = sv[0], .data = frame, .len = sizeof(frame), .chunk = 4, .delay_us = 3000};
    pthread_t t;
    sigset_t block;

    frame[0] = frame[1] = frame[2] = 0;
    frame[3] = 64;
    memset(frame + 4, 'x', 64);
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
    /* Only this thread takes SIGALRM: the writer thread blocks it. */
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    ck_assert_int_eq(pthread_create(&t, NULL, pump_thread, &p), 0);
    pthread_sigmask(SIG_UNBLOCK, &block, NULL);
    alarms = 0;
    ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
    ck_assert_int_eq(cps__frame_read(sv[1], 0, &got, &len, &err), 0);
    setitimer(ITIMER_REAL, &off, NULL);
    pthread_join(t, NULL);
    ck_assert_int_gt(alarms, 0);
    ck_assert_uint_eq(len, 64);
    ck_assert(memcmp(got, frame + 4, 64) == 0);
    free(got);
}
END_TEST

static void expect_read_error(int want, const char *needle)
{
    struct cps_error err = {0};
    uint8_t *got = (uint8_t *)&err;
    size_t len = 1;

    ck_assert_int_eq(cps__frame_read(sv[1], 1024, &got, &len, &err), want);
    ck_assert_ptr_null(got);
    ck_assert_str_eq(err.stage, "frame");
    ck_assert_int_eq(err.errnum, -want);
    ck_assert_msg(strstr(err.message, needle), "\"%s\" lacks \"%s\"", err.message, needle);
}

START_TEST(clean_eof_is_connreset)
{
    close(sv[0]);
    sv[0] = -1;
    expect_read_error(-ECONNRESET, "peer closed the connection");
}
END_TEST

START_TEST(eof_mid_header_is_eproto)
{
    write_all(sv[0], "\0\0", 2);
    shutdown(sv[0], SHUT_WR);
    expect_read_error(-EPROTO, "in the middle of a frame (2 of 4 bytes)");
}
END_TEST

START_TEST(eof_mid_payload_is_eproto)
{
    write_all(sv[0],
              "\0\0\0\x0a"
              "abc",
              7);
    shutdown(sv[0], SHUT_WR);
    expect_read_error(-EPROTO, "in the middle of a frame (7 of 14 bytes)");
}
END_TEST

START_TEST(zero_length_is_emsgsize)
{
    write_all(sv[0], "\0\0\0\0", 4);
    expect_read_error(-EMSGSIZE, "length of 0");
}
END_TEST

START_TEST(oversize_is_emsgsize)
{
    /* 1025 against a cap of 1024, and the default cap of CPS_MAX_FRAME. */
    struct cps_error err;
    uint8_t *got;
    size_t len;

    write_all(sv[0], "\0\0\x04\x01", 4);
    expect_read_error(-EMSGSIZE, "declares 1025 bytes, more than the limit of 1024");
    write_all(sv[0], "\0\x10\0\x01", 4);
    ck_assert_int_eq(cps__frame_read(sv[1], 0, &got, &len, &err), -EMSGSIZE);
    write_all(sv[0], "\xff\xff\xff\xff", 4);
    ck_assert_int_eq(cps__frame_read(sv[1], 0, &got, &len, &err), -EMSGSIZE);
}
END_TEST

START_TEST(writer_refuses_empty_frames)
{
    struct cps_error err;

    ck_assert_int_eq(cps__frame_write(sv[0], (const uint8_t *)"", 0, &err), -EMSGSIZE);
    /* Above the protocol's cap: refused before a byte is written. */
    ck_assert_int_eq(cps__frame_write(sv[0], (const uint8_t *)"", CPS_MAX_FRAME + 1, &err),
                     -EMSGSIZE);
    ck_assert_ptr_nonnull(strstr(err.message, "1..1048576"));
}
END_TEST

START_TEST(closed_peer_is_epipe_not_sigpipe)
{
    /* SIGPIPE at its default disposition would kill this test process. */
    struct cps_error err = {0};
    int pfd[2];

    signal(SIGPIPE, SIG_DFL);
    close(sv[1]);
    sv[1] = -1;
    ck_assert_int_eq(cps__frame_write(sv[0], (const uint8_t *)"x", 1, &err), -EPIPE);
    ck_assert_str_eq(err.stage, "frame");
    /* The same over a pipe, where MSG_NOSIGNAL does not exist. */
    ck_assert_int_eq(pipe(pfd), 0);
    close(pfd[0]);
    ck_assert_int_eq(cps__frame_write(pfd[1], (const uint8_t *)"x", 1, &err), -EPIPE);
    {
        sigset_t pending;
        sigpending(&pending);
        ck_assert_int_eq(sigismember(&pending, SIGPIPE), 0);
    }
    close(pfd[1]);
}
END_TEST

START_TEST(frames_over_a_pipe)
{
    struct cps_error err = {0};
    uint8_t *got;
    size_t len;
    int pfd[2];

    ck_assert_int_eq(pipe(pfd), 0);
    ck_assert_int_eq(cps__frame_write(pfd[1], (const uint8_t *)"hello", 5, &err), 0);
    ck_assert_int_eq(cps__frame_read(pfd[0], 0, &got, &len, &err), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(got, "hello", 5) == 0);
    free(got);
    close(pfd[0]);
    close(pfd[1]);
}
END_TEST

START_TEST(incremental_reader_byte_at_a_time)
{
    /* Two frames fed one byte at a time: feed says "not yet" until the last
     * byte of each, and never consumes a byte of the next frame. */
    struct cps_frame_reader r = {.max_frame = 64};
    struct cps_error err = {0};
    const uint8_t stream[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 1, 'z'};
    uint8_t *got;
    size_t len;
    int pending;

    set_nonblock(sv[1]);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), 0);
    for (size_t i = 0; i < 7; i++) {
        write_all(sv[0], &stream[i], 1);
        ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), i == 6 ? 1 : 0);
    }
    /* Complete until taken. */
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), 1);
    cps__frame_reader_take(&r, &got, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(got, "abc", 3) == 0);
    free(got);
    /* The second frame arrives at once; the reader stops after it. */
    write_all(sv[0], stream + 7, 5);
    write_all(sv[0], "\0\0\0\x02xy", 6);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), 1);
    ck_assert_int_eq(ioctl(sv[1], FIONREAD, &pending), 0);
    ck_assert_int_eq(pending, 6);
    cps__frame_reader_take(&r, &got, &len);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(got[0], 'z');
    free(got);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), 1);
    cps__frame_reader_take(&r, &got, &len);
    ck_assert_uint_eq(len, 2);
    free(got);
    /* EOF between frames. */
    shutdown(sv[0], SHUT_WR);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), -ECONNRESET);
    cps__frame_reader_reset(&r);
}
END_TEST

START_TEST(incremental_reader_errors)
{
    struct cps_frame_reader r = {.max_frame = 8};
    struct cps_error err = {0};

    set_nonblock(sv[1]);
    write_all(sv[0], "\0\0\0\x09", 4);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), -EMSGSIZE);
    /* Feeding on after an error without a reset is refused, not undefined. */
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), -EINVAL);
    cps__frame_reader_reset(&r);
    ck_assert_uint_eq(r.max_frame, 8);
    /* EOF in the middle of a payload. */
    write_all(sv[0],
              "\0\0\0\x05"
              "ab",
              6);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), 0);
    shutdown(sv[0], SHUT_WR);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), -EPROTO);
    ck_assert_ptr_nonnull(strstr(err.message, "6 of 9 bytes"));
    cps__frame_reader_reset(&r);
    ck_assert_ptr_null(r.payload);
}
END_TEST

START_TEST(incremental_reader_zero_length)
{
    struct cps_frame_reader r = {0};
    struct cps_error err = {0};

    write_all(sv[0], "\0\0\0\0", 4);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), -EMSGSIZE);
    cps__frame_reader_reset(&r);
}
END_TEST

START_TEST(reader_keeps_its_buffer_between_peeked_frames)
{
    /* peek + next: the payload is borrowed and the buffer is reused for
     * every frame no larger than the largest so far. */
    struct cps_frame_reader r = {.max_frame = 64};
    struct cps_error err = {0};
    const uint8_t *got, *first;
    size_t len;

    write_all(sv[0],
              "\0\0\0\x05hello\0\0\0\x02hi\0\0\0\x08"
              "abcdefgh",
              4 + 5 + 4 + 2 + 4 + 8);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), 1);
    cps__frame_reader_peek(&r, &got, &len);
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(got, "hello", 5) == 0);
    first = got;
    cps__frame_reader_next(&r);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), 1);
    cps__frame_reader_peek(&r, &got, &len);
    ck_assert_uint_eq(len, 2);
    ck_assert(memcmp(got, "hi", 2) == 0);
    ck_assert_ptr_eq(got, first);
    cps__frame_reader_next(&r);
    /* A larger frame grows the buffer; take() hands it over. */
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), 1);
    {
        uint8_t *taken;

        cps__frame_reader_take(&r, &taken, &len);
        ck_assert_uint_eq(len, 8);
        ck_assert(memcmp(taken, "abcdefgh", 8) == 0);
        free(taken);
    }
    /* After an oversized header the reader refuses to go on until reset,
     * even though it still holds a buffer. */
    write_all(sv[0], "\0\0\0\x05hello\0\0\x01\0", 9 + 4);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), 1);
    cps__frame_reader_next(&r);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), -EMSGSIZE);
    ck_assert_int_eq(cps__frame_reader_feed(&r, sv[1], &err), -EINVAL);
    cps__frame_reader_reset(&r);
    ck_assert_ptr_null(r.payload);
}
END_TEST

START_TEST(writev_sends_the_parts_as_one_frame)
{
    struct cps_error err = {0};
    char ab[] = "ab", none[] = "", cde[] = "cde";
    struct iovec parts[3] = {{.iov_base = ab, .iov_len = 2},
                             {.iov_base = none, .iov_len = 0},
                             {.iov_base = cde, .iov_len = 3}};
    struct iovec too_many[CPS_FRAME_MAX_PARTS + 1];
    uint8_t *got;
    size_t len;

    ck_assert_int_eq(cps__frame_writev(sv[0], parts, 3, &err), 0);
    ck_assert_int_eq(cps__frame_read(sv[1], 0, &got, &len, &err), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(got, "abcde", 5) == 0);
    free(got);
    /* Only empty parts: an empty frame, refused. */
    ck_assert_int_eq(cps__frame_writev(sv[0], parts + 1, 1, &err), -EMSGSIZE);
    for (int i = 0; i <= CPS_FRAME_MAX_PARTS; i++)
        too_many[i] = parts[0];
    ck_assert_int_eq(cps__frame_writev(sv[0], too_many, CPS_FRAME_MAX_PARTS + 1, &err), -EINVAL);
    /* Parts adding up to more than a frame are refused before anything is sent. */
    parts[0].iov_len = CPS_MAX_FRAME;
    parts[2].iov_len = SIZE_MAX;
    ck_assert_int_eq(cps__frame_writev(sv[0], parts, 3, &err), -EMSGSIZE);
    ck_assert_ptr_nonnull(strstr(err.message, "1..1048576"));
}
END_TEST

struct read_args {
    int fd;
    uint8_t *payload;
    size_t len;
    int ret;
};

static void *read_frame_thread(void *arg)
{
    struct read_args *a = arg;
    struct cps_error err;

    a->ret = cps__frame_read(a->fd, 0, &a->payload, &a->len, &err);
    return NULL;
}

/* A file of len bytes 'a'..'z' repeated, read from offset 0. */
static int temp_file(size_t len)
{
    char path[] = "/tmp/test_frame.XXXXXX";
    int fd = mkstemp(path);
    uint8_t *buf = malloc(len ? len : 1);

    ck_assert_int_ge(fd, 0);
    unlink(path);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)('a' + i % 26);
    write_all(fd, buf, len);
    free(buf);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

START_TEST(spliced_frame_from_a_file)
{
    /* head "<", 100000 bytes of the file, then "!>" sent as the rest. */
    struct cps_error err = {0};
    char lt[] = "<", rest[] = "!>";
    struct iovec head = {.iov_base = lt, .iov_len = 1}, tail = {.iov_base = rest, .iov_len = 2};
    int fd = temp_file(100000);
    size_t got = 0, len;
    uint8_t *payload = NULL;
    pthread_t reader;
    struct read_args a = {.fd = sv[1]};

    /* More than the socket buffer: the reader runs beside the writer. */
    ck_assert_int_eq(pthread_create(&reader, NULL, read_frame_thread, &a), 0);
    ck_assert_int_eq(cps__frame_write_spliced(sv[0], 2, &head, 1, fd, false, 100000, &got, &err),
                     0);
    ck_assert_uint_eq(got, 100000);
    ck_assert_int_eq(cps__frame_write_rest(sv[0], &tail, 1, &err), 0);
    ck_assert_int_eq(pthread_join(reader, NULL), 0);
    ck_assert_int_eq(a.ret, 0);
    payload = a.payload;
    len = a.len;
    ck_assert_uint_eq(len, 1 + 100000 + 2);
    ck_assert_int_eq(payload[0], '<');
    for (size_t i = 0; i < 100000; i++)
        ck_assert_int_eq(payload[1 + i], 'a' + i % 26);
    ck_assert(memcmp(payload + 100001, "!>", 2) == 0);
    free(payload);
    close(fd);
}
END_TEST

START_TEST(spliced_frame_from_a_short_file_is_padded)
{
    /* The file has 10 of the 16 bytes announced: zeros make up the frame,
     * got says 10, and the next frame still parses. */
    struct cps_error err = {0};
    char h[] = "H";
    struct iovec head = {.iov_base = h, .iov_len = 1};
    int fd = temp_file(10);
    size_t got = 99, len;
    uint8_t *payload;

    ck_assert_int_eq(cps__frame_write_spliced(sv[0], 0, &head, 1, fd, false, 16, &got, &err), 0);
    ck_assert_uint_eq(got, 10);
    ck_assert_ptr_nonnull(strstr(err.message, "after 10 of 16 bytes"));
    ck_assert_int_eq(cps__frame_write(sv[0], (const uint8_t *)"next", 4, &err), 0);
    ck_assert_int_eq(cps__frame_read(sv[1], 0, &payload, &len, &err), 0);
    ck_assert_uint_eq(len, 17);
    ck_assert(memcmp(payload, "Habcdefghij\0\0\0\0\0\0", 17) == 0);
    free(payload);
    ck_assert_int_eq(cps__frame_read(sv[1], 0, &payload, &len, &err), 0);
    ck_assert_uint_eq(len, 4);
    free(payload);
    close(fd);
}
END_TEST

START_TEST(spliced_frame_from_a_pipe)
{
    struct cps_error err = {0};
    char h[] = "P";
    struct iovec head = {.iov_base = h, .iov_len = 1};
    size_t got = 0, len;
    uint8_t *payload;
    int p[2];

    ck_assert_int_eq(pipe(p), 0);
    write_all(p[1], "0123456789", 10);
    ck_assert_int_eq(cps__frame_write_spliced(sv[0], 0, &head, 1, p[0], true, 7, &got, &err), 0);
    ck_assert_uint_eq(got, 7);
    ck_assert_int_eq(cps__frame_read(sv[1], 0, &payload, &len, &err), 0);
    ck_assert_uint_eq(len, 8);
    ck_assert(memcmp(payload, "P0123456", 8) == 0);
    free(payload);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(spliced_frame_to_a_closed_peer_is_epipe_not_sigpipe)
{
    /* SIGPIPE at its default disposition would kill this test process:
     * sendfile(2) has no MSG_NOSIGNAL. */
    struct cps_error err = {0};
    char h[] = "H";
    struct iovec head = {.iov_base = h, .iov_len = 1};
    int fd = temp_file(4096);
    size_t got;
    int r;

    close(sv[1]);
    sv[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    r = cps__frame_write_spliced(sv[0], 0, &head, 1, fd, false, 4096, &got, &err);
    ck_assert_int_eq(r, -EPIPE);
    ck_assert_str_eq(err.stage, "frame");
    close(fd);
}
END_TEST

/* A frame pushed into a full socket returns instead of waiting for the
 * reader, and the bytes that arrive in the end are exactly the frame: the
 * parts (head, a buffer), then the data spliced from the pipe. */
START_TEST(frame_out_never_blocks_on_a_full_socket)
{
    struct cps_error err = {0};
    struct cps_frame_reader r = {.max_frame = 0};
    struct cps_frame_out o;
    uint8_t *data = pattern(CPS_MAX_CHUNK), *payload;
    char h[] = "HEAD";
    struct iovec parts[2] = {{.iov_base = h, .iov_len = 4},
                             {.iov_base = data, .iov_len = CPS_MAX_CHUNK}};
    int p[2], sndbuf = 4096, full = 0;
    size_t len;

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(fcntl(p[0], F_SETPIPE_SZ, CPS_MAX_CHUNK), CPS_MAX_CHUNK);
    write_all(p[1], data, CPS_MAX_CHUNK);
    ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    ck_assert_int_eq(cps__frame_out_start(&o, parts, 2, p[0], CPS_MAX_CHUNK, &err), 0);
    /* Nobody reads: the push gives up at once, having sent part of it. */
    ck_assert_int_eq(cps__frame_out_push(&o, sv[0], &err), 0);
    ck_assert(o.started);
    /* Read what is there, push again, until the frame is whole. */
    for (;;) {
        int got = cps__frame_reader_feed(&r, sv[1], &err), rc;

        ck_assert_int_ge(got, 0);
        if (got == 1)
            break;
        rc = cps__frame_out_push(&o, sv[0], &err);
        ck_assert_int_ge(rc, 0);
        full += rc == 0;
    }
    cps__frame_reader_take(&r, &payload, &len);
    ck_assert_int_gt(full, 0);
    ck_assert_uint_eq(len, 4 + 2 * CPS_MAX_CHUNK);
    ck_assert(memcmp(payload, "HEAD", 4) == 0);
    ck_assert(memcmp(payload + 4, data, CPS_MAX_CHUNK) == 0);
    ck_assert(memcmp(payload + 4 + CPS_MAX_CHUNK, data, CPS_MAX_CHUNK) == 0);
    ck_assert_uint_eq(o.src_got, CPS_MAX_CHUNK);
    free(payload);
    free(data);
    close(p[0]);
    close(p[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("frame");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, write_then_read);
    tcase_add_test(tc, a_max_size_frame_through_a_tiny_send_buffer);
    tcase_add_test(tc, nonblocking_fds_still_block_in_the_blocking_calls);
    tcase_add_test(tc, reads_survive_eintr);
    tcase_add_test(tc, clean_eof_is_connreset);
    tcase_add_test(tc, eof_mid_header_is_eproto);
    tcase_add_test(tc, eof_mid_payload_is_eproto);
    tcase_add_test(tc, zero_length_is_emsgsize);
    tcase_add_test(tc, oversize_is_emsgsize);
    tcase_add_test(tc, writer_refuses_empty_frames);
    tcase_add_test(tc, closed_peer_is_epipe_not_sigpipe);
    tcase_add_test(tc, frames_over_a_pipe);
    tcase_add_test(tc, incremental_reader_byte_at_a_time);
    tcase_add_test(tc, incremental_reader_errors);
    tcase_add_test(tc, incremental_reader_zero_length);
    tcase_add_test(tc, reader_keeps_its_buffer_between_peeked_frames);
    tcase_add_test(tc, writev_sends_the_parts_as_one_frame);
    tcase_add_test(tc, spliced_frame_from_a_file);
    tcase_add_test(tc, spliced_frame_from_a_short_file_is_padded);
    tcase_add_test(tc, spliced_frame_from_a_pipe);
    tcase_add_test(tc, spliced_frame_to_a_closed_peer_is_epipe_not_sigpipe);
    tcase_add_test(tc, frame_out_never_blocks_on_a_full_socket);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
