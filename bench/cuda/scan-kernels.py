#!/usr/bin/env python3
"""Names the kernels of the first chunked scan's all-chunks path (the
whole-chunk schedule of convert-ssm-to-linalg{scan-all-chunks-at-once}) in
IR printed after gpu-kernel-outlining: the launches inside the first scf.if
whose region launches the inter-chunk pass (the kernel with a sequential
loop that reads and writes B x c x H x P x N float32 states), plus the copy
of y that follows. Prints an ncu `-k regex:` argument.

usage: scan-kernels.py IR.mlir
"""
import re, sys

s = open(sys.argv[1]).read()
fwd = s[s.index("func.func @forward("):]
# Kernel signatures by module name.
sig = {}
for m in re.finditer(r"gpu\.module @(\w+) \{\s*gpu\.func @\w+\((.*?)\) kernel", s, re.S):
    sig[m.group(1)] = m.group(2)
launches = [(m.start(), m.group(1)) for m in re.finditer(r"gpu\.launch_func\s+(?:async\s*\[[^\]]*\]\s*)?@(\w+)::", fwd)]
# The inter-chunk pass: reads and writes ?x?x H x P x N f32 (5-D) and a
# ?x H x P x N state.
def is_pass(name):
    t = sig.get(name, "")
    return len(re.findall(r"memref<\?x\?x\d+x\d+x\d+x(?:f32|bf16|f16)>", t)) >= 2 and re.search(r"memref<\?x\d+x\d+x\d+xf32>", t)
idx = next(i for i, (_, n) in enumerate(launches) if is_pass(n))
# The enclosing scf.if: from the last "scf.if" before that launch to its
# matching end; take the launches in that span.
start = fwd.rfind("scf.if", 0, launches[idx][0])
depth, pos = 0, fwd.index("{", start)
while True:
    c = fwd[pos]
    depth += c == "{"
    depth -= c == "}"
    pos += 1
    if depth == 0:
        break
names = [n for (p, n) in launches if start <= p < pos]
print("regex:^(" + "|".join(names) + ")$")
