/*
 * proto.h - protocol version 1 messages: C structs, the CBOR encoder and the
 * strict decoder for untrusted frames. The wire format is specified in
 * docs/PROTOCOL.md and docs/protocol.cddl; tests/vectors/ holds golden frames.
 *
 * Every message is one CBOR map with text keys; "type" names the message.
 * Decoding is strict: definite lengths only, bounded nesting, no tags, no
 * floats, no unknown/duplicate/missing keys, valid NUL-free UTF-8 text within
 * the limits of limits.h, normalized absolute paths, no trailing bytes, and an
 * allocation-free pre-scan that rejects declared counts larger than the bytes
 * left before libcbor allocates anything.
 *
 * Ownership: a decoded struct cps_msg owns every pointer inside it; free it
 * with cps__msg_free(). Structs handed to the encoder are borrowed.
 */
#ifndef CPS_COMMON_PROTO_H
#define CPS_COMMON_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "error.h"
#include "cps_limits.h"

enum cps_msg_type {
    CPS_MSG_HELLO = 1, /* helper -> parent, always the first frame */
    CPS_MSG_JOB,       /* parent -> helper */
    CPS_MSG_INPUT,     /* parent -> helper, after job, in job.inputs order */
    CPS_MSG_CANCEL,    /* parent -> helper, any time after job */
    CPS_MSG_STDOUT,    /* helper -> parent */
    CPS_MSG_STDERR,    /* helper -> parent */
    CPS_MSG_OUTPUT,    /* helper -> parent, after the job ended, in job.outputs order */
    CPS_MSG_EXIT,      /* helper -> parent, last frame of a job that ran */
    CPS_MSG_ERROR,     /* helper -> parent, last frame of a job that could not run */
};

/* Sandbox backends and overlay modes: bit flags for capability sets, one bit
 * for a choice. The wire uses the names ("userns", "native", ...). */
enum cps_backend {
    CPS_BACKEND_USERNS = 1u << 0,
    CPS_BACKEND_BUBBLEWRAP = 1u << 1,
};
enum cps_overlay {
    CPS_OVERLAY_AUTO = 0, /* only in a job: let the helper choose */
    CPS_OVERLAY_NATIVE = 1u << 0,
    CPS_OVERLAY_FUSE = 1u << 1,
    CPS_OVERLAY_BIND = 1u << 2,
};
/* Name <-> value. Names are static strings ("unknown" for a value that is not
 * exactly one known choice); parse returns 0 or -EINVAL. */
const char *cps__backend_name(enum cps_backend b);
int cps__backend_parse(const char *name, size_t len, enum cps_backend *out);
const char *cps__overlay_name(enum cps_overlay o);
int cps__overlay_parse(const char *name, size_t len, enum cps_overlay *out);

/*
 * The strings of the messages below are const: nothing writes through them.
 * The decoder's copies are owned by the message and freed by cps__msg_free;
 * an encoder's caller lends its own. cps__free_const frees an owned one.
 */
static inline void cps__free_const(const void *p)
{
    free((void *)(uintptr_t)p);
}

struct cps_hello {
    uint64_t protocol;       /* CPS_PROTOCOL_VERSION of the helper */
    const char *helper_version; /* e.g. "0.1.0" */
    uint32_t backends;       /* enum cps_backend bits the helper supports on this host */
    uint32_t overlay_modes;  /* enum cps_overlay bits the helper supports on this host */
    uint64_t max_frame;      /* largest frame the helper accepts */
    uint64_t max_chunk;      /* largest data chunk the helper sends or accepts */
    /* The configuration the helper was prepared with before saying hello (its
     * namespaces already exist): a job must match it or is refused. */
    uint32_t uid;            /* uid inside the sandbox */
    uint32_t gid;            /* gid inside the sandbox */
    uint32_t backend;        /* one enum cps_backend value */
    bool seccomp;            /* default seccomp filter on */
    /* The optional job keys the helper understands (enum cps_feature bits of
     * job_features.h). has_features false: the hello had no "features" key (a
     * helper of 0.1.0, or a parent that did not ask for it with
     * CACHEPOT_HELLO_FEATURES=1; docs/COMPATIBILITY.md). */
    bool has_features;
    uint32_t features;
    /* The jobs a reusing helper (--jobs-per-helper N > 1) will still take,
     * counting the one this hello invites: 1..CPS_MAX_JOBS_PER_HELPER. 0: the
     * hello had no "reuse" key (one job per helper; docs/PROTOCOL.md). */
    uint32_t reuse;
};

