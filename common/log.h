/*
 * log.h - leveled logging to stderr. The level comes from CACHEPOT_LOG
 * (error, warn, info, debug, trace; default warn). Each line carries a UTC
 * timestamp, the level, the PID and the component name, e.g.
 *   2026-11-29T12:00:00.123Z warn [4242] helper: overlay: falling back to bind
 * Thread safe (one write(2) per line).
 */
#ifndef CPS_COMMON_LOG_H
#define CPS_COMMON_LOG_H

enum cps_log_level {
    CPS_LOG_ERROR = 0,
    CPS_LOG_WARN = 1,
    CPS_LOG_INFO = 2,
    CPS_LOG_DEBUG = 3,
    CPS_LOG_TRACE = 4,
};

/* Read CACHEPOT_LOG and remember the component name (borrowed; must be static). */
void cps__log_init(const char *component);
/* Current level; a caller may skip building expensive messages. */
enum cps_log_level cps__log_level(void);
void cps__log(enum cps_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cps__log_error(...) cps__log(CPS_LOG_ERROR, __VA_ARGS__)
#define cps__log_warn(...)  cps__log(CPS_LOG_WARN, __VA_ARGS__)
#define cps__log_info(...)  cps__log(CPS_LOG_INFO, __VA_ARGS__)
#define cps__log_debug(...) cps__log(CPS_LOG_DEBUG, __VA_ARGS__)
#define cps__log_trace(...) cps__log(CPS_LOG_TRACE, __VA_ARGS__)

#endif
