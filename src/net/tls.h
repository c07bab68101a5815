/* tls.h - TLS client (and optional server) on BearSSL as a non-blocking
 * pump between a socket and plaintext buffers. Trust anchors are loaded
 * at run time from SSL_CERT_FILE, an explicit CA file, or the usual
 * bundle paths of Debian, Alpine, RHEL and macOS. Depends on base/. */
#ifndef NET_TLS_H
#define NET_TLS_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct tls tls_t;

enum { TLS_OK = 0, TLS_WANT_READ = -2, TLS_WANT_WRITE = -3, TLS_CLOSED = -4, TLS_ERROR = -1 };

/* Client on a connected non-blocking socket. server_name is checked
 * against the certificate (DNS names only) and sent as SNI. ca_file may
 * be NULL (defaults). Returns NULL with err filled. */
tls_t *tls_client_new(int fd, const char *server_name, const char *ca_file, char *err, size_t errcap);
/* Drives the handshake; TLS_OK when done, WANT_* to wait for the socket. */
int tls_handshake(tls_t *t);
/* Like read(2)/write(2): bytes, or TLS_WANT_READ/WANT_WRITE/CLOSED/ERROR. */
ssize_t tls_read(tls_t *t, void *buf, size_t n);
ssize_t tls_write(tls_t *t, const void *buf, size_t n);
/* Events the socket must be polled for now (LOOP_READ/LOOP_WRITE bits). */
int tls_wants(const tls_t *t);
const char *tls_error(const tls_t *t); /* human-readable last error */
void tls_free(tls_t *t); /* sends close_notify if possible; does not close fd */

#endif