/* Limits of one job. 0 means "the helper's documented default". */
struct cps_job_limits {
    uint64_t timeout_ms;       /* wall clock of the compiler, from exec to exit */
    uint64_t max_output_bytes; /* stdout + stderr + output files */
    uint64_t cpu_seconds;      /* RLIMIT_CPU */
    uint64_t address_space;    /* RLIMIT_AS, bytes */
    uint64_t file_size;        /* RLIMIT_FSIZE, bytes */
    uint64_t open_files;       /* RLIMIT_NOFILE */
    uint64_t processes;        /* RLIMIT_NPROC / pids.max */
    uint64_t tmp_bytes;        /* size of the /tmp tmpfs (and bind-mode tmpfs) */
    uint64_t scratch_bytes;    /* size of the tmpfs holding the job's writable layer */
};

struct cps_env_pair {
    const char *name; /* non-empty, no '=' */
    const char *value;
};

struct cps_input_decl {
    const char *path; /* sandbox path, absolute, normalized */
    uint32_t mode; /* permission bits, <= 07777 */
    uint64_t size; /* exact number of data bytes the input frames carry */
};

struct cps_job {
    const char *toolchain; /* host path: the read-only lower layer / root of the sandbox */
    const char *build_dir; /* host path: the helper creates upper/ work/ target/ here */
    const char **argv;     /* argc entries, argc >= 1; argv[0] resolved with the job's PATH */
    size_t argc;
    struct cps_env_pair *env; /* exactly the compiler's environment */
    size_t envc;
    const char *cwd;       /* sandbox path; created if missing */
    const char **outputs;  /* sandbox paths, absolute, normalized (clients resolve relative ones) */
    size_t outputc;
    struct cps_input_decl *inputs; /* announced here, data follows in input frames */
    size_t inputc;
    uint32_t backend; /* 0 = the helper's; else one enum cps_backend */
    uint32_t overlay; /* enum cps_overlay; CPS_OVERLAY_AUTO = let the helper choose */
    bool has_uid;     /* uid/gid present on the wire */
    uint32_t uid;
    bool has_gid;
    uint32_t gid;
    bool has_seccomp; /* seccomp present on the wire */
    bool seccomp;
    struct cps_job_limits limits;
};

/* One chunk of the current input file (job.inputs[i] in order). The chunks of
 * a file carry exactly its declared size; end is true on its last chunk (a
 * zero-byte file is one frame with empty data and end true). */
struct cps_input {
    const char *path; /* must equal the declared path of the current input */
    uint8_t *data;
    size_t data_len; /* <= CPS_MAX_CHUNK */
    bool end;
};

/* stdout / stderr chunk: 1..CPS_MAX_CHUNK bytes. */
struct cps_stream {
    uint8_t *data;
    size_t data_len;
};

/* One chunk of an output file, or its absence. Chunks of a file follow each
 * other; size is the file's total size, repeated in each chunk. */
struct cps_output {
    const char *path; /* as requested in job.outputs */
    bool missing;     /* true: no such regular file; nothing else is set */
    uint32_t mode;    /* permission bits */
    uint64_t size;
    uint8_t *data;
    size_t data_len; /* <= CPS_MAX_CHUNK */
    bool end;
};

struct cps_timing {
    const char *stage; /* e.g. "unshare", "overlay", "exec", "wait" */
    uint64_t usec;
};

