/* A libzmq SERVER that echoes every message back to its sender, with ZMTP heartbeats on.
 * Usage: peer_server ENDPOINT   (e.g. tcp://127.0.0.1:0)
 * Environment: PEER_NO_HEARTBEAT=1 turns its own PINGs off.
 * Prints the bound endpoint on the first line of stdout, then echoes until killed. */
#define ZMQ_BUILD_DRAFT_API
#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s ENDPOINT\n", argv[0]);
        return 2;
    }
    if (!zmq_has("draft")) {
        fprintf(stderr, "peer_server: libzmq built without draft API\n");
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_SERVER);
    int ivl = 1000, timeout = 10000, ttl = 30000, linger = 0;
    /* PEER_NO_HEARTBEAT=1: send no PINGs, so that only its PONGs keep our client up. */
    if (getenv("PEER_NO_HEARTBEAT")) ivl = 0;
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(s, argv[1]) != 0) {
        fprintf(stderr, "peer_server: bind: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    char ep[256];
    size_t len = sizeof ep;
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len);
    printf("%s\n", ep);
    fflush(stdout);
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s, 0) < 0) {
            fprintf(stderr, "peer_server: recv: %s\n", zmq_strerror(zmq_errno()));
            zmq_msg_close(&msg);
            break;
        }
        uint32_t id = zmq_msg_routing_id(&msg);
        zmq_msg_set_routing_id(&msg, id);
        if (zmq_msg_send(&msg, s, 0) < 0) {
            fprintf(stderr, "peer_server: send: %s\n", zmq_strerror(zmq_errno()));
            zmq_msg_close(&msg);
        }
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}
