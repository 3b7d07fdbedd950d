"""The benchmark scripts and the load generator, run at their smallest sizes."""
