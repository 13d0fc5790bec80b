"""Drive headless Chromium over the DevTools protocol with the standard library only.

Chromium is started with `--remote-debugging-pipe`: it reads protocol messages from its fd 3 and writes to
its fd 4, each message a JSON object followed by a NUL byte (no websocket client needed). `inspect_page`
opens a local HTML file in a fresh profile and returns what a reader's browser would have done with it:
every request that left the page, console errors and uncaught exceptions, whether each <img> decoded, the
in-page links whose target is missing, and optionally a PNG screenshot.

Command line (for the README screenshot):
    python tests/browser_driver.py REPORT.html OUT.png [--width 1280] [--height 900] [--full-page]
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
MAX_SCREENSHOT_HEIGHT = 16000  # px; a full-page capture of a long report is cut here
LOCAL_SCHEMES = ("data:", "about:", "blob:", "chrome:", "devtools:")

# Run in the page after load: make lazy images load, wait for every image to decode, list broken anchors.
PAGE_PROBE = """
(async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(img => { img.loading = "eager"; });
  const results = await Promise.all(imgs.map(async (img, i) => {
    try { await img.decode(); } catch (e) { return {index: i, ok: false, error: String(e), width: 0}; }
    return {index: i, ok: img.naturalWidth > 0, width: img.naturalWidth, height: img.naturalHeight};
  }));
  const broken = Array.from(document.querySelectorAll('a[href^="#"]'))
    .map(a => a.getAttribute("href").slice(1))
    .filter(id => id && !document.getElementById(decodeURIComponent(id)));
  return JSON.stringify({images: results, broken_anchors: Array.from(new Set(broken)),
                         height: document.documentElement.scrollHeight, title: document.title});
})()
"""


@dataclass
class PageReport:
    """What loading a page in Chromium did."""

    url: str
    requests: list[str] = field(default_factory=list)  # URLs requested other than the page and data:/about:
    console_errors: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)  # {index, ok, width, height | error}
    broken_anchors: list[str] = field(default_factory=list)
    height: int = 0
    title: str = ""
    screenshot: Path | None = None
    script_result: object = None  # what the optional `script` of inspect_page returned
    interaction: object = None  # what the optional `interact` of inspect_page returned


class DevToolsPipe:
    """A Chromium process and its DevTools pipe: send commands, wait for replies, keep the events."""

    def __init__(self, args: list[str], timeout: float = 30.0):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        self.timeout, self._next_id, self.events = timeout, 0, []
        self._inbox: queue.Queue = queue.Queue()
        # Chromium expects the pipe on exactly fds 3 (its input) and 4 (its output). Copy both above 10 first so
        # that dup2 onto 3 and 4 never hits one of the sources.
        high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
        high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)

        def place_pipe_fds():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self._log = tempfile.TemporaryFile()  # Chromium's stderr: a file, so a chatty browser never blocks
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            close_fds=False,
            preexec_fn=place_pipe_fds,
        )
        for fd in (to_chrome_r, from_chrome_w, high_r, high_w):
            os.close(fd)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                self._inbox.put(None)
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                self._inbox.put(json.loads(raw))

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result; events received meanwhile are kept in `events`."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._get(deadline, f"reply to {method}")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        """Wait for the next event called `method` (one already received counts) and return it."""
        deadline = time.monotonic() + self.timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._get(deadline, method)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _get(self, deadline: float, what: str) -> dict:
        try:
            message = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"Chromium did not send the {what} within {self.timeout:g} s") from None
        if message is None:
            self._log.seek(0)
            err = self._log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"Chromium closed the DevTools pipe while waiting for the {what}: {err}")
        return message

    def close(self) -> None:
        """Ask the browser to quit; kill it if it does not within a few seconds."""
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chrome)
        self._reader.join(timeout=5)  # it ends at the EOF the browser's exit leaves on the pipe
        os.close(self._from_chrome)
        self._log.close()


def chromium_args(profile: Path, chromium: str = CHROMIUM) -> list[str]:
    """Return the command line of a headless Chromium that phones nowhere and keeps no state."""
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-default-apps",
        "--disable-extensions",
        "--mute-audio",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--remote-debugging-pipe",
        "about:blank",
    ]


def inspect_page(
    html: Path,
    screenshot: Path | None = None,
    *,
    width: int = 1280,
    height: int = 900,
    full_page: bool = False,
    script: str | None = None,
    interact=None,
    timeout: float = 40.0,
    chromium: str = CHROMIUM,
) -> PageReport:
    """Open `html` in headless Chromium; return requests, console errors, image decoding and broken anchors.

    `script`, a JavaScript expression (a promise is awaited), runs after the checks; its JSON-able value is
    returned as `script_result` (e.g. click a table header and read the new row order). `interact`, a function
    of a PageSession, then drives the page with real input events (mouse, keys, downloads, reload); what it
    returns is `interaction`.
    """
    url = Path(html).resolve().as_uri()
    profile = Path(tempfile.mkdtemp(prefix="hjepa-chromium-"))
    browser = DevToolsPipe(chromium_args(profile, chromium), timeout)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network", "Runtime", "Log", "Page"):
            browser.send(f"{domain}.enable", session=session)
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        browser.events.clear()
        browser.send("Page.navigate", {"url": url}, session)
        browser.wait_for("Page.loadEventFired")
        found = json.loads(_evaluate(browser, session, PAGE_PROBE))
        report = PageReport(
            url,
            images=found["images"],
            broken_anchors=found["broken_anchors"],
            height=found["height"],
            title=found["title"],
        )
        if script is not None:
            report.script_result = _evaluate(browser, session, script)
        if interact is not None:
            report.interaction = interact(PageSession(browser, session, profile))
        if screenshot is not None:
            _capture(browser, session, Path(screenshot), width, height, found["height"] if full_page else None)
            report.screenshot = Path(screenshot)
        time.sleep(0.2)  # let late console or network events arrive before reading them
        browser.send("Runtime.evaluate", {"expression": "1"}, session)
        report.requests, report.console_errors = _page_events(browser.events, url)
        return report
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


class PageSession:
    """The open page, for `inspect_page(interact=...)`: real mouse and key events, downloads and reloads."""

    def __init__(self, browser: DevToolsPipe, session: str, profile: Path):
        self.browser, self.session = browser, session
        self.downloads = profile / "downloads"

    def evaluate(self, expression: str):
        """Evaluate a JavaScript expression in the page (a promise is awaited) and return its value."""
        return _evaluate(self.browser, self.session, expression)

    def mouse(self, kind: str, x: float, y: float, button: str = "none", clicks: int = 0) -> None:
        """Dispatch one mouse event (mouseMoved, mousePressed, mouseReleased) at viewport pixel (x, y)."""
        params = {"type": kind, "x": x, "y": y, "button": button, "clickCount": clicks}
        if button == "left" and kind == "mouseMoved":
            params["buttons"] = 1
        self.browser.send("Input.dispatchMouseEvent", params, self.session)

    def center(self, selector: str) -> list[float]:
        """Scroll the first element matching `selector` into view; return its centre in viewport pixels."""
        return self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center',"
            " behavior: 'instant'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )

    def click(self, x: float, y: float) -> None:
        """Press and release the left button at (x, y)."""
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y, "left", 1)
        self.mouse("mouseReleased", x, y, "left", 1)

    def drag(self, x0: float, y0: float, x1: float, y1: float, steps: int = 8) -> None:
        """Drag with the left button from (x0, y0) to (x1, y1) in `steps` moves."""
        self.mouse("mouseMoved", x0, y0)
        self.mouse("mousePressed", x0, y0, "left", 1)
        for i in range(1, steps + 1):
            self.mouse("mouseMoved", x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps, "left")
        self.mouse("mouseReleased", x1, y1, "left", 1)

    def key(self, key: str, code: str | None = None, key_code: int = 0) -> None:
        """Press and release one key (e.g. "Escape", "ArrowRight")."""
        for kind in ("keyDown", "keyUp"):
            params = {"type": kind, "key": key, "code": code or key, "windowsVirtualKeyCode": key_code}
            self.browser.send("Input.dispatchKeyEvent", params, self.session)

    def type_text(self, text: str) -> None:
        """Type `text` into the focused element."""
        self.browser.send("Input.insertText", {"text": text}, self.session)

    def reload(self) -> None:
        """Reload the page (same profile: localStorage stays) and wait for its load event."""
        self.browser.events[:] = [e for e in self.browser.events if e.get("method") != "Page.loadEventFired"]
        self.browser.send("Page.reload", {}, self.session)
        self.browser.wait_for("Page.loadEventFired")

    def allow_downloads(self) -> Path:
        """Let the page download files into a folder of the browser's profile; return the folder."""
        self.downloads.mkdir(parents=True, exist_ok=True)
        self.browser.send(
            "Browser.setDownloadBehavior",
            {"behavior": "allowAndName", "downloadPath": str(self.downloads), "eventsEnabled": True},
        )
        return self.downloads

    def wait_download(self) -> tuple[str, bytes]:
        """Wait for the next download to finish; return its suggested file name and its bytes."""
        event = self.browser.wait_for("Browser.downloadWillBegin")
        self.browser.events.remove(event)  # the next call waits for the next download
        begun = event["params"]
        deadline = time.monotonic() + self.browser.timeout
        while True:
            for event in self.browser.events:  # the end may have arrived already, while other replies were awaited
                params = event.get("params", {})
                if event.get("method") == "Browser.downloadProgress" and params.get("guid") == begun["guid"]:
                    if params.get("state") == "completed":
                        return begun["suggestedFilename"], (self.downloads / begun["guid"]).read_bytes()
                    if params.get("state") == "canceled":
                        raise RuntimeError(f"download {begun['suggestedFilename']} was canceled")
            self.browser.events.append(self.browser._get(deadline, "download's end"))


