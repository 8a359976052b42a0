"""cnnext's benchmark suite. Entry point: ``python3 benchmarks/run.py --quick`` (or
``python3 -m benchmarks``); see ``benchmarks/run.py --help``."""
