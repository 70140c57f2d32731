/* Reading torch.save zip archives (pth.c). */
#ifndef TF_IMPORT_PTH_H
#define TF_IMPORT_PTH_H
#include <stddef.h>

#include "tensorset.h"

/* import_pth flags */
#define IMPORT_NO_CRC 1  /* skip the zip CRC-32 checks (fuzzing) */

/* Reads a torch.save zip archive, or a legacy (pre-1.6, non-zip) torch.save
 * file, held in buf[len] (which must outlive s: the tensors point into it).
 * The pickle may be a bare state_dict, or a
 * dict holding one under "model_state_dict", "state_dict" or "model"
 * (training checkpoints); a "module." or "_orig_mod." prefix on every key
 * is removed. Refuses, naming what it found: legacy storage views,
 * TorchScript archives, compressed entries, foreign pickle globals
 * (e.g. os.system), unknown opcodes, tensors outside their storage. */
int import_pth(struct import_set *s, const void *buf, size_t len, unsigned flags);
/* 1 if buf[len] begins like a legacy (pre-1.6, non-zip) torch.save file:
 * a pickle of torch's magic number (16 bytes suffice). */
int pth_is_legacy(const void *buf, size_t len);
#endif
