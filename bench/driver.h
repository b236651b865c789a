/*
 * driver.h - the benchmark driver's shared types. The driver runs "variants"
 * (ways of running one job: bare exec, unshare, bubblewrap, the CLI, the
 * library) many times, interleaved, from one long-lived process so that the
 * start-up of a measuring tool never hides the cost being measured.
 *
 * A variant runs one job and fills a struct bench_result. Exec variants spawn a
 * command line (a template with {placeholders}); library variants call
 * libcachepot-sandbox. Adding a variant (e.g. issue 8's warm pool) means one
 * more entry in variant_lib.c's table; every mode picks it up by name.
 */
#ifndef CPS_BENCH_DRIVER_H
#define CPS_BENCH_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_MAX_STAGES  64
#define BENCH_STAGE_NAME  32
#define BENCH_ERR_MAX     512
#define BENCH_MAX_VARIANT 16

struct bench_stage {
    char name[BENCH_STAGE_NAME];
    uint64_t usec;
};

/* What one run of a variant produced. */
struct bench_result {
    bool ok;               /* ran, and the job exited 0 */
    uint64_t wall_us;      /* from just before spawn/call to its return */
    uint64_t stdout_bytes; /* counted, when the job asked for it */
    uint64_t output_bytes; /* bytes of output files received */
    long leftover;         /* entries left in the job's build dir after it returned */
    bool warm;             /* the job ran on a warm helper from a pool */
    char err[BENCH_ERR_MAX];
    struct bench_stage stages[BENCH_MAX_STAGES]; /* helper's own clock, if known */
    size_t stagec;
};

/*
 * One job, the same for every variant of a run. Strings are borrowed. Exec
 * variants only use the placeholders (stem, seq, dir, build); library variants
 * use everything. Templates: whitespace-separated words (the driver's paths
 * never contain whitespace); {stem} {seq} {dir} {build} are replaced.
 */
struct bench_job {
    const char *stem;        /* batch item name ("lapi"), or "" */
    uint64_t seq;            /* unique number of this run within the process */
    const char *dir;         /* per-variant host directory (cwd of exec variants) */
    const char *build;       /* fresh, empty per-job host build dir */
    const char *argv_tpl;    /* library jobs: argv inside the sandbox */
    const char *cwd;         /* library jobs: sandbox cwd, or NULL */
    const char *in_host_tpl; /* library jobs: host file to send, or NULL */
    const char *in_sbx_tpl;  /* ... and its path inside the sandbox */
    const char *out_sbx_tpl; /* library jobs: sandbox output path, or NULL */
    bool discard_outputs;    /* count output bytes, do not store them */
    bool count_stdout;       /* read stdout and count it (else /dev/null) */
};

struct bench_variant;
typedef int (*bench_run_fn)(struct bench_variant *v, const struct bench_job *job,
                            struct bench_result *res);

struct bench_variant {
    char name[64];
    bench_run_fn run;
    /* NULL, or called when no job of this variant runs any more (frees what
     * the variant kept between jobs, e.g. a pool of warm helpers) */
    void (*finish)(struct bench_variant *v);
    /* NULL, or called once before the timed runs (untimed: e.g. fill a pool) */
    int (*prepare)(struct bench_variant *v, const struct bench_job *job);
    const char *tpl; /* exec: command line template */
    void *priv;      /* library variants' state */
};
/* driver.c: call v's (every variant's) prepare with a job of c (stem: the
 * first job's stem or NULL); failures are reported by the runs that follow. */
struct bench_common;
void bench_prepare_one(struct bench_common *c, struct bench_variant *v, const char *stem);
void bench_prepare_all(struct bench_common *c, const char *stem);
/* driver.c: call every variant's finish. */
void bench_finish_all(struct bench_variant *v, size_t n);

/* Settings shared by every library variant (command-line options). */
struct bench_lib_config {
    const char *helper;    /* helper executable */
    const char *toolchain; /* toolchain dir (overlay lower layer) */
    const char *env;       /* "K=V K=V" for the job's environment */
    unsigned pool_size;    /* warm helpers per configuration (>= jobs at once) */
};
extern struct bench_lib_config bench_lib;

