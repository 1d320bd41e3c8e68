/*
 * auth.h - who is asking: the principals and secrets of Mesos'
 * --credentials file, and a request's Authorization header checked
 * against them as Mesos' authenticators do: HTTP Basic
 * ("Basic base64(principal:secret)") and bearer tokens, HS256 JSON Web
 * Tokens signed with the --jwt_secret_key (the principal is the token's
 * "sub" claim; "exp" and "nbf" are honoured when present).
 *
 * Secrets are compared in constant time and never logged; a file that
 * holds secrets is refused when every user may read it.
 */
#ifndef AGORA_AUTH_H
#define AGORA_AUTH_H

#include <stddef.h>

struct auth_cred {
    char *principal;
    char *secret;
};

struct auth {
    struct auth_cred *creds;
    size_t ncreds;
    unsigned char *jwt_key;      /* NULL: bearer tokens are refused    */
    size_t jwt_key_len;
};

/* Largest Authorization header looked at; a longer one is refused. */
#define AUTH_HEADER_MAX 4096

enum auth_result {
    AUTH_MISSING, /* no Authorization header                          */
    AUTH_OK,      /* principal filled                                 */
    AUTH_DENIED   /* a header that does not prove a known principal   */
};

/*
 * Reads a credentials file into a (adding to what it holds): Mesos'
 * JSON {"credentials": [{"principal", "secret"}]} or, as an agent's
 * --credential, {"principal", "secret"}; or one "principal secret" pair
 * a line ('#' starts a comment). 0, or an
 * agora_err with the reason in err (the secret never in it).
 */
int auth_load_credentials(struct auth *a, const char *path, char *err,
                          size_t errlen);

/* Reads the HS256 key: the file's bytes, less one trailing newline. */
int auth_load_jwt_key(struct auth *a, const char *path, char *err,
                      size_t errlen);

void auth_free(struct auth *a);

/* Reads a file of secrets whole (NUL-terminated, malloc'ed): a regular
 * file of at most 1 MB that not every user may read. 0, or an agora_err
 * with the reason in err. */
int auth_read_secret_file(const char *path, char **out, size_t *len,
                          char *err, size_t errlen);

/* The TLS files of a server: its certificate (chain), key (a secret)
 * and the CA of its clients' certificates, as PEM texts. */
struct auth_tls {
    char *cert, *key, *ca;
};

/* Reads them (ca_path may be empty or NULL); 0, or an agora_err with the
 * reason in err. Nothing is read when cert_path is empty. */
int auth_tls_load(struct auth_tls *t, const char *cert_path,
                  const char *key_path, const char *ca_path, char *err,
                  size_t errlen);
void auth_tls_free(struct auth_tls *t);

/* 1 when a can authenticate anyone (credentials or a JWT key). */
int auth_configured(const struct auth *a);

/*
 * Checks an Authorization header value (NULL: none) at time now (Unix
 * seconds, for "exp"). AUTH_OK copies the principal into principal
 * (truncated to len); AUTH_DENIED puts a reason fit for a log line in
 * why (never a secret).
 */
enum auth_result auth_check(const struct auth *a, const char *authorization,
                            double now, char *principal, size_t len,
                            const char **why);

/*
 * Checks a Basic Authorization header against one "user:password" (the
 * --http_credentials form of Marathon and Chronos), in constant time.
 * As auth_check(); the principal is the user.
 */
enum auth_result auth_check_pair(const char *authorization,
                                 const char *user_password, char *principal,
                                 size_t len, const char **why);

/* 1 when the len bytes at x and y are the same, in time that depends on
 * len only. */
int auth_equal(const void *x, const void *y, size_t len);

/* "Basic base64(principal:secret)", malloc'ed (NULL: no memory): what
 * an agent sends. */
char *auth_basic_header(const char *principal, const char *secret);

#endif /* AGORA_AUTH_H */
