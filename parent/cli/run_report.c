/* run_report.c - exit status, stderr messages and the --json summary. */
#include "run_report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "run_args.h"

int run_exit_status(int ret, const struct cps_result *res)
{
    if (ret == -ETIMEDOUT)
        return RUN_EXIT_TIMEOUT;
    if (ret < 0 || !res)
        return RUN_EXIT_FAILURE;
    if (res->timed_out)
        return RUN_EXIT_TIMEOUT;
    if (res->signal > 0)
        return 128 + res->signal;
    return res->exit_code;
}

void run_print_error(const struct cps_error *err)
{
    fprintf(stderr, "cachepot-dist-run: %s: %s", err->stage[0] ? err->stage : "error",
            err->message);
    fputc('\n', stderr);
    if (err->hint[0])
        fprintf(stderr, "cachepot-dist-run: hint: %s\n", err->hint);
}

void run_print_summary(const struct cps_result *res)
{
    fprintf(stderr,
            "cachepot-dist-run: %s/%s, exit %d%s%s, spawn %.1f ms, setup %.1f ms, run %.1f ms, "
            "outputs %.1f ms, total %.1f ms, %llu bytes in, %llu bytes out\n",
            res->backend, res->overlay, res->signal ? 128 + res->signal : res->exit_code,
            res->timed_out ? " (timed out)" : "", res->signal ? " (signal)" : "",
            res->spawn_us / 1000.0, res->setup_us / 1000.0, res->run_us / 1000.0,
            res->outputs_us / 1000.0, res->total_us / 1000.0, (unsigned long long)res->bytes_in,
            (unsigned long long)res->bytes_out);
}

/* A JSON string: quotes, backslashes and control characters escaped; other
 * bytes as they are (the library's strings are UTF-8). */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_result(FILE *f, const struct cps_result *res)
{
    fprintf(f, "  \"exit\": {\"code\": %d, \"signal\": %d, \"timed_out\": %s, \"limit\": ",
            res->exit_code, res->signal, res->timed_out ? "true" : "false");
    if (res->limit[0])
        json_string(f, res->limit);
    else
        fputs("null", f);
    fputs("},\n  \"backend\": ", f);
    json_string(f, res->backend);
    fputs(",\n  \"overlay\": ", f);
    json_string(f, res->overlay);
    fputs(",\n  \"helper_version\": ", f);
    json_string(f, res->helper_version);
    fprintf(f,
            ",\n  \"timings_us\": {\"spawn\": %llu, \"setup\": %llu, \"run\": %llu, "
            "\"outputs\": %llu, \"total\": %llu},\n",
            (unsigned long long)res->spawn_us, (unsigned long long)res->setup_us,
            (unsigned long long)res->run_us, (unsigned long long)res->outputs_us,
            (unsigned long long)res->total_us);
    fputs("  \"helper_timings_us\": {", f);
    for (size_t i = 0; i < res->timing_count; i++) {
        fputs(i ? ", " : "", f);
        json_string(f, res->timings[i].stage);
        fprintf(f, ": %llu", (unsigned long long)res->timings[i].usec);
    }
    fprintf(f,
            "},\n  \"usage\": {\"wall_us\": %llu, \"user_us\": %llu, \"sys_us\": %llu, "
            "\"max_rss_kb\": %llu},\n",
            (unsigned long long)res->wall_us, (unsigned long long)res->user_us,
            (unsigned long long)res->sys_us, (unsigned long long)res->max_rss_kb);
    fprintf(f, "  \"bytes\": {\"in\": %llu, \"out\": %llu},\n", (unsigned long long)res->bytes_in,
            (unsigned long long)res->bytes_out);
    fprintf(f, "  \"outputs\": {\"received\": %zu, \"missing\": %zu},\n", res->outputs_received,
            res->outputs_missing);
}

static void json_error(FILE *f, const struct cps_error *err)
{
    fputs("  \"error\": {\"stage\": ", f);
    json_string(f, err->stage);
    fprintf(f, ", \"errno\": %d, \"message\": ", err->errnum);
    json_string(f, err->message);
    fputs(", \"hint\": ", f);
    json_string(f, err->hint);
    fputs("},\n", f);
}

int run_write_json(const char *path, int ret, const struct cps_result *res,
                   const struct cps_error *err, int exit_status)
{
    FILE *f = fopen(path, "we");

    if (!f) {
        fprintf(stderr, "cachepot-dist-run: cannot write --json %s: %s\n", path, strerror(errno));
        return -1;
    }
    fputs("{\n", f);
    if (ret == 0 && res)
        json_result(f, res);
    else
        json_error(f, err);
    fprintf(f, "  \"status\": %d\n}\n", exit_status);
    if (fclose(f) != 0) {
        fprintf(stderr, "cachepot-dist-run: cannot write --json %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}
