/*
 * error_layout.h - the layout of struct cps_error as one translation unit sees
 * it, for test_error_layout.c, which compares the view of common/error.h with
 * the view of the installed public header (each compiled alone).
 */
#ifndef CPS_TEST_ERROR_LAYOUT_H
#define CPS_TEST_ERROR_LAYOUT_H

#include <stddef.h>

struct cps_test_error_layout {
    size_t stage_max, message_max, hint_max;
    size_t size, align;
    size_t stage_off, stage_size, errnum_off, errnum_size;
    size_t message_off, message_size, hint_off, hint_size;
};

/* The layout as cachepot-sandbox.h (alone) defines it; error_layout_public.c. */
struct cps_test_error_layout cps_test_error_layout_public(void);

#define CPS_TEST_ERROR_LAYOUT(l)                                                              \
    do {                                                                                      \
        struct cps_error *e_ = NULL;                                                          \
        (l).stage_max = CPS_ERROR_STAGE_MAX;                                                  \
        (l).message_max = CPS_ERROR_MESSAGE_MAX;                                              \
        (l).hint_max = CPS_ERROR_HINT_MAX;                                                    \
        (l).size = sizeof(struct cps_error);                                                  \
        (l).align = _Alignof(struct cps_error);                                               \
        (l).stage_off = offsetof(struct cps_error, stage);                                    \
        (l).stage_size = sizeof(e_->stage);                                                   \
        (l).errnum_off = offsetof(struct cps_error, errnum);                                  \
        (l).errnum_size = sizeof(e_->errnum);                                                 \
        (l).message_off = offsetof(struct cps_error, message);                                \
        (l).message_size = sizeof(e_->message);                                               \
        (l).hint_off = offsetof(struct cps_error, hint);                                      \
        (l).hint_size = sizeof(e_->hint);                                                     \
    } while (0)

#endif
