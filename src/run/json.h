/* Private: JSON string literals for every JSON paraprop writes (metrics.jsonl, bench lines). */
#ifndef PARAPROP_JSON_H
#define PARAPROP_JSON_H

#include <stddef.h>

/* The longest literal json_quote can make of a string of n bytes: quotes, 6 bytes per input
 * byte (\u00XX) and the terminating NUL. */
#define JSON_QUOTED_MAX(n) (6 * (size_t)(n) + 3)

/* Writes s as a JSON string literal, quotes included, into out[0…n): '"', '\' and control
 * characters are escaped, valid UTF-8 passes through, and a byte that is not part of valid UTF-8
 * becomes \u00XX (its Latin-1 reading), so any path gives valid JSON. Returns the length of the
 * whole literal; like snprintf, out holds only what fits (always NUL-terminated when n > 0), so
 * size it with JSON_QUOTED_MAX. */
size_t json_quote(char *out, size_t n, const char *s);

#endif
