/*
 * http_tls.c - GnuTLS sessions for the HTTP client (see http_tls.h).
 */
#include "http_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <agora/plugin.h>

struct hc_tls {
    gnutls_certificate_credentials_t cred;
};

int hc_tls_new(const char *ca_file, const char *cert_file,
               const char *key_file, struct hc_tls **out, char *err,
               size_t errlen)
{
    struct hc_tls *t = calloc(1, sizeof(*t));
    int rc;

    if (t == NULL)
        return AGORA_ENOMEM;
    if (gnutls_certificate_allocate_credentials(&t->cred) < 0) {
        free(t);
        return AGORA_ENOMEM;
    }
    rc = ca_file && *ca_file
             ? gnutls_certificate_set_x509_trust_file(t->cred, ca_file,
                                                      GNUTLS_X509_FMT_PEM)
             : gnutls_certificate_set_x509_system_trust(t->cred);
    if (rc <= 0) {
        snprintf(err, errlen, "no CA certificate read from %s%s%s",
                 ca_file && *ca_file ? ca_file : "the system's trust store",
                 rc < 0 ? ": " : "", rc < 0 ? gnutls_strerror(rc) : "");
        hc_tls_free(t);
        return AGORA_EINVAL;
    }
    if (cert_file && *cert_file &&
        (rc = gnutls_certificate_set_x509_key_file(
             t->cred, cert_file, key_file, GNUTLS_X509_FMT_PEM)) < 0) {
        snprintf(err, errlen, "client certificate %s: %s", cert_file,
                 gnutls_strerror(rc));
        hc_tls_free(t);
        return AGORA_EINVAL;
    }
    *out = t;
    return 0;
}

void hc_tls_free(struct hc_tls *t)
{
    if (t == NULL)
        return;
    gnutls_certificate_free_credentials(t->cred);
    free(t);
}

/* An IP literal: no SNI for it (RFC 6066), and GnuTLS checks it against
 * the certificate's IP addresses. */
static int host_is_ip(const char *host)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

void *hc_tls_session(struct hc_tls *t, int fd, const char *host, char *err,
                     size_t errlen)
{
    gnutls_session_t s;
    int rc;

    if ((rc = gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) < 0) {
        snprintf(err, errlen, "%s", gnutls_strerror(rc));
        return NULL;
    }
    if ((rc = gnutls_set_default_priority(s)) < 0 ||
        (rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred)) <
            0 ||
        (!host_is_ip(host) &&
         (rc = gnutls_server_name_set(s, GNUTLS_NAME_DNS, host,
                                      strlen(host))) < 0)) {
        snprintf(err, errlen, "%s", gnutls_strerror(rc));
        gnutls_deinit(s);
        return NULL;
    }
    /* The handshake fails unless the certificate is the host's and a
     * trusted CA signed it. */
    gnutls_session_set_verify_cert(s, host, 0);
    gnutls_transport_set_int(s, fd);
    gnutls_handshake_set_timeout(s, GNUTLS_INDEFINITE_TIMEOUT);
    return s;
}

int hc_tls_handshake(void *session, char *err, size_t errlen)
{
    gnutls_session_t s = session;
    int rc = gnutls_handshake(s);
    gnutls_datum_t why = {NULL, 0};

    if (rc == GNUTLS_E_SUCCESS)
        return HC_TLS_DONE;
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
        return gnutls_record_get_direction(s) ? HC_TLS_WANT_WRITE
                                              : HC_TLS_WANT_READ;
    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR &&
        gnutls_certificate_verification_status_print(
            gnutls_session_get_verify_cert_status(s),
            gnutls_certificate_type_get(s), &why, 0) == 0) {
        snprintf(err, errlen, "the certificate does not verify: %s",
                 why.data ? (const char *)why.data : "?");
        gnutls_free(why.data);
        return -1;
    }
    snprintf(err, errlen, "TLS handshake: %s", gnutls_strerror(rc));
    return -1;
}

/* A GnuTLS result as send()/recv() give theirs. */
static ssize_t tls_result(ssize_t rc)
{
    if (rc >= 0)
        return rc;
    if (rc == GNUTLS_E_AGAIN)
        errno = EAGAIN;
    else if (rc == GNUTLS_E_INTERRUPTED)
        errno = EINTR;
    else if (rc == GNUTLS_E_PREMATURE_TERMINATION)
        return 0; /* closed without close_notify: the end all the same */
    else
        errno = EIO;
    return -1;
}

ssize_t hc_tls_send(void *s, const void *p, size_t n)
{
    return tls_result(gnutls_record_send(s, p, n));
}

ssize_t hc_tls_recv(void *s, void *p, size_t n)
{
    return tls_result(gnutls_record_recv(s, p, n));
}

size_t hc_tls_pending(void *s)
{
    return gnutls_record_check_pending(s);
}

void hc_tls_close(void *s)
{
    if (s == NULL)
        return;
    gnutls_bye(s, GNUTLS_SHUT_WR); /* non-blocking: once, as it goes */
    gnutls_deinit(s);
}
