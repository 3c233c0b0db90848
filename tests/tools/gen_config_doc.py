#!/usr/bin/env python3
"""Writes docs/configuration.md from the output of `tocsin config` (the schema is the source of
truth). usage: gen_config_doc.py TOCSIN_BINARY OUTPUT.md"""
import re, subprocess, sys

dump = subprocess.run([sys.argv[1], "config"], capture_output=True, text=True, check=True).stdout
rows, doc = [], None
for l in dump.splitlines():
    m = re.match(r"\s+-- (.*)", l)
    if m:
        doc = m.group(1)
        continue
    m = re.match(r'\s*\["([^"]+)"\] = (.*),$', l)
    if m:
        rows.append((m.group(1), m.group(2), doc))
out = """# Configuration

Settings come from three places, later ones winning: the built-in defaults, a Lua file given
with `-c FILE`, and the command line (`--KEY=VALUE`, `--KEY VALUE` or `--set KEY=VALUE`).

The file is Lua that returns a table. Nested tables and dotted keys both work:

```lua
return {
  redis = { url = os.getenv("REDIS_URL") or "" },
  http = { port = 8080 },
  ["detect.zscore.threshold"] = 4.5,
}
```

The file runs sandboxed (no I/O; `os.getenv` is available). An unknown key, a value of the
wrong type or out of range is an error naming the key, and the engine does not start.
`tocsin config` prints every setting with its current value as a file you can start from
(`tocsin.conf.example.lua` in the repository is that output). This page is generated from the
same output by `tests/tools/gen_config_doc.py`.

| key | default | meaning |
|---|---|---|
"""
for k, v, d in rows:
    out += "| `%s` | `%s` | %s |\n" % (k, v.replace("|", "\\|"), d)
open(sys.argv[2], "w").write(out)
