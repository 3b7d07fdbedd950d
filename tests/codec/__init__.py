"""The canonical codec (consensus/codec.py): rejection tables, hypothesis properties, fast paths."""
