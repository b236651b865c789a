/* rmtree.h - remove a directory tree without following symlinks or leaving
 * its file system (nftw FTW_PHYS | FTW_MOUNT). */
#ifndef CPD_RMTREE_H
#define CPD_RMTREE_H

/* 0, or -errno of the first entry that could not be removed. */
int cpd_rmtree(const char *dir);

#endif
