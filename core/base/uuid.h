/*
 * uuid.h - random (version 4) UUIDs, as text.
 */
#ifndef AGORA_UUID_H
#define AGORA_UUID_H

/* 36 characters and the NUL. */
#define UUID_STR_LEN 37

/* Writes a new random UUID ("3f2b...-4...-a...") into out. */
void uuid_v4(char out[UUID_STR_LEN]);

/* The 16 bytes of a UUID's text (36 characters, hyphens at 8, 13, 18,
 * 23; any case). 0, or -1 when text is not one. */
int uuid_parse(const char *text, unsigned char out[16]);

#endif /* AGORA_UUID_H */
