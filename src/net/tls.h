/* tls.h - TLS 1.2 client on BearSSL as a non-blocking pump between a
 * socket and plaintext buffers. Trust anchors are loaded at run time from
 * an explicit CA file (which replaces the system bundle), else
 * SSL_CERT_FILE, else the usual bundle paths of Debian, Alpine/macOS, RHEL
 * and SUSE; each file is parsed once per process. Depends on base/. */
#ifndef NET_TLS_H
#define NET_TLS_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct tls tls_t;

enum { TLS_OK = 0, TLS_WANT_READ = -2, TLS_WANT_WRITE = -3, TLS_CLOSED = -4, TLS_ERROR = -1 };

/* Client on a connected non-blocking socket. server_name is checked
 * against the certificate (DNS names only: an IP literal never matches)
 * and sent as SNI. ca_file may be NULL (defaults). Returns NULL with err
 * filled. */
tls_t *tls_client_new(int fd, const char *server_name, const char *ca_file, char *err, size_t errcap);
/* Drives the handshake; TLS_OK when done, WANT_* to wait for the socket. */
int tls_handshake(tls_t *t);
/* Like read(2)/write(2): bytes, or TLS_WANT_READ/WANT_WRITE/CLOSED/ERROR.
 * tls_read returns TLS_CLOSED on close_notify and also on a bare TCP EOF
 * (common in practice; the HTTP framing catches truncation). Bytes that
 * tls_write accepted may still wait in the engine: keep polling for
 * tls_wants() until it no longer reports LOOP_WRITE. */
ssize_t tls_read(tls_t *t, void *buf, size_t n);
ssize_t tls_write(tls_t *t, const void *buf, size_t n);
/* Events the socket must be polled for now (LOOP_READ/LOOP_WRITE bits). */
int tls_wants(const tls_t *t);
/* True if decrypted bytes wait inside the engine: call tls_read without
 * waiting for the socket (poll would not wake for them). */
bool tls_pending(const tls_t *t);
const char *tls_error(const tls_t *t); /* human-readable last error */
void tls_free(tls_t *t); /* sends close_notify if possible; does not close fd */

/* Loads (or finds in the cache) the anchors tls_client_new would use for
 * ca_file and reports how many there are. 0, or -1 with err filled. */
int tls_anchors_load(const char *ca_file, size_t *count, char *err, size_t errcap);

#endif
