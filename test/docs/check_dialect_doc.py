#!/usr/bin/env python3
"""Checks the generated ssm dialect Markdown: every op defined in SSMOps.td has
a section with a description, and the state/quantized types and hyper-parameter
attributes are documented. Prints a summary line and one line per gap."""
import re
import sys

doc = open(sys.argv[1]).read()
ops_td = open(sys.argv[2]).read()
ops = re.findall(r'def SSM_\w+Op : SSM_\w+<"(\w+)"', ops_td)
missing = []
for op in ops:
    m = re.search(r"### `ssm\.%s` \(.*?\)\n(.*?)(?=\n### |\Z)" % re.escape(op), doc, re.S)
    if not m or "_Syntax:_" not in m.group(1) and len(m.group(1)) < 200:
        missing.append("op ssm.%s" % op)
        continue
    # A description is more than the summary line: require a paragraph of prose.
    if len(re.sub(r"\s+", " ", m.group(1))) < 200:
        missing.append("op ssm.%s (no description)" % op)
types = ["ConvStateType", "SSMStateType", "KVCacheType", "QuantizedWeightType"]
attrs = ["RopeAttr", "DiscreteMamba2ConfigAttr", "Mamba2ConfigAttr", "AttentionConfigAttr",
         "WeightStoreAttr"]
for name in types + attrs:
    if not re.search(r"### %s\b" % name, doc):
        missing.append(name)
print("documented %d ops, %d types, %d attributes" % (len(ops), len(types), len(attrs)))
for m in missing:
    print("undocumented: " + m)
sys.exit(1 if missing else 0)
