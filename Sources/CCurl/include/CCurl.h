#ifndef WAL_ARCHIVE_CCURL_H
#define WAL_ARCHIVE_CCURL_H
/* libcurl, loaded when the first S3 request needs it rather than by the dynamic linker at
   every start-up: libcurl pulls in about 29 further libraries (HTTP/2, IDN, SSH, LDAP,
   Kerberos, ...) whose loading and relocation cost more than half of a call's start-up, paid
   by every wal-fetch served from a prefetched file, every push-ahead answer and every file://
   call. curl's header still gives the types and constants; the executables do not link
   libcurl, so a direct call of a curl_* function from Swift fails to link. */
#include <curl/curl.h>

/* What loading libcurl came to (the same for the whole process). */
typedef enum {
    WALARCHIVE_CURL_READY = 0,
    /* libcurl.so.4 or one of its functions could not be loaded: walarchive_curl_problem(). */
    WALARCHIVE_CURL_MISSING = 1,
    /* curl_global_init failed: walarchive_curl_problem() names its CURLcode. */
    WALARCHIVE_CURL_INIT_FAILED = 2,
} walarchive_curl_status;

/* The shared object loaded, as the package's dependency must provide it. */
#define WALARCHIVE_CURL_LIBRARY "libcurl.so.4"

/* Loads libcurl and runs curl_global_init, once per process whichever thread asks first;
   every later call returns the same status at once. */
walarchive_curl_status walarchive_curl_load(void);
/* Why loading failed (a fixed string for the life of the process), or "" when it did not. */
const char *walarchive_curl_problem(void);

/* The functions used, forwarded to the loaded library. Before a successful load they do
   nothing and fail (NULL, CURLE_FAILED_INIT) instead of calling through a null pointer. */
CURL *walarchive_curl_easy_init(void);
void walarchive_curl_easy_cleanup(CURL *handle);
CURLcode walarchive_curl_easy_perform(CURL *handle);
const char *walarchive_curl_easy_strerror(CURLcode code);
struct curl_slist *walarchive_curl_slist_append(struct curl_slist *list, const char *line);
void walarchive_curl_slist_free_all(struct curl_slist *list);

/* curl_easy_setopt is variadic, which Swift cannot call: one typed forwarder per kind of value. */
CURLcode walarchive_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode walarchive_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value);
CURLcode walarchive_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode walarchive_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode walarchive_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode walarchive_curl_setopt_write_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode walarchive_curl_setopt_read_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode walarchive_curl_setopt_header_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode walarchive_curl_setopt_seek_callback(CURL *handle, int (*callback)(void *, curl_off_t, int));
/* CURLOPT_OPENSOCKETFUNCTION; NULL restores libcurl's own socket(). */
CURLcode walarchive_curl_setopt_opensocket_callback(CURL *handle, curl_opensocket_callback callback);
#endif
