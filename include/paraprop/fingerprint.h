/* SHA-256, used for the parameter fingerprint that proves two runs trained the same model. */
#ifndef PARAPROP_FINGERPRINT_H
#define PARAPROP_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SHA-256 of len bytes as 64 lowercase hex digits plus NUL into hex[65]. */
void pp_sha256_hex(const void *data, size_t len, char hex[65]);

/* SHA-256 into 32 raw bytes. */
void pp_sha256(const void *data, size_t len, uint8_t out[32]);

#ifdef __cplusplus
}
#endif
#endif
