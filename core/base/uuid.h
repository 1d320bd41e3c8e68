/*
 * uuid.h - random (version 4) UUIDs, as text.
 */
#ifndef AGORA_UUID_H
#define AGORA_UUID_H

/* 36 characters and the NUL. */
#define UUID_STR_LEN 37

/* Writes a new random UUID ("3f2b...-4...-a...") into out. */
void uuid_v4(char out[UUID_STR_LEN]);

#endif /* AGORA_UUID_H */
