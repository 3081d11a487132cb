/* JSON string escaping (RFC 8259 §7): the one place that turns text into a JSON string. */
#include "json.h"

#include <stdio.h>

/* Length of the valid UTF-8 sequence at p (1…4), or 0 when the byte at p does not start one. */
static size_t utf8_len(const unsigned char *p)
{
    size_t len;
    unsigned cp;
    if (p[0] < 0x80) return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1fu;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    /* overlong forms, UTF-16 surrogates and code points past U+10FFFF are not valid UTF-8 */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void put(char *out, size_t n, size_t *at, const char *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++, (*at)++)
        if (*at + 1 < n) out[*at] = bytes[i];
}

size_t json_quote(char *out, size_t n, const char *s)
{
    size_t at = 0;
    put(out, n, &at, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        char esc[8];
        size_t len = utf8_len(p);
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(out, n, &at, esc, 2);
        } else if (*p == '\n') {
            put(out, n, &at, "\\n", 2);
        } else if (*p == '\t') {
            put(out, n, &at, "\\t", 2);
        } else if (*p < 0x20 || *p == 0x7f || len == 0) {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)*p);
            put(out, n, &at, esc, 6);
            len = 1;
        } else {
            put(out, n, &at, (const char *)p, len);
        }
        p += len ? len : 1;
    }
    put(out, n, &at, "\"", 1);
    if (n) out[at < n ? at : n - 1] = '\0';
    return at;
}
