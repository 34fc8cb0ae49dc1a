#!/usr/bin/env python3
"""Names of the kernels that @forward launches inside a host-side scf.for (the
chunked scan's loop over whole chunks), from IR printed after
gpu-kernel-outlining (`ssmc compile ... --emit=mlir
--print-ir-after=gpu-kernel-outlining 2> IR`).

usage: chunk-kernels.py IR > names.txt   (one name per line)
"""
import re, sys
stack, names, in_forward = [], [], False
for line in open(sys.argv[1]):
    if "func.func @forward(" in line:
        in_forward, stack = True, []
        continue
    if not in_forward:
        continue
    indent = len(line) - len(line.lstrip())
    s = line.strip()
    if s == "}" and indent == 2:
        break
    while stack and indent <= stack[-1] and s.startswith("}"):
        stack.pop()
        break
    if re.search(r"\bscf\.for\b", s) and s.endswith("{"):
        stack.append(indent)
    m = re.search(r"gpu\.launch_func\s+(?:async\s+\[[^\]]*\]\s+)?@(\w+)::@\w+", s)
    if m and stack:
        names.append(m.group(1))
print("\n".join(dict.fromkeys(names)))
