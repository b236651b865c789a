/*
 * parallel.c - run a batch of jobs with P threads at once, each thread taking
 * the next job as soon as its previous one returned (like xargs -P, without
 * a process per job in the driver).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "driver.h"

struct batch {
    const struct bench_common *c;
    struct bench_variant *v;
    char **stems;
    size_t count;
    atomic_size_t next;
    struct bench_result *res;
};

static void *worker(void *arg)
{
    struct batch *b = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&b->next, 1);
        if (i >= b->count)
            break;
        bench_run_one(b->c, b->v, b->stems ? b->stems[i] : NULL, &b->res[i]);
    }
    return NULL;
}

uint64_t bench_parallel(const struct bench_common *c, struct bench_variant *v, char **stems,
                        size_t count, unsigned par, struct bench_result *res)
{
    struct batch b = {.c = c, .v = v, .stems = stems, .count = count, .res = res};
    pthread_t *t = calloc(par, sizeof(*t));
    bool *started = calloc(par, sizeof(*started));
    atomic_init(&b.next, 0);
    unsigned running = 0;
    uint64_t t0 = bench_now_us();
    for (unsigned i = 0; t && started && i < par; i++) {
        started[i] = pthread_create(&t[i], NULL, worker, &b) == 0;
        running += started[i];
    }
    /* If no thread could start, run the batch on this one. */
    if (running == 0)
        worker(&b);
    for (unsigned i = 0; t && started && i < par; i++)
        if (started[i])
            pthread_join(t[i], NULL);
    uint64_t wall = bench_now_us() - t0;
    free(t);
    free(started);
    return wall;
}