struct cps_exit {
    bool signaled;     /* true: killed by signal `signal`; false: exited with `code` */
    int32_t code;      /* 0..255 when !signaled */
    uint32_t signal;   /* 1..64 when signaled */
    bool timed_out;    /* the job's timeout fired (then signaled is true, SIGKILL) */
    const char *limit; /* NULL, or the name of the limit that ended the job:
                          "timeout", "output", "cpu", "file_size", ... */
    uint64_t wall_us, user_us, sys_us;
    uint64_t max_rss_kb;
    uint32_t backend;           /* the backend that ran the job */
    uint32_t overlay;           /* the overlay mode that ran the job */
    struct cps_timing *timings; /* per-stage, helper's own clock */
    size_t timingc;
};

struct cps_msg {
    enum cps_msg_type type;
    union {
        struct cps_hello hello;
        struct cps_job job;
        struct cps_input input;
        struct cps_stream stream; /* CPS_MSG_STDOUT and CPS_MSG_STDERR */
        struct cps_output output;
        struct cps_exit exit;
        struct cps_error error; /* message/hint truncated to the struct's sizes on decode */
    } u;
};

/*
 * Encode msg (borrowed) as one canonical CBOR item: keys in the order of
 * docs/PROTOCOL.md, integers in their shortest form, definite lengths. Returns
 * 0 and *out (new, free()) / *out_len, or -errno (-EINVAL for a message that
 * breaks the rules the decoder enforces, -ENOMEM, -EMSGSIZE above CPS_MAX_FRAME).
 */
int cps__msg_encode(const struct cps_msg *msg, uint8_t **out, size_t *out_len,
                    struct cps_error *err);

/*
 * Decode one frame payload (borrowed). Returns 0 and fills *msg (free with
 * cps__msg_free), or -EPROTO / -EMSGSIZE / -ENOMEM with err->stage "decode" and a
 * message naming the rule and the field, e.g. "job.argv[3]: text contains NUL".
 * A hello whose "protocol" is not CPS_PROTOCOL_VERSION gives -EPROTONOSUPPORT
 * ("helper speaks protocol 2, this side speaks 1") before any other rule is
 * applied. -EMSGSIZE: len is 0 or above CPS_MAX_FRAME. On failure *msg holds
 * nothing to free.
 */
int cps__msg_decode(const uint8_t *buf, size_t len, struct cps_msg *msg, struct cps_error *err);

/* Wire name of a message type ("hello", ...), NULL for an invalid type. */
const char *cps__msg_type_name(enum cps_msg_type type);

/* Free everything msg owns; leaves *msg zeroed. Safe on a zeroed msg. */
void cps__msg_free(struct cps_msg *msg);

/* True when a and b (borrowed) carry the same message: the same fields as the
 * wire would carry them (output chunk fields are ignored when missing). */
bool cps__msg_equal(const struct cps_msg *a, const struct cps_msg *b);

/* Convenience: encode + cps__frame_write. */
int cps__msg_send(int fd, const struct cps_msg *msg, struct cps_error *err);
/* Convenience: send an error frame built from err (borrowed). */
int cps__msg_send_error(int fd, const struct cps_error *e, struct cps_error *err);
/* The payload of that frame (new, free()), for a caller that sends it itself. */
int cps__msg_encode_error(const struct cps_error *e, uint8_t **out, size_t *out_len,
                          struct cps_error *err);

/* Path rule shared by decoder, helper and parent: absolute, no empty, "." or ".."
 * components, no trailing slash (except "/" itself), no NUL, <= CPS_MAX_PATH.
 * Returns true when path[0..len) follows it. */
bool cps__path_is_normal(const char *path, size_t len);
/* The same rule, saying why: NULL when path[0..len) follows it, else a static
 * phrase such as "path has a \"..\" component" for error messages. */
const char *cps__path_problem(const char *path, size_t len);

#endif
