/* stage.c - the stage name table. */
#include "stage.h"

#include <string.h>

#include "error.h"

#define H (CPS_STAGE_BY_HELPER | CPS_STAGE_IN_FRAME)
#define L CPS_STAGE_BY_LIBRARY

static const struct {
    const char *name;
    unsigned flags;
} stages[CPS_STAGE_COUNT] = {
    /* usage errors go to stderr with exit 2 (no socket to send them on). */
    [CPS_STAGE_USAGE] = {"usage", CPS_STAGE_BY_HELPER},
    [CPS_STAGE_PARENT] = {"parent", H},
    [CPS_STAGE_SIGNALS] = {"signals", H},
    [CPS_STAGE_UNSHARE] = {"unshare", H},
    [CPS_STAGE_SETGROUPS] = {"setgroups", H},
    [CPS_STAGE_UID_MAP] = {"uid_map", H},
    [CPS_STAGE_GID_MAP] = {"gid_map", H},
    [CPS_STAGE_HOSTNAME] = {"hostname", H},
    [CPS_STAGE_MOUNT] = {"mount", H},
    [CPS_STAGE_SECCOMP] = {"seccomp", H},
    [CPS_STAGE_FORK_INIT] = {"fork_init", H},
    [CPS_STAGE_FRAME] = {"frame", H},
    [CPS_STAGE_DECODE] = {"decode", H},
    [CPS_STAGE_ENCODE] = {"encode", H | L},
    [CPS_STAGE_PROTOCOL] = {"protocol", H | L},
    [CPS_STAGE_JOB] = {"job", H | L},
    [CPS_STAGE_BACKEND] = {"backend", H},
    [CPS_STAGE_CGROUP] = {"cgroup", H},
    [CPS_STAGE_BUBBLEWRAP] = {"bubblewrap", H},
    [CPS_STAGE_BUILDDIR] = {"builddir", H | L},
    [CPS_STAGE_OVERLAY] = {"overlay", H},
    [CPS_STAGE_INPUTS] = {"inputs", H},
    [CPS_STAGE_CANCEL] = {"cancel", H | L},
    [CPS_STAGE_RUN] = {"run", H},
    [CPS_STAGE_CONTROL] = {"control", H},
    [CPS_STAGE_INIT] = {"init", H},
    [CPS_STAGE_PROC] = {"proc", H},
    [CPS_STAGE_DEV] = {"dev", H},
    [CPS_STAGE_TMP] = {"tmp", H},
    [CPS_STAGE_PIVOT_ROOT] = {"pivot_root", H},
    [CPS_STAGE_EXEC] = {"exec", H},
    [CPS_STAGE_RLIMITS] = {"rlimits", H},
    [CPS_STAGE_CAPS] = {"caps", H},
    [CPS_STAGE_OUTPUTS] = {"outputs", H},
    /* cleanup failures are logged; the exit frame is still sent. */
    [CPS_STAGE_CLEANUP] = {"cleanup", CPS_STAGE_BY_HELPER},
    [CPS_STAGE_SPAWN] = {"spawn", L},
    [CPS_STAGE_HELLO] = {"hello", L},
    [CPS_STAGE_INPUT] = {"input", L},
    [CPS_STAGE_OUTPUT] = {"output", L},
    [CPS_STAGE_CALLBACK] = {"callback", L},
    [CPS_STAGE_TIMEOUT] = {"timeout", L},
    [CPS_STAGE_HELPER] = {"helper", L},
    [CPS_STAGE_POOL] = {"pool", L},
    [CPS_STAGE_POLL] = {"poll", L},
};

const char *cps__stage_name(enum cps_stage stage)
{
    return (unsigned)stage < CPS_STAGE_COUNT ? stages[stage].name : "";
}

unsigned cps__stage_flags(enum cps_stage stage)
{
    return (unsigned)stage < CPS_STAGE_COUNT ? stages[stage].flags : 0;
}

int cps__stage_from_name(const char *name)
{
    for (int i = 0; i < CPS_STAGE_COUNT; i++)
        if (strcmp(stages[i].name, name) == 0)
            return i;
    return -1;
}

bool cps__error_is(const struct cps_error *err, enum cps_stage stage)
{
    return strcmp(err->stage, cps__stage_name(stage)) == 0;
}
