# Chinese messages of parties' GLNs (gi_trace/registry/gln.py and its users).
