/*
 * http_tls.h - TLS under the HTTP client (http_client.c), with GnuTLS:
 * the library libmicrohttpd already brings into the process, so the
 * agent speaks HTTPS to its masters without libcurl.
 *
 * A struct hc_tls is a client's credentials: the CAs it trusts (a file,
 * or the system's) and, for mutual TLS, its own certificate and key. A
 * session (void *: gnutls_session_t) is one connection's, verified
 * against the host it was opened for (its name, or its IP address in the
 * certificate's subjectAltName).
 */
#ifndef AGORA_HTTP_TLS_H
#define AGORA_HTTP_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct hc_tls;

/* ca_file NULL or "": the system's trust store; cert_file and key_file
 * NULL or "": no client certificate. 0, or an agora_err with err. */
int hc_tls_new(const char *ca_file, const char *cert_file,
               const char *key_file, struct hc_tls **out, char *err,
               size_t errlen);
void hc_tls_free(struct hc_tls *t);

/* A client session on connected fd for host; NULL with err. */
void *hc_tls_session(struct hc_tls *t, int fd, const char *host, char *err,
                     size_t errlen);

enum { HC_TLS_DONE = 0, HC_TLS_WANT_READ = 1, HC_TLS_WANT_WRITE = 2 };

/* One step of the handshake: HC_TLS_*, or -1 with the reason in err
 * (a certificate that does not verify says why). */
int hc_tls_handshake(void *s, char *err, size_t errlen);

/* As send() and recv() (-1 with errno EAGAIN, EINTR or EIO; recv 0 at
 * the end of the stream, a close_notify or the peer's close). */
ssize_t hc_tls_send(void *s, const void *p, size_t n);
ssize_t hc_tls_recv(void *s, void *p, size_t n);

/* Bytes decrypted and not read yet: the socket may not wake for them. */
size_t hc_tls_pending(void *s);

/* Ends the session (a close_notify when it can go at once), frees it. */
void hc_tls_close(void *s);

#endif /* AGORA_HTTP_TLS_H */
