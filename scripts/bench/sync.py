#!/usr/bin/env python3
"""Benchmark: a fresh node syncing N empty blocks from a peer, against raw LevelDB on them.

1. Lays out a 4-validator devnet (`create_devnet`) and writes N certified empty blocks straight
   into its observer's store, the way a running chain would have: each block from
   `consensus.chain.make_block` on the chain state, checked by `validate_block`, with a commit
   certificate of a quorum of the validators' precommits (real signatures with their keys), and
   committed with the node's own write (`commit_block`, chain state and validator sets).
2. Starts that observer alone (the serving peer), and one new observer with an empty data dir
   whose only peer it is, as real processes talking P2P.
3. Polls the new node's tip until it reaches N. blocks/s = (N - h0) / (t(N) - t(h0)), where
   h0 is the first height seen above 0 (process start-up and the handshake excluded); the
   figure with start-up included is reported too.
4. Baseline, same run, same blocks: raw plyvel reading each block's bytes and certificate from
   the serving store and writing them (2 keys per block) to a fresh LevelDB, one synced write
   per block (what the node does per block) and, for reference, unsynced.
5. Decomposition, same blocks: the node's per-block sync work replayed in this process (decode,
   certificate check, validate_block, commit_block), with a synced write per block and with
   unsynced writes but the last (`--no-replay` skips it).

    .venv/bin/python scripts/bench/sync.py [--blocks 10000] [--base-port 17800]

The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "scripts" / "bench"))  # spy.py; after the packages (wallet.py!)

import plyvel  # noqa: E402
from spy import record, summarize  # noqa: E402  (scripts/bench/spy.py)

from consensus.chain import make_block, validate_block  # noqa: E402
from consensus.chainstate import encode_chain_state, genesis_state  # noqa: E402
from consensus.codec import block_hash, genesis_hash, pack, validators_hash, validators_obj  # noqa: E402
from consensus.votes import CommitCertificate, VoteType, encode_certificate, sign_vote  # noqa: E402
from faircoop_node.config import LogConfig  # noqa: E402
from faircoop_node.devnet import (  # noqa: E402
    Devnet,
    DevnetNode,
    create_devnet,
    free_base_port,
    ports_for,
)
from faircoop_node.genesis_file import load_genesis, write_genesis  # noqa: E402
from faircoop_node.keys import load_node_key  # noqa: E402
from faircoop_node.nodedir import init_node_dir  # noqa: E402
from faircoop_node.storage import LevelDBStore, schema  # noqa: E402

BLOCK_SPACING_MS = 1_000


def build_chain(net_dir: Path, store_path: Path, n_blocks: int) -> float:
    """Write `n_blocks` certified empty blocks into a new store at `store_path`; seconds taken."""
    genesis = load_genesis(net_dir / "genesis.json")
    gid = genesis_hash(genesis)
    keys = {}
    for d in sorted(net_dir.glob("coop-*")):
        k = load_node_key(d / "node.key")
        keys[k.public_key] = k
    state = genesis_state(genesis, gid)
    t = time.perf_counter()
    last_cert = b""
    with LevelDBStore(store_path, genesis,
                      genesis_chain_state=encode_chain_state(state)) as store:
        for h in range(1, n_blocks + 1):
            rotation = state.proposer_rotation()
            proposer = rotation[h % len(rotation)]
            block = make_block(state, proposer, state.last_block_time_ms + BLOCK_SPACING_MS,
                               (), last_cert)
            block_id = block_hash(block.header)
            valid = validate_block(state, block, block_id, store)
            voters = state.voting_set()
            quorum = 2 * len(voters) // 3 + 1
            sigs = tuple((i, sign_vote(keys[pk], genesis.chain_id, VoteType.PRECOMMIT, h, 0,
                                       block_id).signature)
                         for i, pk in enumerate(voters[:quorum]))
            cert = encode_certificate(CommitCertificate(genesis.chain_id, h, 0, block_id, sigs))
            after = valid.state
            sets = {bytes(validators_hash(v)): pack(validators_obj(v))
                    for v in (state.current.validators, state.upcoming.validators,
                              after.current.validators, after.upcoming.validators)}
            store.commit_block(block, block_id, valid.diff, cert, encode_chain_state(after),
                               validator_sets=sets)
            state, last_cert = after, cert
    return time.perf_counter() - t


def raw_baseline(store_path: Path, n_blocks: int, tmp: Path) -> dict[str, float]:
    """Raw plyvel: read each block + certificate from the store, write both to a fresh DB."""
    src = plyvel.DB(str(store_path))
    out: dict[str, float] = {}
    keys = _raw_keys(src)
    if len(keys) != n_blocks:
        raise SystemExit(f"the store holds {len(keys)} blocks, not {n_blocks}")
    for sync in (True, False):
        dst_path = tmp / f"raw-{sync}"
        dst = plyvel.DB(str(dst_path), create_if_missing=True)
        t = time.perf_counter()
        for key_block, key_cert in keys:
            blob = src.get(key_block)
            cert = src.get(key_cert)
            with dst.write_batch(transaction=True, sync=sync) as wb:
                wb.put(key_block, blob)
                wb.put(key_cert, cert)
        elapsed = time.perf_counter() - t
        dst.close()
        shutil.rmtree(dst_path, ignore_errors=True)
        out["raw_leveldb_synced_blocks_per_s" if sync else "raw_leveldb_unsynced_blocks_per_s"] \
            = round(len(keys) / elapsed, 1)
    src.close()
    return out


def replay_in_process(store_path: Path, genesis_file: Path, tmp: Path) -> dict[str, float]:
    """The node's per-block sync work without network or thread hops, on the same blocks.

    Each block: decode, `check_certified` (its certificate against the voting set),
    `validate_block`, `commit_block` with the node's writes, into a fresh store, with the
    node's signature memo. Once with a
    synced write per block (what the node does now), once with unsynced writes but the last
    (what a node committing a fetched range as a unit would do; see docs/PERFORMANCE.md).
    """
    from consensus.codec import decode_block
    from consensus.crypto import VerifiedMemo
    from faircoop_node.node.sync import check_certified

    genesis = load_genesis(genesis_file)
    gid = genesis_hash(genesis)
    src = plyvel.DB(str(store_path))
    items = [(schema.decode_block_record(src.get(kb), kb), src.get(kc))
             for kb, kc in _raw_keys(src)]
    src.close()
    out: dict[str, float] = {}
    for synced in (True, False):
        state = genesis_state(genesis, gid)
        sigs = VerifiedMemo()  # the node's: a certificate checked when synced is not checked
        # again as the next block's last commit
        path = tmp / f"replay-{synced}"
        t = time.perf_counter()
        with LevelDBStore(path, genesis, genesis_chain_state=encode_chain_state(state)) as store:
            for n, (raw, cert) in enumerate(items):
                block = decode_block(raw)
                block_id = check_certified(state, block, cert, sigs.verify)
                valid = validate_block(state, block, block_id, store, verify=sigs.verify)
                after = valid.state
                sets = {bytes(validators_hash(v)): pack(validators_obj(v))
                        for v in (state.current.validators, state.upcoming.validators,
                                  after.current.validators, after.upcoming.validators)}
                store.commit_block(block, block_id, valid.diff, cert, encode_chain_state(after),
                                   validator_sets=sets, sync=synced or n == len(items) - 1)
                state = after
        elapsed = time.perf_counter() - t
        shutil.rmtree(path, ignore_errors=True)
        key = "in_process_blocks_per_s_synced" if synced else "in_process_blocks_per_s_batched"
        out[key] = round(len(items) / elapsed, 1)
    return out


def _raw_keys(db: plyvel.DB) -> list[tuple[bytes, bytes]]:
    """(block key, certificate key) per height, from the storage schema."""
    pairs = []
    h = 1
    while True:
        bid = db.get(schema.height_key(h))
        if bid is None:
            break
        pairs.append((schema.block_key(bid), schema.certificate_key(h)))
        h += 1
    return pairs


def tip(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/blocks/tip/height", timeout=2) as r:
            return int(r.read())
    except (OSError, ValueError):
        return -1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=10_000)
    ap.add_argument("--base-port", type=int, default=17800)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--no-replay", action="store_true",
                    help="skip the in-process replay (the node's per-block work, no network)")
    ap.add_argument("--profile", help="py-spy the syncing node into this raw file "
                    "(see scripts/bench/spy.py)")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="faircoop-sync-bench-"))
    try:
        base = free_base_port(args.base_port, 6, step=211)
        layout = create_devnet(tmp / "net", 4, base)
        serving = next(n for n in layout.nodes if not n.validator)
        build_s = build_chain(layout.directory, serving.directory / "data" / "chain", args.blocks)
        print(f"built {args.blocks} certified empty blocks in {build_s:.1f}s", flush=True)
        api, p2p = ports_for(base, len(layout.nodes))
        fresh_dir = layout.directory / "fresh"
        init_node_dir(fresh_dir, validator=False, p2p_port=p2p, api_port=api,
                      peers=[serving.p2p_url], log=LogConfig(level="INFO", format="json"))
        write_genesis(fresh_dir / "genesis.json", load_genesis(layout.genesis_path))
        fresh = DevnetNode("fresh", fresh_dir, False, api, p2p)
        net = Devnet(layout)
        try:
            net.start_all([serving])
            deadline = time.monotonic() + 60
            while tip(serving.api_url) < args.blocks:
                if time.monotonic() > deadline:
                    raise SystemExit("the serving node did not come up")
                time.sleep(0.1)
            t_start = time.monotonic()
            net.start_all([fresh])
            spy = None
            if args.profile:
                spy = threading.Thread(target=record, args=(
                    net.procs["fresh"].pid, 10, Path(args.profile)), daemon=True)
                spy.start()
            h0 = t0 = None
            height = 0
            deadline = t_start + args.timeout
            samples = []
            while height < args.blocks:
                if time.monotonic() > deadline:
                    raise SystemExit(f"sync did not finish in {args.timeout}s (at {height})")
                time.sleep(0.02)
                height = tip(fresh.api_url)
                now = time.monotonic()
                if height > 0 and h0 is None:
                    h0, t0 = height, now
                if height > 0:
                    samples.append((round(now - t_start, 2), height))
            t_end = time.monotonic()
            cpu = _cpu_of(fresh_dir), _cpu_of(serving.directory)
            if spy is not None:
                spy.join(timeout=30)
        finally:
            net.stop_all()
        assert h0 is not None and t0 is not None
        # A short chain can land in one range before the first poll sees any height: then
        # there is no steady-state window, and the rate counts from the node's start.
        steady = args.blocks - h0
        rate = (steady / max(t_end - t0, 1e-9) if steady > 0
                else args.blocks / max(t_end - t_start, 1e-9))
        result: dict[str, object] = {
            "blocks": args.blocks,
            "sync_blocks_per_s": round(rate, 1),
            "steady_window": steady > 0,
            "sync_blocks_per_s_with_startup": round(args.blocks / (t_end - t_start), 1),
            "sync_seconds": round(t_end - t0, 2),
            "first_height_seen": h0,
            "fresh_node_cpu_s": cpu[0],
            "serving_node_cpu_s": cpu[1],
            "build_seconds": round(build_s, 1),
            "target_blocks_per_s": 2000,
        }
        chain = serving.directory / "data" / "chain"
        result.update(raw_baseline(chain, args.blocks, tmp))
        if not args.no_replay:
            result.update(replay_in_process(chain, layout.genesis_path, tmp))
        result["ratio_vs_target"] = round(float(result["sync_blocks_per_s"]) / 2000, 3)  # type: ignore[arg-type]
        result["ratio_vs_raw_leveldb_synced"] = round(
            float(result["sync_blocks_per_s"])  # type: ignore[arg-type]
            / float(result["raw_leveldb_synced_blocks_per_s"]), 3)  # type: ignore[arg-type]
        if args.profile and Path(args.profile).exists():
            result["profile"] = summarize(Path(args.profile), 15)
        print(f"synced {args.blocks} blocks at {result['sync_blocks_per_s']} blocks/s; raw "
              f"LevelDB (synced writes) {result['raw_leveldb_synced_blocks_per_s']} blocks/s")
        print(json.dumps(result))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _cpu_of(node_dir: Path) -> float | None:
    """CPU seconds of a still-running node (from its pid file)."""
    import os

    try:
        pid = int((node_dir / "node.pid").read_text().strip())
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    f = raw[raw.rindex(")") + 2:].split()
    return round((int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK"), 2)


if __name__ == "__main__":
    raise SystemExit(main())
