/* SHA-256: the parameter fingerprint that proves two runs trained the same model, and the file
 * seals that prove a file holds the bytes paraprop wrote. */
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

/* Streaming SHA-256, for data that is read in pieces (file seals). */
typedef struct pp_sha256_ctx {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t fill;
} pp_sha256_ctx;
void pp_sha256_init(pp_sha256_ctx *c);
void pp_sha256_update(pp_sha256_ctx *c, const void *data, size_t len);
void pp_sha256_final(pp_sha256_ctx *c, uint8_t out[32]);

#ifdef __cplusplus
}
#endif
#endif
