package kernel

import "testing"

// FuzzParseConnectionInfo: a Jupyter connection file of any bytes is
// refused with an error or names a supported transport, an address and a
// supported signature scheme; it never panics.
func FuzzParseConnectionInfo(f *testing.F) {
	f.Add([]byte(`{"ip":"127.0.0.1","transport":"tcp","shell_port":5,"iopub_port":6,"key":"k","signature_scheme":"hmac-sha256"}`))
	f.Add([]byte(`{"ip":"/tmp/kernel","transport":"ipc"}`))
	f.Add([]byte(`{"ip":"x","signature_scheme":"hmac-md5"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ci, err := ParseConnectionInfo(b)
		if err != nil {
			return
		}
		if ci.IP == "" || (ci.Transport != "tcp" && ci.Transport != "ipc") || (ci.SignatureScheme != "" && ci.SignatureScheme != "hmac-sha256") {
			t.Fatalf("accepted %+v", ci)
		}
		for _, p := range []int{ci.ShellPort, ci.ControlPort, ci.IOPubPort, ci.StdinPort, ci.HBPort} {
			if p < 0 || p > 65535 {
				t.Fatalf("accepted port %d", p)
			}
		}
		ci.endpoint(ci.ShellPort)
	})
}
