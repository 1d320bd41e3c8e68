/*
 * store_key.h - keys of the local store as LMDB keys.
 *
 * LMDB (as Debian builds it) takes keys of at most 511 bytes; agora's
 * are up to AGORA_STORE_KEY_MAX (512) characters. Keys use 68 characters
 * ('/' and store_key_valid()'s 67), so each is packed into 7 bits:
 * 512 characters fit in 448 bytes. Codes keep the order that matters:
 *
 *   0      end (the padding of the last byte reads as 0)
 *   1      '/'
 *   2..67  '-' '.' '0'-'9' ':' '@' 'A'-'Z' '_' 'a'-'z', in ASCII order
 *
 * Packed most significant bit first, so LMDB's byte order is the order of
 * the code strings: names of one level sort as strcmp() sorts them, and a
 * key's whole subtree ("k", "k/...") is one range that ends before the
 * first key of the form k + (code >= 2), the next sibling. list and
 * children walk a level by jumping over each child's subtree.
 */
#ifndef AGORA_STORE_KEY_H
#define AGORA_STORE_KEY_H

#include <stddef.h>

/* The most bytes a packed key takes (512 characters of 7 bits). */
#define SKEY_PACKED_MAX ((7 * 512 + 7) / 8 + 1)

/* The code after '/': appended to a key, it packs the key's successor
 * sibling range start (see above). */
#define SKEY_AFTER_SLASH 2

/*
 * Packs the n characters of s, then `extra` (a code, 0 for none), into
 * out (SKEY_PACKED_MAX bytes). Returns the packed length, or 0 when s
 * holds a character outside the 68 or is too long (never for a key that
 * store_key_valid() accepted).
 */
size_t skey_pack(const char *s, size_t n, int extra, unsigned char *out);

/*
 * Unpacks len bytes into out (at least 8 * len / 7 + 1 bytes), NUL
 * terminated. Returns the number of characters, or -1 when the bytes are
 * not a packed key.
 */
long skey_unpack(const unsigned char *in, size_t len, char *out);

#endif /* AGORA_STORE_KEY_H */
