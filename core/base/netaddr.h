/*
 * netaddr.h - the address a daemon tells others to reach it at.
 */
#ifndef AGORA_NETADDR_H
#define AGORA_NETADDR_H

/*
 * listen_ip itself, or for "0.0.0.0" (and "") the host's first
 * non-loopback IPv4 address (127.0.0.1 when it has none). malloc'ed;
 * NULL when out of memory.
 */
char *netaddr_advertise(const char *listen_ip);

#endif /* AGORA_NETADDR_H */
