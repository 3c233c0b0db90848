/* influx.h - the InfluxDB line protocol (what Telegraf and the InfluxDB clients send).
 *
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp]
 *
 * Each numeric field becomes one sample named <measurement>_<field> (Telegraf's Prometheus
 * convention; a measurement called "prometheus" is left out, giving just <field>), with every
 * character outside [a-zA-Z0-9_:] (each UTF-8 character, not each byte) replaced by '_' and a
 * '_' put before a leading digit. Tags become labels through tn_labels_add (aliases such as
 * hostname -> host; other characters -> '_').
 *   - field types: float (1, 1.0, -1.2e+78), integer 12i, unsigned 12u (out of range: the line is
 *     rejected), boolean t/T/true/True/TRUE -> 1, f/F/false/False/FALSE -> 0. Integers larger
 *     than 2^53 lose precision as float64. NaN and Inf are not numbers in the protocol.
 *   - string fields ("...") are skipped: not a sample, counted neither as accepted nor rejected;
 *     a line holding only string fields yields nothing and is not an error. A string cannot hold
 *     a raw newline (the protocol forbids it): the line is rejected as unterminated.
 *   - escapes: measurement \, and \space; tag keys, tag values and field keys \, \= \space;
 *     \\ is one backslash everywhere; any other backslash is literal. String values: \" and \\.
 *   - `#` at the start of a line is a comment; blank lines and CRLF line ends are accepted;
 *     several spaces between the sections are tolerated.
 *   - the timestamp is an integer in the given precision (ns by default), converted to ms
 *     (truncated toward the past); absent: opts->now_ms. Before 1970 / after 9999: rejected.
 *   - a bad line (no field, empty tag value, unterminated string, duplicate tag or field after
 *     normalization, more than TN_MAX_LABELS tags, a bad or out-of-range number, a control
 *     character in a name or key, a tag value that is not UTF-8, ...) is rejected whole (none of
 *     its fields is kept), named by its line number.
 * Counts in rep are samples (accepted) and lines (rejected). */
#ifndef TN_INGEST_INFLUX_H
#define TN_INGEST_INFLUX_H

#include <stddef.h>

#include "core/buf.h"
#include "ingest/json_samples.h"
#include "ingest/records.h"

/* Parses body (len bytes, need not be NUL-terminated) and appends the samples to out->samples.
 * precision: "ns" (NULL means ns), "us", "ms", "s", and the InfluxDB 1.x forms "n", "u", "m"
 * (minutes), "h". o may be NULL (now: tn_now_ms(), no limit); o->max_items 0 means no limit.
 * Rejected lines are reported like tn_parse_prom_text does ({"line":N,"error":"line N: ..."}).
 * Returns 0 (even when lines were rejected), TN_EINVAL (unknown precision), TN_ETOOBIG (more
 * than o->max_items samples) or TN_ENOMEM; on those errors fatal holds the reason and out is as
 * it was before the call. */
int tn_parse_influx(const char *body, size_t len, const tn_parse_opts_t *o, const char *precision,
                    tn_batch_t *out, tn_ingest_report_t *rep, tn_buf_t *fatal);

/* For a stream (TCP, UDP): the length of the longest prefix of buf made of whole lines (ending
 * with '\n'), 0 when there is none yet. Parse that prefix and keep the rest for the next chunk
 * (the caller should cap what it keeps, e.g. drop a partial line longer than 1 MB). Line numbers
 * in the report count from the start of each parsed prefix. */
size_t tn_influx_complete_prefix(const char *buf, size_t len);

#endif
