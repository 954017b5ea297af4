/* A libzmq CLIENT that round-trips N messages with a SERVER (ours), with the ZMTP
 * heartbeat settings of zio-raft's clients. Usage: peer_client ENDPOINT N [SIZE]
 * Exits 0 when every reply equals its request; prints the reason otherwise. */
#define ZMQ_BUILD_DRAFT_API
#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "peer_client: %s: %s\n", what, zmq_strerror(zmq_errno()));
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s ENDPOINT N [SIZE]\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[2]);
    int size = argc > 3 ? atoi(argv[3]) : 100;
    if (size < 16) size = 16;
    if (!zmq_has("draft")) {
        fprintf(stderr, "peer_client: libzmq built without draft API\n");
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_CLIENT);
    if (!s) return fail("zmq_socket");
    int ivl = 1000, timeout = 10000, ttl = 30000, rcvtimeo = 20000, linger = 0;
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, argv[1]) != 0) return fail("zmq_connect");
    char *buf = malloc(size), *got = malloc(size + 1);
    for (int i = 0; i < n; i++) {
        memset(buf, 'a' + (i % 26), size);
        snprintf(buf, size, "msg-%d", i);
        if (zmq_send(s, buf, size, 0) != size) return fail("zmq_send");
        int r = zmq_recv(s, got, size + 1, 0);
        if (r < 0) return fail("zmq_recv");
        if (r != size || memcmp(buf, got, size) != 0) {
            fprintf(stderr, "peer_client: reply %d differs (len %d)\n", i, r);
            return 1;
        }
    }
    /* Optionally stay connected so that heartbeats run: PEER_HOLD_MS. */
    const char *hold = getenv("PEER_HOLD_MS");
    if (hold) {
        int ms = atoi(hold);
        zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, ms);
        /* One more round trip proves the connection survived the idle time. */
        snprintf(buf, size, "after-hold");
        if (zmq_send(s, buf, size, 0) != size) return fail("zmq_send after hold");
        int r = zmq_recv(s, got, size + 1, 0);
        if (r != size || memcmp(buf, got, size) != 0) return fail("zmq_recv after hold");
    }
    printf("ok %d\n", n);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}
