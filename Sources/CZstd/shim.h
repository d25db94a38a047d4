#ifndef WAL_ARCHIVE_CZSTD_SHIM_H
#define WAL_ARCHIVE_CZSTD_SHIM_H
#include <zstd.h>
#endif
