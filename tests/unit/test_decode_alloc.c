/*
 * test_decode_alloc.c - what decoding a hostile frame costs in heap memory.
 *
 * libcbor 0.8's cbor_load allocates the element table of an array or map
 * from its *declared* size before reading a single element, so the 9-byte
 * frame 9b 00 00 00 00 10 00 00 00 ("an array of 2^28 items") makes it
 * allocate 2 GiB. The decoder's pre-scan must refuse such frames before
 * cbor_load runs. These tests measure the heap the decoder allocates at its
 * peak, with a counter fed by every malloc/calloc/realloc/free of the process
 * (libcbor's included):
 *  - under AddressSanitizer through its allocation hooks
 *    (__sanitizer_install_malloc_and_free_hooks);
 *  - without it by defining malloc and friends here, forwarding to glibc's
 *    __libc_malloc & co.
 * RLIMIT_AS is not used: ASan reserves terabytes of shadow address space.
 * A self-test proves the counter sees allocations, so the limits below can
 * not pass by measuring nothing; with the pre-scan removed from
 * cps__msg_decode, huge_declared_sizes fails (checked by hand when this was
 * written: the peak is 2 GiB for the array frame).
 */
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "cbor_diag.h"
#include "check_run.h"

#if defined(__SANITIZE_ADDRESS__)
#define METER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define METER_ASAN 1
#endif
#endif

static int64_t current, peak;
static int armed;

static void note_alloc(size_t n)
{
    if (!armed)
        return;
    current += (int64_t)n;
    if (current > peak)
        peak = current;
}

static void note_free(size_t n)
{
    if (armed)
        current -= (int64_t)n;
}

#ifdef METER_ASAN
void __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                               void (*free_hook)(const volatile void *));
size_t __sanitizer_get_allocated_size(const volatile void *p);

static void on_malloc(const volatile void *p, size_t n)
{
    note_alloc(n);
}

static void on_free(const volatile void *p)
{
    if (p)
        note_free(__sanitizer_get_allocated_size(p));
}

static void meter_install(void)
{
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}
#else
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t m, size_t n);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    if (p)
        note_alloc(malloc_usable_size(p));
    return p;
}

void *calloc(size_t m, size_t n)
{
    void *p = __libc_calloc(m, n);
    if (p)
        note_alloc(malloc_usable_size(p));
    return p;
}

void *realloc(void *old, size_t n)
{
    size_t old_size = old ? malloc_usable_size(old) : 0;
    void *p = __libc_realloc(old, n);
    if (p || n == 0)
        note_free(old_size);
    if (p)
        note_alloc(malloc_usable_size(p));
    return p;
}

void free(void *p)
{
    if (p)
        note_free(malloc_usable_size(p));
    __libc_free(p);
}

static void meter_install(void)
{
}
#endif

static void meter_start(void)
{
    current = 0;
    peak = 0;
    armed = 1;
}

static int64_t meter_stop(void)
{
    armed = 0;
    return peak;
}

/* Decode buf and return the heap peak of the call; *ret gets its result. */
static int64_t decode_peak(const uint8_t *buf, size_t len, int *ret, char *message, size_t size)
{
    struct cps_error err = {0};
    struct cps_msg msg;
    int64_t p;

    meter_start();
    *ret = cps__msg_decode(buf, len, &msg, &err);
    if (*ret == 0)
        cps__msg_free(&msg);
    p = meter_stop();
    snprintf(message, size, "%s", err.message);
    return p;
}

START_TEST(the_meter_sees_allocations)
{
    char *p;
    int64_t got;

    meter_start();
    p = malloc(1 << 20);
    ck_assert_ptr_nonnull(p);
    ((volatile char *)p)[0] = 1; /* keep the compiler from eliding the pair */
    free(p);
    got = meter_stop();
    ck_assert_int_ge(got, 1 << 20);
    ck_assert_int_le(current, 0);
}
END_TEST

