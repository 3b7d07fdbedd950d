"""`faircoop-node`'s command line, configuration, keys, genesis file and logs."""
