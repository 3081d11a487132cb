/* Status values that carry a message: every fallible library call returns one. */
#ifndef PARAPROP_STATUS_H
#define PARAPROP_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* One list generates the codes, their names and the program's exit statuses (docs/ERRORS.md).
 * X(code, exit status, short name) */
#define PP_STATUS_LIST(X)                                                                          \
    X(PP_OK, 0, "ok")                                                                              \
    X(PP_ERR_RUNTIME, 1, "runtime error")                                                          \
    X(PP_ERR_USAGE, 2, "usage error")                                                              \
    X(PP_ERR_INPUT, 3, "bad input")                                                                \
    X(PP_ERR_DIVERGED, 4, "training diverged")                                                     \
    X(PP_ERR_WRITE, 5, "write failed")                                                             \
    X(PP_ERR_NOMEM, 6, "out of memory")

typedef enum pp_code {
#define PP_X_ENUM(c, e, s) c,
    PP_STATUS_LIST(PP_X_ENUM)
#undef PP_X_ENUM
        PP_CODE_COUNT
} pp_code;

#define PP_STATUS_MSG_MAX 480

/* A code and a human-readable message ("" when code == PP_OK). Returned by value.
 * agreed is set by pp_comm_agree on a failure that every rank of the job now holds, so every
 * rank leaves the collective path together; a failure without it was seen by this rank alone
 * (the app aborts the job for it when it runs on more than one rank: docs/ERRORS.md). */
typedef struct pp_status {
    pp_code code;
    char msg[PP_STATUS_MSG_MAX];
    int agreed;
} pp_status;

/* The success value. */
pp_status pp_ok(void);

/* Builds a failure with a printf-style message. */
pp_status pp_error(pp_code code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes an existing failure's message with context ("reading X: <old message>"); keeps its
 * code and its agreed flag. */
pp_status pp_status_wrap(pp_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The process exit status documented for a code (docs/ERRORS.md). */
int pp_code_exit_status(pp_code code);

/* A short name for a code ("bad input"). */
const char *pp_code_name(pp_code code);

/* Propagates a failure to the caller. */
#define PP_TRY(expr)                                                                               \
    do {                                                                                           \
        pp_status pp_try_st_ = (expr);                                                             \
        if (pp_try_st_.code != PP_OK) return pp_try_st_;                                           \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
