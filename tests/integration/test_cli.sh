#!/usr/bin/env bash
# The command line: --help on every command, exit codes, configuration round trip.
. "$(dirname "$0")/lib.sh"

for c in serve check config version; do
    check "tocsin $c --help exits 0 and shows usage" bash -c "'$TOCSIN' $c --help | grep -q 'usage: tocsin $c'"
done
check "tocsin --help lists the commands" bash -c "'$TOCSIN' --help | grep -q 'serve' && '$TOCSIN' --help | grep -q 'check'"
rc=0; "$TOCSIN" frobnicate >/dev/null 2>&1 || rc=$?
check "unknown command exits 2" test "$rc" = 2
rc=0; "$TOCSIN" >/dev/null 2>&1 || rc=$?
check "no command exits 2" test "$rc" = 2
check "version prints the version" bash -c "'$TOCSIN' version | grep -Eq '^tocsin [0-9]+\.[0-9]+\.[0-9]+'"
check "the example configuration is what 'tocsin config' prints" \
    bash -c "'$TOCSIN' config | diff -u '$SRC/tocsin.conf.example.lua' -"
python3 "$SRC/tests/tools/gen_config_doc.py" "$TOCSIN" "$T/configuration.md"
check "docs/configuration.md is up to date with the schema" diff -q "$SRC/docs/configuration.md" "$T/configuration.md"
"$TOCSIN" config --http.port=9999 --set detect.zscore.threshold=5.5 --scripts.exec_allow=/bin/true,/bin/echo >"$T/dump.lua"
check "command-line overrides show in the dump" bash -c "grep -q '\"http.port\"\] = 9999' '$T/dump.lua' && grep -q 'threshold\"\] = 5.5' '$T/dump.lua' && grep -q '\"/bin/true\", \"/bin/echo\"' '$T/dump.lua'"
check "the dump loads back as a configuration" bash -c "'$TOCSIN' config -c '$T/dump.lua' | diff -q '$T/dump.lua' - >/dev/null"
check "the command line wins over the file" bash -c "'$TOCSIN' config -c '$T/dump.lua' --http.port=7 | grep -q '\"http.port\"\] = 7,'"
rc=0; out=$("$TOCSIN" config --no.such=1 2>&1) || rc=$?
check "unknown option names it and exits non-zero" bash -c "test $rc -ne 0 && echo \"\$0\" | grep -q no.such" "$out"
rc=0; out=$("$TOCSIN" config --detect.zscore.min_samples=500 2>&1) || rc=$?
check "cross-field validation names both keys" bash -c "test $rc -ne 0 && echo \"\$0\" | grep -q 'min_samples.*window'" "$out"
rc=0; out=$("$TOCSIN" config --ingest.label_aliases=nopair 2>&1) || rc=$?
check "a label alias that is not FROM=TO is refused, naming the key" bash -c "test $rc -ne 0 && echo \"\$0\" | grep -q 'ingest.label_aliases'" "$out"
rc=0; out=$(timeout 10 "$TOCSIN" serve --data_dir="$T/d" --ingest.label_aliases=cloud.zone=zone.name 2>&1) || rc=$?
check "a label alias to an invalid name stops serve at once, naming it" bash -c "test $rc = 1 && echo \"\$0\" | grep -q \"label_aliases.*'zone.name' is not a valid label name\"" "$out"
finish
