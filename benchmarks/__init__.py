"""asyncfilter's benchmarks: ``python -m benchmarks [--quick]`` (make bench, bench-quick)."""
