/* libFuzzer target: the service graph loaded from a topology document (correlate/graph.c,
 * tn_graph_add_topology) and every walk over what it built. The input is JSON; a document that
 * is refused must leave the graph empty and give a reason. By hand:
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTN_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_graph_topology
 *   build-fuzz/tests/fuzz_graph_topology -max_total_time=60 tests/fuzz/corpus/graph_topology */
#include "core/buf.h"
#include "core/error.h"
#include "correlate/graph.h"
#include "correlate/pagerank.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

static void check(int ok)
{
    if (!ok) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!doc) return 0;
    tn_graph_opts_t o = {.max_nodes = 64, .max_edges = 256};
    tn_graph_t *g = tn_graph_create(&o);
    if (!g) {
        json_decref(doc);
        return 0;
    }
    tn_buf_t err;
    tn_buf_init(&err);
    int rc = tn_graph_add_topology(g, doc, &err);
    if (rc == TN_EINVAL) {
        check(err.len > 0 && tn_graph_node_count(g) == 0); /* checked first: nothing added */
    } else if (rc) {
        check(rc == TN_ENOMEM || rc == TN_ETOOBIG);
    } else {
        size_t n = tn_graph_node_count(g);
        check(n <= 64 && tn_graph_edge_count(g) <= 256);
        int out[64], dist[64];
        for (size_t i = 0; i < n; i++) {
            int id = (int)i;
            check(tn_graph_neighbors(g, id, TN_GRAPH_BOTH, out, 64) >= 0);
            int r = tn_graph_khop(g, id, 2, out, dist, 64);
            check(r >= 1 && out[0] == id && dist[0] == 0);
            int up = tn_graph_upstream(g, id, out, 64);
            check(up >= 0 && (size_t)up < n);
            int d = tn_graph_distance(g, id, (int)(n - 1), 1);
            int p = tn_graph_path(g, id, (int)(n - 1), 1, out, 64);
            check((d < 0) == (p < 0) && (d < 0 || p == d + 1));
        }
        int all[64];
        for (size_t i = 0; i < n; i++)
            all[i] = (int)i;
        tn_graph_sub_t sub;
        if (tn_graph_induced(g, all, n, &sub) == 0) {
            double scores[64];
            if (tn_pagerank(sub.n, sub.links, sub.m, NULL, scores, NULL) == 0 && sub.n) {
                double sum = 0;
                for (size_t i = 0; i < sub.n; i++)
                    sum += scores[i];
                check(sum > 0.999999 && sum < 1.000001);
            }
            tn_graph_sub_free(g, &sub);
        }
    }
    tn_buf_deinit(&err);
    tn_graph_destroy(g);
    json_decref(doc);
    return 0;
}
