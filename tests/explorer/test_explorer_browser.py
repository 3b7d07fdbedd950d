"""The explorer in a real browser (Debian's chromium, driven by playwright) against a real
devnet of node processes (4 validators and an observer).

- A payment made with the CLI wallet appears without a reload: the payee's address page is
  open before the payment exists, and so is its tx page (the txid is known from the unsigned
  partial-tx file, so the page first says "not found"); the wallet signs and broadcasts it
  through the observer; both pages then show it, the tx page as final with its certificate's
  signers by coop name, and neither page was reloaded. Its receipt link downloads the proof.
- Every page loads with no console error and no failed request, follows the block stream,
  passes axe-core's accessibility checks with no serious or critical violation, and is saved
  as a screenshot (the directory is printed at the end of the run).
- A campaign created and pledged to with the CLI wallet has its page, and the pledge's tx page
  links to it (both in the every-page check).
- The search box finds a height, a block hash, a txid and an address.
- With JavaScript off, pages still render and the search form still works.

Skips (with the reason) only where chromium, playwright or axe-core can't be had; `scripts/dev
test` installs them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from consensus import codec
from consensus.address import encode_address
from faircoop_node.devnet import Devnet, DevnetLayout, create_devnet
from tests.builders import key, single
from tests.e2e.helpers import free_base_port, get, height, wait_for
from tests.explorer import artifacts
from tests.explorer.tools import need_axe, need_chromium

pytestmark = pytest.mark.slow

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="playwright is missing: `scripts/dev test` installs the dev "
                                  "extras (pip install -e '.[dev]')")

TIMEOUT_MS = 30_000


@dataclass
class Net:
    layout: DevnetLayout
    url: str  # the explorer under test: coop-1's API port
    observer: str  # where the wallet sends
    shots: Path
    browser: Any
    console: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    chromium = need_chromium()
    layout = create_devnet(tmp_path_factory.mktemp("explorer-devnet") / "net", validators=4,
                           base_port=free_base_port())
    devnet = Devnet(layout)
    shots = tmp_path_factory.mktemp("explorer-screenshots")
    artifacts.record("explorer screenshots", shots)
    try:
        devnet.start_all()
        nodes = layout.nodes
        wait_for(lambda: all(height(n) >= 2 for n in nodes), 60, "every node at height 2")
        with playwright_sync.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
            try:
                yield Net(layout, nodes[0].api_url, nodes[-1].api_url, shots, browser)
            finally:
                browser.close()
    finally:
        devnet.stop_all()


def new_page(net: Net, **options: Any) -> tuple[Any, list[str]]:
    """A page, and the console errors, page errors and failed requests it collects."""
    page = net.browser.new_page(viewport={"width": 1280, "height": 900}, **options)
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}")
            if not r.url.endswith("/api/v1/blocks/stream") else None)  # closed with the page
    return page, problems


def wallet(net: Net, *args: str, password: bool = True) -> dict[str, Any]:
    """Run the CLI wallet as a user would; its --json answer."""
    layout = net.layout
    cmd = [sys.executable, "-m", "wallet", "--wallet", str(layout.wallet_path),
           "--node", net.observer, "--json"]
    if password:
        cmd += ["--password-file", str(layout.password_path)]
    done = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"wallet {args}: {done.stdout} {done.stderr}"
    answer = json.loads(done.stdout)
    assert isinstance(answer, dict)
    return answer


def mark(page: Any) -> None:
    """Put a value in the page's window: a reload would lose it."""
    page.evaluate("window.__notReloaded = true")


def not_reloaded(page: Any) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))


def test_a_cli_payment_appears_on_the_address_and_tx_pages_without_a_reload(
        net: Net, tmp_path: Path) -> None:
    payee = encode_address(codec.policy_lock(single(key(4242))), "test")
    partial = tmp_path / "pay.json"
    unsigned = wallet(net, "send", payee, "1.5", "--memo", "from the explorer test",
                      "--unsigned", str(partial), password=False)
    txid = json.loads(partial.read_text())["txid"]
    assert unsigned.get("unsigned")

    address_page, address_problems = new_page(net)
    address_page.goto(f"{net.url}/address/{payee}")
    address_page.wait_for_selector("#live-status:has-text('live: follows new blocks')")
    assert "Balance 0.00 coins" in " ".join(address_page.inner_text("main").split())
    mark(address_page)

    tx_page, _ = new_page(net)  # its first answer is a 404: the console says so, rightly
    response = tx_page.goto(f"{net.url}/tx/{txid}")
    assert response.status == 404
    tx_page.wait_for_selector("#live-status:has-text('live: follows new blocks')")
    mark(tx_page)

    wallet(net, "multisig", "sign", str(partial), "--own-coins", "--yes")
    sent = wallet(net, "multisig", "broadcast", str(partial))
    assert sent["txid"] == txid

    address_page.wait_for_selector("#balance:has-text('1.50')")
    address_page.wait_for_selector(f"a[href='/tx/{txid}']")
    assert not_reloaded(address_page)
    assert address_problems == []

    tx_page.wait_for_selector("#tx-state:has-text('Final')")
    assert not_reloaded(tx_page)
    shown = " ".join(tx_page.inner_text("main").split())
    assert "from the explorer test" in shown and "1.50 coins" in shown
    assert "✓ coop-" in shown  # the certificate's signers, by coop name
    with tx_page.expect_download() as download:
        tx_page.click("#receipt")
    proof = json.loads(Path(download.value.path()).read_text())
    assert proof["txid"] == txid and proof["certificate_hex"]
    address_page.screenshot(path=str(net.shots / "payment-address.png"), full_page=True)
    tx_page.screenshot(path=str(net.shots / "payment-tx.png"), full_page=True)
    address_page.close()
    tx_page.close()


