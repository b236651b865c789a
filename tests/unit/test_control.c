/* test_control.c - records and blobs on the O <-> I seqpacket socket (helper/control.c). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "check_run.h"

static int sv[2];

static void setup(void)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
}

static void teardown(void)
{
    close(sv[0]);
    close(sv[1]);
}

START_TEST(record_round_trip)
{
    struct cps_ctl_record a, b;
    struct cps_error e;

    memset(&a, 0, sizeof(a));
    a.kind = CPS_CTL_EXEC_FAILED;
    a.error.errnum = ENOENT;
    strcpy(a.error.stage, "exec");
    strcpy(a.error.message, "tried /bin/cc");
    ck_assert_int_eq(cps__ctl_send(sv[0], &a, &e), 0);
    ck_assert_int_eq(cps__ctl_recv(sv[1], &b, &e), 0);
    ck_assert_int_eq(memcmp(&a, &b, sizeof(a)), 0);
}
END_TEST

START_TEST(wrong_size_and_eof)
{
    struct cps_ctl_record r;
    struct cps_error e;
    char small[8] = {0};

    ck_assert_int_eq(send(sv[0], small, sizeof(small), 0), (ssize_t)sizeof(small));
    ck_assert_int_eq(cps__ctl_recv(sv[1], &r, &e), -EPROTO);
    close(sv[0]);
    sv[0] = -1;
    ck_assert_int_eq(cps__ctl_recv(sv[1], &r, &e), -ECONNRESET);
}
END_TEST

/* A blob larger than one record, sent by a child so the sender can block
 * while the receiver drains. */
START_TEST(blob_round_trip)
{
    size_t len = 5 * CPS_CTL_BLOB_CHUNK + 77;
    uint8_t *data = malloc(len), *got;
    struct cps_error e;
    size_t got_len;
    pid_t pid;
    int st;

    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 31);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(cps__ctl_send_blob(sv[0], data, len, &e) == 0 ? 0 : 1);
    ck_assert_int_eq(cps__ctl_recv_blob(sv[1], 1u << 20, &got, &got_len, &e), 0);
    ck_assert_uint_eq(got_len, len);
    ck_assert_int_eq(memcmp(got, data, len), 0);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(got);
    free(data);
}
END_TEST

START_TEST(blob_too_large)
{
    uint8_t data[16] = {0}, *got;
    struct cps_error e;
    size_t got_len;

    ck_assert_int_eq(cps__ctl_send_blob(sv[0], data, sizeof(data), &e), 0);
    ck_assert_int_eq(cps__ctl_recv_blob(sv[1], 8, &got, &got_len, &e), -EPROTO);
    ck_assert_ptr_null(got);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("control");
    TCase *tc = tcase_create("control");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, record_round_trip);
    tcase_add_test(tc, wrong_size_and_eof);
    tcase_add_test(tc, blob_round_trip);
    tcase_add_test(tc, blob_too_large);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
