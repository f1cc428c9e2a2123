"""One module per workload; each builds itself for a device and exposes a step per phase."""
