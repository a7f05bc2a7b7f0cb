"""Reference hit ratios from libcachesim (`pip install libcachesim`) for the request sequences
that `benches/hit_ratio.rs` replays.

    HIT_RATIO_EXPORT=/tmp/hr cargo bench --bench hit_ratio
    python3 benches/support/libcachesim_reference.py /tmp/hr

Each `NAME.txt` holds one key per line; the capacities are the bench's. Prints a Markdown table
of hit ratios in % (one unsharded cache per policy, every object of size 1).
"""

import os
import sys

import libcachesim as lcs

CAPACITIES = {
    "OLTP": [1000, 5000],
    "P3": [16384, 32768, 65536],
    "Zipf0.8": [1000, 10000],
    "Zipf1.0": [1000, 10000],
    "Scans": [1000, 10000],
    "Shifting": [1000, 10000],
    "Loop": [1000, 10000],
    "Drift": [1000, 10000],
    "Bursts": [1000, 10000],
    "Turns": [1000, 10000],
    "ScanLoop": [1000, 10000],
    "Web": [1000, 10000],
    "Sessions": [1000, 10000],
    "Churn": [1000, 10000],
    "Flips": [1000, 10000],
    "Hotspots": [1000, 10000],
    "Alternating": [1000, 10000],
    "Crawl": [1000, 10000],
    "NearLoop": [1000, 10000],
    "TwoPops": [1000, 10000],
    "Batches": [1000, 10000],
    "Growing": [1000, 10000],
    "Novel": [1000, 10000],
    "Tenants": [1000, 10000],
    "Diurnal": [1000, 10000],
    "FullScans": [1000, 10000],
    "Bimodal": [1000, 10000],
    "Launches": [1000, 10000],
    "Autocomplete": [1000, 10000],
    "Feed": [1000, 10000],
    "Cutover": [1000, 10000],
}

POLICIES = {
    "LRU": lambda c: lcs.LRU(c),
    "ARC": lambda c: lcs.ARC(c),
    "S3-FIFO": lambda c: lcs.S3FIFO(c),
    "W-TinyLFU": lambda c: lcs.WTinyLFU(c),
    "SIEVE": lambda c: lcs.Sieve(c),
}


def main(directory):
    print("| trace @ capacity | " + " | ".join(POLICIES) + " |")
    print("|---|" + "---:|" * len(POLICIES))
    for name, capacities in CAPACITIES.items():
        path = os.path.join(directory, name + ".txt")
        if not os.path.exists(path):
            print(f"skipping {name}: {path} is absent", file=sys.stderr)
            continue
        for capacity in capacities:
            cells = []
            for make in POLICIES.values():
                reader = lcs.TraceReader(path, lcs.TraceType.PLAIN_TXT_TRACE)
                cache = make(capacity)
                miss_ratio, _ = cache.process_trace(reader)
                cells.append(f"{100 * (1 - miss_ratio):.2f}")
            print(f"| {name} @ {capacity:,} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/hit_ratio")
