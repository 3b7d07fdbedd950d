"""The BFT engine driven by hand: upon-rules, quorum tallies, commit certificates."""
