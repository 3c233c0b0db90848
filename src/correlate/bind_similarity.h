/* bind_similarity.h - the Lua module tocsin.similarity: alert signatures and how alike two are
 * (correlate/similarity.h), for pattern-based correlation rules. Any context; never waits.
 *
 *   local s = similarity.signature{ labels = { service = "checkout", ... },
 *                                   text = "disk 93% on host-7",   -- optional
 *                                   mask_values = false }          -- mask numbers/ids in values
 *   similarity.signature(anomaly)  -- an anomaly or alert table: its labels, and metric, title,
 *                                     summary and detector as text
 *   s:jaccard(t)            -- token-set Jaccard in [0,1]
 *   s:weighted_jaccard(t)   -- weighted Jaccard in [0,1]
 *   s:simhash()             -- the 64-bit SimHash as 16 hex digits
 *   s:similarity(t)         -- 1 - Hamming(simhash) / 64, in [0,1]
 *   s:tokens()              -- number of distinct tokens
 *   similarity.simhash_similarity(hex1, hex2)  -- for SimHashes kept in tocsin.state
 * Userdata type "tocsin.signature". */
#ifndef TN_CORRELATE_BIND_SIMILARITY_H
#define TN_CORRELATE_BIND_SIMILARITY_H

#include <lua.h>

int tn_correlate_open_similarity(lua_State *L);

#endif
