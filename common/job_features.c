/* job_features.c - names and first releases of the optional job keys. */
#include "job_features.h"

#include <string.h>

#include "proto.h"

static const struct {
    const char *name;
    const char *since;
} features[] = {
    {"job.backend", "0.1.0"},
    {"job.overlay", "0.1.0"},
    {"job.uid", "0.1.0"},
    {"job.gid", "0.1.0"},
    {"job.seccomp", "0.1.0"},
    {"job.limits.timeout_ms", "0.1.0"},
    {"job.limits.max_output_bytes", "0.1.0"},
    {"job.limits.cpu_seconds", "0.1.0"},
    {"job.limits.address_space", "0.1.0"},
    {"job.limits.file_size", "0.1.0"},
    {"job.limits.open_files", "0.1.0"},
    {"job.limits.processes", "0.1.0"},
    {"job.limits.tmp_bytes", "0.1.0"},
    {"job.limits.scratch_bytes", "0.1.0"},
};

#define COUNT (sizeof(features) / sizeof(features[0]))

_Static_assert(CPS_FEATURES_ALL == (1u << COUNT) - 1, "one row per feature bit");

size_t cps__feature_count(void)
{
    return COUNT;
}

const char *cps__feature_name(size_t i)
{
    return i < COUNT ? features[i].name : NULL;
}

const char *cps__feature_since(size_t i)
{
    return i < COUNT ? features[i].since : NULL;
}

uint32_t cps__feature_parse(const char *name, size_t len)
{
    for (size_t i = 0; i < COUNT; i++)
        if (strlen(features[i].name) == len && memcmp(features[i].name, name, len) == 0)
            return 1u << i;
    return 0;
}

uint32_t cps__job_features(const struct cps_job *job)
{
    const struct cps_job_limits *l = &job->limits;
    const uint64_t limits[] = {l->timeout_ms,    l->max_output_bytes, l->cpu_seconds,
                               l->address_space, l->file_size,        l->open_files,
                               l->processes,     l->tmp_bytes,        l->scratch_bytes};
    uint32_t f = 0;

    if (job->backend != 0)
        f |= CPS_FEATURE_BACKEND;
    if (job->overlay != CPS_OVERLAY_AUTO)
        f |= CPS_FEATURE_OVERLAY;
    if (job->has_uid)
        f |= CPS_FEATURE_UID;
    if (job->has_gid)
        f |= CPS_FEATURE_GID;
    if (job->has_seccomp)
        f |= CPS_FEATURE_SECCOMP;
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
        if (limits[i] != 0)
            f |= CPS_FEATURE_TIMEOUT_MS << i;
    return f;
}
