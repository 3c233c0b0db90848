/* fs.h - small file-system helpers. */
#ifndef TN_CORE_FS_H
#define TN_CORE_FS_H

#include <stddef.h>

/* Lists the regular entries of dir whose names end with suffix (hidden files skipped), as
 * "dir/name", sorted. *out is a new array of new strings: free each, then the array.
 * 0, TN_ENOTFOUND (no such directory) or TN_ENOMEM. */
int tn_fs_list(const char *dir, const char *suffix, char ***out, size_t *n);
void tn_fs_list_free(char **list, size_t n);

/* mkdir -p with mode for the created directories. 0 or TN_EIO. */
int tn_fs_mkdirs(const char *path, unsigned mode);

/* rm -r: removes path and everything under it (symbolic links are removed, not followed).
 * 0 or TN_EIO (what could be removed is gone). */
int tn_fs_rmtree(const char *path);

#endif
