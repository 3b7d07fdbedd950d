"""The worked session of docs/GOVERNANCE.md runs as written, in process, against the fake
node, in a directory laid out as `faircoop-node devnet` lays out its demo governors (their
wallets written by the devnet's own code): a governor proposes, two more sign copies, the
copies combine, the action is submitted and shows in the history with its reference.
(tests/e2e_wallet runs the same workflow against a devnet of real node processes.)"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from consensus.types import PublicKey
from faircoop_node.devnet import DemoGovernors, DevnetLayout
from tests.wallet.gov_doc_session import session_commands
from tests.wallet.wallet_cli_harness import ACCOUNTS, FAST
from tests.wallet.wallet_fakechain import CHAIN_ID, funded_chain
from tests.wallet.wallet_fakenode import FakeNode, serve
from wallet.cli import Environment, main
from wallet.keys import RECEIVE
from wallet.keystore import ScryptParams
from wallet.receipts import genesis_light_state


def _no_prompt(_: str) -> str:
    raise AssertionError("the worked session gives every password with --password-file")


def test_the_worked_session_runs_as_written(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    commands = session_commands()
    governors = DemoGovernors.new(4)
    chain = funded_chain([ACCOUNTS[0].watch().lock(RECEIVE, 0)],
                         governors=tuple(governors.keys), governor_threshold=governors.threshold)
    layout = DevnetLayout(tmp_path, 4, 7070, CHAIN_ID, "", (), governors=4)
    governors.write_wallets(layout, "devnet password", chain.genesis_id,
                            genesis_light_state(chain.genesis))
    layout.password_path.write_text("devnet password\n")
    monkeypatch.chdir(tmp_path)
    fake = FakeNode(chain)
    with serve(fake) as url:
        def run(argv: list[str]) -> tuple[int, str, str]:
            out, err = io.StringIO(), io.StringIO()
            env = Environment(stdin=io.StringIO(""), stdout=out, stderr=err,
                              environ={"FAIRCOOP_NODE": url,
                                       "FAIRCOOP_WALLET": str(tmp_path / "no.wallet")},
                              prompt_secret=_no_prompt, retry=FAST,
                              kdf=ScryptParams.for_tests())
            return int(main(argv, env)), out.getvalue(), err.getvalue()

        for argv in commands:
            code, out, err = run(argv)
            assert code == 0, f"{' '.join(argv)} exited {code}: {err}"
        code, out, _ = run(["--json", "gov", "history"])
    propose = next(a for a in commands if "propose" in a)
    ref, note = (propose[propose.index(flag) + 1] for flag in ("--ref", "--note"))
    pubkey = PublicKey(bytes.fromhex(propose[propose.index("--pubkey") + 1]))
    history = json.loads(out)["actions"]
    assert [(h["kind"], h["reference"]) for h in history] == \
        [("add_validator", {"uri": ref, "text": note})]
    assert len(history[0]["signers"]) == governors.threshold == 3
    assert pubkey in [v.pubkey for v in fake.chain.state.upcoming.validators]
    signing = {a[a.index("--wallet") + 1] for a in commands if "sign" in a}
    assert len(signing) == 3  # three governors' wallets signed
