/* File seals: proof that a file holds exactly the bytes paraprop wrote, checked before HDF5
 * parses it. HDF5 1.10 can crash on damaged metadata (fuzzing found reads out of bounds inside
 * H5Aexists and H5O__msg_iterate_real); a SHA-256 over the whole file, verified first, means a
 * damaged file is refused with a message instead.
 *
 * Layout: paraprop's files start with a PP_SEAL_BLOCK-byte HDF5 user block (HDF5 and h5py skip
 * it) holding two copies of the seal, one per PP_SEAL_COPY-byte half, each NUL-padded ASCII:
 *
 *   paraprop-seal 2
 *   copy <1 or 2> of 2
 *   bytes <size of the whole file>
 *   offset 4096
 *   segment <S>
 *   sha256 <64 hex digits>        one line per S-byte segment of bytes [offset, size)
 *   check-sha256 <64 hex digits>  SHA-256 of this copy's bytes before this line
 *
 * Segments (at most PP_SEAL_MAX_SEGMENTS) let R ranks each verify 1/R of a large dataset. Either
 * copy that passes its own check suffices, so one damaged byte in the header is survived.
 * Fail closed: a file whose HDF5 superblock sits behind a user block (at byte 512, 1024, 2048,
 * 4096, …) that holds no valid seal is damaged and refused. Only a file with no user block at all
 * (superblock at byte 0: written by h5py or another tool) counts as unsealed. Version-1 seals
 * (one copy, no check line) written by older paraprop are still accepted when they are intact.
 * See docs/FORMATS.md. */
#ifndef PARAPROP_SEAL_H
#define PARAPROP_SEAL_H

#include <stddef.h>

#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PP_SEAL_BLOCK 4096
#define PP_SEAL_COPY (PP_SEAL_BLOCK / 2)
#define PP_SEAL_MAX_SEGMENTS 24

typedef struct pp_seal_info {
    int sealed;           /* the file carries a valid seal (0: no user block, a foreign file) */
    int version;          /* 2, or 1 for a seal of older paraprop; 0 when unsealed */
    int damaged_copies;   /* header copies that failed their check (the other one was used) */
    long long bytes;      /* file size recorded in the seal */
    size_t segment_bytes; /* segment size */
    size_t segments;      /* number of segments */
    size_t verified;      /* segments whose SHA-256 this call checked */
} pp_seal_info;

/* Checks PATH's seal. With nparts == 0 only the header and the file size are checked (cheap);
 * otherwise the segments i with i % nparts == part are hashed and compared, so nparts ranks
 * together verify every byte. A file without a user block is not an error (info->sealed = 0);
 * a user block that holds no valid seal, a size that differs from the seal's, a segment that
 * does not match, or a file without an HDF5 signature is PP_ERR_INPUT naming the file. */
pp_status pp_seal_check(const char *path, int part, int nparts, pp_seal_info *info);

/* A one-line note for the user about a file that passed pp_seal_check: that it is unsealed, or
 * that one copy of its seal is damaged. Writes it (without "paraprop: ", without newline) into
 * buf and returns buf, or returns NULL when there is nothing to say. */
const char *pp_seal_note(const char *path, const pp_seal_info *info, char *buf, size_t n);

/* Writes the seal of an in-memory file image whose first PP_SEAL_BLOCK bytes are reserved for it.
 * Returns 0, or -1 if size < PP_SEAL_BLOCK. */
int pp_seal_image(unsigned char *image, size_t size);

/* (Re)seals PATH in place: for a file paraprop wrote and that was then edited on purpose (e.g.
 * with h5py). Refuses files whose first PP_SEAL_BLOCK bytes are not an empty user block or a
 * (possibly damaged) seal, so that nothing else is overwritten. */
pp_status pp_seal_file(const char *path);

#ifdef __cplusplus
}
#endif
#endif
