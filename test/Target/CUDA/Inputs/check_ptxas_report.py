"""Reads `ptxas -v` output for a PTX file: every .entry must have been
compiled, and reports how many kernels spill (bytes spill stores > 0) and the
most registers any kernel uses.

Usage: check_ptxas_report.py KERNELS.ptx PTXAS_STDERR.txt
"""
import re
import sys

ptx = open(sys.argv[1]).read()
report = open(sys.argv[2]).read()
entries = set(re.findall(r"\.entry\s+([A-Za-z0-9_$]+)\(", ptx))
compiled = set(re.findall(r"Compiling entry function '([A-Za-z0-9_$]+)'", report))
spilling = []
current = None
most_registers = 0
for line in report.splitlines():
    match = re.search(r"Function properties for ([A-Za-z0-9_$]+)", line)
    if match:
        current = match.group(1)
    match = re.search(r"(\d+) bytes spill stores", line)
    if match and int(match.group(1)) > 0:
        spilling.append(current)
    match = re.search(r"Used (\d+) registers", line)
    if match:
        most_registers = max(most_registers, int(match.group(1)))
print("entries:", len(entries))
print("every entry compiled:", bool(entries) and entries == compiled)
print("kernels spilling:", len(spilling), " ".join(spilling))
print("most registers:", most_registers)
