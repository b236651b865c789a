/*
 * client.h - a raw-protocol client of the helper for the integration tests:
 * spawns the real helper (optionally as uid 65534 through setpriv) with its
 * end of a socketpair at fd 3, speaks the protocol with common/, and collects
 * everything the helper sends.
 */
#ifndef CPS_TEST_CLIENT_H
#define CPS_TEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "proto.h"

struct client_output {
    char *path;
    bool missing;
    uint32_t mode;
    uint64_t size;
    uint8_t *data;
    size_t len;
};

struct client {
    pid_t pid; /* the helper (setpriv execs it: same process) */
    int sock;  /* our end */
    bool unpriv;
    struct cps_hello hello;
    bool have_hello;
    unsigned long long pidns_ino; /* the job's PID namespace (that of the helper's child I) */
    int pidns_fd;                 /* holds that namespace, so its inode is not reused */

    /* stdout is kept up to keep_limit bytes; beyond it only counted and, with
     * check_pattern, checked against byte i = i % 251 (progs/writebytes.c). */
    size_t keep_limit;
    bool check_pattern;
    bool pattern_ok;
    uint8_t *out;
    uint64_t out_len;
    uint8_t *err;
    uint64_t err_len;
    size_t stdout_frames;

    struct client_output outputs[64];
    size_t outputc;

    bool have_exit;
    struct cps_msg exit_msg; /* CPS_MSG_EXIT */
    bool have_error;
    struct cps_error error;
    bool eof;            /* the helper closed fd 3 */
    bool prev_job_alive; /* client_next: a process of the last job's PID namespace was left */

    int wait_status; /* after client_wait */
    struct rusage ru;
};

/* Spawn helper (path) with extra args (NULL-terminated, may be NULL). unpriv:
 * through `setpriv --reuid=65534 --regid=65534 --clear-groups --`. */
int client_spawn(struct client *c, const char *helper, bool unpriv, const char *const *args);

/* Where the helper runs: pgroup > 0 puts it into that process group; ctty (a
 * terminal's path) makes it the leader of a new session with that terminal as
 * its controlling terminal (and stdin). Either may be 0 / NULL. */
struct client_place {
    pid_t pgroup;
    const char *ctty;
};
int client_spawn_in(struct client *c, const char *helper, bool unpriv, const char *const *args,
                    const struct client_place *place);

/* Read the first frame: hello (returns 0) or error (returns -1, c->error set). */
int client_hello(struct client *c);

/* A helper started with --jobs-per-helper N, after a job's exit frame: forget
 * that job (streams, outputs, exit, error; not the process), then read the
 * next frame as client_hello does. -ECONNRESET (and c->eof) when the helper
 * closed fd 3 instead. Once that frame or EOF arrived, c->prev_job_alive says
 * whether a process was still in the job's PID namespace (the helper reaps I
 * before it says hello again or closes fd 3). */
int client_next(struct client *c);

/* Send a job / one input file (split in chunks) / cancel. 0 or -errno. */
int client_send_job(struct client *c, const struct cps_job *job);
int client_send_input(struct client *c, const char *path, const uint8_t *data, size_t len);
int client_send_cancel(struct client *c);

/* Read frames until exit, error or EOF. on_stdout (may be NULL) is called
 * after each stdout frame (e.g. to cancel mid-job); returns false to stop
 * reading early. Returns 0 when exit or error arrived. */
int client_collect(struct client *c, bool (*on_stdout)(struct client *c, void *arg), void *arg);

/* Close our socket end (optional) and wait for the helper; fills wait_status, ru. */
int client_wait(struct client *c);

/* Is any process left in the helper's PID namespace? (scans /proc/N/ns/pid) */
bool client_pidns_alive(const struct client *c);

/* Find a process whose cmdline contains marker. Returns its pid or 0. */
pid_t find_process_with_arg(const char *marker);
/* The same, for a command line that contains both markers (also may be NULL). */
pid_t find_process_with_args(const char *marker, const char *also);

const struct client_output *client_output(const struct client *c, const char *path);

void client_free(struct client *c);

#endif
