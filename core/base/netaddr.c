/*
 * netaddr.c - which of the host's addresses to advertise.
 */
#include "netaddr.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

char *netaddr_advertise(const char *listen_ip)
{
    struct ifaddrs *ifs, *i;
    char buf[INET_ADDRSTRLEN] = "127.0.0.1";

    if (listen_ip && *listen_ip && strcmp(listen_ip, "0.0.0.0") != 0)
        return strdup(listen_ip);
    if (getifaddrs(&ifs) == 0) {
        for (i = ifs; i; i = i->ifa_next) {
            struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;

            if (sin == NULL || sin->sin_family != AF_INET ||
                ntohl(sin->sin_addr.s_addr) >> 24 == 127)
                continue;
            inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
            break;
        }
        freeifaddrs(ifs);
    }
    return strdup(buf);
}
