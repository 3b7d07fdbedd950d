"""Chain parameters (consensus/params.py): ranges, bounds and encoding order."""
