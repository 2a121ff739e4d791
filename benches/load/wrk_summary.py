"""wrk's --latency summary as one line: p50, p99, requests/s, errors.

    python3 benches/load/wrk_summary.py LABEL WRK_OUTPUT_FILE [LABEL_WIDTH]

Used by benches/load/server.sh and benches/load/postgres.sh.
"""
import re
import sys

label, text = sys.argv[1], open(sys.argv[2]).read()
width = int(sys.argv[3]) if len(sys.argv) > 3 else 34


def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]


lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: (.*)", text)
errors = int(non2xx.group(1)) if non2xx else 0
print(
    f"{label:<{width}} p50 {ms(lat['50']):7.2f} ms   p99 {ms(lat['99']):7.2f} ms   "
    f"{float(rps):8.1f} req/s   errors {errors}"
    + (f"  socket: {sock.group(1)}" if sock else "")
)