START_TEST(huge_declared_sizes)
{
    static const struct {
        const char *what;
        uint8_t frame[16];
        size_t len;
    } frames[] = {
        {"array of 2^28", {0x9b, 0, 0, 0, 0, 0x10, 0, 0, 0}, 9},
        {"map of 2^28", {0xbb, 0, 0, 0, 0, 0x10, 0, 0, 0}, 9},
        {"byte string of 2^28", {0x5b, 0, 0, 0, 0, 0x10, 0, 0, 0}, 9},
        {"text string of 2^28", {0x7b, 0, 0, 0, 0, 0x10, 0, 0, 0}, 9},
        {"array of 2^32-1", {0x9a, 0xff, 0xff, 0xff, 0xff}, 5},
        {"array of 2^64-1", {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
        /* {"type": "job", "argv": <array of 2^28>} */
        {"nested array of 2^28",
         {0xa2, 0x64, 't', 'y', 'p', 'e', 0x63, 'j', 'o', 'b', 0x9a, 0x10, 0, 0, 0},
         15},
    };

    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        char message[1024];
        int ret;
        int64_t p = decode_peak(frames[i].frame, frames[i].len, &ret, message, sizeof(message));

        ck_assert_msg(p <= 4096, "%s: decoding allocated %lld bytes at its peak", frames[i].what,
                      (long long)p);
        ck_assert_msg(ret == -EPROTO, "%s: %d %s", frames[i].what, ret, message);
        ck_assert_msg(strstr(message, "declares"), "%s: %s", frames[i].what, message);
    }
}
END_TEST

/* Frames that pass the pre-scan: what they cost is bounded by their size
 * (libcbor spends about 80 bytes per item; the pre-scan caps items at one per
 * byte and CPS_MAX_ITEMS per frame). */
static char *repeat(const char *head, const char *item, size_t n, const char *tail)
{
    size_t len = strlen(head) + n * (strlen(item) + 1) + strlen(tail) + 1;
    char *s = malloc(len), *p = s;

    p += sprintf(p, "%s", head);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? "," : "", item);
    sprintf(p, "%s", tail);
    return s;
}

START_TEST(dense_frames_cost_a_bounded_multiple)
{
    static const struct {
        const char *head, *item, *tail;
        size_t n;
    } shapes[] = {
        /* 4096 one-byte argv entries: the most items a valid job has per byte. */
        {"{\"type\":\"job\",\"toolchain\":\"/t\",\"build_dir\":\"/b\",\"cwd\":\"/\",\"env\":[],"
         "\"outputs\":[],\"inputs\":[],\"argv\":[",
         "\"\"", "]}", 4096},
        /* 65,000 one-byte items in an unknown key: refused by the schema only
         * after cbor_load built them all. */
        {"{\"type\":\"cancel\",\"x\":[", "0", "]}", 65000},
        {"{\"type\":\"cancel\",\"x\":[", "[]", "]}", 65000},
        {"{\"type\":\"cancel\",\"x\":[", "{}", "]}", 65000},
    };

    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        char *diag = repeat(shapes[i].head, shapes[i].item, shapes[i].n, shapes[i].tail);
        size_t len;
        uint8_t *buf = cbor_diag(diag, &len);
        char message[1024];
        int ret;
        int64_t p = decode_peak(buf, len, &ret, message, sizeof(message));

        printf("shape %zu: %zu bytes, decode peak %lld bytes (%.1f per byte), ret %d\n", i, len,
               (long long)p, (double)p / (double)len, ret);
        ck_assert_msg(p <= (int64_t)(160 * len), "shape %zu: %lld bytes for a %zu-byte frame", i,
                      (long long)p, len);
        free(buf);
        free(diag);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("decode_alloc");
    TCase *tc = tcase_create("decode_alloc");

    meter_install();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, the_meter_sees_allocations);
    tcase_add_test(tc, huge_declared_sizes);
    tcase_add_test(tc, dense_frames_cost_a_bounded_multiple);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
