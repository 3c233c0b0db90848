#include "core/fs.h"
#include "core/error.h"

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void tn_fs_list_free(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

int tn_fs_list(const char *dir, const char *suffix, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return TN_ENOTFOUND;
    size_t cap = 0, slen = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= slen || strcmp(e->d_name + len - slen, suffix) != 0 || e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(*out, cap * sizeof *p);
            if (!p) goto nomem;
            *out = p;
        }
        size_t plen = strlen(dir) + len + 2;
        char *full = malloc(plen);
        if (!full) goto nomem;
        snprintf(full, plen, "%s/%s", dir, e->d_name);
        (*out)[(*n)++] = full;
    }
    closedir(d);
    if (*n) qsort(*out, *n, sizeof **out, cmp_str);
    return 0;
nomem:
    closedir(d);
    tn_fs_list_free(*out, *n);
    *out = NULL;
    *n = 0;
    return TN_ENOMEM;
}

int tn_fs_mkdirs(const char *path, unsigned mode)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return TN_EINVAL;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, mode) && errno != EEXIST) return TN_EIO;
        *p = '/';
    }
    if (mkdir(buf, mode) && errno != EEXIST) return TN_EIO;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) ? -1 : 0;
}

int tn_fs_rmtree(const char *path)
{
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) ? TN_EIO : 0;
}
