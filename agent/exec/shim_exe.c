/*
 * shim_exe.c - agora-shim, the per-task supervisor as a program of its
 * own (see shim.c): the agent spawns it instead of itself when it is
 * installed beside agora-agent, because it starts in a fraction of the
 * time the agent's binary needs to load its shared libraries.
 */
#include "exec.h"

int main(int argc, char **argv)
{
    return shim_main(argc, argv);
}
