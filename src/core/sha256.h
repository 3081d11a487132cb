/* Private: which SHA-256 engine runs, for tests and --version. */
#ifndef PARAPROP_CORE_SHA256_H
#define PARAPROP_CORE_SHA256_H

/* "sha-ni" (the x86 SHA extensions) or "c" (portable). */
const char *pp_sha256_engine(void);
/* Tests: force the portable code (on = 1), or the CPU's best again (on = 0). */
void pp_sha256_use_c(int on);

#endif
