/* libcurl loaded on demand (see include/CCurl.h for why).

   A compiled C file rather than static inline functions in the header: the table of function
   pointers and the once-flag must exist once per process. Static state in a header would be
   copied into every object file that includes it (each Swift file importing the module, each
   C file), so each copy would load libcurl and call curl_global_init on its own, and a handle
   made through one copy would be used through a table another copy never filled. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include "CCurl.h"

struct curl_functions {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *handle);
    CURLcode (*easy_perform)(CURL *handle);
    CURLcode (*easy_setopt)(CURL *handle, CURLoption option, ...);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *line);
    void (*slist_free_all)(struct curl_slist *list);
};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static struct curl_functions functions;
/* Set (release) once `functions` is complete and curl_global_init succeeded; the forwarders
   read it (acquire), so a thread that did not itself call walarchive_curl_load still sees a
   complete table or none. */
static const struct curl_functions *loaded;
static walarchive_curl_status load_status = WALARCHIVE_CURL_MISSING;
static char problem[512];

static int resolve(void *library, const char *name, void **slot) {
    *slot = dlsym(library, name);
    if (*slot == NULL) {
        const char *reason = dlerror();
        snprintf(problem, sizeof problem, "%s", reason != NULL ? reason : name);
        return 0;
    }
    return 1;
}

static void load(void) {
    /* RTLD_LAZY binds functions as a start-up link did, when first called: RTLD_NOW would also
       bind every function of libcurl's ~29 libraries that were not linked with BIND_NOW, about
       1 ms of CPU per call that links libcurl never paid. What we call is checked here anyway:
       each function below must resolve, and Debian's libcurl itself is linked BIND_NOW, so
       its own imports are resolved by this dlopen. RTLD_LOCAL: libcurl's symbols serve only
       the lookups below, never other libraries. The library is never closed: handles and
       libcurl's global state live until exit. */
    void *library = dlopen(WALARCHIVE_CURL_LIBRARY, RTLD_LAZY | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(problem, sizeof problem, "%s", reason != NULL ? reason : WALARCHIVE_CURL_LIBRARY);
        return;
    }
    if (!resolve(library, "curl_global_init", (void **)&functions.global_init)
        || !resolve(library, "curl_easy_init", (void **)&functions.easy_init)
        || !resolve(library, "curl_easy_cleanup", (void **)&functions.easy_cleanup)
        || !resolve(library, "curl_easy_perform", (void **)&functions.easy_perform)
        || !resolve(library, "curl_easy_setopt", (void **)&functions.easy_setopt)
        || !resolve(library, "curl_easy_strerror", (void **)&functions.easy_strerror)
        || !resolve(library, "curl_slist_append", (void **)&functions.slist_append)
        || !resolve(library, "curl_slist_free_all", (void **)&functions.slist_free_all)) {
        return;
    }
    /* curl_global_init is not thread-safe and must precede the first handle: here it runs
       exactly once, inside pthread_once, before any thread can obtain a handle. */
    CURLcode initialised = functions.global_init(CURL_GLOBAL_DEFAULT);
    if (initialised != CURLE_OK) {
        load_status = WALARCHIVE_CURL_INIT_FAILED;
        snprintf(problem, sizeof problem, "curl_global_init failed (CURLcode %d)", (int)initialised);
        return;
    }
    load_status = WALARCHIVE_CURL_READY;
    __atomic_store_n(&loaded, &functions, __ATOMIC_RELEASE);
}

walarchive_curl_status walarchive_curl_load(void) {
    /* pthread_once's return is only non-zero for invalid arguments, which these are not. */
    (void)pthread_once(&load_once, load);
    return load_status;
}

const char *walarchive_curl_problem(void) {
    (void)pthread_once(&load_once, load);
    return problem;
}

static const struct curl_functions *table(void) {
    return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE);
}

CURL *walarchive_curl_easy_init(void) {
    const struct curl_functions *curl = table();
    return curl != NULL ? curl->easy_init() : NULL;
}

void walarchive_curl_easy_cleanup(CURL *handle) {
    const struct curl_functions *curl = table();
    if (curl != NULL) curl->easy_cleanup(handle);
}

CURLcode walarchive_curl_easy_perform(CURL *handle) {
    const struct curl_functions *curl = table();
    return curl != NULL ? curl->easy_perform(handle) : CURLE_FAILED_INIT;
}

const char *walarchive_curl_easy_strerror(CURLcode code) {
    const struct curl_functions *curl = table();
    return curl != NULL ? curl->easy_strerror(code) : "libcurl is not loaded";
}

struct curl_slist *walarchive_curl_slist_append(struct curl_slist *list, const char *line) {
    const struct curl_functions *curl = table();
    return curl != NULL ? curl->slist_append(list, line) : NULL;
}

void walarchive_curl_slist_free_all(struct curl_slist *list) {
    const struct curl_functions *curl = table();
    if (curl != NULL) curl->slist_free_all(list);
}

/* Each forwarder passes its value with the exact type curl_easy_setopt reads for the option
   through va_arg: long, curl_off_t, char *, void *, struct curl_slist * or a function pointer. */
#define SETOPT(handle, option, value) \
    do { \
        const struct curl_functions *curl = table(); \
        return curl != NULL ? curl->easy_setopt((handle), (option), (value)) : CURLE_FAILED_INIT; \
    } while (0)

CURLcode walarchive_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    SETOPT(handle, option, value);
}
CURLcode walarchive_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    SETOPT(handle, option, value);
}
CURLcode walarchive_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    SETOPT(handle, option, value);
}
CURLcode walarchive_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    SETOPT(handle, option, value);
}
CURLcode walarchive_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    SETOPT(handle, option, value);
}
CURLcode walarchive_curl_setopt_write_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *)) {
    SETOPT(handle, CURLOPT_WRITEFUNCTION, callback);
}
CURLcode walarchive_curl_setopt_read_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *)) {
    SETOPT(handle, CURLOPT_READFUNCTION, callback);
}
CURLcode walarchive_curl_setopt_header_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *)) {
    SETOPT(handle, CURLOPT_HEADERFUNCTION, callback);
}
CURLcode walarchive_curl_setopt_seek_callback(CURL *handle, int (*callback)(void *, curl_off_t, int)) {
    SETOPT(handle, CURLOPT_SEEKFUNCTION, callback);
}
CURLcode walarchive_curl_setopt_opensocket_callback(CURL *handle, curl_opensocket_callback callback) {
    SETOPT(handle, CURLOPT_OPENSOCKETFUNCTION, callback);
}