def _evaluate(browser: DevToolsPipe, session: str, expression: str):
    """Evaluate a JavaScript expression in the page (awaiting a promise) and return its value."""
    reply = browser.send(
        "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, session
    )
    if "exceptionDetails" in reply:
        raise RuntimeError(f"script failed in the page: {reply['exceptionDetails']}")
    return reply["result"].get("value")


def _capture(browser: DevToolsPipe, session: str, out: Path, width: int, height: int, page_height: int | None):
    """Save a PNG of the viewport, or of the whole page (a viewport as tall as the page, capped)."""
    if page_height:
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": min(max(page_height, height), MAX_SCREENSHOT_HEIGHT),
                "deviceScaleFactor": 1,
                "mobile": False,
            },
            session,
        )
    shot = browser.send("Page.captureScreenshot", {"format": "png"}, session)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))


def _page_events(events: list[dict], page_url: str) -> tuple[list[str], list[str]]:
    """Split the recorded events into outgoing requests and console errors."""
    requests, errors = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if url != page_url and not url.startswith(LOCAL_SCHEMES):
                requests.append(url)
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
    return requests, errors


def main(argv: list[str] | None = None) -> int:
    """Save a screenshot of a report and print what the browser saw (exit 1 on requests or errors)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument(
        "--full-page",
        action="store_true",
        help=f"capture the whole page (up to {MAX_SCREENSHOT_HEIGHT} px tall) instead of the first screen",
    )
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} not found", file=sys.stderr)
        return 2
    page = inspect_page(args.html, args.png, width=args.width, height=args.height, full_page=args.full_page)
    bad_images = [i for i in page.images if not i["ok"]]
    print(
        f"{page.title}: {len(page.images)} images ({len(bad_images)} not decoded), {len(page.requests)} "
        f"requests, {len(page.console_errors)} console errors, {len(page.broken_anchors)} broken anchors; "
        f"screenshot {args.png}"
    )
    for line in page.requests + page.console_errors + [f"broken anchor #{a}" for a in page.broken_anchors]:
        print("  " + line)
    return 1 if bad_images or page.requests or page.console_errors or page.broken_anchors else 0


if __name__ == "__main__":
    sys.exit(main())
