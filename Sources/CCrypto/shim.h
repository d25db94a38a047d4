#ifndef WAL_ARCHIVE_CCRYPTO_SHIM_H
#define WAL_ARCHIVE_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif
