/*
 * agora/pending.h - the contexts of a plugin's callbacks in flight, in
 * libagora-sdk.a.
 *
 * The master cancels a plugin's store completions, outbound requests and
 * timers when it unloads the plugin: the callbacks never run, so what
 * they would have freed must be freed by fini. A context that begins
 * with a struct agora_pending is put on the plugin's list when its call
 * is made and taken off in its callback; fini frees what is left with
 * agora_pending_free_all(). The head is a zero-initialised struct
 * agora_pending in the plugin's state.
 */
#ifndef AGORA_PENDING_H
#define AGORA_PENDING_H

#ifdef __cplusplus
extern "C" {
#endif

struct agora_pending {
    struct agora_pending *prev, *next;
    void (*free_fn)(struct agora_pending *p); /* frees the whole context */
};

/* Puts p (the first member of a context) on head's list. */
void agora_pending_add(struct agora_pending *head, struct agora_pending *p,
                       void (*free_fn)(struct agora_pending *p));
/* Takes p off its list (again is harmless). */
void agora_pending_del(struct agora_pending *p);
/* Takes every context off head's list and frees it with its free_fn. */
void agora_pending_free_all(struct agora_pending *head);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_PENDING_H */
