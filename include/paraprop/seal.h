/* File seals: proof that a file holds exactly the bytes paraprop wrote, checked before HDF5
 * parses it. HDF5 1.10 can crash on damaged metadata (fuzzing found reads out of bounds inside
 * H5Aexists and H5O__msg_iterate_real); a SHA-256 over the whole file, verified first, means a
 * damaged file is refused with a message instead.
 *
 * Layout: paraprop's files start with a PP_SEAL_BLOCK-byte HDF5 user block (HDF5 and h5py skip
 * it) holding NUL-padded ASCII lines:
 *
 *   paraprop-seal 1
 *   bytes <size of the whole file>
 *   offset 4096
 *   segment <S>
 *   sha256 <64 hex digits>        one line per S-byte segment of bytes [offset, size)
 *
 * Segments (at most PP_SEAL_MAX_SEGMENTS) let R ranks each verify 1/R of a large dataset.
 * Files without a seal (written by other tools, or repacked) are accepted and rely on HDF5's own
 * checks; see docs/FORMATS.md. */
#ifndef PARAPROP_SEAL_H
#define PARAPROP_SEAL_H

#include <stddef.h>

#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PP_SEAL_BLOCK 4096
#define PP_SEAL_MAX_SEGMENTS 32

typedef struct pp_seal_info {
    int sealed;           /* the file carries a seal */
    long long bytes;      /* file size recorded in the seal */
    size_t segment_bytes; /* segment size */
    size_t segments;      /* number of segments */
    size_t verified;      /* segments whose SHA-256 this call checked */
} pp_seal_info;

/* Checks PATH's seal. With nparts == 0 only the header and the file size are checked (cheap);
 * otherwise the segments i with i % nparts == part are hashed and compared, so nparts ranks
 * together verify every byte. An unsealed file is not an error (info->sealed = 0). Damage is
 * PP_ERR_INPUT naming the file and the byte range. */
pp_status pp_seal_check(const char *path, int part, int nparts, pp_seal_info *info);

/* Writes the seal of an in-memory file image whose first PP_SEAL_BLOCK bytes are reserved for it.
 * Returns 0, or -1 if size < PP_SEAL_BLOCK. */
int pp_seal_image(unsigned char *image, size_t size);

/* (Re)seals PATH in place: for a file paraprop wrote and that was then edited on purpose (e.g.
 * with h5py). Refuses files whose first PP_SEAL_BLOCK bytes are not an empty user block or a
 * seal, so that nothing else is overwritten. */
pp_status pp_seal_file(const char *path);

#ifdef __cplusplus
}
#endif
#endif