/* variant_exec.c: a command-line variant. */
void bench_variant_exec(struct bench_variant *v, const char *name, const char *tpl);
/* variant_lib.c: a library variant by kind ("cold", ...). 0 or -EINVAL with a
 * message on stderr (unknown kind, or built without the library). */
int bench_variant_lib(struct bench_variant *v, const char *name, const char *kind);
/* Names of the library kinds this build supports, space separated. */
const char *bench_lib_kinds(void);

/* template.c: expand a template for job; returns a NULL-terminated argv
 * (new, free with bench_argv_free) or NULL on ENOMEM / empty template. */
char **bench_expand(const char *tpl, const struct bench_job *job);
/* Expand into one string (new) - for single paths. */
char *bench_expand1(const char *tpl, const struct bench_job *job);
void bench_argv_free(char **argv);

/* stats.c */
uint64_t bench_now_us(void);
int bench_cmp_u64(const void *a, const void *b);
/* Percentile (0..100) of n samples, nearest-rank on a sorted copy. */
uint64_t bench_percentile(const uint64_t *v, size_t n, double pct);
/* JSON helpers: a string with escapes, an array of numbers. */
void bench_json_str(FILE *f, const char *s);
void bench_json_u64s(FILE *f, const uint64_t *v, size_t n);

/* probe.c: what a run left behind, and memory of the helpers. */
long bench_count_mounts(void);
/* Processes other than this one whose command line contains match (the
 * bench's private directory), plus live children of this process (orphans
 * are reparented to the driver: it is a child subreaper). */
long bench_count_procs(const char *match);
/* Entries (files, dirs, links) below dir, not counting dir itself. */
long bench_count_entries(const char *dir);
/* Remove dir and everything below it (errors ignored: a leftover is counted
 * before this runs). */
void bench_rm_rf(const char *dir);
/* Sampler thread: every period_ms, the largest VmHWM (kB) of any process
 * whose executable is exe (the helper). */
int bench_hwm_start(const char *exe, unsigned period_ms);
uint64_t bench_hwm_stop(void);

/* The modes. argc/argv: what follows the mode name. */
int bench_mode_overhead(int argc, char **argv);
int bench_mode_batch(int argc, char **argv);
int bench_mode_stream(int argc, char **argv);
int bench_mode_conc(int argc, char **argv);
int bench_mode_cpu(int argc, char **argv);

/* options.c: parse the options every mode shares; returns the index of the
 * first unparsed argument, or -1 after printing an error. Variants are given
 * as --exec NAME TEMPLATE and --lib NAME KIND, in the order they run. */
struct bench_common {
    struct bench_variant variants[BENCH_MAX_VARIANT];
    size_t variantc;
    const char *json;       /* result file */
    const char *build_base; /* per-job build dirs are made below it */
    const char *work;       /* batch: W/src inputs, W/<variant> per variant */
    const char *argv_tpl, *cwd, *in_host_tpl, *in_sbx_tpl, *out_sbx_tpl;
    const char *match; /* substring of the command line of leftovers */
    bool count_stdout, discard_outputs;
    unsigned n, warmup, rounds, par;
    const char *stems;      /* batch: file with one stem per line */
    const char *count_file; /* template: a file the job produced on the host,
                               counted into output_bytes and removed */
};
int bench_parse_common(int argc, char **argv, struct bench_common *c);
/* Make a fresh empty build dir for one job below c->build_base; *out new. */
int bench_make_build(const struct bench_common *c, uint64_t seq, char **out);
/* driver.c: run variant v once for stem (may be NULL) in a fresh build dir;
 * the build dir is counted (res->leftover) and removed afterwards. */
int bench_run_one(const struct bench_common *c, struct bench_variant *v, const char *stem,
                  struct bench_result *res);
/* parallel.c: run `count` jobs of v with `par` threads at once (job i uses
 * stems[i] when stems is not NULL); res[i] gets each result. Returns the wall
 * time of the whole batch in microseconds. */
uint64_t bench_parallel(const struct bench_common *c, struct bench_variant *v, char **stems,
                        size_t count, unsigned par, struct bench_result *res);
/* Next unique job number (thread safe). */
uint64_t bench_next_seq(void);
/* Fill job from c for one run. */
void bench_job_init(const struct bench_common *c, struct bench_job *job, const char *variant,
                    const char *stem, uint64_t seq, const char *build, char *dirbuf, size_t dirlen);

#endif
