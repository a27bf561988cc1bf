"""Conformance tests of the gomplab Jupyter kernel.

Built on jupyter_kernel_test.KernelTests (the samples below drive its
generic protocol tests) plus tests of what that suite does not cover:
interrupts, panics, crashes of the interpreter process, badly signed
messages, state across cells, stdin.

Run (after `gomplab install-kernel --prefix P`):
    JUPYTER_PATH=P/share/jupyter /usr/bin/python3 -m unittest -v kernel/conformance_test.py
GOMPLAB_KERNEL_NAME selects another kernelspec name.
"""

import os
import queue
import tempfile
import threading
import time
import unittest

import jupyter_kernel_test
from jupyter_client.utils import run_sync
from jupyter_kernel_test.msgspec_v5 import validate_message

TIMEOUT = 20

# Third-party packages load from the Go module cache: the kernel under
# test uses a fixture cache (kernel/repl/testdata/modcache), so the test
# does not depend on what this machine downloaded.
os.environ["GOMODCACHE"] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "repl", "testdata", "modcache")


class GomplabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("GOMPLAB_KERNEL_NAME", "gomplab")
    language_name = "go"
    file_extension = ".go"

    code_hello_world = 'import "fmt"\nfmt.Println("hello, world")'
    code_stderr = 'import (\n\t"fmt"\n\t"os"\n)\nfmt.Fprintln(os.Stderr, "to stderr")'

    completion_samples = [
        {"text": 'import "strings"\nstrings.ToUp', "matches": ["ToUpper", "ToUpperSpecial"]},
        # Before the package is imported anywhere.
        {"text": "html.EscapeStr", "matches": ["EscapeString"]},
        {"text": "appe", "matches": ["append"]},
        {"text": 'import "math"\nmath.Sqr', "matches": ["Sqrt", "Sqrt2", "SqrtE", "SqrtPhi", "SqrtPi"]},
    ]

    complete_code_samples = [
        "1+1",
        "x := 1",
        'import "fmt"\nfmt.Println(1)',
        "func f() int {\n\treturn 1\n}",
        "type P struct{ X, Y float64 }",
        "",
    ]
    incomplete_code_samples = [
        "func f() {",
        "for i := 0; i < 3; i++ {",
        "x := []int{1,",
        "s := `raw string",
        "y := 1 +",
    ]
    invalid_code_samples = [
        "x := )",
        "func {",  # the syntax error comes before the open bracket
        "func f() { }}",
        "1 + + ]",
    ]

    code_generate_error = 'panic("deliberate")'

    code_execute_result = [
        {"code": "1+1", "result": "2"},
        {"code": "6*7", "result": "42"},
        {"code": 'import "strings"\nstrings.Repeat("ab", 3)', "result": "ababab"},
        {"code": 'import "gomplab/display"\ndisplay.HTML("<b>bold</b>")', "mime": "text/html", "result": "<b>bold</b>"},
    ]
    code_history_pattern = "6*7"
    supported_history_operations = ("tail", "range", "search")

    code_display_data = [
        {"code": 'import "gomplab/display"\ndisplay.Display(display.HTML("<i>x</i>"))', "mime": "text/html"},
        {"code": 'import "gomplab/display"\ndisplay.Display(display.Markdown("# title"))', "mime": "text/markdown"},
        {
            "code": 'import (\n\t"image"\n\t"gomplab/display"\n)\n'
            "display.Show(image.NewRGBA(image.Rect(0, 0, 4, 4)))",
            "mime": "image/png",
        },
    ]
    code_clear_output = 'import "gomplab/display"\ndisplay.ClearOutput(false)'

    code_inspect_sample = "fmt.Println"
    code_page_something = "?fmt.Sprintf"

    # --- helpers -----------------------------------------------------------

    def run_cell(self, code, timeout=TIMEOUT, allow_stdin=False, stdin_hook=None):
        """Execute code; return (reply, iopub messages excluding status/input)."""
        self.flush_channels()
        msg_id = self.kc.execute(code=code, allow_stdin=allow_stdin)
        outputs = []
        deadline = time.time() + timeout
        reply = None
        idle = False
        while reply is None or not idle:
            if time.time() > deadline:
                self.fail(f"timeout running {code!r}")
            if allow_stdin and stdin_hook is not None:
                try:
                    m = self.kc.get_stdin_msg(timeout=0.05)
                    stdin_hook(m)
                except queue.Empty:
                    pass
            if reply is None:
                try:
                    r = self.kc.get_shell_msg(timeout=0.05)
                    if r["parent_header"].get("msg_id") == msg_id:
                        reply = r
                except queue.Empty:
                    pass
            try:
                m = self.kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                continue
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "status":
                idle = m["content"]["execution_state"] == "idle"
                continue
            if m["msg_type"] == "execute_input":
                continue
            outputs.append(m)
        return reply, outputs

    def result_text(self, outputs):
        for m in outputs:
            if m["msg_type"] == "execute_result":
                return m["content"]["data"]["text/plain"]
        return None

    # --- extra tests ---------------------------------------------------------

    def test_inspect_gomplab_package(self):
        self.run_cell('import "github.com/gomplab/gomplab/tensor"')
        self.flush_channels()
        msg_id = self.kc.inspect("tensor.Zeros", cursor_pos=len("tensor.Zeros"))
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        validate_message(reply, "inspect_reply", msg_id)
        self.assertTrue(reply["content"]["found"])
        self.assertIn("func Zeros", reply["content"]["data"]["text/plain"])

    def inspect(self, code, cursor_pos=None, detail_level=0):
        self.flush_channels()
        if cursor_pos is None:
            cursor_pos = len(code)
        msg_id = self.kc.inspect(code, cursor_pos=cursor_pos, detail_level=detail_level)
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        validate_message(reply, "inspect_reply", msg_id)
        return reply["content"]

    def complete(self, code):
        self.flush_channels()
        msg_id = self.kc.complete(code, cursor_pos=len(code))
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        validate_message(reply, "complete_reply", msg_id)
        return reply["content"]["matches"]

    def test_complete_before_import_without_internal_names(self):
        self.assertEqual(self.complete("unicode.IsUpp"), ["IsUpper"])
        members = self.complete("syft.")
        self.assertIn("Worker", members)
        self.assertEqual([m for m in members if m.startswith("_") or m.endswith("__")], [])
        self.assertEqual(self.complete("gomplab"), [])

    def test_inspect_in_calls_on_methods_with_detail(self):
        # Inside a call's parentheses: the function called.
        c = self.inspect('import "github.com/gomplab/gomplab/tensor"\ntensor.MatMul(')
        self.assertTrue(c["found"])
        self.assertIn("func MatMul", c["data"]["text/plain"])
        # A method of a type; a package function asked as a method.
        c = self.inspect("tensor.Tensor.Reshape")
        self.assertTrue(c["found"])
        self.assertIn("func (t *Tensor) Reshape", c["data"]["text/plain"])
        c = self.inspect("tensor.Tensor.Softmax")
        self.assertIn("tensor.Softmax is a function", c["data"]["text/plain"])
        # detail_level 0 is brief, 1 has the whole doc and the source.
        brief = self.inspect("tensor.Tensor", detail_level=0)["data"]["text/plain"]
        full = self.inspect("tensor.Tensor", detail_level=1)["data"]["text/plain"]
        self.assertNotIn("Methods:", brief)
        self.assertIn("Methods:", full)
        src = self.inspect("strings.Fields", detail_level=1)["data"]["text/plain"]
        self.assertIn("func Fields(s string) []string {", src)
        # ??name pages the detailed form.
        reply, _ = self.run_cell("??strings.Fields")
        page = reply["content"]["payload"][0]["data"]["text/plain"]
        self.assertIn("func Fields(s string) []string {", page)

    def outputs_of(self, outputs, msg_type):
        return [m["content"] for m in outputs if m["msg_type"] == msg_type]

    def stdout_of(self, outputs):
        return "".join(c["text"] for c in self.outputs_of(outputs, "stream") if c["name"] == "stdout")

    def test_display_javascript_pdf_file_mime(self):
        # gophernotes' display set: JavaScript, PDF, File, any MIME bundle.
        with tempfile.TemporaryDirectory() as d:
            img = os.path.join(d, "dot.png")
            reply, out = self.run_cell(
                'import (\n\t"image"\n\t"image/png"\n\t"os"\n\t"gomplab/display"\n)\n'
                f'f, _ := os.Create("{img}")\npng.Encode(f, image.NewGray(image.Rect(0, 0, 3, 3)))\nf.Close()\n'
                'display.Show(display.JavaScript("console.log(1)"), display.PDF([]byte("%PDF-1.4")))\n'
                f'pic, err := display.File("{img}")\ndisplay.Show(pic)\n'
                'display.Show(display.MIME(map[string]any{"application/vnd.gomplab.test+json": map[string]any{"a": 1}}, nil))\n'
                "err"
            )
            self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        mimes = [set(c["data"]) for c in self.outputs_of(out, "display_data")]
        self.assertEqual(len(mimes), 4, mimes)
        self.assertIn("application/javascript", mimes[0])
        self.assertIn("application/pdf", mimes[1])
        self.assertIn("image/png", mimes[2])
        self.assertIn("application/vnd.gomplab.test+json", mimes[3])

    def test_magics(self):
        reply, out = self.run_cell("%help")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertIn("%timeit", self.stdout_of(out))
        reply, out = self.run_cell("%packages gomplab/tensor")
        self.assertIn("github.com/gomplab/gomplab/tensor", self.stdout_of(out))
        reply, out = self.run_cell("%timeit -n 3 -r 2 1 + 1")
        self.assertRegex(self.stdout_of(out), r"per loop \(mean ± std. dev. of 2 runs, 3 loops each\)")
        reply, out = self.run_cell("%%time\nslow := 0\nfor i := 0; i < 1000; i++ {\n\tslow += i\n}\nslow")
        self.assertRegex(self.stdout_of(out), r"^wall time: [0-9.]+ (ns|µs|ms|s)")
        self.assertEqual(self.result_text(out), "499500")
        reply, out = self.run_cell("%nosuch")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn("%help lists the magics", reply["content"]["evalue"])

    def test_third_party_package_from_module_cache(self):
        reply, out = self.run_cell('import "example.com/greet"\ngreet.Hello("gopher")')
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertEqual(self.result_text(out), "HELLO, GOPHER!")
        reply, out = self.run_cell('import "example.com/not/downloaded"')
        c = reply["content"]
        self.assertEqual(c["ename"], "ImportError")
        self.assertIn("is not in the Go module cache", c["evalue"])
        self.assertIn("go mod download example.com/not/downloaded@latest", c["evalue"])

    def test_kernel_info_fields(self):
        self.flush_channels()
        self.kc.kernel_info()
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        c = reply["content"]
        self.assertEqual(c["status"], "ok")
        self.assertEqual(c["protocol_version"], "5.3")
        li = c["language_info"]
        for key in ("name", "version", "mimetype", "file_extension", "pygments_lexer", "codemirror_mode"):
            self.assertIn(key, li)
            self.assertTrue(li[key], key)

    def test_comm_info(self):
        self.flush_channels()
        msg_id = self.kc.comm_info()
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        validate_message(reply, "comm_info_reply", msg_id)
        self.assertEqual(reply["content"]["comms"], {})

    def test_state_persists_across_cells(self):
        reply, _ = self.run_cell("counter := 41")
        self.assertEqual(reply["content"]["status"], "ok")
        reply, _ = self.run_cell("func bump(n int) int { return n + 1 }")
        self.assertEqual(reply["content"]["status"], "ok")
        reply, out = self.run_cell("bump(counter)")
        self.assertEqual(self.result_text(out), "42")

    def test_mixed_declarations_and_statements(self):
        code = (
            'import "fmt"\n'
            "type pair struct{ a, b int }\n"
            "p := pair{3, 4}\n"
            "func (q pair) sum() int { return q.a + q.b }\n"
            'fmt.Println("sum", p.sum())\n'
            "p.sum() * 2"
        )
        reply, out = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        text = "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream")
        self.assertIn("sum 7", text)
        self.assertEqual(self.result_text(out), "14")
        # Re-running the same cell (redeclaring everything) works too.
        reply, out = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertEqual(self.result_text(out), "14")

    def test_user_expressions(self):
        self.flush_channels()
        msg_id = self.kc.execute("ue := 20", user_expressions={"double": "ue * 2", "bad": "nope +"})
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        ue = reply["content"]["user_expressions"]
        self.assertEqual(ue["double"]["status"], "ok")
        self.assertEqual(ue["double"]["data"]["text/plain"], "40")
        self.assertEqual(ue["bad"]["status"], "error")

    def test_execution_count_and_silent(self):
        reply, _ = self.run_cell("1")
        n = reply["content"]["execution_count"]
        self.flush_channels()
        msg_id = self.kc.execute("2", silent=True)
        r = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        self.assertEqual(r["parent_header"]["msg_id"], msg_id)
        reply, _ = self.run_cell("3")
        self.assertEqual(reply["content"]["execution_count"], n + 1)

    def test_panic_is_reported_and_kernel_survives(self):
        code = "func explode(n int) {\n\tif n > 0 {\n\t\tpanic(\"too big\")\n\t}\n}\nexplode(3)"
        reply, out = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "error")
        errs = [m for m in out if m["msg_type"] == "error"]
        self.assertEqual(len(errs), 1)
        tb = "\n".join(errs[0]["content"]["traceback"])
        # Each frame names the line that failed: the panic in explode, the
        # call in the cell.
        self.assertIn("in explode, cell line 3", tb)
        self.assertIn("in the cell, cell line 6", tb)
        self.assertIn("too big", errs[0]["content"]["evalue"])
        reply, out = self.run_cell("40 + 2")
        self.assertEqual(self.result_text(out), "42")

    def test_runtime_error_names_line_with_gos_message(self):
        reply, out = self.run_cell("xs := []int{1, 2}\nidx := 5\nxs[idx]")
        c = reply["content"]
        self.assertEqual(c["status"], "error")
        self.assertEqual(c["evalue"], "runtime error: index out of range [5] with length 2")
        self.assertIn("in the cell, cell line 3", "\n".join(c["traceback"]))
        reply, out = self.run_cell("var np *struct{ X int }\n\nnp.X")
        self.assertEqual(reply["content"]["evalue"], "runtime error: invalid memory address or nil pointer dereference")
        self.assertIn("cell line 3", "\n".join(reply["content"]["traceback"]))

    def test_typed_nil_renders_and_kernel_keeps_state(self):
        self.run_cell("keptState := 7")
        reply, out = self.run_cell('import "github.com/gomplab/gomplab/tensor"\nvar tn *tensor.Tensor\ntn')
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertEqual(self.result_text(out), "<nil>")
        # A cell that fails to compile leaves its variable nil: still fine.
        reply, out = self.run_cell("var tc *tensor.Tensor = tensor.NoSuchFunc()")
        self.assertEqual(reply["content"]["status"], "error")
        reply, out = self.run_cell("tc")
        self.assertEqual(self.result_text(out), "<nil>")
        reply, out = self.run_cell("keptState")
        self.assertEqual(self.result_text(out), "7", "the interpreter lost its state")

    def test_compile_error_names_line(self):
        reply, out = self.run_cell("a := 1\nb := a + undefinedName\n_ = b")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn("cell line 2", reply["content"]["evalue"])

    def test_stream_while_running(self):
        # Output printed before a pause arrives before the cell ends.
        self.flush_channels()
        code = 'import (\n\t"fmt"\n\t"time"\n)\nfmt.Println("early")\ntime.Sleep(1500 * time.Millisecond)\nfmt.Println("late")'
        msg_id = self.kc.execute(code)
        first = None
        start = time.time()
        while time.time() - start < TIMEOUT:
            m = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "stream":
                first = (m["content"]["text"], time.time() - start)
                break
        self.assertIsNotNone(first)
        self.assertIn("early", first[0])
        self.assertLess(first[1], 1.2, "stdout was held until the cell ended")
        self.get_non_kernel_info_reply(timeout=TIMEOUT)

    def interrupt_cell(self, code, wait=0.5):
        """Run code, interrupt it after wait seconds; return (reply, seconds the interrupt took)."""
        self.flush_channels()
        msg_id = self.kc.execute(code)
        time.sleep(wait)
        t0 = time.time()
        self.km.interrupt_kernel()
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        return reply, time.time() - t0

    def test_interrupt(self):
        # Every kind of running code stops within a second, the statement
        # after the interrupted one never runs, and the next cell runs.
        self.run_cell('import "time"\nvar ranAfter bool\nvar spins int')
        for code in (
            "for {}",
            "func(){ for { spins++ } }()",
            "type spinner struct{}\nfunc (spinner) spin() { for { spins++ } }\nspinner{}.spin()",
            "go func(){ for { spins++ } }()\nselect {}",
            "time.Sleep(time.Hour)",
            "func(){ time.Sleep(time.Hour) }()",
            "c := make(chan int)\n<-c",
            "<-time.After(time.Hour)",
        ):
            with self.subTest(code=code):
                reply, elapsed = self.interrupt_cell(code + "\nranAfter = true")
                self.assertEqual(reply["content"]["status"], "error")
                self.assertEqual(reply["content"]["ename"], "Interrupted")
                self.assertLess(elapsed, 1.0, f"interrupt took {elapsed:.2f}s")
                reply, out = self.run_cell("spinsThen := spins\ntime.Sleep(100 * time.Millisecond)\nspins - spinsThen")
                self.assertEqual(self.result_text(out), "0", "a loop kept running after the interrupt")
                reply, out = self.run_cell("ranAfter")
                self.assertEqual(self.result_text(out), "false", "code after the interrupted call ran")
                reply, out = self.run_cell("7 * 6")
                self.assertEqual(self.result_text(out), "42")

    def test_interrupt_between_cells_stops_goroutines(self):
        # A goroutine left spinning by a finished cell stops on an
        # interrupt sent while no cell runs.
        self.run_cell('import "time"\nvar bg int\ngo func() { for { bg++ } }()')
        self.km.interrupt_kernel()
        time.sleep(0.3)
        reply, out = self.run_cell("bgThen := bg\ntime.Sleep(100 * time.Millisecond)\nbg - bgThen")
        self.assertEqual(self.result_text(out), "0")

    def test_zy_interrupt_stuck_replaces_interpreter(self):
        # Code blocked in a compiled call cannot be stopped: within 2 s the
        # kernel replaces the interpreter and says so in the cell's error.
        # (Late in the alphabet: it costs the interpreter its state.)
        self.run_cell("stuckBefore := 1")
        reply, elapsed = self.interrupt_cell('import "sync"\nvar mu sync.Mutex\nmu.Lock()\nmu.Lock()')
        c = reply["content"]
        self.assertEqual(c["status"], "error")
        self.assertEqual(c["ename"], "Interrupted")
        self.assertIn("sync.(*Mutex).Lock", c["evalue"])
        self.assertIn("interpreter restarted, state lost", c["evalue"])
        self.assertLess(elapsed, 2.5, f"replacing the interpreter took {elapsed:.2f}s")
        reply, out = self.run_cell("stuckBefore")
        self.assertEqual(reply["content"]["status"], "error")
        reply, out = self.run_cell("5 * 5")
        self.assertEqual(self.result_text(out), "25")

    def test_queued_cells_abort_after_error(self):
        # As with "Run All": cells queued behind a failing one are aborted.
        self.flush_channels()
        bad = self.kc.execute('import "time"\ntime.Sleep(300 * time.Millisecond)\npanic("stop here")')
        queued = self.kc.execute("queuedRan := true")
        replies = {}
        while len(replies) < 2:
            r = self.kc.get_shell_msg(timeout=TIMEOUT)
            replies[r["parent_header"]["msg_id"]] = r["content"]["status"]
        self.assertEqual(replies[bad], "error")
        self.assertEqual(replies[queued], "aborted")
        reply, _ = self.run_cell("queuedRan")
        self.assertEqual(reply["content"]["status"], "error")

    def test_sigint_is_an_interrupt(self):
        # Front ends in signal mode send SIGINT (to the process group); the
        # kernel must turn it into an interrupt, not die.
        import signal

        self.flush_channels()
        msg_id = self.kc.execute("for {}")
        time.sleep(0.5)
        self.km.signal_kernel(signal.SIGINT)
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["ename"], "Interrupted")
        self.assertTrue(self.km.is_alive())
        reply, out = self.run_cell("8 * 8")
        self.assertEqual(self.result_text(out), "64")

    def test_stdin_input_request(self):
        code = 'import "fmt"\nvar name string\nfmt.Scanln(&name)\n"hi " + name'

        def answer(m):
            self.assertEqual(m["msg_type"], "input_request")
            self.kc.input("gopher")

        reply, out = self.run_cell(code, allow_stdin=True, stdin_hook=answer)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertEqual(self.result_text(out), "hi gopher")

    def test_updatable_display(self):
        code = (
            'import "gomplab/display"\n'
            'display.DisplayWithID("d1", display.Text("one"))\n'
            'display.Update("d1", display.Text("two"))'
        )
        reply, out = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "ok")
        kinds = [m["msg_type"] for m in out]
        self.assertIn("display_data", kinds)
        self.assertIn("update_display_data", kinds)
        upd = [m for m in out if m["msg_type"] == "update_display_data"][0]
        self.assertEqual(upd["content"]["transient"]["display_id"], "d1")

    def test_tensor_renders_html(self):
        reply, out = self.run_cell('import "github.com/gomplab/gomplab/tensor"\ntensor.Eye(2)')
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        res = [m for m in out if m["msg_type"] == "execute_result"]
        self.assertEqual(len(res), 1)
        self.assertIn("text/html", res[0]["content"]["data"])
        self.assertIn("text/plain", res[0]["content"]["data"])

    def test_badly_signed_message_is_ignored(self):
        session = self.kc.session
        shell = self.kc.shell_channel
        # A message signed with the wrong key must be dropped: no reply.
        good_key = session.key
        session.key = b"wrong-key"
        session.auth = None
        import hmac
        import hashlib

        session.auth = hmac.HMAC(b"wrong-key", digestmod=hashlib.sha256)
        try:
            msg = session.msg("execute_request", {"code": "1", "silent": False, "store_history": True,
                                                  "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
            session.send(shell.socket, msg)
        finally:
            session.key = good_key
            session.auth = hmac.HMAC(good_key, digestmod=hashlib.sha256)
        bad_id = msg["header"]["msg_id"]
        try:
            r = self.kc.get_shell_msg(timeout=1.5)
            self.assertNotEqual(r["parent_header"].get("msg_id"), bad_id, "kernel answered a badly signed message")
        except queue.Empty:
            pass
        # The kernel still answers properly signed requests.
        reply, out = self.run_cell("2 + 3")
        self.assertEqual(self.result_text(out), "5")

    def test_zz_goroutine_panic_does_not_kill_kernel(self):
        # Runs last (alphabetical order): it costs the interpreter its state.
        reply, out = self.run_cell('go func() { panic("from a goroutine") }()\nimport "time"\ntime.Sleep(2 * time.Second)')
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn("from a goroutine", reply["content"]["evalue"])
        self.assertTrue(self.km.is_alive())
        reply, out = self.run_cell("10 * 10")
        self.assertEqual(self.result_text(out), "100")

    def test_zzz_restart(self):
        # Runs very last: a restart replaces the kernel process.
        self.run_cell("lost := 1")
        self.km.restart_kernel(now=False)
        self.kc.wait_for_ready(timeout=TIMEOUT)
        self.assertTrue(self.km.is_alive())
        reply, out = self.run_cell("2 * 3")
        self.assertEqual(self.result_text(out), "6")
        self.assertEqual(reply["content"]["execution_count"], 1)
        reply, out = self.run_cell("lost")
        self.assertEqual(reply["content"]["status"], "error")


if __name__ == "__main__":
    unittest.main()
