/*
 * The pod sandbox ("pause") container of the harness's real Kubernetes node
 * (crates/mush-harness/src/node.rs): it holds a pod's namespaces open and does nothing
 * else. Built at test time with `gcc -static`, so the image needs no registry and no libc.
 * Sleeps until SIGINT or SIGTERM and reaps the zombies of a pod that shares its PID
 * namespace.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
    (void)sig;
    _exit(0);
}

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, 0, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction action = {0};
    action.sa_handler = stop;
    sigaction(SIGINT, &action, 0);
    sigaction(SIGTERM, &action, 0);
    action.sa_handler = reap;
    action.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &action, 0);
    for (;;) {
        pause();
    }
}
