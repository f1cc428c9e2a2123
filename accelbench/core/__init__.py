"""The write side's core: case identity, the device and workload contracts, timing, parity."""