def demo_txid(net: Net) -> str:
    """A committed tx of the demo wallet's (one is paid with the CLI if there is none yet)."""
    node = net.layout.nodes[0]
    history = get(node, f"address/{net.layout.demo_address}/txs?limit=1")
    if history and history[0]["height"] > 0:
        return str(history[0]["txid"])
    payee = encode_address(codec.policy_lock(single(key(4343))), "test")
    return str(wallet(net, "send", payee, "2", "--yes", "--wait")["txid"])


def demo_campaign(net: Net) -> tuple[str, str]:
    """(campaign id, pledge txid): a campaign the demo wallet creates and pledges to with the
    CLI, so the campaign pages and a pledge's tx page have something to show."""
    made = wallet(net, "campaign", "create", "--title", "Browser oven", "--uri",
                  "https://coop.example/oven", "--goal", "50", "--days", "30", "--yes", "--wait")
    cid = str(made["campaign"])
    pledged = wallet(net, "campaign", "pledge", cid, "3", "--yes", "--wait")
    return cid, str(pledged["txid"])


def pages(net: Net) -> list[tuple[str, str]]:
    """(name, path) of every page, with a tx, an address and a campaign of the devnet's."""
    demo = net.layout.demo_address
    txid = demo_txid(net)
    campaign, pledge = demo_campaign(net)
    return [("overview", "/"), ("blocks", "/blocks"), ("block", "/block/1"),
            ("genesis", "/block/0"), ("tx", f"/tx/{txid}"), ("address", f"/address/{demo}"),
            ("validators", "/validators"), ("governance", "/governance"),
            ("treasury", "/treasury"), ("campaigns", "/campaigns"),
            ("campaign", f"/campaign/{campaign}"), ("pledge", f"/tx/{pledge}"),
            ("credit", "/credit")]


def axe_violations(page: Any, axe: Path) -> list[str]:
    """axe-core's serious and critical violations on `page`. axe is evaluated through the
    DevTools protocol: the page's own CSP (no inline script) forbids injecting a script tag."""
    page.evaluate(axe.read_text(encoding="utf-8") + "\n;void 0")
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            f"{[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_every_page_loads_cleanly_follows_blocks_and_passes_axe(net: Net) -> None:
    axe = need_axe()
    page, _ = new_page(net)  # first, the check can fail: an image without a text alternative
    page.set_content("<html lang='en'><title>t</title><main><img src='data:,'></main></html>")
    assert [v for v in axe_violations(page, axe) if v.startswith("image-alt")]
    page.close()
    listed = pages(net)
    for name, path in listed:
        page, problems = new_page(net)
        response = page.goto(f"{net.url}{path}")
        assert response.status == 200, path
        page.wait_for_selector("#live-status:has-text('live: follows new blocks')")
        assert page.locator("time[data-ms]").count() >= 1
        assert "TEST NETWORK" in page.inner_text(".network")
        if name == "pledge":  # shown as a pledge to its campaign, a link to the campaign page
            assert page.locator(f"a[href='{dict(listed)['campaign']}']").count() == 1
        page.screenshot(path=str(net.shots / f"{name}.png"), full_page=True)
        violations = axe_violations(page, axe)
        assert violations == [], f"{path}: {violations}"
        assert problems == [], f"{path}: {problems}"
        page.close()


def test_the_search_box_finds_each_kind_of_object(net: Net) -> None:
    node = net.layout.nodes[0]
    block_hash = get(node, "block-height/1")
    demo = net.layout.demo_address
    txid = demo_txid(net)
    page, problems = new_page(net)
    page.goto(net.url)
    for query, lands in [("1", "/block/1"), (block_hash, f"/block/{block_hash}"),
                         (txid, f"/tx/{txid}"), (demo, f"/address/{demo}")]:
        page.fill("#q", query)
        page.press("#q", "Enter")
        page.wait_for_url(f"{net.url}{lands}")
        assert page.locator("main h1").count() == 1
    page.fill("#q", "not a thing")
    page.press("#q", "Enter")
    page.wait_for_selector("#error-message:has-text('not a height, a block hash')")
    page.close()


def test_pages_work_without_javascript(net: Net) -> None:
    page, _ = new_page(net, java_script_enabled=False)
    page.goto(f"{net.url}/validators")
    assert "updated when this page was made" in page.inner_text("#live-status")
    assert page.locator("svg.chart").count() == 4
    page.fill("#q", "2")
    page.press("#q", "Enter")
    page.wait_for_url(f"{net.url}/block/2")
    assert "Certified in round" in page.inner_text("main")
    page.screenshot(path=str(net.shots / "no-javascript-block.png"), full_page=True)
    page.close()
