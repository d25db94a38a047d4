#ifndef WAL_ARCHIVE_CCRYPTO_SHIM_H
#define WAL_ARCHIVE_CCRYPTO_SHIM_H
/* SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but they hash with
   the same assembly and without EVP's provider lookup, whose first use loads OpenSSL's
   configuration: a call that hashes without signing a request (a pushed-ahead record, a
   prefetched segment) would spend a quarter of its instructions on it. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
/* AES-256-GCM of client-side encryption (Platform/AESGCM.swift). The control codes are
   aliases of aliases, which Swift does not import: constants it can. */
static const int wal_archive_gcm_get_tag = EVP_CTRL_AEAD_GET_TAG;
static const int wal_archive_gcm_set_tag = EVP_CTRL_AEAD_SET_TAG;
#endif
