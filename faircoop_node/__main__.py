"""`python -m faircoop_node` is `faircoop-node`."""

from faircoop_node.cli import main

raise SystemExit(main())
