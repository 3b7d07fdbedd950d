"""Text-script scenario tests for the engine, in the manner of etcd raft's testdata."""
