/* Status construction and the code → exit-status table. */
#include "paraprop/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

pp_status pp_ok(void)
{
    pp_status st;
    st.code = PP_OK;
    st.msg[0] = '\0';
    st.agreed = 0;
    return st;
}

pp_status pp_error(pp_code code, const char *fmt, ...)
{
    pp_status st;
    st.code = code;
    st.agreed = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st.msg, sizeof st.msg, fmt, ap);
    va_end(ap);
    return st;
}

pp_status pp_status_wrap(pp_status st, const char *fmt, ...)
{
    if (st.code == PP_OK) return st;
    char prefix[PP_STATUS_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[PP_STATUS_MSG_MAX];
    memcpy(old, st.msg, sizeof old);
    snprintf(st.msg, sizeof st.msg, "%s: %s", prefix, old);
    return st;
}

int pp_code_exit_status(pp_code code)
{
    switch (code) {
#define PP_X_EXIT(c, e, s)                                                                         \
    case c:                                                                                        \
        return e;
        PP_STATUS_LIST(PP_X_EXIT)
#undef PP_X_EXIT
    default:
        return 1;
    }
}

const char *pp_code_name(pp_code code)
{
    switch (code) {
#define PP_X_NAME(c, e, s)                                                                         \
    case c:                                                                                        \
        return s;
        PP_STATUS_LIST(PP_X_NAME)
#undef PP_X_NAME
    default:
        return "unknown";
    }
}
