"""asv benchmarks of fastnn: see common.py for profiles, threads and data."""
