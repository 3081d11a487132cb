/* Private: what a rank's memory costs, as issue 11 means it (docs/DATA.md). */
#ifndef PARAPROP_RUN_MEMORY_H
#define PARAPROP_RUN_MEMORY_H

#include <stddef.h>

/* This process's private resident bytes (Private_Clean + Private_Dirty of /proc/self/smaps)
 * over every mapping that does not overlap [skip, skip + skip_len): the node's shared block is
 * left out, because a page of it that only this rank has touched counts as private there,
 * although the node holds it once for all its ranks. -1 where /proc is not readable. */
double memory_private_bytes(const void *skip, size_t skip_len);

#endif
