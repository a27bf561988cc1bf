"""Real-browser test of the gomplab kernel: Jupyter Notebook 6 in headless
Chromium, driven by Selenium, as a person would use it.

It serves copies of notebooks/*.ipynb with Debian's Jupyter Notebook and,
in the browser, for each one: opens it, runs every cell with Cell > Run
All, waits for the kernel to finish, fails on any error output (or dialog,
such as "kernel died"), and checks the rich outputs the notebook is known
to show (an HTML tensor table, a PNG plot, a progress bar, a job table)
are on the page. Then it runs `func(){ for {} }()` in a fresh notebook,
presses the toolbar's interrupt button, and runs one more cell. Last, it
checks itself: a notebook seeded with an error cell must be reported as
failing, or the test fails.

Screenshots of every notebook, of each rich output and of the interrupt
go to --screenshots (default: bin/browser-screenshots in the repository).

Run (after `gomplab install-kernel --prefix P`):
    JUPYTER_PATH=P/share/jupyter /usr/bin/python3 kernel/browser_test.py
Options: --only 03 (notebooks whose name contains it), --also FILE.ipynb
(run one more notebook as if it were in notebooks/; it fails the test if
it shows an error).
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import JavascriptException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The rich outputs each notebook shows, as CSS selectors of rendered output.
RICH = {
    "tensor table": ".output_html .gomplab-tensor table",
    "PNG plot": ".output_png img",
    "progress bar": ".output_html progress",
    "job table": ".output_html .gomplab-results table",
}
EXPECTED = {
    "01-tensors-and-workers": ["tensor table", "progress bar", "PNG plot"],
    "02-encrypted-computation": ["tensor table", "job table"],
    "03-federated-learning": ["progress bar", "PNG plot"],
    "04-encrypted-inference": ["job table", "PNG plot"],
    "05-access-control": ["PNG plot"],
    "06-introduction": ["tensor table"],
    "07-encrypted-tensors": ["tensor table"],
    "08-inside-encrypted-tensors": [],
    "09-encrypted-networks-under-the-hood": [],
    "10-training-encrypted-networks": ["progress bar", "PNG plot"],
}
# Every kind must be checked somewhere.
assert set(k for v in EXPECTED.values() for k in v) == set(RICH)

NOTEBOOK_TIMEOUT = 180  # seconds for one notebook's Run All
INTERRUPT_LIMIT = 1.0  # seconds from the click to the cell's error


def log(msg):
    print(f"browser: {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook_json(cells):
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {}, "outputs": [], "source": c}
            for i, c in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"display_name": "Go (gomplab)", "language": "go", "name": "gomplab"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


class Server:
    """Jupyter Notebook 6 serving a scratch copy of the notebooks."""

    def __init__(self, root):
        self.root = root
        self.port = free_port()
        self.token = "gomplab-browser-test"
        env = dict(os.environ)
        for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config"),
                         ("JUPYTER_DATA_DIR", "data"), ("IPYTHONDIR", "ipython")):
            env[var] = os.path.join(root, ".jupyter", sub)
        self.log = open(os.path.join(root, ".jupyter-server.log"), "w")
        self.proc = subprocess.Popen(
            ["/usr/bin/jupyter", "notebook", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
             "--port-retries=0", f"--NotebookApp.token={self.token}", f"--notebook-dir={root}",
             "--NotebookApp.open_browser=False", "--MappingKernelManager.cull_idle_timeout=0"]
            + (["--allow-root"] if os.geteuid() == 0 else []),
            cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url('api')}", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("jupyter notebook did not start; see " + self.log.name)
                time.sleep(0.3)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class Browser:
    def __init__(self, shots):
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1400,1000", "--hide-scrollbars"):
            opts.add_argument(a)
        self.d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        self.shots = shots

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def wait(self, what, cond, timeout):
        deadline = time.time() + timeout
        while True:
            try:
                v = cond()
                if v:
                    return v
            except (JavascriptException, WebDriverException):
                pass
            if time.time() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.2)

    def open(self, server, rel):
        self.d.get(server.url("notebooks/" + rel))
        self.wait("the notebook and its kernel", lambda: self.js(
            "return window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel &&"
            " Jupyter.notebook.kernel.is_connected() &&"
            " document.querySelector('#kernel_indicator_icon').classList.contains('kernel_idle_icon')"), 60)

    def menu(self, menu_id, item_id):
        self.d.find_element(By.ID, menu_id).click()
        self.d.find_element(By.ID, item_id).click()

    def toolbar(self, action):
        self.d.find_element(By.CSS_SELECTOR, f'button[data-jupyter-action="jupyter-notebook:{action}"]').click()

    def state(self):
        """Prompts of the code cells and whether the kernel is idle."""
        return self.js("""
            const cells = Jupyter.notebook.get_cells().filter(c => c.cell_type === 'code');
            return {prompts: cells.map(c => c.input_prompt_number === undefined ? null : c.input_prompt_number),
                    idle: document.querySelector('#kernel_indicator_icon').classList.contains('kernel_idle_icon')};""")

    def wait_run_all(self, timeout):
        """Waits until no cell is running and the kernel has been idle for a moment."""
        deadline = time.time() + timeout
        calm = 0
        while True:
            s = self.state()
            running = any(p == "*" for p in s["prompts"])
            started = any(isinstance(p, int) for p in s["prompts"])
            calm = calm + 1 if (started and not running and s["idle"]) else 0
            if calm >= 5:  # about a second without activity
                return s
            if time.time() > deadline:
                raise TimeoutError(f"cells still running after {timeout}s: prompts {s['prompts']}")
            time.sleep(0.2)

    def errors(self):
        """Error outputs (from the notebook's model and the page) and open dialogs."""
        errs = self.js("""
            const out = [];
            Jupyter.notebook.get_cells().forEach((c, i) => {
                if (c.cell_type !== 'code') return;
                c.output_area.outputs.forEach(o => {
                    if (o.output_type === 'error') out.push(`cell ${i + 1}: ${o.ename}: ${o.evalue}`);
                });
            });
            document.querySelectorAll('.modal-dialog').forEach(d => {
                if (d.offsetParent !== null) out.push('dialog: ' + d.innerText.replace(/\\s+/g, ' ').slice(0, 300));
            });
            return out;""")
        rendered = len(self.d.find_elements(By.CSS_SELECTOR, ".output_error"))
        if rendered and not errs:
            errs = [f"{rendered} error outputs on the page"]
        return errs

    def rich(self, kind):
        """The first rendered element of a rich output kind, if any (images must have loaded)."""
        for el in self.d.find_elements(By.CSS_SELECTOR, RICH[kind]):
            if kind == "PNG plot" and not self.js("return arguments[0].complete && arguments[0].naturalWidth > 0", el):
                continue
            return el
        return None

    def shot(self, name, element=None):
        path = os.path.join(self.shots, name + ".png")
        if element is not None:
            self.js("arguments[0].scrollIntoView({block: 'center'})", element)
            time.sleep(0.2)
            element.screenshot(path)
        else:
            self.d.save_screenshot(path)
        return path

    def quit(self):
        self.d.quit()


def run_notebook(b, server, rel, expected):
    """Runs one notebook in the browser; returns its problems (empty: passed)."""
    name = os.path.splitext(os.path.basename(rel))[0]
    t0 = time.time()
    b.open(server, rel)
    b.menu("celllink", "run_all_cells")
    problems = []
    try:
        s = b.wait_run_all(NOTEBOOK_TIMEOUT)
        not_run = [i + 1 for i, p in enumerate(s["prompts"]) if not isinstance(p, int)]
    except TimeoutError as e:
        problems.append(str(e))
        not_run = []
    problems += b.errors()
    if not_run and not problems:
        problems.append(f"code cells {not_run} did not run")
    for kind in expected:
        el = b.rich(kind)
        if el is None:
            problems.append(f"no {kind} on the page")
        else:
            b.shot(f"{name}-{kind.replace(' ', '-')}", el)
    b.js("document.querySelector('#site').scrollTop = document.querySelector('#site').scrollHeight")
    b.shot(name)
    log(f"{rel}: {len(b.state()['prompts'])} code cells in {time.time() - t0:.1f}s"
        + (": FAILED\n    " + "\n    ".join(problems) if problems else ""))
    return problems


def run_interrupt(b, server, rel):
    """Runs func(){ for {} }(), interrupts it from the toolbar, runs one more cell."""
    problems = []
    b.open(server, rel)
    b.js("Jupyter.notebook.select(0)")
    b.toolbar("run-cell-and-select-next")
    b.wait("the loop to run", lambda: b.state()["prompts"][0] == "*", 10)
    time.sleep(1.5)
    if b.state()["prompts"][0] != "*":
        problems.append("the loop stopped by itself")
    t0 = time.time()
    b.toolbar("interrupt-kernel")
    try:
        b.wait("the interrupted cell's error", lambda: b.js(
            "const c = Jupyter.notebook.get_cell(0); return c.input_prompt_number !== '*' &&"
            " c.output_area.outputs.some(o => o.output_type === 'error' && o.ename === 'Interrupted')"), 10)
        took = time.time() - t0
        if took > INTERRUPT_LIMIT:
            problems.append(f"the interrupt took {took:.2f}s")
    except TimeoutError as e:
        problems.append(str(e))
    b.shot("interrupt")
    b.js("Jupyter.notebook.select(1)")
    b.toolbar("run-cell-and-select-next")
    try:
        b.wait("the next cell's result", lambda: b.js(
            "return Jupyter.notebook.get_cell(1).output_area.outputs.some("
            "o => o.output_type === 'execute_result' && o.data['text/plain'] === '42')"), 20)
    except TimeoutError as e:
        problems.append(f"the cell after the interrupt: {e}")
    b.shot("interrupt-then-next-cell")
    log(f"{rel}: interrupt of func(){{ for {{}} }}() " + ("FAILED\n    " + "\n    ".join(problems) if problems else "stopped it, and the next cell ran"))
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--screenshots", default=os.path.join(REPO, "bin", "browser-screenshots"))
    ap.add_argument("--only", default="")
    ap.add_argument("--also", action="append", default=[])
    args = ap.parse_args()
    start = time.time()
    shots = os.path.abspath(args.screenshots)
    shutil.rmtree(shots, ignore_errors=True)
    os.makedirs(shots)

    root = tempfile.mkdtemp(prefix="gomplab-browser-")
    nbdir = os.path.join(root, "notebooks")
    os.makedirs(nbdir)
    # The notebooks find their fixtures at ../mpc/nn/testdata.
    os.symlink(os.path.join(REPO, "mpc"), os.path.join(root, "mpc"))
    names = sorted(f for f in os.listdir(os.path.join(REPO, "notebooks")) if f.endswith(".ipynb") and args.only in f)
    for f in names:
        shutil.copy(os.path.join(REPO, "notebooks", f), nbdir)
    for f in args.also:
        shutil.copy(f, nbdir)
    missing = [n for n in EXPECTED if args.only in n and n + ".ipynb" not in names]
    with open(os.path.join(nbdir, "zz-interrupt.ipynb"), "w") as f:
        json.dump(notebook_json(["func(){ for {} }()", "40 + 2"]), f)
    with open(os.path.join(nbdir, "zz-seeded-error.ipynb"), "w") as f:
        json.dump(notebook_json(['import "fmt"\nfmt.Println("before")', 'panic("seeded error")', "1 + 1"]), f)

    failures = {}
    if missing:
        failures["notebooks/"] = [f"expected notebooks missing: {missing}"]
    server = Server(root)
    b = None
    try:
        b = Browser(shots)
        for f in names + [os.path.basename(a) for a in args.also]:
            p = run_notebook(b, server, "notebooks/" + f, EXPECTED.get(os.path.splitext(f)[0], []))
            if p:
                failures[f] = p
        p = run_interrupt(b, server, "notebooks/zz-interrupt.ipynb")
        if p:
            failures["interrupt"] = p
        # The test checks itself: an error cell must be caught.
        p = run_notebook(b, server, "notebooks/zz-seeded-error.ipynb", [])
        if not any("seeded error" in x for x in p):
            failures["self-check"] = [f"the notebook seeded with an error cell was not reported failing ({p})"]
        else:
            log("self-check: the notebook seeded with an error cell is reported failing, as it must be")
    finally:
        if b is not None:
            b.quit()
        server.stop()
        if failures:
            with open(server.log.name) as f:
                tail = f.read().splitlines()[-40:]
            log("the notebook server's log ends with:\n    " + "\n    ".join(tail))
        shutil.rmtree(root, ignore_errors=True)
    elapsed = time.time() - start
    log(f"screenshots in {shots}")
    if failures:
        log(f"FAILED in {elapsed:.0f}s: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
        sys.exit(1)
    log(f"passed in {elapsed:.0f}s")


if __name__ == "__main__":
    main()
